"""botocore's errors as one-line bucket errors that say what to set.

boto3 raises its own types (``NoCredentialsError``, ``EndpointConnectionError``,
``ClientError`` with a code such as ``NoSuchBucket`` or ``AccessDenied``), whose
tracebacks run to dozens of lines. `s3_error` turns one into the matching
`byocframe.exceptions.BucketError` subclass; the caller raises it ``from`` the original
with its traceback dropped (``err.with_traceback(None)``): the chain keeps botocore's type
and message, not the hundred lines of its frames a notebook would print.
"""

from __future__ import annotations

from typing import Any

from byocframe.client.responses import one_line
from byocframe.exceptions import (
    BucketAccessError,
    BucketConnectionError,
    BucketError,
    BucketNotFoundError,
)

__all__ = ["s3_error"]

#: ClientError codes that mean the credentials are missing, wrong or not allowed.
ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AllAccessDisabled",
    }
)
#: ClientError codes that mean the bucket is in another region than the client's.
REGION_CODES = frozenset({"PermanentRedirect", "301", "AuthorizationHeaderMalformed"})

_CREDENTIALS = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE); for "
    "'byocframe serve --s3' paste the export line it prints"
)
_ENDPOINT = "check --endpoint-url / AWS_ENDPOINT_URL_S3 and that the server runs"


def s3_error(err: Exception, where: str, *, key: str | None = None) -> BucketError:
    """The `BucketError` for a botocore error met while reading ``where``.

    Parameters
    ----------
    err : Exception
        A ``botocore.exceptions.BotoCoreError`` or ``ClientError``.
    where : str
        The bucket as the user named it, e.g. ``s3://bucket at http://127.0.0.1:9000``.
    key : str, optional
        The object being read, when there is one.

    Returns
    -------
    BucketError
        One line: what failed and what to set. Raise it ``from err``.

    Examples
    --------
    >>> from botocore.exceptions import NoCredentialsError
    >>> print(s3_error(NoCredentialsError(), "s3://tiles"))
    s3://tiles: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE); for 'byocframe serve --s3' paste the export line it prints
    """  # noqa: E501
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    what = f"{where}: {key!r}" if key else where
    if isinstance(err, NoCredentialsError):
        return BucketAccessError(f"{what}: no AWS credentials found; {_CREDENTIALS}")
    if isinstance(err, PartialCredentialsError):
        return BucketAccessError(f"{what}: incomplete AWS credentials ({err}); {_CREDENTIALS}")
    if isinstance(err, ConnectionError):  # EndpointConnectionError, timeouts, proxy, SSL
        endpoint = getattr(err, "kwargs", {}).get("endpoint_url") or ""
        at = f" {endpoint}" if endpoint else ""
        return BucketConnectionError(
            f"{what}: cannot reach the S3 endpoint{at} ({type(err).__name__}); {_ENDPOINT}"
        )
    if isinstance(err, ClientError):
        return _client_error(err, what)
    return BucketError(f"{what}: {type(err).__name__}: {one_line(err)}")


def _client_error(err: Any, what: str) -> BucketError:
    error = err.response.get("Error", {})
    code = str(error.get("Code", ""))
    if code == "NoSuchBucket":
        return BucketNotFoundError(
            f"{what}: no such bucket; check the name and the endpoint "
            "(--endpoint-url / AWS_ENDPOINT_URL_S3: buckets are per endpoint)"
        )
    if code in ("NoSuchKey", "404", "NotFound"):
        return BucketNotFoundError(f"{what}: no such object; list the bucket again")
    if code in ACCESS_CODES:
        return BucketAccessError(
            f"{what}: {code}: the credentials were refused or lack s3:ListBucket/s3:GetObject; "
            f"{_CREDENTIALS}"
        )
    if code in REGION_CODES:
        return BucketError(
            f"{what}: {code}: the bucket is in another region; set AWS_DEFAULT_REGION to its region"
        )
    message = one_line(error.get("Message") or "")
    return BucketError(f"{what}: {one_line(code, 60) or 'S3 error'}: {message}".rstrip(": "))

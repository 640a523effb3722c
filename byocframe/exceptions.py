"""The errors and warnings byocframe raises.

::

    ByocframeError
    ├── APIError            the service answered with an error status
    │   ├── AuthenticationError   401 / 403
    │   ├── NotFoundError         404
    │   ├── ConflictError         409
    │   ├── RateLimitError        429 (``retry_after`` in seconds)
    │   └── ServerError           5xx
    ├── TransportError      no usable answer: timeout, dropped connection, bad JSON
    │   └── AnswerTooLarge        a body over ``byocframe.client.connections.MAX_ANSWER_BYTES``
    ├── BucketError         an S3 bucket or folder could not be read (also an OSError)
    │   ├── BucketNotFoundError   no such bucket or object (a FileNotFoundError)
    │   ├── BucketAccessError     credentials missing or refused (a PermissionError)
    │   └── BucketConnectionError the endpoint cannot be reached (a ConnectionError)
    └── ValidationError     bad input found before anything was sent
    ByocframeWarning (UserWarning)
"""

from __future__ import annotations

import inspect
import os
import re
from typing import Any

__all__ = [
    "APIError",
    "AnswerTooLarge",
    "AuthenticationError",
    "BucketAccessError",
    "BucketConnectionError",
    "BucketError",
    "BucketNotFoundError",
    "ByocframeError",
    "ByocframeWarning",
    "ConflictError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "StaleCheckError",
    "TransportError",
    "ValidationError",
    "user_stacklevel",
]


class ByocframeError(Exception):
    """Base class of every error byocframe raises on purpose."""


class ValidationError(ByocframeError, ValueError):
    """Bad input found before anything was sent.

    Parameters
    ----------
    message : str
        What is wrong and what to do about it.
    problems : list of dict, optional
        One entry per offending row, with the keys ``id``, ``field``, ``value`` and
        ``problem``. The message already names them; the list is there for code.
    """

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.problems = problems or []

    @classmethod
    def of_edits(cls, problems: list[dict[str, Any]], kind: str, rule: str) -> ValidationError:
        """The error refusing a push: the first 20 problems, one a line (all in ``.problems``).

        Examples
        --------
        >>> problem = {"id": "t1", "field": "path", "value": "x", "problem": "read-only"}
        >>> print(ValidationError.of_edits([problem], "tile", "only the cover can change"))
        1 edit(s) cannot be pushed (nothing was sent); only the cover can change:
        tile 't1': path: read-only
        """
        lines = [
            f"{kind} {p['id']!r}: {p['field']}: {p['problem']}"
            if p["id"]
            else f"{p['field']}: {p['problem']}"
            for p in problems
        ]
        return cls(
            f"{len(problems)} edit(s) cannot be pushed (nothing was sent); {rule}:\n"
            + "\n".join(lines[:20])
            + (f"\n... and {len(lines) - 20} more" if len(lines) > 20 else ""),
            problems,
        )


class StaleCheckError(ByocframeError):
    """A checked write was held back until its check was too old to trust; not sent.

    Pacing, a 429 pause or a retry's back-off held it. Check the tile again, then write.

    ``sent`` says whether an earlier attempt of the same request went out (its answer
    lost or refused), so the write may have taken effect.
    """

    def __init__(self, message: str, *, sent: bool = False):
        super().__init__(message)
        self.sent = sent


class TransportError(ByocframeError):
    """The request got no usable answer (timeout, dropped connection, invalid JSON)."""

    def __init__(self, message: str, *, method: str = "", url: str = ""):
        super().__init__(message)
        self.method = method
        self.url = url


class AnswerTooLarge(TransportError):
    """An answer body over ``byocframe.client.connections.MAX_ANSWER_BYTES``, refused unread.

    Found from its declared length, as it comes, or as it is decoded; raise the limit
    (``byocframe.client.connections.MAX_ANSWER_BYTES = ...``) only for a service you trust.
    """


class BucketError(ByocframeError, OSError):
    """An S3 bucket or a folder could not be read; the message says what to set.

    Also an `OSError`, as reading a folder fails with one.
    """


class BucketNotFoundError(BucketError, FileNotFoundError):
    """The bucket or object does not exist at this endpoint."""


class BucketAccessError(BucketError, PermissionError):
    """No AWS credentials were found, or they were refused."""


class BucketConnectionError(BucketError, ConnectionError):
    """The S3 endpoint could not be reached (wrong ``--endpoint-url``, server down)."""


class APIError(ByocframeError):
    """The service answered with an error status.

    Attributes
    ----------
    status_code : int
        The HTTP status.
    method, url : str
        The request that failed (the URL never holds credentials).
    message : str
        The server's own message, or the HTTP reason when it sent none.
    code : str or None
        The server's error code, e.g. ``"COMMON_NOT_FOUND"``.
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        method: str = "",
        url: str = "",
        code: str | None = None,
        errors: Any = None,
    ):
        self.status_code = status_code
        self.method = method
        self.url = url
        self.message = message
        self.code = code
        self.errors = errors
        text = f"{status_code} {code or ''} on {method} {url}: {message}".replace("  ", " ")
        super().__init__(text + _hint(status_code, url))


class AuthenticationError(APIError):
    """The credentials were refused (401) or lack a permission (403)."""


class NotFoundError(APIError):
    """The collection or tile does not exist on this deployment (404)."""


class ConflictError(APIError):
    """The request clashes with the stored state, e.g. a duplicate tile path (409)."""


class RateLimitError(APIError):
    """The service asked us to slow down (429) more often than retries allow.

    Attributes
    ----------
    retry_after : float or None
        Seconds the service asked to wait (its header is in milliseconds).
    """

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """The service failed (5xx) on every attempt."""


class ByocframeWarning(UserWarning):
    """Something was repaired or dropped; the message says what and where."""


_HINTS = {
    401: " (check the client id and secret, e.g. SH_CLIENT_ID / SH_CLIENT_SECRET)",
    403: " (the credentials work but lack access to this collection)",
    404: " (check the id, and that the collection lives on this deployment's base URL)",
}


#: A collection id in the Catalog's form (``byoc-<id>``) in a BYOC API path.
_CATALOG_FORM = re.compile(r"/collections/byoc-([^/?#]+)")
#: A path that names a collection or a tile (a 404 there is about an id).
_RESOURCE = re.compile(r"/(?:collections|global)/[^/?#]")
#: Where the deployment's address ends in a request URL: an API or a token endpoint.
_ADDRESS_END = re.compile(r"/(?:api|oauth|auth/realms)/")


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first caller outside byocframe.

    Call it as the ``stacklevel=`` argument of `warnings.warn`, in the function that
    warns: however deep inside byocframe the warning is raised, it then names the
    user's line (as pandas' ``find_stack_level``).

    Examples
    --------
    >>> user_stacklevel() >= 1
    True
    """
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = inspect.currentframe()
    level = 0
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
        level += 1
    return max(level, 1)


def _hint(status_code: int, url: str) -> str:
    """What to check after an error status; for ``byoc-<id>``, the bare id to give.

    A 404 off any collection (the token endpoint, an API's root) says the address is
    wrong, not an id.

    Examples
    --------
    >>> print(_hint(404, "https://example.com/sh/api/v1/byoc/collections"))
     (no such address: check the base URL, https://example.com/sh here: the deployment's address, with no path)
    >>> print(_hint(404, "https://example.com/api/v1/byoc/collections/c1"))
     (check the id, and that the collection lives on this deployment's base URL)
    """  # noqa: E501
    found = _CATALOG_FORM.search(url) if status_code == 404 else None
    if found:
        return (
            f" (byoc-{found[1]} is the Catalog's name of the collection; the BYOC API "
            f"takes the bare id: {found[1]})"
        )
    if status_code == 404 and not _RESOURCE.search(url):
        base = _ADDRESS_END.split(url, maxsplit=1)[0]
        if "/api/" in url:
            return (
                f" (no such address: check the base URL, {base} here: the deployment's "
                "address, with no path)"
            )
        return f" (no such address: check the token URL, or the base URL ({base}) it comes from)"
    return _HINTS.get(status_code, "")


def error_for_status(status_code: int) -> type[APIError]:
    """Return the `APIError` subclass that stands for an HTTP status.

    Examples
    --------
    >>> error_for_status(404).__name__
    'NotFoundError'
    """
    if status_code in (401, 403):
        return AuthenticationError
    if status_code == 404:
        return NotFoundError
    if status_code == 409:
        return ConflictError
    if status_code == 429:
        return RateLimitError
    if status_code >= 500:
        return ServerError
    return APIError

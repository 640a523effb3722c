"""An S3 listing page read within a bound, through botocore's public ``before-send`` event.

botocore reads a whole answer before anything sees it (``URLLib3Session.send`` reads
``.content`` of every answer not modelled as a stream; ``convert_to_response_dict`` reads
it again for the rest), and its next public event, ``before-parse``, comes after that
read. An endpoint answering ListObjectsV2 with gigabytes (finding 67) was read until
memory ran out. S3 sends at most 1,000 keys a page (about 300 KB, 1.3 MB with keys of
1,024 bytes).

``before-send`` is the one public seam ahead of the read: a handler that returns a
response is used instead of sending. `bound_listing` registers one for ListObjectsV2 on
a boto3 client: it sends the request botocore signed through a botocore
``URLLib3Session`` of its own, made from the client's public ``meta.config`` (timeouts,
proxies, client certificate, pool size), refuses a page whose ``Content-Length`` passes
`MAX_LIST_PAGE_BYTES` before reading it, reads at most that many bytes otherwise, and
hands botocore the bytes read. A connection that breaks during that read raises the
exception botocore's session would (``ConnectionClosedError``, ``ReadTimeoutError``), so
botocore's retries treat it as before; the refusal, a `BucketError`, is not retried.

A client's ``verify=`` cannot be read back from it (botocore hands it to the client's
HTTP session and to nothing public: not ``meta.config``, not an event). So it is kept
when it is known, and resolved as botocore resolves it otherwise: ``bound_listing(s3,
verify=...)`` records what the client was made with; without it, certificates are
checked as botocore checks them for a client made without ``verify=``: the ``ca_bundle``
setting of botocore's session (``AWS_CA_BUNDLE``, or ``ca_bundle`` in the AWS config
file's profile), then ``REQUESTS_CA_BUNDLE``, else botocore's bundle. When that
handshake fails (a client made with ``verify=False`` or a CA bundle of its own, not
recorded), the client's own session sends the page, read whole as before, and a
`~byocframe.ByocframeWarning` says once per client how to bound it.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
import weakref
from typing import Any

from byocframe.exceptions import BucketError, ByocframeWarning

__all__ = ["MAX_LIST_PAGE_BYTES", "bound_listing"]

logger = logging.getLogger(__name__)

#: Most bytes one S3 listing page (ListObjectsV2 answer, or its error) may take; read
#: when each page is asked for. S3 sends at most 1,000 keys a page, about 300 KB (1.3 MB
#: were every key 1,024 bytes long); raise it (``byocframe.bucket.bounded.
#: MAX_LIST_PAGE_BYTES = ...``) for an S3-compatible store that sends larger pages.
MAX_LIST_PAGE_BYTES = 16 * 2**20

_EVENT = "before-send.s3.ListObjectsV2"
_UNKNOWN = object()  # verify= not recorded: resolved as botocore resolves a default
# one HTTP session per client config and verify setting
_sessions: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
# what each client's handler knows of its verify= (keyed by the client's event system)
_kept: weakref.WeakKeyDictionary[Any, _Kept] = weakref.WeakKeyDictionary()


class _Kept:
    """A client's ``verify=`` as recorded (or `_UNKNOWN`), and whether it was warned.

    `_Kept.default` is what botocore would have resolved for it, read once, at the first
    page sent (as botocore reads it once, when the client is made; making botocore's
    session to read it takes about 30 ms).
    """

    def __init__(self) -> None:
        self.verify: Any = _UNKNOWN
        self._default: Any = _UNKNOWN
        self.warned = False

    @property
    def default(self) -> Any:
        """What botocore checks certificates with for a client made without ``verify=``."""
        if self._default is _UNKNOWN:
            self._default = _default_verify()
        return self._default


def bound_listing(client: Any, *, verify: bool | str | None = None) -> bool:
    """Have ``client``'s ListObjectsV2 pages read within `MAX_LIST_PAGE_BYTES`.

    Registering twice is registering once (a ``verify`` given later is recorded). The
    client keeps the handler: its later ``list_objects_v2`` calls, yours too, are
    bounded the same way. A client without botocore's event system (a stand-in) is left
    as it is.

    Parameters
    ----------
    client : botocore.client.BaseClient
        A boto3 S3 client.
    verify : bool or str, optional
        The ``verify=`` the client was made with (``False``, or a CA bundle's path), which
        cannot be read from the client. Without it, certificates are checked as botocore
        checks them for a client made without ``verify=``; a client whose endpoint fails
        that check has its pages read unbounded, with a warning.

    Returns
    -------
    bool
        Whether the bound is in place.

    Examples
    --------
    >>> import boto3
    >>> s3 = boto3.session.Session().client(
    ...     "s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1"
    ... )
    >>> bound_listing(s3), bound_listing(s3)
    (True, True)
    >>> bound_listing(object())
    False
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None or not hasattr(events, "register"):
        return False
    config = client.meta.config
    kept = _kept.get(events)
    if kept is None:
        kept = _kept[events] = _Kept()

        def send(request: Any, **kwargs: Any) -> Any:
            return _send(request, config, kept)

        events.register(_EVENT, send, unique_id="byocframe-bounded-listing")
    if verify is not None:
        kept.verify = verify
    return True


def _default_verify() -> Any:
    """What botocore checks certificates with for a client made without ``verify=``.

    ``botocore.session.Session.create_client`` reads the session's ``ca_bundle``
    (``AWS_CA_BUNDLE`` or the profile's ``ca_bundle``); the endpoint then falls back to
    ``REQUESTS_CA_BUNDLE``, else True (botocore's bundle).
    """
    import botocore.session

    try:
        bundle = botocore.session.get_session().get_config_variable("ca_bundle")
    except Exception:  # a broken config file: the client's own creation reported it
        bundle = os.environ.get("AWS_CA_BUNDLE")
    return bundle or os.environ.get("REQUESTS_CA_BUNDLE") or True


def _session(config: Any, url: str, verify: Any) -> Any:
    """One botocore HTTP session a client config, made as botocore makes the client's."""
    from botocore.httpsession import URLLib3Session
    from botocore.utils import get_environ_proxies

    made = _sessions.setdefault(config, {})
    if verify in made:
        return made[verify]
    options = None
    if getattr(config, "tcp_keepalive", None):
        from urllib3.connection import HTTPConnection

        options = [*HTTPConnection.default_socket_options]
        options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
    session = URLLib3Session(
        verify=verify,
        proxies=config.proxies or get_environ_proxies(url),
        timeout=(config.connect_timeout, config.read_timeout),
        max_pool_connections=config.max_pool_connections,
        socket_options=options,
        client_cert=config.client_cert,
        proxies_config=config.proxies_config,
    )
    made[verify] = session
    return session


class _Read:
    """What botocore's ``AWSResponse`` reads an answer from: the bytes already read."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        yield self.body


def _send(request: Any, config: Any, kept: _Kept) -> Any:
    """Send ``request`` (signed by botocore) and read its answer within the bound."""
    from botocore.exceptions import SSLError

    if kept.verify is not _UNKNOWN:
        verify = kept.verify
    elif request.url.lower().startswith("https:"):
        verify = kept.default
    else:  # no certificate to check: the default is not looked up
        verify = True
    asked = request.stream_output
    request.stream_output = True  # the body is read here, not by the session
    try:
        answer = _session(config, request.url, verify).send(request)
    except SSLError:
        if kept.verify is not _UNKNOWN:
            raise  # the client's own setting refuses the endpoint: as botocore would
        # the client's own verify= is not known: its session sends the page
        logger.debug("TLS settings differ from the client's: listing page read unbounded")
        if not kept.warned:
            kept.warned = True
            warnings.warn(
                f"{request.url.split('?', 1)[0][:200]}: this S3 client's certificate "
                "settings (verify=) cannot be read, so its listing pages are read without "
                "byocframe.bucket.bounded.MAX_LIST_PAGE_BYTES; pass them with "
                "byocframe.bucket.bounded.bound_listing(s3, verify=...)",
                ByocframeWarning,
                stacklevel=2,
            )
        return None
    finally:
        request.stream_output = asked
    return _read(request, answer)


def _read(request: Any, answer: Any) -> Any:
    """The answer with its body read within the bound; read failures as botocore's own."""
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ConnectionClosedError, HTTPClientError, ReadTimeoutError
    from urllib3.exceptions import ProtocolError
    from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

    limit, raw = MAX_LIST_PAGE_BYTES, answer.raw
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raw.close()  # the connection goes, the body is never read
        raise _refusal(request.url, f"declares {int(declared):,} bytes", limit)
    # read as botocore reads an answer (``b"".join(raw.stream())``), counting; a failure
    # becomes the exception botocore's session raises for it, which its retries know
    parts, size = [], 0
    try:
        for part in raw.stream(2**16):
            size += len(part)
            if size > limit:
                raw.close()
                raise _refusal(request.url, f"is over {limit:,} bytes", limit)
            parts.append(part)
    except BucketError:
        raise
    except Urllib3ReadTimeout as err:
        raise ReadTimeoutError(endpoint_url=request.url, error=err) from err
    except ProtocolError as err:
        raise ConnectionClosedError(error=err, request=request, endpoint_url=request.url) from err
    except (OSError, ValueError) as err:
        raise HTTPClientError(error=err) from err
    raw.release_conn()
    return AWSResponse(request.url, answer.status_code, answer.headers, _Read(b"".join(parts)))


def _refusal(url: str, what: str, limit: int) -> BucketError:
    where = url.split("?", 1)[0][:200]
    return BucketError(
        f"{where}: an S3 listing page {what}, more than "
        f"byocframe.bucket.bounded.MAX_LIST_PAGE_BYTES ({limit:,}; S3 sends about 300 KB a "
        "page): check the S3 endpoint, or raise the "
        "limit for a store that sends larger pages"
    )

"""A transport for tests: answers from a function or a script, without sockets.

Give it to a client as ``transport=``: every request the client sends (the token
request too) goes to the mock, which records it and answers it. Retries, the 429 pause,
pacing, redirects refused, typed errors: everything above the transport runs as it does
against a real service.

Examples
--------
>>> import byocframe
>>> from byocframe.testing import MockTransport
>>> mock = MockTransport(
...     [
...         (200, {"access_token": "t", "expires_in": 3600}),
...         (503, {"error": {"message": "busy"}}),
...         (200, {"data": {"id": "c1", "name": "demo"}}),
...     ]
... )
>>> client = byocframe.Client(
...     base_url="http://127.0.0.1:1", client_id="id", client_secret="secret",
...     transport=mock, backoff=0.0,
... )
>>> client.get_collection("c1")["name"]
'demo'
>>> [f"{r.method} {r.url.rsplit('/', 1)[-1]}" for r in mock.requests]
['POST token', 'GET c1', 'GET c1']
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from byocframe.client.transport import Answer, Request
from byocframe.exceptions import TransportError

__all__ = ["MockTransport", "Reply"]

#: What a script or a handler gives for one request: an `Answer`, a ``(status, JSON)``
#: or ``(status, JSON, headers)`` tuple (``bytes`` are sent as they are), or an
#: exception to raise (e.g. a `~byocframe.TransportError` for a dropped connection).
Reply: TypeAlias = "Answer | tuple[Any, ...] | BaseException"


def _answer(reply: Reply, request: Request) -> Answer:
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, Answer):
        return reply
    if not isinstance(reply, tuple) or not 2 <= len(reply) <= 3:
        raise TypeError(
            "a mock reply is an Answer, (status, body) or (status, body, headers), "
            f"got {type(reply).__name__}"
        )
    status, document, *rest = reply
    headers: dict[str, str] = dict(rest[0]) if rest else {}
    if isinstance(document, bytes):
        body = document
    elif document is None:
        body = b""
    else:
        body = json.dumps(document).encode()
        headers.setdefault("Content-Type", "application/json")
    return Answer(int(status), body, headers, url=request.url)


def _is_json(headers: Mapping[str, str]) -> bool:
    kind = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return kind.split(";")[0].strip() == "application/json"


class MockTransport:
    """A `~byocframe.client.transport.Transport` that answers without a network.

    Parameters
    ----------
    answers : callable or iterable
        ``answers(request)`` returning a `Reply` for each `Request`; or the replies
        themselves, given out in order (one more request than replies is a
        `~byocframe.TransportError`: "the mock script has no answer left").

    Attributes
    ----------
    requests : list of Request
        Every request received, in order (the token request included).

    Examples
    --------
    >>> from byocframe.client.transport import Request
    >>> mock = MockTransport(lambda request: (404, {"error": {"message": request.url}}))
    >>> answer = mock.send(Request("GET", "http://127.0.0.1:1/x"), timeout=1.0)
    >>> answer.status, answer.json()["error"]["message"]
    (404, 'http://127.0.0.1:1/x')
    """

    def __init__(self, answers: Callable[[Request], Reply] | Iterable[Reply]):
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        if callable(answers):
            self._handler = answers
        else:
            script = iter(list(answers))

            def scripted(request: Request) -> Reply:
                with self._lock:  # threads take the replies one at a time, in order
                    for reply in script:
                        return reply
                return TransportError(
                    f"the mock script has no answer left for {request.method} {request.url}"
                )

            self._handler = scripted

    def __repr__(self) -> str:
        return f"MockTransport({len(self.requests)} requests)"

    def send(self, request: Request, *, timeout: float) -> Answer:
        """Record ``request`` and answer it from the script or the function."""
        with self._lock:
            self.requests.append(request)
        return _answer(self._handler(request), request)

    def close(self) -> None:
        """Nothing to close; present for the `~byocframe.client.transport.Transport` protocol."""

    def bodies(self, method: str | None = None) -> list[Any]:
        """The bodies sent, of one method or all: JSON ones decoded, others as bytes.

        Examples
        --------
        >>> from byocframe.client.transport import Request
        >>> mock = MockTransport(lambda request: (204, None))
        >>> put = Request(
        ...     "PUT", "http://127.0.0.1:1/x", {"Content-Type": "application/json"}, b'{"a": 1}'
        ... )
        >>> _ = mock.send(put, timeout=1)
        >>> mock.bodies("PUT"), mock.bodies("GET")
        ([{'a': 1}], [])
        """
        return [
            json.loads(r.body) if r.body and _is_json(r.headers) else r.body
            for r in self.requests
            if method is None or r.method == method
        ]

    @staticmethod
    def reply(status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Reply:
        """A reply tuple, spelled out (``MockTransport.reply(429, {}, {"Retry-After": "10"})``).

        Examples
        --------
        >>> MockTransport.reply(200, {"data": []})
        (200, {'data': []}, {})
        """
        return (status, body, dict(headers or {}))

"""OAuth2 client credentials: one token, fetched once and renewed before it expires."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable

from byocframe.client.pacing import Clock
from byocframe.client.responses import decode, json_or_none, one_line, redirect_note, seconds
from byocframe.client.transport import Answer
from byocframe.exceptions import APIError, AuthenticationError, TransportError

__all__ = ["MAX_TOKEN_CHARS", "TokenSource"]

#: Longest access token taken from the token endpoint, in characters. The token goes
#: in the ``Authorization`` header of every request, so a token endpoint answering with
#: megabytes would have them sent with each one (Sentinel Hub's and CDSE's tokens take
#: 1-2 KB; servers refuse header lines past about 8 KiB). Raise it
#: (``byocframe.client.auth.MAX_TOKEN_CHARS = ...``) for an identity service with longer ones.
MAX_TOKEN_CHARS = 16_384

_REFRESH_MARGIN = 60.0  # seconds before expiry when a token is renewed
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 b64token: safe in a header


class TokenSource:
    """The access token of one client, shared by all its threads.

    The secret travels only in the form body of the token request (as sentinelhub-py
    sends it); neither it nor the token is shown by ``repr`` or any error.

    Parameters
    ----------
    client_id, client_secret, token_url : str
    send : callable
        ``send(method, url, data=...)``: one exchange (the client's, with its deadline).
    attempts : int
        Tries for 5xx answers and connection errors.
    backoff : callable
        ``backoff(attempt)`` waits before the next try.
    clock : callable
        Monotonic seconds.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        token_url: str,
        send: Callable[..., Answer],
        attempts: int,
        backoff: Callable[[int], None],
        clock: Clock,
    ):
        self.client_id = client_id
        self.__secret = client_secret
        self.token_url = token_url
        self._send = send
        self._attempts = attempts
        self._backoff = backoff
        self._clock = clock
        self._lock = threading.Lock()
        self.__token: str | None = None
        self._expires = 0.0

    def __repr__(self) -> str:
        return f"TokenSource(token_url={self.token_url!r})"

    def bearer(self, *, renew: bool = False) -> str:
        """The current token; a new one when it is about to expire or ``renew``."""
        with self._lock:
            if renew or self.__token is None or self._clock() > self._expires:
                self.__token, self._expires = self._fetch()
            return self.__token

    def _fetch(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.__secret,
        }
        url = self.token_url
        for attempt in range(self._attempts):
            last = attempt == self._attempts - 1
            try:
                response = self._send("POST", url, data=form)
            except TransportError:
                if not last:
                    self._backoff(attempt)
                    continue
                raise
            if response.status >= 500 and not last:
                self._backoff(attempt)
                continue
            break
        if response.status != 200:
            body = json_or_none(response)
            message = response.reason or "error"
            if isinstance(body, dict):
                message = body.get("error_description") or body.get("error") or message
                if isinstance(message, dict):  # the API's own error shape, e.g. on a 404
                    message = message.get("message") or response.reason or "error"
                message = one_line(message)  # a server's words: one line, bounded
            if 300 <= response.status < 400:
                message = redirect_note(response)
            error = AuthenticationError if response.status in (400, 401, 403) else APIError
            raise error(response.status, str(message), method="POST", url=url)
        body = decode(response, "POST", url)
        if not isinstance(body, dict):
            body = {}
        token = body.get("access_token")
        if isinstance(token, str) and len(token) > MAX_TOKEN_CHARS:
            raise TransportError(
                f"POST {url}: the token endpoint's access_token has {len(token):,} "
                f"characters, more than byocframe.client.auth.MAX_TOKEN_CHARS "
                f"({MAX_TOKEN_CHARS:,}); raise it if the identity service is trusted",
                method="POST",
                url=url,
            )
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise TransportError(
                f"POST {url}: the token endpoint's answer has no usable access_token",
                method="POST",
                url=url,
            )
        lifetime = seconds(body.get("expires_in", 3600))
        if lifetime is None or lifetime <= 0 or math.isinf(lifetime):
            raise TransportError(
                f"POST {url}: the token endpoint's expires_in is not a positive number",
                method="POST",
                url=url,
            )
        margin = min(_REFRESH_MARGIN, lifetime / 10)
        return token, self._clock() + lifetime - margin

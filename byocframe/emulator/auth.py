"""OAuth2 client credentials for the local service: HMAC-signed JWT access tokens.

Tokens are stateless: a restarted service with the same credentials accepts the tokens
it issued before (sentinelhub-py caches one token per process, BYOC_API 2.4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TokenIssuer"]

#: Seconds a token lives (sentinelhub-py refetches when fewer than 120 s remain).
TOKEN_LIFETIME = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenIssuer:
    """Issues and checks tokens for one client id / secret pair.

    Examples
    --------
    >>> issuer = TokenIssuer("my-client", "my-secret")
    >>> token = issuer.issue()["access_token"]
    >>> issuer.check(token)
    'my-client'
    >>> issuer.check(token + "x") is None
    True
    """

    client_id: str
    client_secret: str
    lifetime: int = TOKEN_LIFETIME
    clock: Callable[[], float] = time.time

    @property
    def _key(self) -> bytes:
        return hashlib.sha256(f"byocframe:{self.client_id}:{self.client_secret}".encode()).digest()

    def credentials_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        """Compare in constant time."""
        return hmac.compare_digest(str(client_id or ""), self.client_id) and hmac.compare_digest(
            str(client_secret or ""), self.client_secret
        )

    issued: int = 0

    def issue(self) -> dict[str, object]:
        """A token response as the Sentinel Hub identity service sends it."""
        self.issued += 1
        now = int(self.clock())
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {
            "azp": self.client_id,
            "sub": self.client_id,
            "iat": now,
            "exp": now + self.lifetime,
            "jti": str(uuid.uuid4()),
        }
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return {
            "access_token": f"{signing_input}.{_b64(signature)}",
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }

    def check(self, token: str) -> str | None:
        """Return the client id of a valid, unexpired token, else None."""
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_unb64(signature), expected):
                return None
            claims = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        if not isinstance(claims, dict) or claims.get("exp", 0) <= self.clock():
            return None
        return str(claims.get("azp"))

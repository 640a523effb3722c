"""OAuth2 client credentials for the local service: HMAC-signed JWT access tokens.

Tokens are stateless: a restarted service with the same credentials accepts the tokens
it issued before (sentinelhub-py caches one token per process, BYOC_API 2.4). They are
signed and verified by PyJWT (RFC 7519 JWTs, HS256 JWS of RFC 7515), not by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt

__all__ = ["MIN_SECRET_LENGTH", "FailureThrottle", "TokenIssuer", "verified_claims"]

#: Shortest client secret accepted when the service listens beyond this machine.
MIN_SECRET_LENGTH = 16

#: Seconds a token lives (sentinelhub-py refetches when fewer than 120 s remain).
TOKEN_LIFETIME = 3600

#: Tokens whose signature `TokenIssuer.check` remembers (forgotten all at once beyond).
VERIFIED_CAPACITY = 1024


#: What `verified_claims` leaves to its caller: the service checks ``exp`` against its own
#: clock (tests move it), and ``iat`` is not compared with the machine's time.
_UNCHECKED: jwt.types.Options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}


def verified_claims(token: str, key: bytes) -> object | None:
    """The claims of a compact HS256 JWT whose signature ``key`` verifies, else None.

    PyJWT checks the structure and the signature; the expiry is the caller's to check.
    A compact JWS holds no ``=`` (RFC 7515 section 2: base64url without padding), so a
    token with padding added is refused, not read as the token it was made from.

    Parameters
    ----------
    token : str
        ``header.payload.signature``, each base64url.
    key : bytes
        The HMAC key.

    Returns
    -------
    object or None
        The decoded claims (a dict), or None when the token is not one signed with ``key``.

    Examples
    --------
    The HS256 example of RFC 7515, appendix A.1:

    >>> import base64
    >>> k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
    >>> token = (
    ...     "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ...     ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
    ...     "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ...     ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    ... )
    >>> verified_claims(token, base64.urlsafe_b64decode(k + "=="))["iss"]
    'joe'
    >>> verified_claims(token + "=", base64.urlsafe_b64decode(k + "==")) is None
    True
    """
    if not isinstance(token, str) or "=" in token:
        return None
    try:
        return jwt.decode(token, key, algorithms=["HS256"], options=_UNCHECKED)
    except jwt.InvalidTokenError:
        return None


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
        """Compare in constant time (as UTF-8 bytes: any text may arrive)."""
        given = [
            (client_id or "").encode("utf-8", "replace"),
            (client_secret or "").encode("utf-8", "replace"),
        ]
        id_ok = hmac.compare_digest(given[0], self.client_id.encode())
        secret_ok = hmac.compare_digest(given[1], self.client_secret.encode())
        return id_ok and secret_ok

    issued: int = 0
    #: token -> (signing key, claims) of tokens whose signature was verified.
    _verified: dict[str, tuple[bytes, object]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def issue(self) -> dict[str, object]:
        """A token response as the Sentinel Hub identity service sends it."""
        self.issued += 1
        now = int(self.clock())
        claims = {
            "azp": self.client_id,
            "sub": self.client_id,
            "iat": now,
            "exp": now + self.lifetime,
            "jti": str(uuid.uuid4()),
        }
        return {
            "access_token": jwt.encode(claims, self._key, algorithm="HS256"),
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }

    def check(self, token: str) -> str | None:
        """Return the client id of a valid, unexpired token, else None.

        A token's signature is verified once (while the credentials stay the same); its
        expiry is checked against the clock on every call.
        """
        key = self._key
        known = self._verified.get(token)
        if known is None or known[0] != key:
            claims = verified_claims(token, key)
            if claims is None:
                return None
            if len(self._verified) >= VERIFIED_CAPACITY:
                self._verified.clear()
            self._verified[token] = (key, claims)
        else:
            claims = known[1]
        if not isinstance(claims, dict) or claims.get("exp", 0) <= self.clock():
            return None
        return str(claims.get("azp"))


@dataclass
class FailureThrottle:
    """Slows down guessing at the token endpoint.

    Per client address, the first ``free`` failed attempts in a row cost nothing; after
    that, the next attempt must wait ``base`` seconds after the last failure, doubling
    with every further failure up to ``cap``. A success resets the address.

    Examples
    --------
    >>> now = [0.0]
    >>> throttle = FailureThrottle(free=2, base=1.0, cap=4.0, clock=lambda: now[0])
    >>> throttle.failed("10.0.0.1")
    >>> throttle.wait("10.0.0.1")
    0.0
    >>> throttle.failed("10.0.0.1")
    >>> throttle.wait("10.0.0.1"), throttle.wait("10.0.0.2")
    (1.0, 0.0)
    >>> throttle.failed("10.0.0.1")
    >>> throttle.wait("10.0.0.1")
    2.0
    >>> now[0] = 2.0
    >>> throttle.wait("10.0.0.1")
    0.0
    """

    free: int = 5
    base: float = 0.5
    cap: float = 60.0
    clock: Callable[[], float] = time.monotonic
    #: Addresses remembered at once (oldest forgotten first): bounded memory.
    capacity: int = 10_000
    _failures: OrderedDict[str, tuple[int, float]] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wait(self, key: str) -> float:
        """Seconds ``key`` must still wait before its next attempt (0: go ahead)."""
        with self._lock:
            count, last = self._failures.get(key, (0, 0.0))
        if count == 0 or count < self.free:
            return 0.0
        delay = min(self.cap, self.base * 2.0 ** min(count - self.free, 64))
        return max(0.0, last + delay - self.clock())

    def failed(self, key: str) -> None:
        """Count a failed attempt."""
        with self._lock:
            count, _ = self._failures.pop(key, (0, 0.0))
            self._failures[key] = (count + 1, self.clock())
            while len(self._failures) > self.capacity:
                self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key``."""
        with self._lock:
            self._failures.pop(key, None)

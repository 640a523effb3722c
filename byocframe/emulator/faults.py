"""Fault injection and rate limiting for the local service, seeded and off by default."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Faults", "RateLimit"]

Decision = Literal["ok", "error", "throttle", "drop_before", "drop_after"]


@dataclass
class Faults:
    """What goes wrong, and how often, on BYOC API requests (not on the token endpoint).

    Parameters
    ----------
    latency : float
        Seconds added to every request.
    error_rate : float
        Fraction of requests answered 500/503 before anything is done.
    throttle_rate : float
        Fraction of requests answered 429 with ``Retry-After: retry_after_ms``.
    drop_rate : float
        Fraction of requests whose connection is closed without an answer; half of
        them after the request took effect (a create that reached the server).
    retry_after_ms : int
        The ``Retry-After`` of random 429s, in milliseconds.
    seed : int
        Seed of the random draws: the same seed and request order give the same faults.

    Examples
    --------
    >>> faults = Faults(error_rate=0.5, seed=1)
    >>> [faults.decide() for _ in range(4)]
    ['error', 'ok', 'error', 'ok']
    """

    latency: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    retry_after_ms: int = 100
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for name in ("error_rate", "throttle_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.error_rate + self.throttle_rate + self.drop_rate > 1.0:
            raise ValueError("error_rate + throttle_rate + drop_rate must not exceed 1")
        self._rng = random.Random(self.seed)

    @property
    def active(self) -> bool:
        """Whether anything is injected at all."""
        return bool(self.latency or self.error_rate or self.throttle_rate or self.drop_rate)

    def decide(self) -> Decision:
        """Draw the fate of one request."""
        with self._lock:
            draw = self._rng.random()
            early = self._rng.random() < 0.5
        if draw < self.error_rate:
            return "error"
        draw -= self.error_rate
        if draw < self.throttle_rate:
            return "throttle"
        draw -= self.throttle_rate
        if draw < self.drop_rate:
            return "drop_before" if early else "drop_after"
        return "ok"


@dataclass
class RateLimit:
    """A token bucket per client: ``capacity`` requests, refilled at ``per_second``.

    Examples
    --------
    >>> now = [0.0]
    >>> limit = RateLimit(capacity=2, per_second=1.0, clock=lambda: now[0])
    >>> [limit.acquire("c") for _ in range(3)]
    [0, 0, 1000]
    >>> now[0] = 1.0
    >>> limit.acquire("c")
    0
    """

    capacity: float
    per_second: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def acquire(self, client: str) -> int:
        """Take one token; return 0, or the milliseconds to wait when the bucket is empty."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.per_second)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0
            self._buckets[client] = (tokens, now)
            return max(1, int(-(-(1.0 - tokens) / self.per_second * 1000 // 1)))

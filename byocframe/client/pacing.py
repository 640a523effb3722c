"""How fast a client sends: a steady pace, and a pause for everyone after a 429.

Both take a clock and a sleep function so tests run on a fake clock, instantly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Clock", "Pacer", "Sleep", "Throttle"]

#: Seconds, monotonic (``time.monotonic`` by default).
Clock = Callable[[], float]
#: Waits that many seconds (``time.sleep`` by default).
Sleep = Callable[[float], None]


class Pacer:
    """Space requests evenly to ``per_minute``, across all threads.

    Requests are released one at a time, each at least ``60 / per_minute`` seconds
    after the one before, so the rate holds at the moment of sending, whatever the
    number of threads. ``per_minute=None`` releases at once.

    Examples
    --------
    >>> now = [0.0]
    >>> pacer = Pacer(120, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    >>> for _ in range(3):
    ...     _ = pacer.wait()
    >>> now[0]
    1.0
    """

    def __init__(self, per_minute: float | None, *, clock: Clock, sleep: Sleep):
        if per_minute is not None and not per_minute > 0:
            raise ValueError(f"requests_per_minute must be positive, got {per_minute!r}")
        self.per_minute = per_minute
        self._interval = 0.0 if per_minute is None else 60.0 / per_minute
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._lock = threading.Lock()

    def wait(self, turns: int = 1) -> list[float]:
        """Return when the next request may be sent, holding ``turns`` turns for it.

        With ``turns > 1`` the caller sends that many requests together (a check and its
        write, which must not be far apart) and the pace then waits ``turns`` intervals
        before the next one, so the rate over any two intervals still holds. Returns the
        times for the requests after the first (now; see `Pacer.wait_until`).

        Examples
        --------
        >>> now = [0.0]
        >>> pacer = Pacer(60, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
        >>> pacer.wait(turns=2), pacer.wait()
        ([0.0], [])
        >>> now[0]
        2.0
        """
        if self.per_minute is None:
            return [self._clock()] * (turns - 1)
        # the lock is held while sleeping: threads queue here and leave one per interval
        with self._lock:
            now = self._clock()
            if self._next is not None and now < self._next:
                self._sleep(self._next - now)
                now = max(self._clock(), self._next)
            self._next = now + turns * self._interval
        return [now] * (turns - 1)

    def wait_until(self, when: float) -> None:
        """Sleep until a turn given out by `Pacer.wait`."""
        delay = when - self._clock()
        if delay > 0:
            self._sleep(delay)


class Throttle:
    """After a 429, every thread of the client waits: the limit is per client."""

    def __init__(self, *, clock: Clock, sleep: Sleep):
        self._clock = clock
        self._sleep = sleep
        self._resume_at = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Return when no pause is in force."""
        while True:
            with self._lock:
                delay = self._resume_at - self._clock()
            if delay <= 0:
                return
            self._sleep(delay)

    def pause(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` from now."""
        with self._lock:
            self._resume_at = max(self._resume_at, self._clock() + seconds)

"""Attacks on the `Trail` that verifies behind a push's writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from byocframe.edits.verify import Trail


class _Listing:
    """A client whose listing counts the pages read."""

    def __init__(self, ids: list[str]):
        self.ids = ids
        self.pages_read = 0
        self.clock = time.monotonic
        self.sleep = time.sleep

    def tile_pages(self, cid: str, count: int = 100) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(self.ids), count):
            self.pages_read += 1
            yield [{"id": tid} for tid in self.ids[start : start + count]]


class _Watched(Trail):
    """A `Trail` that says when its thread found a page not ready (it then waits)."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.waiting = threading.Event()
        super().__init__(*args, **kwargs)

    def _ready(self, end: int) -> bool:
        ready = super()._ready(end)
        if not ready:
            self.waiting.set()
        return ready


# A push stopped (an interrupt) abandons its trail: the trail must not read the listing
# afterwards (it read one more page, after waiting out the page's settle time).
def test_an_abandoned_trail_reads_no_more_pages():
    client = _Listing(["a", "b", "c"])
    trail = _Watched(client, "cid")  # type: ignore[arg-type]
    trail.listed(["a", "b", "c"], edited=["a"])  # "a" not finished: the trail waits
    # the thread holds the trail's lock from its test until it waits: abandon() comes
    # after, and wakes it, as an interrupt during a push does
    assert trail.waiting.wait(5)
    trail.abandon()
    trail._thread.join(timeout=5)
    assert not trail._thread.is_alive()
    assert client.pages_read == 0

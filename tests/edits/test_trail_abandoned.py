"""Attacks on the `Trail` that verifies behind a push's writes."""

from __future__ import annotations

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


# A push stopped (an interrupt) abandons its trail: the trail must not read the listing
# afterwards (it read one more page, after waiting out the page's settle time).
def test_an_abandoned_trail_reads_no_more_pages():
    client = _Listing(["a", "b", "c"])
    trail = Trail(client, "cid")  # type: ignore[arg-type]
    trail.listed(["a", "b", "c"], edited=["a"])  # "a" not finished: the trail waits
    time.sleep(0.05)
    trail.abandon()
    trail._thread.join(timeout=5)
    assert not trail._thread.is_alive()
    assert client.pages_read == 0

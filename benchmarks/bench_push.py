"""Benchmark: 2,000 sensing-time edits with 20 ms of latency added to every request.

The local service runs as its own process with ``--latency 0.02``. Compared in the same
run, on the same collection:

* sentinelhub-py: a loop of ``SentinelHubBYOC.update_tile`` (one request per tile, at
  least 50 ms apart, no conflict check);
* ``gdf.byoc.push(client)`` with its default settings: a thread pool (32 workers) over
  one client. Nearly the whole collection is edited, so the three-way check reads the
  listing page that holds each tile (32 tiles a page, one per worker) and writes the
  tile right after; the verify reads the listing again behind the writes, 100 tiles a
  page, each page once its writes are 0.5 s old. The wait between a tile's last read
  and its write is printed (a read older than ``MAX_READ_AGE`` is repeated with a GET,
  and those GETs are counted). ``force=True`` skips the check;
* the same push run again from the same loaded frame: every tile ``unchanged``, no
  write sent.

Run: ``python benchmarks/bench_push.py [--edits 2000] [--latency 0.02]``
"""

from __future__ import annotations

import argparse
import threading
import time

import pandas as pd
from common import sentinelhub_byoc, served

import byocframe
from byocframe.edits.writes import MAX_READ_AGE
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


class Timed:
    """A client that notes when each tile was last read (page or GET) before its write,
    and when the write left."""

    def __init__(self, inner: byocframe.Client):
        self._inner = inner
        self.read: dict[str, float] = {}
        self.waits: list[float] = []
        self.gets = 0
        self._written: set[str] = set()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def tile_pages(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for page in self._inner.tile_pages(*args, **kwargs):
            now = time.perf_counter()
            with self._lock:
                self.read.update((t["id"], now) for t in page if t["id"] not in self._written)
            yield page

    def get_tile(self, cid: str, tid: str, **turns: float | None) -> dict:
        record = self._inner.get_tile(cid, tid, **turns)
        with self._lock:
            self.gets += 1
            self.read[tid] = time.perf_counter()
        return record

    def update_tile(self, cid: str, tid: str, body: dict, **turns: float | None) -> None:
        with self._lock:
            self._written.add(tid)
            if tid in self.read:  # force=True reads nothing
                self.waits.append(time.perf_counter() - self.read[tid])
        self._inner.update_tile(cid, tid, body, **turns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    options = [
        "--demo",
        "--demo-tiles",
        str(int(args.edits * 1.05) + 10),
        "--ingestion-delay",
        "0",
        "--latency",
        str(args.latency),
    ]
    with served(*options) as base_url:
        run(base_url, args)


def run(base_url: str, args: argparse.Namespace) -> None:
    client = byocframe.Client(
        base_url=base_url, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
    )
    cid = next(client.iter_collections())["id"]
    gdf = byocframe.read_tiles(client, cid, progress=False)
    gdf = gdf[gdf["status"] == "INGESTED"].iloc[: args.edits].copy()
    records = [t for t in client.iter_tiles(cid) if t["id"] in set(gdf.index)]

    byoc = sentinelhub_byoc(base_url)
    start = time.perf_counter()
    for record in records:
        shifted = pd.Timestamp(record["sensingTime"]) + pd.Timedelta(minutes=1)
        byoc.update_tile(cid, {**record, "sensingTime": shifted.isoformat()})
    seed = time.perf_counter() - start

    results = {}
    for label, kwargs, again in (
        ("push (default settings)", {}, False),
        ("push, force=True", {"force": True}, False),
        ("the same push run again", {}, True),
    ):
        loaded = byocframe.read_tiles(client, cid, progress=False)
        frame = loaded.loc[gdf.index].copy()
        frame["sensing_time"] += pd.Timedelta(minutes=1)
        if again:
            first = frame.copy()
            first.byoc.push(client, progress=False)
        timed = Timed(client)
        start = time.perf_counter()
        result = frame.byoc.push(timed, progress=False, **kwargs)
        counts = result["outcome"].value_counts().to_dict()
        results[label] = (time.perf_counter() - start, counts)
        if label == "push (default settings)":
            waits, gets = sorted(timed.waits), timed.gets

    print(f"{len(records)} edits, {args.latency * 1000:.0f} ms latency per request")
    print(f"sentinelhub-py update_tile loop: {seed:7.2f} s")
    for label, (seconds, counts) in results.items():
        print(f"{label:30s} {seconds:7.2f} s, {counts}, {seed / seconds:5.1f}x faster")
    print(
        f"default push, from a tile's last read to its write: median "
        f"{waits[len(waits) // 2] * 1000:.0f} ms, longest {waits[-1] * 1000:.0f} ms (limit "
        f"{MAX_READ_AGE * 1000:.0f} ms, from the read's answer); {gets} tiles read again "
        "with a GET because their page waited too long"
    )


if __name__ == "__main__":
    main()

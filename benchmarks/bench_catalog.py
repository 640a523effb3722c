"""Benchmark: the tiles of one 300 x 300 km AOI for one month, Catalog search vs full listing.

Two parts:

1. In-process, no HTTP: the local Catalog's own time for one search page (100 items of
   the AOI and month, and a page of a whole-globe search) on demo collections of
   20,000 and 200,000 tiles, and the time to build its spatial index once.
2. Over HTTP, the service in its own process with 20 ms injected latency per request,
   on the 200,000-tile demo collection: ``read_tiles(bbox=, datetime=)`` (Catalog
   search, then one GET per tile found) against ``read_tiles()`` of the whole
   collection filtered in pandas. Requests are counted on the client's session.

Run: ``python benchmarks/bench_catalog.py [--tiles 200000] [--latency 0.02]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import pandas as pd
import shapely
from common import served

import byocframe
from byocframe.client.transport import Answer, HTTPTransport, Request
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from byocframe.emulator.catalog import Catalog
from byocframe.emulator.demo import seed_demo
from byocframe.emulator.store import Store

# 300 x 300 km around 45 W, 15 S (one degree of longitude is 107.5 km there), where the
# demo has tiles on every date even at 20,000 tiles
AOI = [-46.4, -16.35, -43.6, -13.65]
MONTH = ("2024-06-01", "2024-06-30")
#: One date a month for ten months: 21,000 land cells a date make room for 200,000 tiles.
DATES = tuple(f"2024-{m:02d}-10" for m in range(1, 11))


def seeded(tiles: int, path: str | None = None) -> tuple[Store, str, float]:
    store = Store(path or ":memory:")
    start = time.perf_counter()
    cid = seed_demo(store, tiles, dates=DATES)
    return store, cid, time.perf_counter() - start


def server_side(tiles: int) -> None:
    store, cid, seconds = seeded(tiles)
    catalog = Catalog(store)
    start = time.perf_counter()
    catalog.index.refresh()
    built = time.perf_counter() - start
    base = "http://localhost/api/v1/catalog/1.0.0"
    for label, body in (
        ("AOI + month", {"bbox": AOI, "datetime": "2024-06-01T00:00:00Z/2024-06-30T23:59:59Z"}),
        ("whole globe", {"bbox": [-180, -90, 180, 90]}),
    ):
        times, matched = [], 0
        for _ in range(20):
            start = time.perf_counter()
            _, _, answer = catalog.answer(
                "POST", "/search", {}, {"collections": [f"byoc-{cid}"], "limit": 100, **body}, base
            )
            times.append(time.perf_counter() - start)
            matched = answer["context"]["matched"]
        print(
            f"  {tiles:>7} tiles, {label:<12}: first page {times[0] * 1000:7.1f} ms, "
            f"median of the next 19 {statistics.median(times[1:]) * 1000:7.1f} ms "
            f"(first pages only; {matched} matched)"
        )
    print(f"  {tiles:>7} tiles: seeded in {seconds:.1f} s, index built once in {built:.1f} s")
    store.close()


class CountingTransport(HTTPTransport):
    """The default transport, counting the requests it sends (through its public seam)."""

    def __init__(self) -> None:
        super().__init__(pool_size=32)
        self.calls = [0]

    def send(self, request: Request, *, timeout: float) -> Answer:
        self.calls[0] += 1
        return super().send(request, timeout=timeout)


def over_http(tiles: int, latency: float, keep: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = keep or os.path.join(tmp, "catalog-bench.sqlite")
        if not os.path.exists(db):
            store, _, seconds = seeded(tiles, db)
            start = time.perf_counter()
            Catalog(store).index.refresh()  # kept in the file: the served process reuses it
            built = time.perf_counter() - start
            store.close()
            print(f"  seeded {tiles} tiles in {seconds:.1f} s, index built in {built:.1f} s")
        # the later --db wins over the one served() passes; no ingestion of the WAITING
        # tiles while measuring (they would change the collection between the two ways)
        options = ("--latency", str(latency), "--ingestion-delay", "0", "--db", db)
        with served(*options) as base_url:
            compare(base_url)


def compare(base_url: str) -> None:
    transport = CountingTransport()
    client = byocframe.Client(
        base_url=base_url,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        transport=transport,
    )
    cid = next(client.iter_collections())["id"]
    calls = transport.calls
    calls[0] = 0
    start = time.perf_counter()
    found = byocframe.read_tiles(client, cid, bbox=AOI, datetime=MONTH, progress=False)
    search_s, search_n = time.perf_counter() - start, calls[0]
    calls[0] = 0
    start = time.perf_counter()
    full = byocframe.read_tiles(client, cid, progress=False)
    june = full["sensing_time"].between(
        pd.Timestamp(MONTH[0], tz="UTC"), pd.Timestamp("2024-07-01", tz="UTC"), "left"
    )
    keep = june & (full["status"] == "INGESTED") & full.intersects(shapely.box(*AOI))
    listed = full[keep]
    list_s, list_n = time.perf_counter() - start, calls[0]
    same = sorted(found.index) == sorted(listed.index)
    print(
        f"  read_tiles(bbox=, datetime=): {search_n:5d} requests, {search_s:6.2f} s, "
        f"{len(found)} tiles"
    )
    print(
        f"  full listing + pandas filter: {list_n:5d} requests, {list_s:6.2f} s, "
        f"{len(listed)} tiles of {len(full)}"
    )
    print(
        f"  same tiles: {same}; ratio: {list_n / search_n:.0f}x fewer requests, "
        f"{list_s / search_s:.1f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=200_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--skip-server-side", action="store_true")
    parser.add_argument("--keep-db", help="seed this SQLite file once and reuse it")
    args = parser.parse_args()
    if not args.skip_server_side:
        print("Catalog search page, server side (no HTTP):")
        for tiles in sorted({20_000, args.tiles}):
            server_side(tiles)
    print(f"Over HTTP, {args.tiles} tiles, {args.latency * 1000:.0f} ms per request:")
    over_http(args.tiles, args.latency, args.keep_db)


if __name__ == "__main__":
    main()

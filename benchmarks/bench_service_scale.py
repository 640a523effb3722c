"""Benchmark: the local service with many tiles (issue 24): seeding, first search, listing.

Measures, for synthetic collections of 20,000 and 100,000 tiles (``--tiles``) in an
SQLite file:

1. ``LocalService.seed``: tiles per second, CPU and peak RSS, every tile validated as a
   POST, created, ingested from the virtual bucket and indexed for the Catalog, 10,000
   per transaction, in a fresh process (its peak RSS includes the records it seeds
   from: "records" is the peak before seeding). With ``--before PATH`` the checkout at
   PATH seeds the same records first, in its own process, for a same-run ratio. And,
   for comparison, creating tiles one POST at a time over HTTP.
2. The first Catalog search after the service opens the file, in a fresh process
   (server side, ``Catalog.answer``, no HTTP): an AOI + month and a whole-globe page.
   "kept" is the file as seeding left it (the index kept at write time). "old
   database" is the same file without the index's version mark, as a database from
   before looks: this code converts it once when it opens (timed as "open"); with
   ``--before PATH`` the checkout at PATH (e.g. ``/work/main``) is run on it too, and
   there the first search builds the whole index.
3. ``read_tiles`` of the whole collection from ``byocframe serve`` in its own process:
   the client's CPU time per tile (process time of this process only).

Run from the checkout: ``PYTHONPATH=. python benchmarks/bench_service_scale.py [--tiles 20000
100000] [--before /work/main]``.
Do not run a million tiles on a shared machine: the figures are linear, extrapolate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from common import served

import byocframe
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_service
from byocframe.emulator.validate import new_collection
from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_collection

AOI = [-46.4, -16.35, -43.6, -13.65]  # as in bench_catalog.py
MONTH = "2024-06-01T00:00:00Z/2024-06-30T23:59:59Z"
#: One date a month for ten months: room for 200,000 land tiles.
DATES = tuple(f"2024-{m:02d}-10" for m in range(1, 11))
#: Beyond 200,000 tiles: a date a month over five years, generated (and their files
#: registered) 5 dates at a time, so the records in memory stay about 100,000.
MANY_DATES = tuple(f"{y}-{m:02d}-10" for y in range(2020, 2025) for m in range(1, 13))


def _pieces(tiles: int) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """Synthetic records and files: at once up to 200,000 tiles, else 5 dates at a time."""
    if tiles <= 200_000:
        yield synthetic_collection(tiles, dates=DATES)
        return
    per_date = -(-tiles // len(MANY_DATES))
    for start in range(0, len(MANY_DATES), 5):
        dates = MANY_DATES[start : start + 5]
        n = min(per_date * len(dates), tiles - per_date * start)
        if n > 0:
            yield synthetic_collection(n, dates=dates)


def seed_here(tiles: int, db: str) -> dict[str, Any]:
    """Seed a collection of ``tiles`` into ``db`` in this process; return the figures."""
    service = create_service(db=db, ingestion_delay=0)
    wall = cpu = 0.0
    stored = left_out = 0
    try:
        spec = {"name": "scale", "s3Bucket": "bench", "additionalData": {"bands": SYNTHETIC_BANDS}}
        cid = service.store.create_collection(new_collection(spec))["id"]
        for records, files in _pieces(tiles):
            # the generator makes a few covers a POST refuses (beyond 84 N in a UTM zone)
            kept = [r for r in records if _accepted(r)]
            left_out += len(records) - len(kept)
            service.register_files("bench", files)
            del records, files
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            start, cpu_start = time.perf_counter(), time.process_time()
            stored += len(service.seed(cid, kept))
            wall += time.perf_counter() - start
            cpu += time.process_time() - cpu_start
            del kept
    finally:
        service.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "cid": cid,
        "tiles": stored,
        "left_out": left_out,
        "wall": wall,
        "cpu": cpu,
        "records_mb": before,
        "peak_mb": peak,
    }


def seed(
    tiles: int, db: str, checkout: str | None = None, label: str = "this code"
) -> dict[str, Any]:
    """`seed_here` in a fresh process, on ``checkout``'s code when given; print the figures."""
    root = checkout or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, os.path.abspath(__file__), "--seed-only", db, str(tiles)]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=root)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["left_out"]:
        print(f"  ({out['left_out']} synthetic records a POST refuses left out)")
    n, wall, cpu = out["tiles"], out["wall"], out["cpu"]
    print(
        f"  seed ({label}) {n:>7} tiles: {wall:6.1f} s wall, {cpu:6.1f} s CPU "
        f"({cpu / n * 1e3:.2f} ms a tile), {n / wall:6.0f} tiles/s, peak RSS "
        f"{out['peak_mb']:.0f} MB (records alone {out['records_mb']:.0f} MB)"
    )
    return out


def _accepted(record: dict[str, object]) -> bool:
    from byocframe.emulator.problems import ApiProblem
    from byocframe.emulator.validate import new_tile

    try:
        new_tile(record)
    except ApiProblem:
        return False
    return True


def first_search(db: str, cid: str) -> dict[str, float]:
    """Open the file as a fresh service would, then time the first and later searches."""
    from byocframe.emulator.catalog import Catalog
    from byocframe.emulator.store import Store

    start = time.perf_counter()
    store = Store(db)
    catalog = Catalog(store)
    out = {"open": time.perf_counter() - start}
    base = "http://localhost/api/v1/catalog/1.0.0"
    for label, body in (
        ("aoi", {"bbox": AOI, "datetime": MONTH}),
        ("globe", {"bbox": [-180, -90, 180, 90]}),
    ):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            catalog.answer(
                "POST", "/search", {}, {"collections": [f"byoc-{cid}"], "limit": 100, **body}, base
            )
            times.append(time.perf_counter() - start)
        out[f"{label} first"], out[f"{label} warm"] = times[0], min(times[1:])
    store.close()
    return out


def in_fresh_process(db: str, cid: str, checkout: str | None = None) -> dict[str, float]:
    """`first_search` in a new interpreter, on ``checkout``'s code when given."""
    # the checkout first on the path (a script's own folder would come first otherwise)
    root = checkout or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, os.path.abspath(__file__), "--first-search", db, cid]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=root)
    return json.loads(done.stdout.strip().splitlines()[-1])


def unmarked_copy(db: str, target: str) -> str:
    """A copy of ``db`` without the index's version mark (a database from before)."""
    shutil.copy(db, target)
    with sqlite3.connect(target) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'catalog_index'")
    return target


def show(label: str, t: dict[str, float]) -> None:
    print(
        f"    {label:<28} open {t['open']:7.2f} s | AOI+month first {t['aoi first'] * 1e3:9.1f} ms,"
        f" warm {t['aoi warm'] * 1e3:7.1f} ms | globe first {t['globe first'] * 1e3:9.1f} ms,"
        f" warm {t['globe warm'] * 1e3:7.1f} ms"
    )


def listing_and_posts(db: str, cid: str, tiles: int) -> None:
    """Client CPU of a whole listing, and the rate of one POST per tile, over HTTP."""
    with served("--db", db, "--ingestion-delay", "0") as base_url:
        client = byocframe.Client(
            base_url=base_url, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
        )
        wall, cpu = time.perf_counter(), time.process_time()
        frame = byocframe.read_tiles(client, cid, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"  read_tiles {len(frame):>7} tiles: {wall:6.1f} s wall, client CPU {cpu:6.1f} s "
            f"({cpu / len(frame) * 1e6:.0f} us a tile)"
        )
        if tiles <= 20_000:
            n = 300
            start = time.perf_counter()
            for k in range(n):
                client.create_tile(cid, {"path": f"posted/{k}/(BAND).tif"})
            wall = time.perf_counter() - start
            print(f"  POST one tile at a time: {wall / n * 1e3:.2f} ms a tile, {n / wall:.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--before", help="another checkout to run the first search on")
    parser.add_argument("--first-search", nargs=2, metavar=("DB", "CID"), help=argparse.SUPPRESS)
    parser.add_argument("--seed-only", nargs=2, metavar=("DB", "TILES"), help=argparse.SUPPRESS)
    parser.add_argument("--no-search", action="store_true", help="skip the first searches")
    parser.add_argument("--no-listing", action="store_true", help="skip the HTTP part")
    args = parser.parse_args()
    if args.first_search:
        print(json.dumps(first_search(*args.first_search)))
        return
    if args.seed_only:
        print(json.dumps(seed_here(int(args.seed_only[1]), args.seed_only[0])))
        return
    for tiles in args.tiles:
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "scale.sqlite")
            if args.before:
                old = seed(tiles, os.path.join(tmp, "before.sqlite"), args.before, args.before)
                os.remove(os.path.join(tmp, "before.sqlite"))
            new = seed(tiles, db)
            cid = new["cid"]
            if args.before:
                print(
                    f"  seed, this code / {args.before}: {old['cpu'] / new['cpu']:.1f}x less CPU, "
                    f"{old['wall'] / new['wall']:.1f}x less wall time"
                )
            if args.no_search:
                if not args.no_listing:
                    listing_and_posts(db, cid, tiles)
                continue
            print("  first search in a fresh process:")
            show("kept (this code)", in_fresh_process(db, cid))
            old = unmarked_copy(db, os.path.join(tmp, "old.sqlite"))
            show("old database (this code)", in_fresh_process(old, cid))
            if args.before:
                old = unmarked_copy(db, os.path.join(tmp, "before.sqlite"))
                show(f"old database ({args.before})", in_fresh_process(old, cid, args.before))
            if not args.no_listing:
                listing_and_posts(db, cid, tiles)


if __name__ == "__main__":
    main()

"""Benchmark: a listing that streams end to end over HTTP, up to a million tiles (issue 24).

For each size (``--tiles``, default 20,000 and 100,000) a synthetic collection is seeded
with ``LocalService.seed`` into an SQLite file (in a fresh process, as
``bench_service_scale.py`` does: records generated and seeded 5 dates at a time beyond
200,000), served by ``byocframe serve`` in its own process, and listed by three fresh
client processes, one a mode:

* ``read_tiles``: the whole frame in memory (batches of ``BATCH_SIZE`` converted as the
  pages arrive);
* ``write_listing``: the listing straight into a GeoParquet file;
* ``write_listing(format="stac-geoparquet")``: the listing straight into stac-geoparquet.

Figures per mode: wall time, client CPU (every thread of the client process), peak RSS
(``ru_maxrss``) and its growth over the process after imports and a first request, and
the file size. With two sizes or more, the CPU exponent between the smallest and the
largest: ``log(cpu_large / cpu_small) / log(n_large / n_small)`` (1 is linear).

``--db FOLDER`` keeps the seeded files there (``scale-N.sqlite`` and its figures in
``scale-N.json``) and reuses them on the next run, so a size is seeded once.

Run from the checkout: ``PYTHONPATH=. python benchmarks/bench_listing_stream.py --tiles 20000
100000 [--db /tmp/stream-db]``; a million once: ``nice -n 10`` and ``--tiles 100000 1000000``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench_service_scale import seed
from common import served

MODES = ("read_tiles", "write_listing", "stac-geoparquet")


def measure(mode: str, base_url: str, cid: str, folder: str) -> dict[str, Any]:
    """One listing in this (fresh) process; the figures as a dict."""
    import byocframe
    from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    client = byocframe.Client(
        base_url=base_url, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
    )
    client.get_collection(cid)  # the token, the session and a first answer
    import pyarrow.parquet  # noqa: F401  (imported by both writers: not the listing's cost)

    start_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path = os.path.join(folder, f"{mode}.parquet")
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "read_tiles":
        n = len(byocframe.read_tiles(client, cid, progress=False))
    elif mode == "write_listing":
        n = byocframe.write_listing(client, cid, path, progress=False)
    else:
        n = byocframe.write_listing(client, cid, path, progress=False, format="stac-geoparquet")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = os.path.getsize(path) if os.path.exists(path) else 0
    return {
        "tiles": n,
        "wall": wall,
        "cpu": cpu,
        "start_mb": start_mb,
        "peak_mb": peak_mb,
        "file_mb": size / 1e6,
    }


def in_fresh_process(mode: str, base_url: str, cid: str, folder: str) -> dict[str, Any]:
    """`measure` in a new interpreter (its peak RSS is then the listing's alone)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, os.path.abspath(__file__), "--measure", mode, base_url, cid, folder]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=root)
    return json.loads(done.stdout.strip().splitlines()[-1])


def seeded(tiles: int, keep: str | None, tmp: str) -> tuple[str, dict[str, Any]]:
    """The SQLite file of ``tiles`` synthetic tiles and its seed figures (reused when kept)."""
    folder = keep or tmp
    os.makedirs(folder, exist_ok=True)
    db = os.path.join(folder, f"scale-{tiles}.sqlite")
    facts = os.path.join(folder, f"scale-{tiles}.json")
    if keep and os.path.exists(facts):
        with open(facts) as file:
            out = json.load(file)
        print(
            f"  seeded before: {out['tiles']:,} tiles, {out['wall']:.1f} s wall, "
            f"{out['cpu']:.1f} s CPU"
        )
        return db, out
    if os.path.exists(db):
        os.remove(db)
    out = seed(tiles, db)
    with open(facts, "w") as file:
        json.dump(out, file)
    return db, out


def run(tiles: int, keep: str | None, modes: list[str]) -> dict[str, dict[str, Any]]:
    """Seed (or reuse) ``tiles``, then list them once per mode; print and return figures."""
    print(f"{tiles:,} tiles")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db, facts = seeded(tiles, keep, tmp)
        results["seed"] = facts
        with served("--db", db, "--ingestion-delay", "0") as base_url:
            for mode in modes:
                out = in_fresh_process(mode, base_url, facts["cid"], tmp)
                results[mode] = out
                n = out["tiles"]
                print(
                    f"  {mode:<16} {n:>9,} tiles: {out['wall']:7.1f} s wall, client CPU "
                    f"{out['cpu']:7.1f} s ({out['cpu'] / max(n, 1) * 1e6:4.0f} us a tile), peak "
                    f"RSS {out['peak_mb']:6.0f} MB (+{out['peak_mb'] - out['start_mb']:.0f} MB "
                    f"over {out['start_mb']:.0f}), file {out['file_mb']:.0f} MB"
                )
                for name in os.listdir(tmp):
                    if name.endswith(".parquet"):
                        os.remove(os.path.join(tmp, name))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--db", help="folder to keep the seeded files in, and reuse them from")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    runs = {tiles: run(tiles, args.db, args.modes) for tiles in args.tiles}
    if len(runs) > 1:
        small, large = min(runs), max(runs)
        for mode in args.modes:
            a, b = runs[small][mode], runs[large][mode]
            exponent = math.log(b["cpu"] / a["cpu"]) / math.log(b["tiles"] / a["tiles"])
            extra = (b["peak_mb"] - a["peak_mb"]) * 2**20 / (b["tiles"] - a["tiles"])
            print(
                f"  {mode:<16} {small:,} -> {large:,}: CPU exponent {exponent:.2f}, peak RSS "
                f"{a['peak_mb']:.0f} -> {b['peak_mb']:.0f} MB ({extra:.0f} B a tile more)"
            )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()

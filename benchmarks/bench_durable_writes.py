"""Benchmark: what the write paths' loose ends cost or save (branch ``foundations15``).

* ``write_file`` with the fsyncs around its rename (`byocframe.atomic.DURABLE`) and
  without, per format, at ``--tiles`` rows and at 100 rows (where a disk wait weighs most);
* the token decode a partitioned plan no longer repeats per partition
  (`byocframe.frame.tokens.loaded_state`) against the plan of the same rows
  (`byocframe.edits.diff.plan`);
* the HEADs with which `byocframe.apply_plan` looks for gone files again: ``--heads``
  keys of a local S3 (the embedded service's, on 127.0.0.1) asked one after another, and
  on a pool of `byocframe.bucket.apply.HEAD_WORKERS` threads.

Medians of ``--repeat`` runs. Run from the repository:
``PYTHONPATH=. python benchmarks/bench_durable_writes.py --tiles 20000 200000 --heads 200``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import byocframe
from byocframe import atomic
from byocframe.bucket.access import open_bucket
from byocframe.bucket.apply import HEAD_WORKERS
from byocframe.edits.diff import plan
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.frame.tokens import loaded_state


def median_ms(run: Callable[..., object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def writes(sizes: list[int], repeat: int) -> None:
    print("| rows | file | with fsyncs | without | the fsyncs' share |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for n in [100, *sizes]:
        gdf = byocframe.tiles_from_records(synthetic_tiles(n, seed=1))
        for suffix in (".parquet", ".gpkg", ".csv"):
            if n > 20_000 and suffix != ".parquet":
                continue  # the other formats' own time dwarfs a few fsyncs: up to 20k
            with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
                target = Path(folder) / f"tiles{suffix}"
                byocframe.write_file(gdf, target)
                on = median_ms(lambda g=gdf, t=target: byocframe.write_file(g, t), repeat)
                atomic.DURABLE = False
                try:
                    off = median_ms(lambda g=gdf, t=target: byocframe.write_file(g, t), repeat)
                finally:
                    atomic.DURABLE = True
            share = (on - off) / on * 100
            print(f"| {n:,} | {suffix} | {on:,.1f} ms | {off:,.1f} ms | {share:.0f} % |")


def decodes(sizes: list[int], repeat: int) -> None:
    print("| rows | the plan | one more decode of its tokens (saved) | share |")
    print("| ---: | ---: | ---: | ---: |")
    for n in sizes:
        gdf = byocframe.tiles_from_records(synthetic_tiles(n, seed=1))
        planned = median_ms(lambda g=gdf: plan(g), repeat)
        decoded = median_ms(lambda g=gdf: loaded_state(g), repeat)
        share = decoded / (planned + decoded) * 100
        print(f"| {n:,} | {planned:,.0f} ms | {decoded:,.0f} ms | {share:.0f} % |")


def heads(count: int, repeat: int) -> None:
    from byocframe.emulator.cogs import write_cog

    with tempfile.TemporaryDirectory() as folder, byocframe.local_service(s3=True) as service:
        write_cog(Path(folder) / "t" / "B01.tif", size=64, blocksize=64)
        service.s3.upload_folder(folder, "bench-heads")
        bucket = open_bucket("s3://bench-heads", client=service.s3.client())
        keys = [f"t/{k:05d}/B01.tif" for k in range(count)]  # gone: each HEAD a 404

        def serial() -> None:
            for key in keys:
                bucket.head(key)

        def pooled() -> None:
            with ThreadPoolExecutor(max_workers=HEAD_WORKERS) as pool:
                list(pool.map(bucket.head, keys))

        one = median_ms(serial, repeat)
        many = median_ms(pooled, repeat)
    print("| HEADs | one after another | on the pool | faster |")
    print("| ---: | ---: | ---: | ---: |")
    print(f"| {count:,} | {one:,.0f} ms | {many:,.0f} ms ({HEAD_WORKERS}) | {one / many:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=int, nargs="+", default=[20_000])
    parser.add_argument("--heads", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    writes(args.tiles, args.repeat)
    print()
    decodes(args.tiles, args.repeat)
    print()
    heads(args.heads, args.repeat)


if __name__ == "__main__":
    main()

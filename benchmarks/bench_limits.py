"""Benchmark: what the bounds against an unfair peer cost, and what they spare.

Findings 61-66 (branch ``limits``) added checks on two paths. This measures them:

* ``read_file`` of a synthetic GeoParquet of ``--tiles`` rows: the footer check
  (`byocframe.io.files.check_parquet_rows`) against the whole read;
* an S3 listing of ``--tiles`` keys in pages of 1,000 (the pages made in memory, as
  botocore yields them): `byocframe.bucket.access.Bucket.list` with its checks (tokens,
  key order, page count) against a plain walk over the same pages;
* a GeoParquet of one tile repeated ``--tiles`` times by its encoding: its size, the
  time and peak memory of reading it with the check off (in a child process), and the
  time of the refusal.

Each time is the median of ``--repeat`` runs. Run from ``benchmarks/``:
``python bench_limits.py --tiles 20000 200000``; ``--listing-only`` times the S3 listing
alone, which also runs on a byocframe from before the checks (``PYTHONPATH``), for the
before/after comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import byocframe
from byocframe.bucket.access import Bucket
from byocframe.exceptions import ValidationError
from byocframe.frame.synthetic import synthetic_tiles


def median_ms(run: Callable[[], Any], repeat: int) -> float:
    """The median wall time of ``run``, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


class _Pages:
    """A boto3 client stand-in whose paginator yields pages made in memory."""

    def __init__(self, pages: list[dict[str, Any]]):
        self.pages = pages

    def get_paginator(self, name: str) -> Any:
        return self

    def paginate(self, **options: Any) -> Any:
        return iter(self.pages)


def listing_pages(keys: int) -> list[dict[str, Any]]:
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    names = [f"t/{i:08}/B01.tif" for i in range(keys)]
    pages = []
    for start in range(0, keys, 1000):
        part = names[start : start + 1000]
        last = start + 1000 >= keys
        page: dict[str, Any] = {
            "Contents": [{"Key": k, "Size": 1, "ETag": '"e"', "LastModified": when} for k in part],
            "KeyCount": len(part),
            "IsTruncated": not last,
        }
        if not last:
            page["NextContinuationToken"] = f"token-{start}"
        pages.append(page)
    return pages


_CHILD = """
import resource, sys, time
import byocframe, byocframe.io.files as f
f.MIN_PARQUET_BYTES_PER_ROW = 0
f.MAX_PARQUET_EXPANSION = None
start = time.perf_counter()
n = len(byocframe.read_file(sys.argv[1]))
print(n, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[20_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--listing-only", action="store_true")
    args = parser.parse_args()
    if args.listing_only:
        print("| keys | Bucket.list | plain walk |\n| ---: | ---: | ---: |")
        for n in args.tiles:
            pages = listing_pages(n)
            bucket = Bucket("s3://b", client=_Pages(pages))
            listed = median_ms(lambda b=bucket: sum(1 for _ in b.list()), args.repeat)
            plain = median_ms(
                lambda p=pages: sum(1 for page in p for _ in page["Contents"]), args.repeat
            )
            print(f"| {n:,} | {listed:.0f} ms | {plain:.0f} ms |")
        return
    from byocframe.io.files import check_parquet_rows

    folder = Path(tempfile.mkdtemp())
    print("| rows | footer check | read_file | S3 listing, checked | plain walk | "
          "repeated-row file | its read (check off) | its peak RSS | refusal |")  # fmt: skip
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.tiles:
        gdf = byocframe.tiles_from_records(synthetic_tiles(n, seed=1))
        path = folder / f"tiles{n}.parquet"
        byocframe.write_file(gdf, path)
        check = median_ms(lambda p=path: check_parquet_rows(p), args.repeat)
        whole = median_ms(lambda p=path: byocframe.read_file(p), max(1, args.repeat // 2))

        pages = listing_pages(n)
        bucket = Bucket("s3://b", client=_Pages(pages))
        checked = median_ms(lambda b=bucket: sum(1 for _ in b.list()), args.repeat)
        plain = median_ms(
            lambda p=pages: sum(1 for page in p for _ in page["Contents"]), args.repeat
        )

        table = pq.read_table(path).slice(0, 1)
        bomb = folder / f"bomb{n}.parquet"
        pq.write_table(table.take(pa.array([0] * n, pa.int32())), bomb, compression="zstd")

        def refused(b: Path = bomb) -> None:
            try:
                byocframe.read_file(b)
            except ValidationError:
                return
            raise AssertionError("not refused")

        refusal = median_ms(refused, args.repeat)
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, str(bomb)], capture_output=True, text=True, check=True
        )
        rows, seconds, rss_kb = child.stdout.split()
        assert int(rows) == n
        print(
            f"| {n:,} | {check:.2f} ms | {whole:.0f} ms | {checked:.0f} ms | {plain:.0f} ms | "
            f"{os.path.getsize(bomb) / 1000:.0f} KB | {float(seconds):.2f} s | "
            f"{int(rss_kb) / 2**20:.2f} GB | {refusal:.2f} ms |"
        )


if __name__ == "__main__":
    main()

"""Benchmark: what the bounds of findings 67 and 71 cost, and what they spare.

* ``read_file``'s expansion check (`byocframe.io.files.MAX_PARQUET_EXPANSION`,
  `byocframe.io.parquet_size.read_size`) on synthetic GeoParquet files of ``--tiles``
  rows written by byocframe and by geopandas (every column through a dictionary): the
  check alone against the whole ``read_file``;
* the bounded S3 listing (`byocframe.bucket.bounded`): `byocframe.bucket.access.Bucket.list`
  of ``--keys`` keys in pages of 1,000 from an S3 endpoint on 127.0.0.1 (an
  ``http.server`` in its own process), with and without the bound, and per page;
* the file bombs: a file of 64 rows repeating one 1 MiB value, its size, its refusal's
  time and Arrow's peak allocation while refused (a child process).

Medians of ``--repeat`` runs. Run from the repository:
``python benchmarks/bench_limits2.py --tiles 20000 100000 --keys 20000 200000``.
"""

from __future__ import annotations

import argparse
import http.server
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import byocframe
import byocframe.io.files as files_module
from byocframe.bucket import access
from byocframe.frame.synthetic import synthetic_tiles

sys.path.insert(0, str(Path(__file__).parent))
from bench_limits import median_ms


def check_ms(path: Path, repeat: int) -> tuple[float, float]:
    """``check_parquet_rows`` with the expansion check on and off."""
    from byocframe.io.files import check_parquet_rows

    on = median_ms(lambda: check_parquet_rows(path), repeat)
    saved = files_module.MAX_PARQUET_EXPANSION
    files_module.MAX_PARQUET_EXPANSION = None
    try:
        off = median_ms(lambda: check_parquet_rows(path), repeat)
    finally:
        files_module.MAX_PARQUET_EXPANSION = saved
    return on, off


def files_table(tiles: list[int], repeat: int, folder: Path) -> None:
    print("| rows | writer | file | expansion check | footer only | `read_file` | share |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for n in tiles:
        gdf = byocframe.tiles_from_records(synthetic_tiles(n, seed=1))
        paths = {"byocframe": folder / f"b{n}.parquet", "geopandas": folder / f"g{n}.parquet"}
        byocframe.write_file(gdf, paths["byocframe"])
        gdf.to_parquet(paths["geopandas"])
        del gdf
        for writer, path in paths.items():
            on, off = check_ms(path, repeat)
            whole = median_ms(lambda p=path: byocframe.read_file(p), max(1, repeat // 2))
            print(
                f"| {n:,} | {writer} | {path.stat().st_size / 1e6:.1f} MB | {on:.1f} ms | "
                f"{off:.2f} ms | {whole:.0f} ms | {100 * (on - off) / whole:.1f} % |"
            )


_PEAK = """
import sys, time, pyarrow as pa, byocframe
from byocframe.exceptions import ValidationError
start = time.perf_counter()
try:
    byocframe.read_file(sys.argv[1])
    outcome = "read"
except ValidationError:
    outcome = "refused"
print(outcome, time.perf_counter() - start, pa.default_memory_pool().max_memory())
"""


def bomb_table(folder: Path) -> None:
    gdf = byocframe.tiles_from_records(synthetic_tiles(64, seed=1))
    byocframe.write_file(gdf, folder / "t.parquet")
    table = pq.read_table(folder / "t.parquet")
    at = table.schema.get_field_index("native_tile")
    field = table.schema.field(at)
    big = pa.array([b"\x01" + bytes(2**20)] * 64, field.type)
    bomb = folder / "bomb.parquet"
    pq.write_table(table.set_column(at, field, big), bomb, compression="zstd")
    print("| file | setting | outcome | time | Arrow peak |\n| ---: | --- | --- | ---: | ---: |")
    for setting in ("50 (default)", "None"):
        code = _PEAK
        if setting == "None":
            code = "import byocframe.io.files as f; f.MAX_PARQUET_EXPANSION = None\n" + code
        child = subprocess.run(
            [sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, check=True
        )
        outcome, seconds, peak = child.stdout.split()
        print(
            f"| {bomb.stat().st_size / 1e3:.0f} KB | {setting} | {outcome} | "
            f"{1000 * float(seconds):.0f} ms | {int(peak) / 2**20:.1f} MiB |"
        )


def _page(keys: list[str], token: str | None) -> bytes:
    contents = "".join(
        f"<Contents><Key>{k}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
        f'<ETag>"e"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>'
        for k in keys
    )
    more = (
        f"<IsTruncated>true</IsTruncated><NextContinuationToken>{token}</NextContinuationToken>"
        if token
        else "<IsTruncated>false</IsTruncated>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
        'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>'
        f"<KeyCount>{len(keys)}</KeyCount><MaxKeys>1000</MaxKeys>{more}{contents}"
        "</ListBucketResult>"
    ).encode()


def _serve(keys: int, port: Any) -> None:
    """An S3 endpoint listing ``keys`` keys in pages of 1,000 (run in its own process)."""
    names = [f"t/{i:08}/B01.tif" for i in range(keys)]
    pages = [
        _page(names[s : s + 1000], f"T{s + 1000}" if s + 1000 < keys else None)
        for s in range(0, keys, 1000)
    ]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            token = query.get("continuation-token", ["T0"])[0]
            body = pages[int(token[1:]) // 1000]
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port.value = server.server_address[1]
    server.serve_forever()


def _client(port: int) -> Any:
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        region_name="us-east-1",
    )


def _list_once(bucket: access.Bucket, keys: int, *, bounded: bool) -> float:
    """Seconds one whole listing takes, with the page bound or without it."""
    original = access.bound_listing
    if not bounded:
        access.bound_listing = lambda client: False  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        listed = sum(1 for _ in bucket.list())
        seconds = time.perf_counter() - start
    finally:
        access.bound_listing = original
    assert listed == keys
    return seconds


def listing_table(keys: list[int], repeat: int) -> None:
    print("| keys | pages | `Bucket.list`, bounded | unbounded | per page, bounded | unbounded |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in keys:
        port = multiprocessing.Value("i", 0)
        server = multiprocessing.Process(target=_serve, args=(n, port), daemon=True)
        server.start()
        try:
            while not port.value:
                time.sleep(0.05)
            bucket = access.Bucket("s3://b", client=_client(port.value))
            plain = access.Bucket("s3://b", client=_client(port.value))
            times: dict[bool, list[float]] = {True: [], False: []}
            for run in range(repeat + 1):  # interleaved: the machine's load drifts
                for bounded in (True, False):
                    seconds = _list_once(bucket if bounded else plain, n, bounded=bounded)
                    if run:  # the first round warms both
                        times[bounded].append(seconds)
            bounded_ms = 1000 * statistics.median(times[True])
            unbounded_ms = 1000 * statistics.median(times[False])
        finally:
            server.terminate()
            server.join()
        pages = -(-n // 1000)
        print(
            f"| {n:,} | {pages:,} | {bounded_ms:.0f} ms | {unbounded_ms:.0f} ms | "
            f"{bounded_ms / pages:.2f} ms | {unbounded_ms / pages:.2f} ms |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="*", default=[20_000])
    parser.add_argument("--keys", type=int, nargs="*", default=[20_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    if args.tiles:
        files_table(args.tiles, args.repeat, folder)
        print()
        bomb_table(folder)
        print()
    if args.keys:
        listing_table(args.keys, args.repeat)


if __name__ == "__main__":
    main()

"""Benchmark: reading GeoTIFF headers from an S3-compatible endpoint (local moto server).

The same COG (2048 x 2048 px uint16, DEFLATE, 512 px blocks, overviews; about 4 MB) is
uploaded under ``--files`` keys to moto's S3 server, run as its own process on
127.0.0.1 (in-process, the server would compete with the readers for the GIL).
Compared in one run:

* ``byocframe.read_bucket``: ranged GETs of the header only (64 KiB blocks), with 16
  and with 1 parallel readers;
* whole files: 16 threads GET each object completely, then parse the header from memory;
* rasterio/GDAL over ``/vsis3/``: 16 threads open each file and read its profile and
  overview block shapes (GDAL's own range requests).

Prints files per second and bytes transferred per file.

Run: ``python benchmarks/bench_bucket.py [--files 64]``
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import byocframe
from byocframe.bucket.headers import RangeReader, read_header
from byocframe.emulator.cogs import write_cog
from byocframe.emulator.s3 import ACCESS_KEY, REGION, SECRET_KEY


def gdal_environment(environment: dict[str, str]) -> dict[str, Any]:
    """Options for rasterio.Env to read /vsis3/ paths: an AWS session and the endpoint."""
    from rasterio.session import AWSSession

    env = dict(environment)
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    out: dict[str, Any] = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
    session: dict[str, Any] = {
        "aws_access_key_id": env.get("AWS_ACCESS_KEY_ID"),
        "aws_secret_access_key": env.get("AWS_SECRET_ACCESS_KEY"),
        "aws_session_token": env.get("AWS_SESSION_TOKEN"),
        "region_name": env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION"),
        "profile_name": env.get("AWS_PROFILE"),
    }
    if endpoint:
        # GDAL wants host:port, plain HTTP and path-style URLs for an S3-compatible endpoint
        session["endpoint_url"] = re.sub(r"^https?://", "", endpoint)
        out["AWS_HTTPS"] = "NO" if endpoint.startswith("http://") else "YES"
        out["AWS_VIRTUAL_HOSTING"] = "FALSE"
    out["session"] = AWSSession(**{k: v for k, v in session.items() if v})
    return out


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def moto_process() -> tuple[subprocess.Popen[bytes], str]:
    """moto's S3 server in a process of its own; its endpoint URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            return server, endpoint
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("moto's server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=64)
    args = parser.parse_args()
    server, endpoint = moto_process()
    environment = {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
    }
    try:
        run(args.files, environment)
    finally:
        server.terminate()
        server.wait()


def run(count: int, environment: dict[str, str]) -> None:
    import boto3
    from botocore.config import Config

    with tempfile.TemporaryDirectory() as tmp:
        path = write_cog(Path(tmp) / "f.tif", size=2048, blocksize=512, dtype="uint16")
        size = path.stat().st_size
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=environment["AWS_ENDPOINT_URL_S3"],
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(max_pool_connections=32),
        )
        client.create_bucket(Bucket="bench")
        keys = [f"tiles/{i:05d}/B01.tif" for i in range(count)]
        for key in keys:
            client.upload_file(str(path), "bench", key)
        url = "s3://bench/tiles/"
        read_bucket = byocframe.read_bucket
        results: dict[str, tuple[float, float]] = {}

        def ranged(workers: int) -> None:
            files = read_bucket(url, s3=client, workers=workers, progress=False)
            assert len(files) == count
            assert files["error"].isna().all()
            results[f"read_bucket, {workers} ranged readers"] = (
                0.0,
                float(files["bytes_read"].mean()),
            )

        def whole() -> None:
            def one(key: str) -> None:
                data = client.get_object(Bucket="bench", Key=key)["Body"].read()
                read_header(RangeReader(lambda start, n: data[start : start + n]))

            with ThreadPoolExecutor(16) as pool:
                list(pool.map(one, keys))
            results["whole files, 16 threads"] = (0.0, float(size))

        def gdal() -> None:
            import rasterio

            def one(key: str) -> None:
                with rasterio.open(f"/vsis3/bench/{key}") as src:
                    assert src.profile["blockxsize"] == 512
                    assert src.overviews(1)

            with rasterio.Env(**gdal_environment(environment)), ThreadPoolExecutor(16) as pool:
                list(pool.map(one, keys))
            results["rasterio /vsis3/, 16 threads"] = (0.0, float("nan"))

        runs: list[tuple[str, Callable[[], None]]] = [
            ("read_bucket, 16 ranged readers", lambda: ranged(16)),
            ("read_bucket, 1 ranged readers", lambda: ranged(1)),
            ("whole files, 16 threads", whole),
            ("rasterio /vsis3/, 16 threads", gdal),
        ]
        for name, fn in runs:
            fn()  # warm up (connections, GDAL's caches are per path and cleared below)
            best = min(timed(fn) for _ in range(3))
            results[name] = (best, results[name][1])
        print(f"{count} files of {size / 1e6:.1f} MB on moto's S3 server (own process)")
        print(f"{'method':34} {'files/s':>9} {'bytes/file':>11}")
        for name, (seconds, per_file) in results.items():
            shown = "?" if per_file != per_file else f"{per_file:,.0f}"
            print(f"{name:34} {count / seconds:9.1f} {shown:>11}")


if __name__ == "__main__":
    main()

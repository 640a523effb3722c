"""Benchmark: listing a 20,000-tile collection into a GeoDataFrame over HTTP.

The local BYOC service runs as its own process (``byocframe serve --demo``), so client
and server do not share a Python interpreter. Compared in the same run:

* the seed tutorial's way: sentinelhub-py ``SentinelHubBYOC.iter_tiles`` (one page per
  request, at least 50 ms apart), then ``ByocTile.from_dict`` and
  ``Geometry.transform(CRS.WGS84)`` per tile, then a GeoDataFrame;
* ``byocframe.read_tiles``: pooled keep-alive session, ``count=100`` pages, one
  vectorised conversion.

Also prints the service's own time for one 100-tile page.

With ``--memory N [N ...]`` (issue 24) it measures instead the client's peak memory
(``VmHWM``, the resident high-water mark of a fresh client process, Linux) and time of
listing N synthetic tiles, seeded with ``LocalService.seed`` into an SQLite file and
served by ``byocframe serve`` in its own process:

* "one conversion": every record kept until one conversion (``batch_size`` larger
  than the listing: what ``read_tiles`` did before batches);
* "batches": ``read_tiles`` as it is, converting every ``BATCH_SIZE`` records;
* "to GeoParquet": ``write_listing`` writing the batches to a file.

With ``--stream N`` it runs ``write_listing`` of N tiles in this process from a fake
cursor that parses 100-tile JSON pages (no HTTP, one cursor), printing the resident
memory every 50,000 tiles: the peak must not grow with N.

Run: ``python benchmarks/bench_listing.py [--tiles 20000]`` or
``PYTHONPATH=. python benchmarks/bench_listing.py --stream 300000`` or
``PYTHONPATH=. python benchmarks/bench_listing.py --memory 100000 [--db FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import requests
from common import seed_frame, sentinelhub_byoc, served

import byocframe
from byocframe.client.deployments import default_token_url
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_service
from byocframe.emulator.validate import new_collection
from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_collection

#: One date a month for ten months: room for 200,000 land tiles.
DATES = tuple(f"2024-{m:02d}-10" for m in range(1, 11))
MODES = ("one conversion", "batches", "to GeoParquet")


def seed_way(base_url: str, collection: str) -> gpd.GeoDataFrame:
    return seed_frame(sentinelhub_byoc(base_url).iter_tiles(collection))


def seed(tiles: int, db: str) -> str:
    """Seed ``tiles`` synthetic tiles (ingested) into the SQLite file ``db``; return the id."""
    from byocframe.emulator.problems import ApiProblem
    from byocframe.emulator.validate import new_tile

    records, files = synthetic_collection(tiles, dates=DATES)
    kept = []
    for record in records:  # a few synthetic covers beyond 84 N a POST refuses
        try:
            new_tile(record)
        except ApiProblem:
            continue
        kept.append(record)
    service = create_service(db=db, ingestion_delay=0)
    try:
        service.register_files("bench", files)
        spec = {"name": "scale", "s3Bucket": "bench", "additionalData": {"bands": SYNTHETIC_BANDS}}
        cid = service.store.create_collection(new_collection(spec))["id"]
        start = time.perf_counter()
        service.seed(cid, kept)
        print(f"  seeded {len(kept)} tiles in {time.perf_counter() - start:.0f} s")
    finally:
        service.stop()
    return cid


def client_run(base_url: str, cid: str, mode: str, folder: str) -> dict[str, float]:
    """List the collection in this process; its peak memory and times, as a dict."""
    client = byocframe.Client(
        base_url=base_url, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
    )
    client.get_collection(cid)  # a token and a connection before measuring
    before = _status_mb("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "to GeoParquet":
        n = byocframe.write_listing(client, cid, os.path.join(folder, "tiles.parquet"))
    else:
        size = 1 << 40 if mode == "one conversion" else byocframe.io.listing.BATCH_SIZE
        n = len(byocframe.read_tiles(client, cid, progress=False, batch_size=size))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _status_mb("VmHWM")
    return {"tiles": n, "wall": wall, "cpu": cpu, "peak_mb": peak, "start_mb": before}


def stream(tiles: int) -> None:
    """`write_listing` of ``tiles`` tiles from parsed JSON pages, memory as it goes."""
    from byocframe.frame.synthetic import synthetic_tiles
    from byocframe.io import listing

    sample = synthetic_tiles(10_000, dates=DATES)
    texts = [json.dumps(sample[i : i + 100]) for i in range(0, len(sample), 100)]
    del sample

    class Cursor:
        """Pages as a service sends them: new dicts every page, ids and paths unique."""

        base_url = "http://fake.invalid"

        def tile_pages(self, *args: object, **kwargs: object):
            k = 0
            while k < tiles:
                page = json.loads(texts[(k // 100) % len(texts)])[: tiles - k]
                for tile in page:
                    tile["id"] = f"{k:08d}-0000-4000-8000-000000000000"
                    tile["path"] = f"p/{k}/(BAND).tif"
                    k += 1
                yield page
                if k % 50_000 == 0:
                    print(
                        f"  {k:>8} tiles: resident {_status_mb('VmRSS'):6.0f} MB, "
                        f"peak {_status_mb('VmHWM'):6.0f} MB",
                        flush=True,
                    )

    listing.resolve_client = lambda client: client  # the fake cursor is the client
    start = _status_mb("VmRSS")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "stream.parquet")
        wall = time.perf_counter()
        n = listing.write_listing(Cursor(), "c", path, both_ends=False, progress=False)
        wall = time.perf_counter() - wall
        size = os.path.getsize(path)
    peak = _status_mb("VmHWM")
    print(
        f"write_listing of {n} tiles: {wall:.0f} s ({wall / n * 1e6:.0f} us a tile), "
        f"resident {start:.0f} MB before, peak {peak:.0f} MB (+{peak - start:.0f} MB), "
        f"file {size / n:.0f} B a tile"
    )


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc (Linux), in MB.

    Not ``ru_maxrss``: a process started by another keeps its parent's peak there.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def memory(tiles: int, db: str | None, modes: list[str]) -> None:
    """Peak client memory and time of each `MODES` at ``tiles`` tiles, same run."""
    with tempfile.TemporaryDirectory() as tmp:
        path = db or os.path.join(tmp, "listing.sqlite")
        cid_file = path + ".cid"
        if os.path.exists(cid_file):
            cid = Path(cid_file).read_text().strip()
        else:
            cid = seed(tiles, path)
            Path(cid_file).write_text(cid)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        }
        with served("--db", path, "--ingestion-delay", "0") as base_url:
            results = {}
            for mode in modes:
                command = [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--client",
                    base_url,
                    cid,
                    mode,
                    tmp,
                ]
                done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
                results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    n = results["batches"]["tiles"]
    print(f"listing {n} tiles over HTTP (client in its own process; service in another)")
    for mode, r in results.items():
        grown = r["peak_mb"] - r["start_mb"]
        print(
            f"  {mode:<15} peak RSS {r['peak_mb']:7.0f} MB (+{grown:6.0f} MB, "
            f"{grown * 1024 * 1024 / n:6.0f} B a tile), {r['wall']:6.1f} s wall, "
            f"client CPU {r['cpu']:6.1f} s ({r['cpu'] / n * 1e6:4.0f} us a tile)"
        )
    one, batches = results["one conversion"], results["batches"]
    print(
        f"  ratio one conversion / batches: peak growth "
        f"{(one['peak_mb'] - one['start_mb']) / (batches['peak_mb'] - batches['start_mb']):.1f}x,"
        f" wall {one['wall'] / batches['wall']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=20_000)
    parser.add_argument("--memory", type=int, nargs="+", metavar="N")
    parser.add_argument("--db", help="keep the seeded collection in this SQLite file")
    parser.add_argument("--stream", type=int, metavar="N")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client_run(*args.client)))
        return
    if args.stream:
        stream(args.stream)
        return
    if args.memory:
        for tiles in args.memory:
            memory(tiles, args.db, args.modes)
        return
    with served("--demo", "--demo-tiles", str(args.tiles), "--ingestion-delay", "0") as base_url:
        client = byocframe.Client(
            base_url=base_url, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
        )
        collection = next(client.iter_collections())["id"]
        url = f"{client.service_url}/collections/{collection}/tiles?count=100"
        session = requests.Session()
        form = {
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        }
        token = session.post(default_token_url(base_url), data=form).json()["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        pages = []
        for _ in range(60):
            start = time.perf_counter()
            assert session.get(url).content
            pages.append(time.perf_counter() - start)
        page_ms = statistics.median(pages[10:]) * 1000
        ours = []
        for _ in range(3):
            start = time.perf_counter()
            gdf = byocframe.read_tiles(client, collection, progress=False)
            ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        seed = seed_way(base_url, collection)
        seed_time = time.perf_counter() - start
    print(f"service: one 100-tile page in {page_ms:.1f} ms (median of 50, over HTTP)")
    print(
        f"seed way (sentinelhub-py iter_tiles + per-tile transform): {seed_time:7.2f} s, "
        f"{len(seed)} tiles"
    )
    print(
        f"byocframe.read_tiles:                                      {min(ours):7.2f} s, "
        f"{len(gdf)} tiles"
    )
    print(f"ratio: {seed_time / min(ours):.1f}x faster")


if __name__ == "__main__":
    main()

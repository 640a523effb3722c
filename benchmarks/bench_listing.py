"""Benchmark: listing a 20,000-tile collection into a GeoDataFrame over HTTP.

The local BYOC service runs as its own process (``byocframe serve --demo``), so client
and server do not share a Python interpreter. Compared in the same run:

* the seed tutorial's way: sentinelhub-py ``SentinelHubBYOC.iter_tiles`` (one page per
  request, at least 50 ms apart), then ``ByocTile.from_dict`` and
  ``Geometry.transform(CRS.WGS84)`` per tile, then a GeoDataFrame;
* ``byocframe.read_tiles``: pooled keep-alive session, ``count=100`` pages, one
  vectorised conversion.

Also prints the service's own time for one 100-tile page.

Run: ``python benchmarks/bench_listing.py [--tiles 20000]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import geopandas as gpd
import requests
from common import seed_frame, sentinelhub_byoc, served

import byocframe
from byocframe.client.deployments import default_token_url
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


def seed_way(base_url: str, collection: str) -> gpd.GeoDataFrame:
    return seed_frame(sentinelhub_byoc(base_url).iter_tiles(collection))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=20_000)
    args = parser.parse_args()
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

"""Benchmark: latency of the local BYOC service itself (``byocframe serve`` in its own process).

Measures, on the 20,000-tile demo collection:

* one 100-tile page over a keep-alive connection (median);
* the same page on a new connection each time (median);
* creating a tile (POST, ingestion at once; median);
* the token endpoint (median).

Run: ``python benchmarks/bench_service.py [--tiles 20000] [--rounds 200]``. To compare
with another checkout, put it first on ``PYTHONPATH``: the served process follows it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import requests
from common import served

from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


def median_ms(call: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times[rounds // 10 :]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    options = ("--demo", "--demo-tiles", str(args.tiles), "--ingestion-delay", "0")
    with served(*options) as base_url:
        session = requests.Session()
        token = session.post(base_url + "/oauth/token", data=form).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        session.headers.update(headers)
        api = base_url + "/api/v1/byoc"
        collection = session.get(api + "/collections").json()["data"][0]["id"]
        page_url = f"{api}/collections/{collection}/tiles?count=100"

        def page() -> None:  # the body is read, not parsed: the service's time only
            assert session.get(page_url).content.count(b'"path"') == 100

        def page_new_connection() -> None:
            assert requests.get(page_url, headers=headers).content.count(b'"path"') == 100

        paths = iter(range(10**9))

        def create() -> None:
            body = {"path": f"bench/{next(paths)}/(BAND).tif"}
            assert session.post(f"{api}/collections/{collection}/tiles", json=body).ok

        def token_request() -> None:
            assert requests.post(base_url + "/oauth/token", data=form).ok

        results = {
            "100-tile page, keep-alive": median_ms(page, args.rounds),
            "100-tile page, new connection": median_ms(page_new_connection, args.rounds // 4),
            "create a tile": median_ms(create, args.rounds // 2),
            "token request": median_ms(token_request, args.rounds // 4),
        }
    for name, value in results.items():
        print(f"{name:32s} {value:6.2f} ms (median)")


if __name__ == "__main__":
    main()

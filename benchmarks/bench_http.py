"""Benchmark: client CPU per request, byocframe's HTTP layer against the libraries under it.

The same tile GET is sent to ``byocframe serve`` (its own process) by: requests'
``Session``; urllib3's pool; ``http.client`` on one kept-alive connection; a byocframe
client whose transport sends through requests' own adapter (the client before
``byocframe.connections``); and a byocframe client as it is. Printed: wall and client
CPU time per request, one request at a time; and a tile PUT through both byocframe
transports. See ``docs/design/http.md``.

Run: ``python benchmarks/bench_http.py [--requests 500]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import time
from collections.abc import Callable

import requests
import urllib3
from common import served
from requests.adapters import HTTPAdapter

import byocframe
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from byocframe.transport import HTTPTransport


class RequestsAdapter(HTTPTransport):
    """byocframe's transport with every request sent by requests' own adapter."""

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        return HTTPAdapter.send(self, request, **kwargs)


def per_request(fn: Callable[[], object], count: int) -> tuple[float, float]:
    """Milliseconds of wall and of this process's CPU per call."""
    fn()  # connection and token
    before, start = os.times(), time.perf_counter()
    for _ in range(count):
        fn()
    after = os.times()
    cpu = after.user - before.user + after.system - before.system
    return (time.perf_counter() - start) / count * 1e3, cpu / count * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with served("--demo", "--demo-tiles", "20", "--ingestion-delay", "0") as base_url:
        run(base_url, args.requests)


def run(base_url: str, count: int) -> None:
    def client(transport: HTTPTransport | None = None) -> byocframe.Client:
        return byocframe.Client(
            base_url=base_url,
            client_id=DEFAULT_CLIENT_ID,
            client_secret=DEFAULT_CLIENT_SECRET,
            transport=transport,
        )

    lean, old = client(), client(RequestsAdapter())
    cid = next(lean.iter_collections())["id"]
    tile = next(lean.iter_tiles(cid))
    path = f"/api/v1/byoc/collections/{cid}/tiles/{tile['id']}"
    token = requests.post(
        base_url + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
        timeout=30,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    port = int(base_url.rsplit(":", 1)[1])
    session = requests.Session()
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1)
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def plain() -> object:
        connection.request("GET", path, headers=headers)
        return json.loads(connection.getresponse().read())

    body = {k: tile[k] for k in ("path", "sensingTime", "coverGeometry") if k in tile}
    rows = [
        ("requests.Session", lambda: session.get(base_url + path, headers=headers).json()),
        ("urllib3 pool", lambda: json.loads(pool.urlopen("GET", path, headers=headers).data)),
        ("http.client", plain),
        ("byocframe on requests' adapter", lambda: old.get_tile(cid, tile["id"])),
        ("byocframe (connections.py)", lambda: lean.get_tile(cid, tile["id"])),
        ("PUT, byocframe on requests' adapter", lambda: old.update_tile(cid, tile["id"], body)),
        ("PUT, byocframe (connections.py)", lambda: lean.update_tile(cid, tile["id"], body)),
    ]
    print(f"{count} requests each, one at a time; milliseconds per request")
    print(f"{'':38s} {'wall':>6s} {'client CPU':>11s}")
    for label, fn in rows:
        wall, cpu = per_request(fn, count)
        print(f"{label:38s} {wall:6.2f} {cpu:11.2f}")


if __name__ == "__main__":
    main()

"""Benchmark: wall and client CPU per request, byocframe's HTTP path against its libraries.

The same tile GET is sent to ``byocframe serve`` (its own process, on loopback) by:
requests' ``Session``; urllib3's pool directly; ``http.client`` on one kept-alive
connection (the floor); byocframe's `~byocframe.HTTPTransport` alone; a byocframe client
(token, pacing, deadline, errors, decoding on top); and the same client on a
`~byocframe.MockTransport` (its own cost without any socket). Then a tile PUT through
the client. Printed: milliseconds per request, one request at a time, and ratios; and
what the client's cost is next to Sentinel Hub's rate limits. See ``docs/design/http.md``.

The path before it (``http.client`` under a pool of byocframe's own, measured on the
commit before the change with the same rows) is printed from ``RECORDED`` for reference.

Run from the repository: ``PYTHONPATH=. python benchmarks/bench_http.py [--requests 500]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from collections.abc import Callable

import requests
import urllib3
from common import served

import byocframe
from byocframe.client.transport import Request
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

#: The previous path (byocframe.client.connections.ConnectionPool on http.client), measured with
#: this benchmark's rows on main at b69a810 (2026-12-06, load average 0.4): ms per request.
RECORDED = {
    "requests.Session": (0.78, 0.62),
    "urllib3 pool": (0.37, 0.24),
    "http.client": (0.30, 0.16),
    "byocframe client, http.client pool": (0.43, 0.24),
    "PUT, byocframe client, http.client pool": (0.64, 0.24),
}


def per_request(fn: Callable[[], object], count: int) -> tuple[float, float]:
    """Milliseconds of wall and of this process's CPU per call."""
    for _ in range(3):  # connection, token, warm caches
        fn()
    cpu, start = time.process_time(), time.perf_counter()  # CPU of every thread of ours
    for _ in range(count):
        fn()
    cpu = time.process_time() - cpu
    return (time.perf_counter() - start) / count * 1e3, cpu / count * 1e3


def _httpx_row(url: str, headers: dict[str, str]) -> list[tuple[str, Callable[[], object]]]:
    """httpx's synchronous client, when it is installed (it is no dependency of byocframe)."""
    try:
        import httpx
    except ImportError:
        return []
    client = httpx.Client(headers=headers)
    return [("httpx.Client", lambda: client.get(url).json())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with served("--demo", "--demo-tiles", "20", "--ingestion-delay", "0") as base_url:
        run(base_url, args.requests)


def run(base_url: str, count: int) -> None:
    client = byocframe.Client(
        base_url=base_url, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
    )
    cid = next(client.iter_collections())["id"]
    tile = next(client.iter_tiles(cid))
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
    transport = byocframe.HTTPTransport(pool_size=1)
    request = Request("GET", base_url + path, headers)

    def plain() -> object:
        connection.request("GET", path, headers=headers)
        return json.loads(connection.getresponse().read())

    # the client's own cost: the same answer from memory, no socket
    shown = transport.send(request, timeout=30)
    mock = byocframe.MockTransport(
        lambda r: (
            (200, {"access_token": "t", "expires_in": 3600})
            if r.method == "POST"
            else byocframe.Answer(200, shown.body, shown.headers)
        )
    )
    offline = byocframe.Client(base_url=base_url, client_id="me", client_secret="s", transport=mock)

    body = {k: tile[k] for k in ("path", "sensingTime", "coverGeometry") if k in tile}
    rows = [
        ("requests.Session", lambda: session.get(base_url + path, headers=headers).json()),
        *_httpx_row(base_url + path, headers),
        ("urllib3 pool", lambda: json.loads(pool.urlopen("GET", path, headers=headers).data)),
        ("http.client", plain),
        ("byocframe HTTPTransport.send", lambda: transport.send(request, timeout=30).json()),
        ("byocframe client", lambda: client.get_tile(cid, tile["id"])),
        ("byocframe client on MockTransport", lambda: offline.get_tile(cid, tile["id"])),
        ("PUT, byocframe client", lambda: client.update_tile(cid, tile["id"], body)),
    ]
    print(f"{count} requests each, one at a time; milliseconds per request")
    print(f"{'':40s} {'wall':>6s} {'CPU':>6s} {'CPU / http.client':>18s} {'CPU / requests':>15s}")
    measured = {label: per_request(fn, count) for label, fn in rows}
    floor, heavy = measured["http.client"][1], measured["requests.Session"][1]
    for label, (wall, cpu) in measured.items():
        print(f"{label:40s} {wall:6.2f} {cpu:6.2f} {cpu / floor:17.1f}x {cpu / heavy:14.2f}x")
    print("\nrecorded before the change (same rows, main at b69a810):")
    for label, (wall, cpu) in RECORDED.items():
        print(f"{label:40s} {wall:6.2f} {cpu:6.2f}")
    now = measured["byocframe client"][1]
    before = RECORDED["byocframe client, http.client pool"][1]
    print(
        f"\nclient CPU per GET: {now:.2f} ms now, {before:.2f} ms before ({now - before:+.2f} ms)"
    )
    for per_minute in (300, 1200):
        interval = 60_000 / per_minute
        share, change = now / interval, abs(now - before) / interval
        print(
            f"at {per_minute:,} requests/minute a request may leave every {interval:.0f} ms: "
            f"the client's CPU is {share:.2%} of it, the change {change:.2%}"
        )


if __name__ == "__main__":
    main()

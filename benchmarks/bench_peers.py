"""Benchmark: what the bounds of round three (findings 160-167) cost on the ordinary path.

* the answer-values bound (`byocframe.client.connections.check_values`) on a listing
  page of 100 tiles (not counted: under twice the limit in bytes) and on an 8.5 MB page
  (counted), against parsing the same page;
* `byocframe.client.paging.Pages.follow` (next-token length and item count added) per
  page, and a whole listing of ``--tiles`` tiles from the local service;
* the service's chunk count (`Limits.max_chunks`): a 1 MiB tile body in 1 KiB chunks;
* the Catalog's exact ``intersects`` test with the area as shapely's prepared first
  argument (the fix of finding 165) against the old order, for a 5-vertex and a
  100,000-vertex area and ``--covers`` covers;
* what resolving an S3 client's default ``verify`` costs (`bound_listing`, once per
  client);
* the store's `TurnLock` against a plain `threading.RLock` (one ``with`` each), and a
  ``copyTiles`` of ``--tiles`` tiles: its time, and how long another client's reads of
  a collection waited meanwhile (the slowest), for the batched copy and for one
  transaction (``COPY_BATCH`` raised past the collection).

Medians of ``--repeat`` runs. Run from the repository:
``python benchmarks/bench_peers.py --tiles 20000 --covers 2000 20000``.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import sys
from pathlib import Path

import numpy as np
import shapely

import byocframe
from byocframe.client import connections
from byocframe.client.paging import Pages

sys.path.insert(0, str(Path(__file__).parent))
from bench_limits import median_ms


def _page(tiles: int, vertices: int) -> bytes:
    ring = [[12.5 + k * 1e-4, 45.5 + k * 1e-4] for k in range(vertices)]
    tile = {
        "id": "t",
        "path": "a/(BAND).tif",
        "coverGeometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return json.dumps({"data": [tile] * tiles, "links": {"nextToken": "x" * 40}}).encode()


def client_table(repeat: int) -> None:
    print("| answer | bytes | `check_values` | `json.loads` | share |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, body in (
        ("100 tiles, 5-vertex covers", _page(100, 5)),
        ("100 tiles, 1,000-vertex covers", _page(100, 1000)),
        ("100 tiles, 10,000-vertex covers", _page(100, 10_000)),
    ):
        check = median_ms(lambda body=body: connections.check_values(body), repeat)
        parse = median_ms(lambda body=body: json.loads(body), repeat)
        print(
            f"| {name} | {len(body):,} | {check:.3f} ms | {parse:.1f} ms | "
            f"{100 * check / parse:.2f} % |"
        )
    pages = Pages("GET x")

    def follow() -> None:
        for k in range(1000):
            pages.follow(f"token-{k}-" + "x" * 30, items=100)
        pages._seen.clear()
        pages.count = pages.items = 0

    took = median_ms(follow, repeat)  # ms for 1,000 pages: us a page
    print(f"\n`Pages.follow` (digest, length, items): {took:.2f} us a page\n")


def listing_ms(tiles: int, repeat: int) -> None:
    with byocframe.local_service(demo=True, demo_tiles=tiles) as service:
        client = service.client()
        took = median_ms(lambda: list(client.iter_tiles(service.demo_collection)), repeat)
        count = sum(1 for _ in client.iter_tiles(service.demo_collection))
    print(f"listing {count:,} tiles from the local service (100 a page): {took:,.0f} ms\n")


def chunked_ms(repeat: int) -> None:
    body = json.dumps({"path": "a/b.tif"}).encode().ljust(2**20)
    with byocframe.local_service() as service:
        cid = service.client().create_collection({"name": "c", "s3Bucket": "b"})["id"]
        token = service.client()._auth.bearer()
        host, port = service.base_url.removeprefix("http://").split(":")
        wire = (
            f"POST /api/v1/byoc/collections/{cid}/tiles HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        wire += b"".join(
            b"400\r\n" + body[i : i + 1024] + b"\r\n" for i in range(0, len(body), 1024)
        )
        wire += b"0\r\n\r\n"

        def post() -> None:
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(wire)
                while sock.recv(65536):
                    pass

        took = median_ms(post, repeat)
    print(f"a 1 MiB tile body in 1,024 chunks of 1 KiB, answered: {took:.1f} ms\n")


def intersects_table(covers: list[int], repeat: int) -> None:
    print("| covers | area vertices | area first (prepared) | covers first (before) |")
    print("| ---: | ---: | ---: | ---: |")
    rng = np.random.default_rng(0)
    for n in covers:
        x, y = rng.uniform(-170, 170, n), rng.uniform(-80, 80, n)
        boxes = shapely.box(x, y, x + 1, y + 1)
        for vertices in (5, 100_000):
            turns = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
            area = shapely.Polygon(np.c_[170 * np.cos(turns), 80 * np.sin(turns)])
            shapely.prepare(area)
            new = median_ms(lambda area=area, boxes=boxes: shapely.intersects(area, boxes), repeat)
            old = median_ms(lambda area=area, boxes=boxes: shapely.intersects(boxes, area), 1)
            print(f"| {n:,} | {vertices:,} | {new:,.1f} ms | {old:,.1f} ms |")


def verify_ms(repeat: int) -> None:
    from byocframe.bucket import bounded

    took = median_ms(bounded._default_verify, repeat)
    print(f"\nresolving a client's default verify (once per client): {took:.2f} ms")


def lock_us(repeat: int) -> None:
    import threading

    from byocframe.emulator.transactions import TurnLock

    for name, lock in (("RLock", threading.RLock()), ("TurnLock", TurnLock())):

        def taken(lock: object = lock) -> None:
            for _ in range(10_000):
                with lock:  # type: ignore[attr-defined]
                    pass

        print(f"`with` a {name}, uncontended: {median_ms(taken, repeat) / 10:.3f} us")


def copy_ms(tiles: int) -> None:
    import threading
    import time

    from byocframe.emulator import store as store_module

    print("\n| `COPY_BATCH` | copy | reads meanwhile | slowest read |")
    print("| ---: | ---: | ---: | ---: |")
    with byocframe.local_service(demo=True, demo_tiles=tiles) as service:
        client, reader = service.client(), service.client()
        for batch in (store_module.COPY_BATCH, 10 * tiles):
            target = client.create_collection({"name": f"copy{batch}", "s3Bucket": "b"})["id"]
            waits: list[float] = []
            done = threading.Event()

            def read(
                target: str = target, waits: list[float] = waits, done: threading.Event = done
            ) -> None:
                while not done.is_set():
                    start = time.perf_counter()
                    reader.get_collection(target)
                    waits.append(time.perf_counter() - start)

            saved, store_module.COPY_BATCH = store_module.COPY_BATCH, batch
            thread = threading.Thread(target=read)
            thread.start()
            start = time.perf_counter()
            try:
                client.copy_tiles(service.demo_collection, target)
            finally:
                took = time.perf_counter() - start
                done.set()
                thread.join()
                store_module.COPY_BATCH = saved
            print(
                f"| {batch:,} | {1000 * took:,.0f} ms | {len(waits)} | "
                f"{1000 * max(waits):,.0f} ms |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=int, default=20_000)
    parser.add_argument("--covers", type=int, nargs="+", default=[2000, 20_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    client_table(args.repeat)
    listing_ms(args.tiles, max(1, args.repeat // 2))
    chunked_ms(args.repeat)
    intersects_table(args.covers, args.repeat)
    verify_ms(args.repeat)
    lock_us(args.repeat)
    copy_ms(args.tiles)


if __name__ == "__main__":
    main()

"""Benchmark: what the client's safety costs per request.

Against ``byocframe serve`` in its own process, the same small GET (an empty
collection list) is sent many times by one client with the whole-request deadline
(a watchdog that can cut a socket) and by the same client with the watchdog switched
off, alternating rounds so both see the same machine load. Prints microseconds per
request (median of the rounds).

Run: ``python benchmarks/bench_client.py [--requests 2000 --rounds 5]``
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

from common import served

import byocframe
from byocframe.client.connections import Watch
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


class _Unwatched:
    expired = False


def _per_request(client: byocframe.Client, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        client.request("GET", "/collections")
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with served() as base_url:
        client = byocframe.Client(
            base_url=base_url, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
        )
        client.request("GET", "/collections")  # token and connection
        watched, unwatched = [], []
        real = Watch.deadline
        for _ in range(args.rounds):
            watched.append(_per_request(client, args.requests))
            Watch.deadline = classmethod(  # type: ignore[method-assign]
                lambda cls, seconds: contextlib.nullcontext(_Unwatched())
            )
            try:
                unwatched.append(_per_request(client, args.requests))
            finally:
                Watch.deadline = real  # type: ignore[method-assign]
    print(f"{args.requests} GET requests x {args.rounds} rounds, one thread")
    print(f"  with the deadline watchdog:    {statistics.median(watched):7.0f} us/request")
    print(f"  without it:                    {statistics.median(unwatched):7.0f} us/request")


if __name__ == "__main__":
    main()

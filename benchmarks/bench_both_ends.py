"""Benchmark: the meeting-point check of ``read_tiles`` from both ends, client CPU only.

Two cursors list ``--tiles`` ids in pages of 100, one from each end, alternating, until
they meet. After each page, the check asks whether the cursors have returned a common
tile. Before 2026-12-06, ``byocframe.io.listing`` compared every id its cursor had seen
with the other cursor's (``seen[mine].isdisjoint(seen[other])``), which grows with the
ids seen so far; now it compares the new page only (``seen[other].isdisjoint(page)``):
a common tile is found when its second copy arrives either way. This script runs both
checks on the same pages (no service, no parsing) and prints their CPU time and the
exponent between sizes.

Run: ``python benchmarks/bench_both_ends.py [--tiles 50000 100000 200000]``
"""

from __future__ import annotations

import argparse
import math
import time
import uuid


def meet(ids: list[str], page: int, whole_set: bool) -> tuple[int, float]:
    """Alternate pages from both ends until a check finds a common id: (pages, seconds)."""
    seen: dict[str, set[str]] = {"asc": set(), "desc": set()}
    ends = {"asc": ids, "desc": ids[::-1]}
    start = time.process_time()
    for number in range(len(ids)):
        for direction, other in (("asc", "desc"), ("desc", "asc")):
            keys = set(ends[direction][number * page : (number + 1) * page])
            seen[direction].update(keys)
            if whole_set:
                crossed = not seen[direction].isdisjoint(seen[other])
            else:
                crossed = not seen[other].isdisjoint(keys)
            if crossed:
                return 2 * number + 1 + (direction == "desc"), time.process_time() - start
    raise AssertionError("the cursors never met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[50_000, 100_000, 200_000])
    parser.add_argument("--page", type=int, default=100)
    args = parser.parse_args()
    last: dict[bool, tuple[int, float]] = {}
    for n in args.tiles:
        ids = [str(uuid.UUID(int=i, version=4)) for i in range(n)]
        results = {whole: meet(ids, args.page, whole) for whole in (True, False)}
        assert results[True][0] == results[False][0]  # both meet on the same page
        line = f"{n:9,d} tiles, {results[True][0]:5d} pages:"
        for whole, label in ((True, "every id seen"), (False, "the new page")):
            seconds = results[whole][1]
            line += f"  {label} {seconds:7.3f} s"
            if whole in last:
                n1, t1 = last[whole]
                line += f" (exponent {math.log(seconds / t1) / math.log(n / n1):.2f})"
            last[whole] = (n, seconds)
        print(f"{line}  ratio {results[True][1] / results[False][1]:.0f}x", flush=True)


if __name__ == "__main__":
    main()

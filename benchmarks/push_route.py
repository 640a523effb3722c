"""The route of one push through byocframe's modules, traced as it runs.

A push of 300 edited sensing times (its checks read from the listing, so the trail runs
too) against the local service in this process; every call between two byocframe
modules is recorded, on every thread (the service's own modules, ``byocframe.emulator``,
are left out). Printed:

* the modules whose code ran during the push;
* the stages: the modules `byocframe.edits.route.push` itself calls, in order, and how many
  times it goes back to a module it had already left;
* calls back up: a call from one stage into a stage that came before it. The client
  (``client``, ``session``) and the task runner (``tasks``), which every stage may use,
  count as stages of their own only on push's own route, not here.

Run: ``python benchmarks/push_route.py`` (no arguments; it takes a few seconds).
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from types import FrameType
from typing import Any

import pandas as pd

import byocframe


def _module(frame: FrameType) -> str | None:
    name = frame.f_globals.get("__name__", "")
    if not name.startswith("byocframe") or name.startswith("byocframe.emulator"):
        return None
    return name


def trace(fn: Any) -> tuple[set[str], list[str], Counter[tuple[str, str]]]:
    """Run ``fn``; the modules that ran, push's direct calls, and module-to-module calls."""
    ran: set[str] = set()
    direct: list[str] = []
    edges: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        callee = _module(frame)
        if callee is None:
            return
        caller_frame = frame.f_back
        while caller_frame is not None and _module(caller_frame) is None:
            caller_frame = caller_frame.f_back  # through pandas, threads, ...
        with lock:
            ran.add(callee)
            if caller_frame is None:
                return
            caller = _module(caller_frame)
            assert caller is not None
            if caller != callee:
                edges[(caller, callee)] += 1
            from_push = caller == "byocframe.push" and caller_frame.f_code.co_name == "push"
            if from_push and frame.f_code.co_name not in ("<genexpr>", "<listcomp>", "<lambda>"):
                direct.append(f"{callee}.{frame.f_code.co_name}")

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    return ran, direct, edges


def main() -> None:
    with byocframe.local_service(demo=True, demo_tiles=320) as service:
        client = service.client()
        gdf = byocframe.read_tiles(client, service.demo_collection, progress=False)
        gdf = gdf[gdf["status"] == "INGESTED"]
        listed = gdf.copy()
        listed["sensing_time"] += pd.Timedelta(minutes=1)
        ran, direct, edges = trace(lambda: byocframe.push(listed, client, progress=False))
    stages: list[str] = []
    for call in direct:
        module = call.rsplit(".", 1)[0]
        if not stages or stages[-1] != module:
            stages.append(module)
    order = list(dict.fromkeys(stages))
    returns = len(stages) - len(order)
    rank = {m: i for i, m in enumerate(order)}
    shared = {
        "byocframe.push",
        "byocframe.client.api",
        "byocframe.client.session",
        "byocframe.edits.tasks",
    }
    back = sorted(
        (a, b)
        for (a, b) in edges
        if a in rank and b in rank and not {a, b} & shared and rank[b] < rank[a]
    )
    print(f"modules that ran during the push: {len(ran)}")
    print("  " + ", ".join(sorted(m.removeprefix("byocframe.") for m in ran)))
    print(f"stages push() calls into, in order: {len(order)}; returns to one left: {returns}")
    print("  " + " -> ".join(m.removeprefix("byocframe.") for m in stages))
    print(f"calls from a stage back into an earlier stage: {len(back)}")
    for a, b in back:
        print(f"  {a.removeprefix('byocframe.')} -> {b.removeprefix('byocframe.')}")


if __name__ == "__main__":
    main()

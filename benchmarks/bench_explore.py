"""Benchmark: an interactive map of a 20,000-tile listing, saved as HTML.

* ``gdf.byoc.explore()``: Leaflet inlined, outlines simplified to 0.01 degrees and
  packed as base64 int32 (also with ``tolerance=0``: every vertex);
* plain geopandas ``explore()`` (folium), on the full and on the simplified outlines,
  when folium and mapclassify are installed;
* lonboard's ``viz(...).to_html()``, when lonboard is installed.

For each: seconds to build and write the page, its size, and the scripts and styles it
loads from the network (a page that needs them does not work air-gapped). With
chromium on the machine, also the seconds from navigation until our page's script has
built the map (read from the page's ``data-ms`` through ``chromium --dump-dom``).

Run: ``python benchmarks/bench_explore.py [--tiles 20000] [--repeat 3]``

Levels of detail (issue 24): ``--lod 100000`` (or 1000000) builds a listing of that
many tiles (all land cells on each of as many 10-day dates as it takes, kept to the
columns the page shows) and writes it with the default levels of detail
(`byocframe.maps.DEFAULT_LOD`) and, unless ``--no-plain``, every tile drawn
(``lod=None``): seconds to write, MB, and seconds until the page has drawn in chromium,
at the world view and zoomed in (``--view``, default ``#6/48/10``: central Europe, where
the page draws tiles, not cells).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import shapely

import byocframe
from byocframe.frame.synthetic import synthetic_tiles

COLUMNS = ["path", "status", "sensing_time", "failed_ingestion_cause", "geometry"]
CHROMIUM = shutil.which("chromium")


def remote(html: str) -> int:
    """Scripts and stylesheets the page loads over http(s)."""
    return len(re.findall(r"<(?:script|link)[^>]+(?:src|href)=[\"']?(?:https?:)?//", html))


def timed(write: Callable[[Path], None], path: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        write(path)
        best = min(best, time.perf_counter() - start)
    return best


def page_seconds(path: Path, tmp: Path) -> float:
    """Seconds from navigation until the page script has built the map, in chromium.

    The script records ``performance.now()`` in the body's ``data-ms`` attribute.
    """
    assert CHROMIUM
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}", "--dump-dom", path.as_uri(),
    ]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, check=True, timeout=300, text=True)
    found = re.search(r'data-ms="(\d+)"', dom.stdout)
    return int(found.group(1)) / 1000 if found else float("nan")


def view_seconds(url: str, tmp: Path) -> tuple[float, str]:
    """Seconds from navigation until the page has drawn ``url``'s view, in chromium.

    Also what it shows: "tiles (N)" or "cells" (levels of detail), or "tiles".

    Driven over the DevTools protocol on a pipe (fds 3 and 4), polling the body's
    ``data-ms``, which the page sets after its levels of detail drew the first view
    (``--dump-dom`` returns at the load event, before tiles inflate).
    """
    import json
    import select

    assert CHROMIUM
    to_chrome, write = os.pipe()
    read, from_chrome = os.pipe()

    def wire() -> None:
        os.dup2(to_chrome, 3)
        os.dup2(from_chrome, 4)

    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--remote-debugging-pipe", f"--user-data-dir={tmp / 'profile-pipe'}",
        "--window-size=1200,800", "about:blank",
    ]  # fmt: skip
    proc = subprocess.Popen(command, preexec_fn=wire, close_fds=False,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    os.close(to_chrome)
    os.close(from_chrome)
    buffer, sent = b"", 0

    def call(method: str, session: str = "", **params: object) -> dict:
        nonlocal buffer, sent
        sent += 1
        message = {"id": sent, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(write, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in buffer:
                if not select.select([read], [], [], 300)[0]:
                    raise TimeoutError("chromium sent nothing for 300 s")
                buffer += os.read(read, 1 << 20)
            raw, buffer = buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == sent:
                return reply.get("result", {})

    try:
        target = call("Target.createTarget", url="about:blank")["targetId"]
        session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        call("Page.navigate", session, url=url)
        wait = """new Promise(resolve => { const check = () => document.body &&
          document.body.dataset.ms ? resolve([document.body.dataset.ms,
            document.body.dataset.lod || "", document.body.dataset.lodTiles || ""])
          : setTimeout(check, 50); check(); })"""
        result = call("Runtime.evaluate", session, expression=wait, awaitPromise=True,
                      returnByValue=True)  # fmt: skip
        ms, lod, tiles = result["result"]["value"]
        shows = f"tiles ({int(tiles):,})" if lod == "tiles" else "cells" if lod else "tiles"
        return int(ms) / 1000, shows
    finally:
        os.close(write)
        proc.kill()
        proc.wait(timeout=30)
        os.close(read)


def large_frame(n: int) -> gpd.GeoDataFrame:
    """``n`` tiles: every land cell on each of as many dates as it takes (one date at a time)."""
    import pandas as pd

    frames, count, day = [], 0, dt.date(2021, 1, 1)
    while count < n:
        records = synthetic_tiles(None, dates=(day.isoformat(),), seed=len(frames))
        frame = byocframe.tiles_from_records(records)
        index_name = frame.index.name
        frames.append(frame[COLUMNS])  # what the page shows: the rest would only cost memory
        count += len(frame)
        day += dt.timedelta(days=10)
    out = pd.concat(frames).head(n)
    out.index.name = index_name
    return out


def lod_pages(n: int, plain: bool, view: str) -> None:
    """Write ``n`` tiles with and without levels of detail; size, write and draw times."""
    start = time.perf_counter()
    gdf = large_frame(n)
    print(f"{len(gdf):,} tiles ({gdf['sensing_time'].dt.date.nunique()} dates), "
          f"frame built in {time.perf_counter() - start:.0f} s")  # fmt: skip
    writers: dict[str, Callable[[Path], None]] = {
        "explore() (levels of detail)": lambda p: gdf.byoc.explore(tiles=None).save(p),
    }
    if plain:
        writers["explore(lod=None) (every tile)"] = lambda p: gdf.byoc.explore(
            tiles=None, lod=None
        ).save(p)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print(f"{'page':32} {'write s':>8} {'MB':>7} {'world view s':>22} {'zoomed s':>22}")
        for name, write in writers.items():
            path = tmp / "page.html"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # lod=None above the threshold warns
                seconds = timed(write, path, 1)
            size = path.stat().st_size / 1e6
            shown = zoomed = "n/a"
            if CHROMIUM:
                shown = "{:.2f}: {}".format(*view_seconds(path.as_uri(), tmp))
                zoomed = "{:.2f}: {}".format(*view_seconds(path.as_uri() + view, tmp))
            print(f"{name:32} {seconds:8.2f} {size:7.1f} {shown:>22} {zoomed:>22}")
            path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each writer (best)")
    parser.add_argument("--lod", type=int, help="tiles of a levels-of-detail run instead")
    parser.add_argument("--no-plain", action="store_true", help="skip lod=None in --lod runs")
    parser.add_argument("--view", default="#6/48/10", help="zoomed view (#zoom/lat/lon)")
    args = parser.parse_args()
    os.environ["BYOCFRAME_OFFLINE"] = "1"  # pages without web tiles: what CI can load
    if args.lod:
        lod_pages(args.lod, plain=not args.no_plain, view=args.view)
        return

    gdf = byocframe.tiles_from_records(synthetic_tiles(args.tiles, seed=1))
    vertices = int(shapely.get_num_coordinates(gdf.geometry.to_numpy()).sum())
    print(f"{len(gdf):,} tiles, {vertices:,} vertices in the footprints")
    plain = gdf[COLUMNS].copy()
    plain["status"] = plain["status"].astype(str)
    simple = plain.copy()
    simple["geometry"] = simple.geometry.simplify(0.01)

    writers: dict[str, Callable[[Path], None]] = {
        "byoc.explore()": lambda p: gdf.byoc.explore(basemap=False).save(p),
        "byoc.explore(tolerance=0)": lambda p: gdf.byoc.explore(basemap=False, tolerance=0).save(p),
    }
    try:
        import folium  # noqa: F401
        import mapclassify  # noqa: F401

        writers["geopandas explore()"] = lambda p: plain.explore(column="status").save(p)
        writers["geopandas explore(), simplified 0.01"] = lambda p: simple.explore(
            column="status"
        ).save(p)
    except ImportError:
        print("(folium or mapclassify not installed: no geopandas explore() figures)")
    try:
        import lonboard

        writers["lonboard viz().to_html()"] = lambda p: lonboard.viz(plain).to_html(p)
    except ImportError:
        print("(lonboard not installed: no lonboard figures)")

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print(f"{'page':40} {'write s':>8} {'MB':>7} {'remote':>6} {'browser s':>9}")
        for name, write in writers.items():
            path = tmp / "page.html"
            seconds = timed(write, path, args.repeat)
            html = path.read_text(encoding="utf-8")
            size = path.stat().st_size / 1e6
            shown = "n/a"
            if CHROMIUM and not remote(html):
                shown = f"{page_seconds(path, tmp):.2f}"
            print(f"{name:40} {seconds:8.2f} {size:7.1f} {remote(html):6d} {shown:>9}")


if __name__ == "__main__":
    main()

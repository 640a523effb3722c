"""Benchmark: phantom edits when a frame's drawing settings are lost (branch ``attack``).

A frame saved before adaptive densifying (fixed 10 km steps, no ``tolerance`` in its
attrs) gets one new row with ``pd.concat`` (which drops the attrs) and goes through
``to_crs("EPSG:3857").to_crs("EPSG:4326")``, which edits nothing. `byocframe.changes`
then redraws rows with today's defaults (`byocframe.frame.snapshot.drawing` of empty
attrs) and reports the tiles shown cut at the antimeridian or holding a pole as geometry
updates, which `byocframe.push` sends (tests/attack/test_attack_drawing.py). This script
counts them on the synthetic global grid and times ``changes()`` with the attrs lost and
with them kept (the same round trip on the same frame).

Run: ``python benchmarks/bench_attack_phantoms.py [--tiles 20000 100000]``
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import pandas as pd
import shapely

import byocframe
from byocframe.frame.synthetic import synthetic_tiles


def run(tiles: int) -> None:
    """Print the phantom updates and the cost of ``changes()`` for one size."""
    old = byocframe.tiles_from_records(
        synthetic_tiles(tiles, seed=3), densify=10_000.0, tolerance=float("inf")
    )
    del old.attrs["byocframe"]["tolerance"]  # as written before December 2026
    new = gpd.GeoDataFrame(
        {"path": ["new/(BAND).tif"]}, geometry=[shapely.box(10, 10, 11, 11)], crs="EPSG:4326"
    )
    cut = int((shapely.get_num_geometries(old.geometry.array) > 1).sum())
    for label, frame in (
        ("attrs lost (pd.concat)", pd.concat([old, new])),
        ("attrs kept", old),
    ):
        moved = frame.to_crs("EPSG:3857").to_crs("EPSG:4326")
        start = time.perf_counter()
        found = byocframe.changes(moved)
        seconds = time.perf_counter() - start
        updates = found.loc[found["action"] == "update", "id"].nunique()
        print(
            f"{tiles:>9,} tiles, {label:<22}: {updates:>6,} phantom updates "
            f"({updates / tiles:.2%}; {cut:,} tiles shown cut), changes() {seconds:.1f} s "
            f"({seconds / tiles * 1e6:.0f} us a tile)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[20_000])
    for tiles in parser.parse_args().tiles:
        run(tiles)


if __name__ == "__main__":
    main()

"""Benchmark: tile records -> GeoDataFrame, byocframe against the seed tutorial's way.

The seed tutorial (sentinelhub-py) turns each record into a ``ByocTile``, transforms its
cover geometry to WGS84 with ``Geometry.transform`` and builds a GeoDataFrame from the
rows. byocframe does the whole listing at once with `byocframe.tiles_from_records`.

Both are checked against an independent reference: each tile's footprint densified to
1 km, transformed point by point and measured with GeographicLib (pyproj.Geod), which
handles rings that cross the antimeridian or go around a pole. A tile is *wrong* when
its geometry is invalid, leaves [-180, 180] x [-90, 90], or its geodesic area differs
from the reference by more than 0.5 %.

Run: ``python benchmarks/bench_frames.py [--tiles 20000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import time
import warnings

import geopandas as gpd
import numpy as np
import shapely
from common import seed_frame
from pyproj import Geod, Transformer

import byocframe
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.geo.crs import parse_crs

GEOD = Geod(ellps="WGS84")


def seed_way(records: list[dict]) -> gpd.GeoDataFrame:
    """What the seed tutorial does, tile after tile."""
    return seed_frame(records)


@functools.cache
def _to_lonlat(crs: str) -> Transformer:
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def reference_areas(records: list[dict]) -> dict[str, float]:
    """Geodesic area (km2) of each footprint, densified to 1 km, via GeographicLib."""
    out = {}
    for record in records:
        geojson = record.get("coverGeometry") or record.get("tileGeometry")
        if geojson is None:
            continue
        crs = parse_crs(geojson["crs"]["properties"]["name"])
        to_lonlat = _to_lonlat(crs)
        polygons = geojson["coordinates"]
        if geojson["type"] == "Polygon":
            polygons = [polygons]
        total = 0.0
        for polygon in polygons:
            for k, ring in enumerate(polygon):
                dense = np.asarray(
                    shapely.segmentize(shapely.LineString(ring), 1_000.0).coords, dtype=float
                )
                lon, lat = to_lonlat.transform(dense[:, 0], dense[:, 1])
                area, _ = GEOD.polygon_area_perimeter(lon, lat)
                total += abs(area) if k == 0 else -abs(area)
        out[record["id"]] = total / 1e6
    return out


def count_wrong(frame: gpd.GeoDataFrame, truth: dict[str, float]) -> int:
    geoms = frame.geometry
    wrong = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        areas = byocframe.geodesic_area(geoms)
    for tid, true_area in truth.items():
        geom = geoms.get(tid)
        if geom is None or geom.is_empty or not geom.is_valid:
            wrong += 1
            continue
        xmin, ymin, xmax, ymax = geom.bounds
        if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
            wrong += 1
            continue
        if abs(areas[tid] - true_area) > 0.005 * true_area:
            wrong += 1
    return wrong


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    records = synthetic_tiles(args.tiles)
    kinds = {}
    for r in records:
        geo = r.get("tileGeometry")
        key = geo["crs"]["properties"]["name"].rsplit(":", 1)[-1] if geo else "no geometry"
        key = "UTM" if key.startswith(("326", "327")) else key
        kinds[key] = kinds.get(key, 0) + 1
    print(
        f"python {platform.python_version()}, {platform.machine()}, byocframe "
        f"{byocframe.__version__}"
    )
    print(f"{len(records)} tiles: {kinds}")

    ours, frame = timed(lambda: byocframe.tiles_from_records(records), args.repeat)
    bare, bare_frame = timed(
        lambda: byocframe.tiles_from_records(records, densify=None), args.repeat
    )
    seed, seed_frame = timed(lambda: seed_way(records), 1)
    truth = reference_areas(records)
    crossers = int(
        sum(
            (g is not None and g.geom_type == "MultiPolygon" and len(g.geoms) > 1)
            for g in frame.geometry
        )
    )
    print(f"reference footprints: {len(truth)} (cut at the antimeridian or a pole: {crossers})")
    print(
        f"seed way (ByocTile + Geometry.transform): {seed:8.2f} s, "
        f"wrong: {count_wrong(seed_frame, truth)}"
    )
    print(
        f"byocframe.tiles_from_records:            {ours:8.2f} s, "
        f"wrong: {count_wrong(frame, truth)}"
    )
    print(
        f"byocframe, densify=None (seed's vertices): {bare:6.2f} s, "
        f"wrong: {count_wrong(bare_frame, truth)}"
    )
    print(f"ratio: {seed / ours:.1f}x faster (densified), {seed / bare:.1f}x (same vertices)")
    print(f"median of reference areas: {statistics.median(truth.values()):.0f} km2")


if __name__ == "__main__":
    main()

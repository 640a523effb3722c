"""Benchmark: tile records -> GeoDataFrame, byocframe against the seed tutorial's way.

The seed tutorial (sentinelhub-py) turns each record into a ``ByocTile``, transforms its
cover geometry to WGS84 with ``Geometry.transform`` and builds a GeoDataFrame from the
rows. byocframe does the whole listing at once with `byocframe.tiles_from_records`.

Both are checked against an independent reference: each tile's footprint densified to
1 km, transformed point by point and measured with GeographicLib (pyproj.Geod), which
handles rings that cross the antimeridian or go around a pole. A tile is *wrong* when
its geometry is invalid, leaves [-180, 180] x [-90, 90], or its geodesic area differs
from the reference by more than 0.5 %.

``--densify`` compares densifying settings instead (uniform 10 km steps as before
December 2026, adaptive at several tolerances): vertices per tile, time and memory of the
geometry column, and accuracy against two independent truths, the reference areas above
and the largest distance between a tile's outline and its true outline (the native ring,
straight in its own CRS, sampled every 100 m; the lon/lat outline is taken back into
the native CRS with its lon/lat chords sampled every 0.01 degree).

Run: ``python benchmarks/bench_frames.py [--tiles 20000] [--repeat 3]``
or ``python benchmarks/bench_frames.py --densify [--tiles 20000] [--tolerances 2 5 10]``
(``--cost-only``: vertices, time and memory without the accuracy, for 100 000 tiles)
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


@functools.cache
def _from_lonlat(crs: str) -> Transformer:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def reference_areas(records: list[dict]) -> dict[str, float]:
    """Geodesic area (km2) of each footprint, densified to 1 km, via GeographicLib.

    Every ring's points are transformed in one pyproj call per CRS; each ring is then
    measured on its own.
    """
    rings: dict[str, list[tuple[str, int, list]]] = {}
    for record in records:
        geojson = record.get("coverGeometry") or record.get("tileGeometry")
        if geojson is None:
            continue
        crs = parse_crs(geojson["crs"]["properties"]["name"])
        polygons = geojson["coordinates"]
        if geojson["type"] == "Polygon":
            polygons = [polygons]
        for polygon in polygons:
            for k, ring in enumerate(polygon):
                rings.setdefault(crs, []).append((record["id"], k, ring))
    out: dict[str, float] = {}
    for crs, mine in rings.items():
        coords = [np.asarray(ring, dtype=float) for _, _, ring in mine]
        owner = np.repeat(np.arange(len(coords)), [len(c) for c in coords])
        lines = shapely.segmentize(
            shapely.linestrings(np.concatenate(coords), indices=owner), 1_000.0
        )
        points, which = shapely.get_coordinates(lines, return_index=True)
        lon, lat = _to_lonlat(crs).transform(points[:, 0], points[:, 1])
        ends = np.cumsum(np.bincount(which, minlength=len(mine)))
        starts = np.concatenate([[0], ends[:-1]])
        for (tid, k, _), a, b in zip(mine, starts, ends, strict=True):
            area, _ = GEOD.polygon_area_perimeter(lon[a:b], lat[a:b])
            out[tid] = out.get(tid, 0.0) + (abs(area) if k == 0 else -abs(area)) / 1e6
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


def _nearest(points: np.ndarray, lines: shapely.Geometry) -> np.ndarray:
    """Distance from each point to the lines, through a tree of their segments."""
    xy, part = shapely.get_coordinates(shapely.get_parts(lines), return_index=True)
    same = part[1:] == part[:-1]
    segments = shapely.linestrings(np.stack([xy[:-1][same], xy[1:][same]], axis=1))
    _, distance = shapely.STRtree(segments).query_nearest(
        points, return_distance=True, all_matches=False
    )
    return distance


def outline_distances(
    shown: np.ndarray, native: np.ndarray, crs: np.ndarray, sample: np.ndarray
) -> np.ndarray:
    """Metres between each sampled tile's shown (lon/lat) outline and its true outline.

    Both ways: the true outline (straight in the native CRS) sampled every 100 m against
    the shown outline, and the shown outline (its lon/lat chords sampled every 0.01
    degree, taken back into the native CRS) against the true outline. Parts cut at the
    antimeridian or closed along a pole: the lines the cut adds are not outline.
    """
    out = np.full(len(sample), np.nan)
    for k, i in enumerate(sample):
        if shown[i] is None or native[i] is None:
            continue
        to_native = _from_lonlat(crs[i])
        lines = shapely.segmentize(shapely.boundary(shown[i]), 0.01)
        drawn = shapely.get_coordinates(lines)
        # the lines a cut at 180 degrees or a polar cap adds lie inside the true outline
        pole = np.abs(drawn[:, 1]) == 90
        # and the meridians that close a cap along a pole (exactly that longitude)
        outline = (np.abs(drawn[:, 0]) < 180) & ~pole & ~np.isin(drawn[:, 0], drawn[pole, 0])
        back = np.column_stack(to_native.transform(drawn[:, 0], drawn[:, 1]))
        back_lines = shapely.transform(
            lines, lambda xy, t=to_native: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))
        )
        truth = shapely.boundary(native[i])
        true_points = shapely.points(shapely.get_coordinates(shapely.segmentize(truth, 100.0)))
        out[k] = max(
            _nearest(true_points, back_lines).max(),
            shapely.distance(shapely.points(back[outline]), truth).max(),
        )
    return out


_MEASURE = """
import gc, pickle, sys, psutil, shapely
with open(sys.argv[1], "rb") as f:
    wkb = pickle.load(f)
gc.collect()
before = psutil.Process().memory_info().rss
geoms = shapely.from_wkb(wkb)
print(psutil.Process().memory_info().rss - before)
"""


def _column_rss(wkb: np.ndarray) -> int:
    """Bytes of resident memory the shapely geometries take, built in a fresh process."""
    import pickle
    import subprocess
    import sys
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pickle") as f:
        pickle.dump(wkb, f)
        f.flush()
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE, f.name], capture_output=True, text=True, check=True
        )
    return int(out.stdout)


def densify_setting(records: list[dict], densify: float | None, tolerance: float) -> dict:
    """Build the frame with one setting; vertices, time, memory of the geometry column."""
    from byocframe.geo import densify as densifying

    saved = densifying.DENSIFY_TOLERANCE
    densifying.DENSIFY_TOLERANCE = tolerance  # the module setting `tiles_from_records` reads
    try:
        start = time.perf_counter()
        frame = byocframe.tiles_from_records(records, densify=densify)
        seconds = time.perf_counter() - start
        geoms = np.asarray(frame.geometry.array, dtype=object)
        wkb = shapely.to_wkb(geoms[~shapely.is_missing(geoms)])
        column_mb = _column_rss(wkb) / 1e6
        wkb_mb = sum(len(b) for b in wkb) / 1e6
    finally:
        densifying.DENSIFY_TOLERANCE = saved
    return {"frame": frame, "seconds": seconds, "column_mb": column_mb, "wkb_mb": wkb_mb}


def densify_cost(records: list[dict], tolerances: list[float]) -> None:
    """Only vertices, time and memory (no accuracy): for large listings."""
    print("| setting | vertices/tile | frame build s | geometry column MB (RSS) | WKB MB |")
    print("|---|---|---|---|---|")
    settings = [("uniform 10 km (before)", 10_000.0, float("inf"))]
    settings += [(f"adaptive {t:g} m", float("inf"), t) for t in tolerances]
    for name, densify, tolerance in settings:
        built = densify_setting(records, densify, tolerance)
        geoms = np.asarray(built.pop("frame").geometry.array, dtype=object)
        vertices = shapely.get_num_coordinates(geoms[~shapely.is_missing(geoms)]).mean()
        print(
            f"| {name} | {vertices:.1f} | {built['seconds']:.2f} | {built['column_mb']:.0f} "
            f"| {built['wkb_mb']:.0f} |",
            flush=True,
        )


def densify_report(records: list[dict], tolerances: list[float], sample_size: int) -> None:
    """Uniform 10 km steps (before) against adaptive tolerances (after), same listing."""
    truth = reference_areas(records)
    settings = [("uniform 10 km (before)", 10_000.0, float("inf"))]
    settings += [(f"adaptive {t:g} m", float("inf"), t) for t in tolerances]
    rng = np.random.default_rng(0)
    base = None
    print(
        "| setting | vertices/tile | frame build s | geometry column MB (RSS) | WKB MB "
        "| wrong | area error p50 / p99 / max | outline distance m p50 / p99 / max "
        "| special tiles: outline max m |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, densify, tolerance in settings:
        built = densify_setting(records, densify, tolerance)
        frame = built["frame"]
        geoms = np.asarray(frame.geometry.array, dtype=object)
        if base is None:
            from byocframe.frame.native import native_geometries

            cover = native_geometries(frame, "native_cover")
            native = np.where(
                shapely.is_missing(cover), native_geometries(frame, "native_tile"), cover
            )
            crs = frame["native_crs"].astype(object).to_numpy()
            present = np.flatnonzero(~shapely.is_missing(native))
            parts = shapely.get_num_geometries(geoms)
            # every tile cut at the antimeridian or holding a pole, and a random sample
            special = present[(parts[present] > shapely.get_num_geometries(native[present]))]
            plain = rng.choice(present, min(sample_size, len(present)), replace=False)
            base = (native, crs, special, np.setdiff1d(plain, special), present)
        native, crs, special, plain, present = base
        vertices = shapely.get_num_coordinates(geoms[present]).mean()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            areas = byocframe.geodesic_area(frame.geometry)
        rel = np.array([abs(areas[t] - a) / a for t, a in truth.items()])
        far = outline_distances(geoms, native, crs, plain)
        far_special = outline_distances(geoms, native, crs, special)
        print(
            f"| {name} | {vertices:.1f} | {built['seconds']:.2f} | {built['column_mb']:.0f} "
            f"| {built['wkb_mb']:.0f} | {count_wrong(frame, truth)} "
            f"| {np.median(rel):.1e} / {np.quantile(rel, 0.99):.1e} / {rel.max():.1e} "
            f"| {np.nanmedian(far):.2f} / {np.nanquantile(far, 0.99):.2f} / {np.nanmax(far):.2f} "
            f"| {np.nanmax(far_special) if len(special) else float('nan'):.2f} |",
            flush=True,
        )
    print(
        f"{len(present)} footprints; outline distances on {len(plain)} sampled tiles and all "
        f"{len(special)} cut at the antimeridian or a pole"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--densify", action="store_true", help="compare densifying settings")
    parser.add_argument("--tolerances", type=float, nargs="+", default=[2.0, 5.0, 10.0])
    parser.add_argument("--sample", type=int, default=2_000, help="tiles for outline distances")
    parser.add_argument("--cost-only", action="store_true", help="with --densify: no accuracy")
    args = parser.parse_args()
    if args.densify:
        print(f"python {platform.python_version()}, byocframe {byocframe.__version__}")
        if args.cost_only:
            densify_cost(synthetic_tiles(args.tiles), args.tolerances)
        else:
            densify_report(synthetic_tiles(args.tiles), args.tolerances, args.sample)
        return

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

"""Realistic synthetic BYOC listings, generated offline.

Used by the local service's demo collection, the benchmarks and the tests. Tiles sit on
a Sentinel-2-like grid (109.8 km cells every 100 km in every UTM zone, reaching into
the neighbouring zones) over the land of the shipped
Natural Earth layer, with polar stereographic tiles around both poles. Cells at the
outer edge of zones 1 and 60 cross the antimeridian, as real ones do. Covers are
MultiPolygons with float noise and a ragged swath edge, like the seed tutorial's tile.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from byocframe.geo.crs import crs_urn

__all__ = [
    "SYNTHETIC_BANDS",
    "SyntheticCell",
    "land",
    "synthetic_cells",
    "synthetic_collection",
    "synthetic_tiles",
]

#: Width of one grid cell in metres (a Sentinel-2 MGRS tile).
CELL = 109_800.0
_X0 = 99_960.0
_STEP = 100_000.0
_DEFAULT_DATES = ("2024-06-01", "2024-06-11", "2024-06-21", "2024-07-01")
_BANDS = ("B02", "B03", "B04", "B08", "dataMask")


@functools.lru_cache(maxsize=1)
def land() -> shapely.Geometry:
    """The Natural Earth 1:110m land layer shipped with byocframe (EPSG:4326).

    Examples
    --------
    >>> land().geom_type
    'MultiPolygon'
    """
    text = resources.files("byocframe.data").joinpath("ne_110m_land.geojson").read_text()
    feature = json.loads(text)["features"][0]
    geom = shapely.from_geojson(json.dumps(feature["geometry"]))
    shapely.prepare(geom)
    return geom


@dataclass(frozen=True)
class SyntheticCell:
    """One grid cell: its CRS, its bounds in that CRS and a name used in tile paths."""

    crs: str
    bounds: tuple[float, float, float, float]
    name: str


def _cell_points(
    crs: str, xmin: np.ndarray, ymin: np.ndarray, size: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(lon, lat) of the centre and the four corners of each cell."""
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return [
        to_lonlat.transform(xmin + fx * size, ymin + fy * size)
        for fx, fy in ((0.5, 0.5), (0, 0), (1, 0), (0, 1), (1, 1))
    ]


def _on_land(points: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Whether the centre or a corner of each cell lies on land."""
    return np.any([shapely.contains_xy(land(), lon, lat) for lon, lat in points], axis=0)


#: The share of a UTM cell the demo collection wants on land (on a 5 x 5 grid of points):
#: a cell with only a corner on the coast is mostly sea.
LAND_SHARE = 0.5


def _mostly_land(
    crs: str, xmin: np.ndarray, ymin: np.ndarray, size: float, share: float
) -> np.ndarray:
    """Whether at least ``share`` of each cell lies on land (5 x 5 points inside it)."""
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    steps = (np.arange(5) + 0.5) / 5
    on = np.zeros(len(xmin))
    for fx in steps:
        for fy in steps:
            lon, lat = to_lonlat.transform(xmin + fx * size, ymin + fy * size)
            on += shapely.contains_xy(land(), lon, lat)
    return on >= share * steps.size**2


@functools.lru_cache(maxsize=2)
def synthetic_cells(land_share: float = 0.0) -> tuple[SyntheticCell, ...]:
    """Grid cells over land: UTM zones 1-60 from 80S to 84N, polar cells beyond.

    A UTM cell is kept when its centre or a corner is on land (Natural Earth 1:110m)
    and, with ``land_share`` (e.g. `LAND_SHARE`), when at least that share of it is land,
    so that coastal cells do not reach out to sea.

    Examples
    --------
    >>> cells = synthetic_cells()
    >>> len(cells) > 4000, {c.crs for c in cells} >= {"EPSG:32601", "EPSG:3031"}
    (True, True)
    """
    cells: list[SyntheticCell] = []
    cols = np.arange(8)
    for zone in range(1, 61):
        for hemi, code, rows in (("N", 32600, range(0, 94)), ("S", 32700, range(10, 100))):
            crs = f"EPSG:{code + zone}"
            c, r = np.meshgrid(cols, np.asarray(rows))
            # like the MGRS grid: a cell every 100 km, 109.8 km wide (9.8 km overlap)
            xmin = _X0 + c.ravel() * _STEP
            ymin = r.ravel() * _STEP
            points = _cell_points(crs, xmin, ymin, CELL)
            keep = _in_zone(points, zone) & _on_land(points)
            if land_share > 0:
                keep[keep] = _mostly_land(crs, xmin[keep], ymin[keep], CELL, land_share)
            for x, y, cc, rr in zip(
                xmin[keep], ymin[keep], c.ravel()[keep], r.ravel()[keep], strict=True
            ):
                name = f"{zone:02d}{hemi}/{cc}{rr:02d}"
                bounds = (float(x), float(y), float(x + CELL), float(y + CELL))
                cells.append(SyntheticCell(crs, bounds, name))
    # polar cells: 500 km squares in polar stereographic, incl. one holding each pole
    for crs, lat_sign, label in (("EPSG:3031", -1, "AQ"), ("EPSG:3413", 1, "AR")):
        size = 500_000.0
        grid = np.arange(-3_000_000.0, 3_000_000.0, size) - size / 2
        gx, gy = np.meshgrid(grid, grid)
        xmin, ymin = gx.ravel(), gy.ravel()
        to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        _, lat = to_lonlat.transform(xmin + size / 2, ymin + size / 2)
        beyond = lat * lat_sign > 80
        keep = beyond | (_on_land(_cell_points(crs, xmin, ymin, size)) & (lat * lat_sign > 60))
        for i in np.flatnonzero(keep):
            name = f"{label}/{int(xmin[i] // size)}_{int(ymin[i] // size)}"
            cells.append(
                SyntheticCell(crs, (xmin[i], ymin[i], xmin[i] + size, ymin[i] + size), name)
            )
    return tuple(cells)


def _in_zone(points: list[tuple[np.ndarray, np.ndarray]], zone: int) -> np.ndarray:
    """Cells reaching into the zone's 6 degrees, 80S to 84N (as in Sentinel-2's grid).

    Cells of neighbouring zones therefore overlap and leave no gap between the zones.
    """
    west = -180.0 + 6.0 * (zone - 1)
    inside = [
        (lat > -80.0) & (lat < 84.0) & (lon >= west) & (lon < west + 6.0) for lon, lat in points
    ]
    return np.any(inside, axis=0)


def _cover(rng: np.random.Generator, bounds: tuple[float, float, float, float]) -> list[Any]:
    """A MultiPolygon cover: the cell, maybe minus a ragged swath edge, with float noise."""
    xmin, ymin, xmax, ymax = bounds
    width, height = xmax - xmin, ymax - ymin
    if rng.random() < 0.35:
        # the swath edge cuts the cell from a point on the bottom edge to one on the right
        # edge, with a zig-zag like the seed's tile
        n = int(rng.integers(5, 12))
        a, b = rng.uniform(0.2, 0.8, 2).tolist()
        jitter = rng.uniform(0, 0.05, n).tolist()
        edge = []
        for i in range(n):
            t = i / (n - 1)
            inward = jitter[i] * height if 0 < i < n - 1 else 0.0
            edge.append((xmin + width * (a + (1 - a) * t), ymin + height * b * t + inward))
        ring = [(xmin, ymax), (xmin, ymin), *edge, (xmax, ymax)]
    else:
        ring = [(xmin, ymax), (xmin, ymin), (xmax, ymin), (xmax, ymax)]
    noise = rng.normal(0, 0.001, 2 * len(ring)).tolist()
    coords = [[x + noise[2 * i], y + noise[2 * i + 1]] for i, (x, y) in enumerate(ring)]
    coords.append(list(coords[0]))
    return [[coords]]


def synthetic_tiles(
    n: int | None = 20_000,
    *,
    dates: tuple[str, ...] = _DEFAULT_DATES,
    seed: int = 0,
    waiting: float = 0.02,
    failed: float = 0.01,
    polar: bool = True,
) -> list[dict[str, Any]]:
    """Generate tile records exactly as the BYOC API lists them.

    Parameters
    ----------
    n : int or None, default 20 000
        Number of tiles (spread over ``dates``); None keeps every land cell on every date.
    dates : tuple of str
        Sensing dates (ISO); each tile gets a time of day following its longitude.
    seed : int
        Seed of the random generator: the same seed gives the same records.
    waiting, failed : float
        Fractions of tiles that are still WAITING or FAILED (a cover geometry, as given
        when they were created, but no tile geometry).
    polar : bool
        Include polar stereographic tiles (EPSG:3031 / 3413). The BYOC service itself
        only ingests UTM, WGS84, Web Mercator and a few equal-area CRSs.

    Returns
    -------
    list of dict
        camelCase records with ``urn:ogc:def:crs:EPSG::<code>`` geometries.

    Examples
    --------
    >>> tiles = synthetic_tiles(40, seed=1)
    >>> len(tiles), tiles[0]["coverGeometry"]["type"] if "coverGeometry" in tiles[0] else None
    (40, 'MultiPolygon')
    """
    return [record for record, _ in _generate(n, dates, seed, waiting, failed, polar)]


def synthetic_collection(
    n: int | None = 20_000,
    *,
    seed: int = 0,
    polar: bool = False,
    dates: tuple[str, ...] = _DEFAULT_DATES,
    land_share: float = 0.0,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Tile records plus the virtual bucket that holds their files.

    ``land_share`` keeps only UTM cells with at least that share on land (see
    `synthetic_cells`; the demo collection uses `LAND_SHARE`).

    The bucket maps each object key (the tile path with ``(BAND)`` replaced by a band
    name) to what a COG header would tell: CRS, bounds, resolution, bit depth. The
    file ``B08`` of each FAILED tile is missing, which is why it failed.

    Examples
    --------
    >>> records, files = synthetic_collection(8, seed=2)
    >>> len(records), len(files) >= 5 * 7
    (8, True)
    """
    records: list[dict[str, Any]] = []
    files: dict[str, dict[str, Any]] = {}
    for record, cell in _generate(n, dates, seed, 0.02, 0.01, polar, land_share):
        records.append(record)
        for band in _BANDS:
            if band == "B08" and record["status"] == "FAILED":
                continue
            files[record["path"].replace("(BAND)", band)] = {
                "crs": cell.crs,
                "bounds": list(cell.bounds),
                "resolution": 10.0,
                "bitDepth": 8 if band == "dataMask" else 16,
                "sampleFormat": "UINT",
            }
    return records, files


#: Bands of the synthetic collection, as the collection's band configuration.
SYNTHETIC_BANDS = {
    band: {"bitDepth": 8 if band == "dataMask" else 16, "sampleFormat": "UINT"} for band in _BANDS
}


def _generate(
    n: int | None,
    dates: tuple[str, ...],
    seed: int,
    waiting: float,
    failed: float,
    polar: bool,
    land_share: float = 0.0,
) -> Iterator[tuple[dict[str, Any], SyntheticCell]]:
    rng = np.random.default_rng(seed)
    cells = tuple(c for c in synthetic_cells(land_share) if polar or c.crs.startswith("EPSG:32"))
    per_date = len(cells) if n is None else -(-n // len(dates))
    chosen = _choose(rng, cells, per_date)
    created = dt.datetime(2024, 7, 2, 8, 0, tzinfo=dt.UTC)
    count = 0
    for day in dates:
        base = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
        for i in chosen:
            if n is not None and count >= n:
                return
            cell = cells[i]
            status = _status(rng, waiting, failed)
            # a morning overpass in local solar time, kept on the same UTC date
            hour = min(max((10.5 - _centre_lon(cell) / 15.0) % 24, 0.2), 23.5)
            sensing = base + dt.timedelta(hours=hour, seconds=float(rng.integers(0, 600)))
            rec: dict[str, Any] = {
                "id": str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | count, version=4)),
                "path": f"tiles/{day.replace('-', '/')}/{cell.name}/(BAND).tif",
                "status": status,
                "sensingTime": sensing.strftime("%Y-%m-%dT%H:%M:%S.000"),
                "created": (created + dt.timedelta(seconds=count)).isoformat(),
            }
            # every tile was created with its cover geometry; only ingested tiles have a
            # tile geometry (the service derives it from the files)
            rec["coverGeometry"] = _geojson("MultiPolygon", _cover(rng, cell.bounds), cell.crs)
            if status == "INGESTED":
                rec["ingestionStart"] = rec["created"]
                rec["tileGeometry"] = _geojson("Polygon", _box(cell.bounds), cell.crs)
                pixel = 10.0 if cell.crs.startswith("EPSG:32") else 100.0
                rec["additionalData"] = {
                    "bandHeaderSizes": dict.fromkeys(_BANDS, 1328),
                    "minMetersPerPixel": pixel,
                    "maxMetersPerPixel": pixel * 16,
                }
            elif status == "FAILED":
                missing = rec["path"].replace("(BAND)", "B08")
                rec["additionalData"] = {"failedIngestionCause": f"File {missing} not found."}
            count += 1
            yield rec, cell


def _choose(rng: np.random.Generator, cells: tuple[SyntheticCell, ...], k: int) -> np.ndarray:
    """Pick k cells in contiguous regions, always keeping polar and antimeridian cells."""
    lon = np.array([_centre_lon(c) for c in cells])
    lat = np.array([_centre_lat(c) for c in cells])
    forced = np.array([not c.crs.startswith("EPSG:32") or _crosses_180(c) for c in cells])
    # a smooth random field over the sphere: its highest cells form a few large regions
    field = np.zeros(len(cells))
    for _ in range(6):
        f_lon, f_lat = rng.integers(1, 4, 2)
        phase = rng.uniform(0, 2 * np.pi, 2)
        field += np.cos(np.radians(lon) * f_lon + phase[0]) * np.cos(
            np.radians(lat) * f_lat + phase[1]
        )
    field[forced] = np.inf
    return np.sort(np.argsort(-field, kind="stable")[: min(k, len(cells))])


def _status(rng: np.random.Generator, waiting: float, failed: float) -> str:
    draw = rng.random()
    if draw < waiting:
        return "WAITING"
    if draw < waiting + failed:
        return "FAILED"
    return "INGESTED"


@functools.lru_cache(maxsize=256)
def _to_lonlat(crs: str) -> Transformer:
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


@functools.cache
def _centre(cell: SyntheticCell) -> tuple[float, float]:
    xmin, ymin, xmax, ymax = cell.bounds
    lon, lat = _to_lonlat(cell.crs).transform((xmin + xmax) / 2, (ymin + ymax) / 2)
    return float(lon), float(lat)


def _crosses_180(cell: SyntheticCell) -> bool:
    """Whether a UTM cell of zone 1 or 60 reaches across the antimeridian."""
    if not cell.name.startswith(("01", "60")):
        return False
    xmin, ymin, xmax, ymax = cell.bounds
    lon, _ = _to_lonlat(cell.crs).transform([xmin, xmax, xmin, xmax], [ymin, ymin, ymax, ymax])
    return bool(max(lon) - min(lon) > 180)


def _centre_lon(cell: SyntheticCell) -> float:
    return _centre(cell)[0]


def _centre_lat(cell: SyntheticCell) -> float:
    return _centre(cell)[1]


def _box(bounds: tuple[float, float, float, float]) -> list[Any]:
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    return [[[xmin, ymax], [xmax, ymax], [xmax, ymin], [xmin, ymin], [xmin, ymax]]]


def _geojson(kind: str, coordinates: list[Any], crs: str) -> dict[str, Any]:
    return {
        "type": kind,
        "crs": {"type": "name", "properties": {"name": crs_urn(crs)}},
        "coordinates": coordinates,
    }

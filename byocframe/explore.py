"""Interactive tile maps in the browser: one self-contained HTML file (Leaflet inlined).

`explore` draws a tile frame on a Leaflet map: tiles coloured by status (or another
column), a popup per tile with its path, status, sensing time and failure cause, a
layer switch per class with counts, and the Natural Earth land layer under the web
tiles so the map still reads where tiles cannot load. Everything the page needs is
inside the file: Leaflet comes from the ``django-js-lib-leaflet`` wheel (install
``byocframe[explore]``), the geometry is simplified for display and packed as base64
integers. Why this and not folium or lonboard: ``docs/design/explore.md``.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.plotting import STATUS_COLORS

__all__ = ["DEFAULT_TOLERANCE", "OSM_TILES", "TileMap", "explore"]

#: Simplification tolerance in degrees (about 1 km): invisible at the zoom that shows
#: thousands of 110 km tiles, and it cuts the vertices of densified covers by ~5x.
DEFAULT_TOLERANCE = 0.01
#: The web tiles drawn when ``basemap`` is None or True (and not offline).
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
_OFFLINE_ENV = "BYOCFRAME_OFFLINE"
_POPUP_COLUMNS = ("path", "status", "sensing_time", "failed_ingestion_cause", "id")
_STATUS_ORDER = ("INGESTED", "INGESTING", "QUEUED", "WAITING", "FAILED")  # FAILED on top
_NONE_COLOR = "#757575"
_MAX_CLASSES = 12
_LEAFLET_PACKAGE = "js_lib_leaflet"


@dataclass(frozen=True)
class TileMap:
    """A drawn map: the HTML page and what it holds.

    Attributes
    ----------
    html : str
        A complete, self-contained HTML page (no script, style or font from the
        network; only web map tiles, when a basemap is on).
    drawn : int
        Tiles drawn.
    hidden : int
        Tiles not drawn (no geometry, or one that is not a polygon).
    """

    html: str
    drawn: int
    hidden: int

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (UTF-8) and return the path.

        The page is written next to ``path`` and renamed into place, so a reader (or a
        crash) never sees half a page.
        """
        target = Path(path)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            partial.write_text(self.html, encoding="utf-8")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def _repr_html_(self) -> str:
        # an iframe keeps Leaflet's CSS and globals out of the notebook page
        page = html.escape(self.html, quote=True)
        return (
            f'<iframe srcdoc="{page}" style="width:100%;height:560px;border:none" '
            'title="byocframe tile map"></iframe>'
        )

    def __repr__(self) -> str:
        size = len(self.html.encode()) / 1e6
        return f"TileMap(drawn={self.drawn}, hidden={self.hidden}, {size:.1f} MB of HTML)"


def explore(
    frame: gpd.GeoDataFrame,
    column: str | None = "status",
    *,
    popup: list[str] | None = None,
    basemap: bool | str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    title: str = "byocframe tiles",
) -> TileMap:
    """An interactive map of tile footprints as one self-contained HTML page.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame (any CRS; drawn in EPSG:4326 on a web map, so antimeridian pieces
        stay in place and polar caps are cut at 85 degrees by the web projection).
    column : str or None, default "status"
        Colour by this column: status colours of `byocframe.plotting.STATUS_COLORS`,
        up to 12 categories (more go to "(other)"), datetimes by UTC date (6
        equal-count classes past 12 dates) or numbers in 6 equal-count classes.
        None: one colour.
    popup : list of str, optional
        Columns shown in a tile's popup; by default those of ``path``, ``status``,
        ``sensing_time``, ``failed_ingestion_cause`` and ``id`` that the frame has (as
        a column or as the index name). Missing values leave their row out.
    basemap : bool or str, optional
        None: OpenStreetMap tiles unless the ``BYOCFRAME_OFFLINE`` environment variable
        is set; False: only the land layer shipped with byocframe; True: OpenStreetMap;
        a str: a tile URL template (``{z}/{x}/{y}``). The land layer is always drawn
        under the web tiles, so it shows where they cannot load.
    tolerance : float, default `DEFAULT_TOLERANCE`
        Simplify footprints to this many degrees for display (0: keep every vertex).
        Coordinates are rounded to a tenth of it.
    title : str
        The page title.

    Returns
    -------
    TileMap
        ``.save(path)`` writes the page; notebooks show it inline.

    Raises
    ------
    ValueError
        ``column`` or a ``popup`` column is not in the frame, ``tolerance`` < 0, or
        ``basemap`` is a str without ``{z}``.
    ImportError
        Leaflet is not installed (``pip install "byocframe[explore]"``).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(100, seed=1))
    >>> m = explore(gdf, basemap=False)
    >>> m.drawn, m.hidden
    (100, 0)
    >>> "<script src=" in m.html
    False
    """
    if column is not None and column not in frame.columns:
        raise ValueError(f"column={column!r} is not a column of the frame; pick one of its columns")
    names = {*frame.columns, frame.index.name}  # the tile id is the index of tile frames
    fields = list(popup) if popup is not None else [c for c in _POPUP_COLUMNS if c in names]
    missing = [c for c in fields if c not in names]
    if missing:
        raise ValueError(f"popup column {missing[0]!r} is not in the frame; drop it from popup=")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 degrees, got {tolerance!r}")
    geoms = _display_geometry(frame, tolerance)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    keep = polygonal & ~shapely.is_empty(geoms)
    kept = frame[keep]
    # shells counter-clockwise, holes clockwise: the page fills with the "nonzero" rule,
    # so overlapping tiles of one class are filled once and holes stay open
    geoms = shapely.orient_polygons(geoms[keep])
    decimals = _decimals(tolerance)
    labels, colors, codes = _classes(kept, column)
    payload = {
        "tiles": _pack(geoms, decimals),
        "land": _pack(np.asarray(shapely.get_parts(_land())), 3),
        "classes": {"labels": labels, "colors": colors, "codes": _int32(codes)},
        "fields": [_field(kept, name) for name in fields],
        "bounds": _bounds(geoms),
        "basemap": _basemap(basemap),
        "info": _info(frame, len(kept), tolerance),
    }
    page = _page(payload, title)
    return TileMap(html=page, drawn=len(kept), hidden=len(frame) - len(kept))


def _display_geometry(frame: gpd.GeoDataFrame, tolerance: float) -> np.ndarray:
    series = frame.geometry
    if series.crs is not None and not series.crs.equals("EPSG:4326"):
        series = series.to_crs("EPSG:4326")
    geoms = np.asarray(series.values, dtype=object)
    geoms[pd.isna(geoms)] = None  # NaN from pandas operations: no geometry
    if tolerance > 0:
        # Douglas-Peucker alone is ~10x faster than the topology-preserving simplifier
        # (0.2 against 2 s on 20k tiles); redo with the latter the few footprints where
        # it lost a part (antimeridian slivers), broke validity or changed the area
        fast = shapely.simplify(geoms, tolerance, preserve_topology=False)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = shapely.area(fast) / shapely.area(geoms)
        redo = (
            (shapely.get_num_geometries(fast) != shapely.get_num_geometries(geoms))
            | ~shapely.is_valid(fast)
            | ~(np.abs(ratio - 1) <= 0.01)
        ) & ~shapely.is_missing(geoms)
        fast[redo] = shapely.simplify(geoms[redo], tolerance, preserve_topology=True)
        geoms = fast
    return np.asarray(geoms, dtype=object)


def _decimals(tolerance: float) -> int:
    """Decimal places that keep a tenth of ``tolerance`` (at most 7, about 1 cm)."""
    if tolerance <= 0:
        return 7
    return min(7, max(1, math.ceil(-math.log10(tolerance)) + 1))


def _int32(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<i4").tobytes()).decode()


def _pack(geoms: np.ndarray, decimals: int) -> dict[str, Any]:
    """Polygons as one ragged MultiPolygon array: int32 coordinates and offsets."""
    scale = 10**decimals
    if len(geoms) == 0:
        empty = _int32(np.zeros(0))
        return {"coords": empty, "rings": empty, "parts": empty, "tiles": _int32(np.zeros(1)),
                "scale": scale}  # fmt: skip
    _, coords, offsets = shapely.to_ragged_array(geoms)
    if len(offsets) == 2:  # only Polygons: one part per tile
        rings, parts = offsets
        tiles = np.arange(len(parts))
    else:
        rings, parts, tiles = offsets
    return {
        "coords": _int32(np.round(coords * scale)),
        "rings": _int32(rings),
        "parts": _int32(parts),
        "tiles": _int32(tiles),
        "scale": scale,
    }


def _land() -> shapely.Geometry:
    from byocframe.synthetic import land

    return land()


def _classes(frame: pd.DataFrame, column: str | None) -> tuple[list[str], list[str], np.ndarray]:
    """Class labels and colours in drawing order, and each row's class."""
    if column is None:
        return ["tiles"], [STATUS_COLORS["INGESTING"]], np.zeros(len(frame), dtype=int)
    values = frame[column]
    if column == "status":
        present = set(values.dropna().astype(str))
        order = [s for s in _STATUS_ORDER if s in present]
        order = sorted(present - set(order)) + order  # unknown statuses first (bottom)
        colors = [STATUS_COLORS.get(s, _NONE_COLOR) for s in order]
        return _with_none(values.astype("string"), order, colors)
    if pd.api.types.is_datetime64_any_dtype(values):
        utc = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
        days = utc.dt.strftime("%Y-%m-%d")
        if days.nunique() > _MAX_CLASSES:
            return _binned(utc)
        order = sorted(days.dropna().unique())  # one class per UTC date, in time order
        return _with_none(days.astype("string"), order, _palette("viridis", len(order)))
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique() > 6:
        return _binned(values)
    labels = values.astype("string")
    counts = labels.value_counts()
    order = [str(k) for k in counts.index[:_MAX_CLASSES]]
    if len(counts) > _MAX_CLASSES:
        labels = labels.where(labels.isin(order) | labels.isna(), "(other)")
        order.append("(other)")
    return _with_none(labels, order, _palette("tab20", len(order)))


def _with_none(
    labels: pd.Series, order: list[str], colors: list[str]
) -> tuple[list[str], list[str], np.ndarray]:
    codes = pd.Categorical(labels, categories=order).codes.astype(int)
    if (codes < 0).any():  # missing values get their own grey class, drawn first
        return ["(none)", *order], [_NONE_COLOR, *colors], codes + 1
    return order, colors, codes


def _binned(values: pd.Series) -> tuple[list[str], list[str], np.ndarray]:
    """Six equal-count classes of a number or (UTC) datetime column (viridis).

    Each class is labelled with the smallest and largest value it holds.
    """
    tz = getattr(values.dtype, "tz", None)
    is_time = pd.api.types.is_datetime64_any_dtype(values)
    # seconds since the epoch for datetimes, whatever the column's time unit
    numbers = (values - pd.Timestamp(0, tz=tz)) / pd.Timedelta(seconds=1) if is_time else values
    numbers = numbers.astype(float)
    codes = pd.qcut(numbers, 6, labels=False, duplicates="drop")
    ranges = numbers.groupby(codes).agg(["min", "max"]).to_numpy()

    def when(seconds: float, form: str) -> str:
        return pd.Timestamp(seconds, unit="s", tz=tz).strftime(form)

    names = [f"{lo:.4g} - {hi:.4g}" for lo, hi in ranges]
    for form in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S.%f") if is_time else ():
        names = [f"{when(lo, form)} - {when(hi, form)}" for lo, hi in ranges]
        if len(set(names)) == len(names):  # labels must tell the classes apart
            break
    labels = pd.Series(np.asarray([*names, None], dtype=object)[codes.fillna(-1).astype(int)])
    return _with_none(labels.astype("string"), names, _palette("viridis", len(names)))


def _palette(name: str, n: int) -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps[name]
    if cmap.N < 256:  # qualitative: take its colours in order
        return [to_hex(cmap(i % cmap.N)) for i in range(n)]
    return [to_hex(cmap(x)) for x in np.linspace(0, 0.9, max(n, 1))[:n]]


def _field(frame: pd.DataFrame, name: str) -> dict[str, Any]:
    """A popup column as codes into a table of distinct texts (-1: missing)."""
    values = frame[name] if name in frame.columns else frame.index.to_series()
    if pd.api.types.is_datetime64_any_dtype(values):
        utc = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
        text = utc.dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    elif pd.api.types.is_string_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
        text = values.astype("string")
        text = text.mask(text == "")  # an empty value shows no row, like a missing one
    else:
        text = values.map(_text, na_action="ignore")
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    return {"name": name, "codes": _int32(codes), "values": [str(u) for u in uniques]}


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _bounds(geoms: np.ndarray) -> list[float] | None:
    if len(geoms) == 0:
        return None
    west, south, east, north = shapely.total_bounds(geoms)
    return [float(west), max(float(south), -85.0), float(east), min(float(north), 85.0)]


def _basemap(basemap: bool | str | None) -> dict[str, str] | None:
    if basemap is False or (basemap is None and os.environ.get(_OFFLINE_ENV)):
        return None
    if basemap is None or basemap is True:
        return {"url": OSM_TILES, "attribution": _OSM_ATTRIBUTION}
    if not isinstance(basemap, str) or "{z}" not in basemap:
        raise ValueError(
            f"basemap must be None, True, False or a tile URL with {{z}}/{{x}}/{{y}}, "
            f"got {basemap!r}"
        )
    return {"url": basemap, "attribution": ""}


def _info(frame: gpd.GeoDataFrame, drawn: int, tolerance: float) -> list[str]:
    lines = [f"{drawn:,} tiles drawn"]
    if len(frame) > drawn:
        lines.append(f"{len(frame) - drawn:,} without a polygon footprint not drawn")
    if tolerance > 0:
        lines.append(f"outlines simplified to {tolerance:g} degrees")
    return lines


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{leaflet_css}</style>
<style>
html, body, #map {{ height: 100%; margin: 0; }}
#map {{ background: #dceaf5; }}
.byoc-swatch {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px;
  vertical-align: -2px; border: 1px solid #555; }}
.byoc-info {{ background: rgba(255,255,255,0.85); padding: 4px 8px; font: 12px sans-serif;
  border-radius: 4px; }}
.byoc-popup th {{ text-align: left; padding-right: 8px; vertical-align: top; }}
.byoc-popup td {{ word-break: break-all; }}
</style>
</head>
<body>
<div id="map"></div>
<script type="application/json" id="byoc-data">{data}</script>
<script>{leaflet_js}</script>
<script>{page_js}</script>
</body>
</html>
"""


def _page(payload: dict[str, Any], title: str) -> str:
    leaflet_js, leaflet_css = _leaflet()
    page_js = resources.files("byocframe.data").joinpath("explore.js").read_text("utf-8")
    # "</" would end the script element early; JSON allows "<\\/" for "</"
    data = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    return _PAGE.format(
        title=html.escape(title),
        leaflet_css=leaflet_css,
        data=data,
        leaflet_js=leaflet_js,
        page_js=page_js,
    )


def _leaflet() -> tuple[str, str]:
    """Leaflet's script and stylesheet from its wheel, images inlined as data URIs."""
    try:
        root = resources.files(_LEAFLET_PACKAGE).joinpath("static", _LEAFLET_PACKAGE)
    except ModuleNotFoundError as err:
        raise ImportError(
            "byocframe.explore needs Leaflet from the django-js-lib-leaflet package: "
            'pip install "byocframe[explore]"'
        ) from err
    script = root.joinpath("leaflet.js").read_text("utf-8")
    css = root.joinpath("leaflet.css").read_text("utf-8")

    def inline(match: re.Match[str]) -> str:
        png = root.joinpath("images", match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(png).decode()})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)
    if "</script" in script.lower():  # would end the inline element early
        raise RuntimeError("this Leaflet build cannot be inlined (it holds '</script')")
    return script, css

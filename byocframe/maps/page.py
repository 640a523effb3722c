"""The page of a tile map: geometry packed for the browser, popup fields, web tiles, HTML.

Everything the page needs is inlined: Leaflet (``byocframe/data/leaflet``), the page's
script (``byocframe/data/explore.js``) and the data, as base64 int32 arrays.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from importlib import resources
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = [
    "DEFAULT_TILES",
    "OSM_TILES",
    "bounds",
    "caption",
    "decimals",
    "display_geometry",
    "field",
    "int32",
    "pack",
    "page",
    "texts",
    "web_tiles",
]

#: The web tiles drawn when ``basemap`` is None or True (and not offline).
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def int32(values: np.ndarray) -> str:
    """``values`` as little-endian int32 bytes, base64 (how the page reads arrays)."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<i4").tobytes()).decode()


def decimals(tolerance: float) -> int:
    """Decimal places that keep a tenth of ``tolerance`` (at most 7, about 1 cm)."""
    if tolerance <= 0:
        return 7
    return min(7, max(1, math.ceil(-math.log10(tolerance)) + 1))


def pack(geoms: np.ndarray, decimals: int) -> dict[str, Any]:
    """Polygons as one ragged MultiPolygon array: int32 coordinates and offsets."""
    scale = 10**decimals
    if len(geoms) == 0:
        empty = int32(np.zeros(0))
        return {"coords": empty, "rings": empty, "parts": empty, "tiles": int32(np.zeros(1)),
                "scale": scale}  # fmt: skip
    _, coords, offsets = shapely.to_ragged_array(geoms)
    if len(offsets) == 2:  # only Polygons: one part per tile
        rings, parts = offsets
        tiles = np.arange(len(parts))
    else:
        rings, parts, tiles = offsets
    return {
        "coords": int32(np.round(coords * scale)),
        "rings": int32(rings),
        "parts": int32(parts),
        "tiles": int32(tiles),
        "scale": scale,
    }


def display_geometry(frame: gpd.GeoDataFrame, tolerance: float) -> np.ndarray:
    """The frame's footprints in lon/lat, simplified to ``tolerance`` degrees for display.

    A frame in another CRS is taken back to lon/lat as the frame's own footprints are
    made (`byocframe.geo.geometry.reproject`): a footprint that crosses the antimeridian
    is cut into parts on either side of it and one around a pole becomes a polar cap.
    geopandas' ``to_crs`` would join the vertices of a crossing footprint the short way
    round, into a band around the globe.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3000, seed=1))
    >>> crossing = gdf[gdf.geometry.bounds["maxx"] - gdf.geometry.bounds["minx"] == 360][:3]
    >>> pacific = crossing.to_crs("EPSG:3832")  # centred on the antimeridian
    >>> widths = shapely.bounds(shapely.get_parts(display_geometry(pacific, 0.01))) @ [-1, 0, 1, 0]
    >>> bool(widths.max() < 5)  # each part a few degrees wide, none around the globe
    True
    """
    series = frame.geometry
    geoms = np.asarray(series.values, dtype=object)
    geoms[pd.isna(geoms)] = None  # NaN from pandas operations: no geometry
    if series.crs is not None and not series.crs.equals("EPSG:4326"):
        geoms = _to_lonlat(series, geoms)
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


def _to_lonlat(series: gpd.GeoSeries, geoms: np.ndarray) -> np.ndarray:
    """Polygons through `reproject` (cut at the antimeridian), the rest with ``to_crs``."""
    from byocframe.geo.crs import WGS84, GeometryProblem, parse_crs
    from byocframe.geo.geometry import reproject

    out = np.asarray(series.to_crs(WGS84).values, dtype=object)
    out[pd.isna(out)] = None
    polygons = np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_empty(geoms)
    try:
        crs = parse_crs(series.crs)
    except GeometryProblem:  # no EPSG code: only pyproj can take it back
        return out
    if polygons.any():
        source = np.full(int(polygons.sum()), crs, dtype=object)
        out[polygons] = reproject(geoms[polygons], source, WGS84, densify=None, clip=False)
    return out


def field(frame: pd.DataFrame, name: str) -> dict[str, Any]:
    """A popup column as codes into a table of distinct texts (-1: missing)."""
    values = frame[name] if name in frame.columns else frame.index.to_series()
    codes, uniques = texts(values)
    return {"name": name, "codes": int32(codes), "values": uniques}


def texts(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """A column as the texts a popup shows: codes into a table of distinct texts (-1: missing).

    Examples
    --------
    >>> codes, values = texts(pd.Series(["a", None, "a", ""]))
    >>> codes.tolist(), values
    ([0, -1, 0, -1], ['a'])
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        utc = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
        text = utc.dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    elif pd.api.types.is_string_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype):
        text = values.astype("string")
        text = text.mask(text == "")  # an empty value shows no row, like a missing one
    else:
        text = values.map(_text, na_action="ignore")
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    return np.asarray(codes), [str(u) for u in uniques]


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _names(frame: pd.DataFrame, limit: int) -> list[str]:
    """How the caption names a tile: its path (or id), with its status."""
    head = frame.head(limit)
    if "path" in head.columns:
        names = (
            head["path"]
            .astype("string")
            .fillna(pd.Series(head.index.astype(str), index=head.index))
        )
    else:
        names = pd.Series(head.index.astype(str), index=head.index)
    if "status" in head.columns:
        status = head["status"].astype("string").fillna("?")
        return [f"{n} ({s})" for n, s in zip(names, status, strict=True)]
    return [str(n) for n in names]


def bounds(geoms: np.ndarray) -> list[float] | None:
    """West, south, east, north of the drawn tiles (latitudes kept within Web Mercator's)."""
    if len(geoms) == 0:
        return None
    west, south, east, north = shapely.total_bounds(geoms)
    return [float(west), max(float(south), -85.0), float(east), min(float(north), 85.0)]


MAX_LISTED = 5  # tiles without a footprint named in the caption


def caption(frame: gpd.GeoDataFrame, keep: np.ndarray, tolerance: float) -> list[str]:
    """The caption: counts, and which tiles could not be drawn."""
    drawn = int(keep.sum())
    lines = [f"{drawn:,} tiles drawn"]
    if len(frame) > drawn:
        lines.append(f"{len(frame) - drawn:,} without a polygon footprint not drawn")
        lines.extend(f"not drawn: {name}" for name in _names(frame[~keep], MAX_LISTED))
        if len(frame) - drawn > MAX_LISTED:
            lines.append(f"... and {len(frame) - drawn - MAX_LISTED:,} more not drawn")
    if tolerance > 0:
        lines.append(f"outlines simplified to {tolerance:g} degrees")
    return lines


OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


DEFAULT_TILES = "OpenStreetMap"


OFFLINE_ENV = "BYOCFRAME_OFFLINE"


def web_tiles(tiles: Any, attr: str | None, basemap: bool | str | None) -> dict[str, str] | None:
    """The web tile layer (URL template and attribution HTML), or None for none."""
    if basemap is not None:  # the earlier argument: False, True or a tile URL
        if tiles != DEFAULT_TILES:
            raise ValueError("give tiles= or basemap=, not both; tiles= is the current name")
        if basemap is False:
            return None
        if basemap is True:
            return {"url": OSM_TILES, "attribution": attr or OSM_ATTRIBUTION}
        tiles = basemap
    elif isinstance(tiles, str) and tiles == DEFAULT_TILES and os.environ.get(OFFLINE_ENV):
        return None
    if tiles is None or tiles is False:
        return None
    if isinstance(tiles, str) and tiles.lower() in ("openstreetmap", "openstreetmap.mapnik"):
        return {"url": OSM_TILES, "attribution": attr or OSM_ATTRIBUTION}
    if isinstance(tiles, str) and "{z}" in tiles:
        if not attr:
            raise ValueError(
                "custom tiles need an attribution: pass attr= with the tile provider's "
                "credit (HTML), as folium and geopandas require"
            )
        return {"url": tiles, "attribution": attr}
    provider = _provider(tiles)
    if provider.requires_token():
        raise ValueError(
            f"tiles {provider.name!r} need an API key: pass its tile URL with your key "
            "as tiles= and its credit as attr="
        )
    credit = attr or provider.get("html_attribution") or provider.get("attribution", "")
    if not credit:
        raise ValueError(f"tiles {provider.name!r} carry no attribution; pass attr=")
    return {"url": provider.build_url(scale_factor="{r}"), "attribution": credit}


def _provider(tiles: Any) -> Any:
    """An xyzservices TileProvider from a provider object or name."""
    import xyzservices

    if isinstance(tiles, xyzservices.TileProvider):
        return tiles
    if isinstance(tiles, str):
        try:
            return xyzservices.providers.query_name(tiles)
        except ValueError as err:
            raise ValueError(
                f"tiles={tiles!r} is neither a tile URL with {{z}}/{{x}}/{{y}} nor an "
                "xyzservices provider name (such as 'OpenStreetMap' or 'OpenTopoMap'); "
                "pass a URL and attr=, or tiles=None"
            ) from err
    raise ValueError(
        f"tiles must be a provider name, a tile URL, an xyzservices.TileProvider or None, "
        f"got {type(tiles).__name__}"
    )


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


def page(payload: dict[str, Any], title: str) -> str:
    """The self-contained HTML page: Leaflet, the page script and ``payload`` inlined."""
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
    """Leaflet's script and stylesheet shipped in byocframe/data, images as data URIs."""
    root = resources.files("byocframe.data").joinpath("leaflet")
    script = root.joinpath("leaflet.js").read_text("utf-8")
    css = root.joinpath("leaflet.css").read_text("utf-8")

    def inline(match: re.Match[str]) -> str:
        image = root.joinpath("images", match.group(1))
        if not image.is_file():  # an image byocframe does not ship (markers): never used
            return "none"
        png = image.read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(png).decode()})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)
    if "</script" in script.lower():  # would end the inline element early
        raise RuntimeError("this Leaflet build cannot be inlined (it holds '</script')")
    return script, css

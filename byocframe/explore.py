"""Interactive tile maps in the browser: one self-contained HTML file (Leaflet inlined).

`explore` draws a tile frame on a Leaflet map: tiles coloured by status (or another
column), a popup per tile with its path, status, sensing time and failure cause, a
layer switch per class with counts, and the Natural Earth land layer under the web
tiles so the map still reads where tiles cannot load. Everything the page needs is
inside the file: Leaflet 1.9.4 ships with byocframe (``byocframe/data/leaflet``, BSD-2-Clause,
provenance in ``byocframe/data/PROVENANCE.md``), the geometry is simplified for display
and packed as base64 integers. Why this and not folium or lonboard: ``docs/design/explore.md``.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
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
_DEFAULT_TILES = "OpenStreetMap"
_POPUP_COLUMNS = ("path", "status", "sensing_time", "failed_ingestion_cause", "id")
_STATUS_ORDER = ("INGESTED", "INGESTING", "QUEUED", "WAITING", "FAILED")  # FAILED on top
_NONE_COLOR = "#757575"
_MAX_CLASSES = 12
_MAX_LISTED = 5  # tiles without a footprint named in the caption


class TileMap:
    """A drawn map: one or more layers of tiles, written as one self-contained HTML page.

    `explore` returns it; pass it back as ``explore(..., m=tile_map)`` to add another
    frame's tiles as a layer of the same map (as ``GeoDataFrame.explore(m=...)`` adds
    to a folium map).

    Attributes
    ----------
    html : str
        A complete, self-contained HTML page (no script, style or font from the
        network; only web map tiles, when a basemap is on).
    drawn : int
        Tiles drawn, over all layers.
    hidden : int
        Tiles not drawn (no geometry, or one that is not a polygon), over all layers;
        the legend and the caption still count and name them.
    """

    def __init__(self, layer: dict[str, Any], basemap: dict[str, str] | None, title: str):
        self._layers = [layer]
        self._basemap = basemap
        self._title = title
        self._html: tuple[int, str] | None = None

    @property
    def html(self) -> str:
        """The page (built again only after a layer was added)."""
        if self._html is None or self._html[0] != len(self._layers):
            payload = {
                "layers": self._layers,
                "land": _pack(np.asarray(shapely.get_parts(_land())), 3),
                "basemap": self._basemap,
            }
            self._html = (len(self._layers), _page(payload, self._title))
        return self._html[1]

    @property
    def drawn(self) -> int:
        """Tiles drawn, over all layers."""
        return sum(layer["drawn"] for layer in self._layers)

    @property
    def hidden(self) -> int:
        """Tiles not drawn (no polygon footprint), over all layers."""
        return sum(layer["hidden"] for layer in self._layers)

    def _add(self, layer: dict[str, Any]) -> None:
        self._layers.append(layer)

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
        layers = f"{len(self._layers)} layers, " if len(self._layers) > 1 else ""
        return f"TileMap({layers}drawn={self.drawn}, hidden={self.hidden}, {size:.1f} MB of HTML)"


def explore(
    frame: gpd.GeoDataFrame,
    column: str | None = "status",
    *,
    cmap: Any = None,
    tooltip: bool | str | int | list[str] | None = None,
    popup: bool | str | int | list[str] | None = None,
    tiles: Any = "OpenStreetMap",
    attr: str | None = None,
    m: TileMap | None = None,
    style_kwds: dict[str, Any] | None = None,
    name: str | None = None,
    basemap: bool | str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    title: str = "byocframe tiles",
) -> TileMap:
    """An interactive map of tile footprints as one self-contained HTML page.

    The arguments shared with `geopandas.GeoDataFrame.explore` (``column``, ``cmap``,
    ``tooltip``, ``popup``, ``tiles``, ``attr``, ``m``, ``style_kwds``) mean what they
    mean there; the defaults suit tile frames.

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
    cmap : str, matplotlib Colormap or list of colours, optional
        Colours for the classes of ``column``: a matplotlib colormap name (``"magma"``),
        a Colormap, or colours (names or hex) used in order. By default status colours
        for ``"status"``, ``tab20`` for categories and ``viridis`` for numbers and dates.
    tooltip : bool, str, int or list of str, optional
        Columns shown when the pointer rests on a tile. None: ``path`` and ``column``;
        True: every column; False: no tooltip; a str or list: those columns; an int
        ``n``: the first ``n`` columns.
    popup : bool, str, int or list of str, optional
        Columns shown in a tile's popup on click, as ``tooltip``. None: those of
        ``path``, ``status``, ``sensing_time``, ``failed_ingestion_cause`` and ``id``
        that the frame has (as a column or as the index name). Missing values leave
        their row out.
    tiles : str, xyzservices.TileProvider or None, default "OpenStreetMap"
        The web map under the tiles: ``"OpenStreetMap"``, another xyzservices provider
        (a name such as ``"OpenTopoMap"`` or the provider object), a tile URL template
        with ``{z}``, ``{x}`` and ``{y}`` (needs ``attr``), or None for none. The
        default OpenStreetMap tiles are left out when the ``BYOCFRAME_OFFLINE``
        environment variable is set. The Natural Earth land layer shipped with
        byocframe is always drawn under the web tiles, so it shows where they cannot
        load. Ignored when ``m`` is given.
    attr : str, optional
        The attribution shown for ``tiles`` (HTML). Required for a tile URL, as in
        folium and geopandas; replaces a provider's own attribution.
    m : TileMap, optional
        A map from an earlier `explore` call: this frame's tiles are added to it as
        another layer (its own legend entries, popups and tooltips), and ``m`` is
        returned.
    style_kwds : dict, optional
        Leaflet path options for every tile of this layer: ``weight``, ``opacity``,
        ``fillOpacity``, ``dashArray``, ``color`` (outline) and ``fillColor`` (these two
        override the class colours), ``stroke``, ``fill``, ``lineCap``, ``lineJoin``,
        ``dashOffset``.
    name : str, optional
        The layer's name in the legend (useful with ``m``); by default "tiles", then
        "layer 2", "layer 3", ...
    basemap : bool or str, optional
        The earlier spelling of ``tiles``, still accepted: False is ``tiles=None``,
        True forces OpenStreetMap even when offline, a str is a tile URL (needs
        ``attr``).
    tolerance : float, default `DEFAULT_TOLERANCE`
        Simplify footprints to this many degrees for display (0: keep every vertex).
        Coordinates are rounded to a tenth of it.
    title : str
        The page title (ignored when ``m`` is given).

    Returns
    -------
    TileMap
        ``.save(path)`` writes the page; notebooks show it inline.

    Raises
    ------
    ValueError
        ``column``, a ``popup`` or ``tooltip`` column is not in the frame, ``tolerance``
        < 0, ``tiles`` is unknown or a URL without ``attr``, ``cmap`` is not a colormap,
        ``style_kwds`` holds an option Leaflet paths do not have, or ``m`` is not a
        `TileMap`.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(100, seed=1))
    >>> m = explore(gdf, tiles=None)
    >>> m.drawn, m.hidden
    (100, 0)
    >>> "<script src=" in m.html
    False
    >>> m = explore(gdf.head(10), "sensing_time", cmap="magma", popup=True, m=m, name="first 10")
    >>> m.drawn
    110
    """
    if m is not None and not isinstance(m, TileMap):
        raise ValueError(
            f"m must be a TileMap returned by byocframe's explore(), got {type(m).__name__}; "
            "drop m= to start a new map"
        )
    if column is not None and column not in frame.columns:
        raise ValueError(f"column={column!r} is not a column of the frame; pick one of its columns")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 degrees, got {tolerance!r}")
    popup_fields = _columns(frame, popup, "popup", list(_POPUP_COLUMNS))
    tooltip_fields = _columns(frame, tooltip, "tooltip", ["path", *([column] if column else [])])
    style = _style(style_kwds)
    colormap = _colormap(cmap)
    web = None if m is not None else _web_tiles(tiles, attr, basemap)
    geoms = _display_geometry(frame, tolerance)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    keep = polygonal & ~shapely.is_empty(geoms)
    kept = frame[keep]
    # shells counter-clockwise, holes clockwise: the page fills with the "nonzero" rule,
    # so overlapping tiles of one class are filled once and holes stay open
    geoms = shapely.orient_polygons(geoms[keep])
    decimals = _decimals(tolerance)
    # classes over every tile, drawn or not: a FAILED tile without a footprint still
    # shows in the legend (as "not drawn")
    labels, colors, codes = _classes(frame, column, colormap)
    hidden_counts = np.bincount(codes[~keep], minlength=len(labels))
    names = list(dict.fromkeys([*popup_fields, *tooltip_fields]))
    index = len(m._layers) if m is not None else 0
    layer = {
        "name": name or ("tiles" if index == 0 else f"layer {index + 1}"),
        "tiles": _pack(geoms, decimals),
        "classes": {
            "labels": labels,
            "colors": colors,
            "codes": _int32(codes[keep]),
            "hidden": [int(n) for n in hidden_counts],
        },
        "fields": [_field(kept, field) for field in names],
        "popup": [names.index(f) for f in popup_fields],
        "tooltip": [names.index(f) for f in tooltip_fields],
        "style": style,
        "bounds": _bounds(geoms),
        "info": _info(frame, keep, tolerance),
        "drawn": int(keep.sum()),
        "hidden": int((~keep).sum()),
    }
    if m is None:
        return TileMap(layer, web, title)
    m._add(layer)
    return m


def _columns(
    frame: pd.DataFrame, choice: bool | str | int | list[str] | None, what: str, default: list[str]
) -> list[str]:
    """The columns of a popup or tooltip, in geopandas' conventions."""
    # every column but geometries, as geopandas' explore() (outlines are the map itself)
    names = [c for c in frame.columns if not isinstance(frame[c].dtype, gpd.array.GeometryDtype)]
    if frame.index.name is not None:  # the tile id is the index of tile frames
        names = [frame.index.name, *names]
    if choice is None:
        return [c for c in dict.fromkeys(default) if c in names]
    if isinstance(choice, bool):
        return names if choice else []
    if isinstance(choice, int):
        return names[: max(choice, 0)]
    fields = [choice] if isinstance(choice, str) else [str(c) for c in choice]
    missing = [c for c in fields if c not in names]
    if missing:
        raise ValueError(f"{what} column {missing[0]!r} is not in the frame; drop it from {what}=")
    return fields


#: Leaflet path options `explore` passes through from ``style_kwds``.
_STYLE_OPTIONS = frozenset(
    ["stroke", "color", "weight", "opacity", "lineCap", "lineJoin", "dashArray", "dashOffset",
     "fill", "fillColor", "fillOpacity"]
)  # fmt: skip


def _style(style_kwds: dict[str, Any] | None) -> dict[str, Any]:
    style = dict(style_kwds or {})
    if "style_function" in style:
        raise ValueError(
            "style_kwds['style_function'] is not supported (the page is written once, "
            "without Python); colour by a column with column= and cmap= instead"
        )
    unknown = sorted(set(style) - _STYLE_OPTIONS)
    if unknown:
        raise ValueError(
            f"style_kwds option {unknown[0]!r} is not a Leaflet path option; "
            f"use some of {', '.join(sorted(_STYLE_OPTIONS))}"
        )
    for key, value in style.items():
        if not isinstance(value, str | int | float | bool):
            raise ValueError(f"style_kwds[{key!r}] must be a str, number or bool, got {value!r}")
    return style


def _colormap(cmap: Any) -> Any:
    """A matplotlib Colormap for ``cmap`` (None stays None: the column's default)."""
    if cmap is None:
        return None
    from matplotlib import colormaps
    from matplotlib.colors import Colormap, ListedColormap, to_rgba

    if isinstance(cmap, Colormap):
        return cmap
    if isinstance(cmap, str):
        try:
            return colormaps[cmap]
        except KeyError as err:
            raise ValueError(
                f"cmap={cmap!r} is not a matplotlib colormap; pick one of matplotlib's "
                "names (viridis, magma, tab10, ...) or give a list of colours"
            ) from err
    try:
        return ListedColormap([to_rgba(c) for c in cmap])
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"cmap must be a colormap name, a Colormap or a list of colours, got {cmap!r}"
        ) from err


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


def _classes(
    frame: pd.DataFrame, column: str | None, cmap: Any = None
) -> tuple[list[str], list[str], np.ndarray]:
    """Class labels and colours in drawing order, and each row's class.

    ``cmap`` (a matplotlib Colormap or None) replaces the column's default colours.
    """
    if column is None:
        color = _palette(cmap, 1)[0] if cmap is not None else STATUS_COLORS["INGESTING"]
        return ["tiles"], [color], np.zeros(len(frame), dtype=int)
    values = frame[column]
    if column == "status":
        present = set(values.dropna().astype(str))
        order = [s for s in _STATUS_ORDER if s in present]
        order = sorted(present - set(order)) + order  # unknown statuses first (bottom)
        colors = [STATUS_COLORS.get(s, _NONE_COLOR) for s in order]
        if cmap is not None:
            colors = _palette(cmap, len(order))
        return _with_none(values.astype("string"), order, colors)
    if pd.api.types.is_datetime64_any_dtype(values):
        utc = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
        days = utc.dt.strftime("%Y-%m-%d")
        if days.nunique() > _MAX_CLASSES:
            return _binned(utc, cmap)
        order = sorted(days.dropna().unique())  # one class per UTC date, in time order
        return _with_none(days.astype("string"), order, _palette(cmap or "viridis", len(order)))
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique() > 6:
        return _binned(values, cmap)
    labels = values.astype("string")
    counts = labels.value_counts()
    order = [str(k) for k in counts.index[:_MAX_CLASSES]]
    if len(counts) > _MAX_CLASSES:
        labels = labels.where(labels.isin(order) | labels.isna(), "(other)")
        order.append("(other)")
    return _with_none(labels, order, _palette(cmap or "tab20", len(order)))


def _with_none(
    labels: pd.Series, order: list[str], colors: list[str]
) -> tuple[list[str], list[str], np.ndarray]:
    codes = pd.Categorical(labels, categories=order).codes.astype(int)
    if (codes < 0).any():  # missing values get their own grey class, drawn first
        return ["(none)", *order], [_NONE_COLOR, *colors], codes + 1
    return order, colors, codes


def _binned(values: pd.Series, cmap: Any = None) -> tuple[list[str], list[str], np.ndarray]:
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
    return _with_none(labels.astype("string"), names, _palette(cmap or "viridis", len(names)))


def _palette(name: Any, n: int) -> list[str]:
    """``n`` colours of a colormap (a name or a Colormap)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps[name] if isinstance(name, str) else name
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


def _bounds(geoms: np.ndarray) -> list[float] | None:
    if len(geoms) == 0:
        return None
    west, south, east, north = shapely.total_bounds(geoms)
    return [float(west), max(float(south), -85.0), float(east), min(float(north), 85.0)]


def _web_tiles(tiles: Any, attr: str | None, basemap: bool | str | None) -> dict[str, str] | None:
    """The web tile layer (URL template and attribution HTML), or None for none."""
    if basemap is not None:  # the earlier argument: False, True or a tile URL
        if tiles != _DEFAULT_TILES:
            raise ValueError("give tiles= or basemap=, not both; tiles= is the current name")
        if basemap is False:
            return None
        if basemap is True:
            return {"url": OSM_TILES, "attribution": attr or _OSM_ATTRIBUTION}
        tiles = basemap
    elif isinstance(tiles, str) and tiles == _DEFAULT_TILES and os.environ.get(_OFFLINE_ENV):
        return None
    if tiles is None or tiles is False:
        return None
    if isinstance(tiles, str) and tiles.lower() in ("openstreetmap", "openstreetmap.mapnik"):
        return {"url": OSM_TILES, "attribution": attr or _OSM_ATTRIBUTION}
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


def _info(frame: gpd.GeoDataFrame, keep: np.ndarray, tolerance: float) -> list[str]:
    """The caption: counts, and which tiles could not be drawn."""
    drawn = int(keep.sum())
    lines = [f"{drawn:,} tiles drawn"]
    if len(frame) > drawn:
        lines.append(f"{len(frame) - drawn:,} without a polygon footprint not drawn")
        lines.extend(f"not drawn: {name}" for name in _names(frame[~keep], _MAX_LISTED))
        if len(frame) - drawn > _MAX_LISTED:
            lines.append(f"... and {len(frame) - drawn - _MAX_LISTED:,} more not drawn")
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

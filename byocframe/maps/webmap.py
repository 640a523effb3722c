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

import html
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.atomic import Scratch
from byocframe.exceptions import ByocframeWarning, ValidationError, user_stacklevel
from byocframe.frame.native import NATIVE_COLUMNS
from byocframe.maps import classes as mapclasses
from byocframe.maps import page as mappage
from byocframe.maps.columns import check_column
from byocframe.maps.lod import DEFAULT_LOD, LevelOfDetail, lod_layer
from byocframe.maps.page import OSM_TILES

__all__ = ["DEFAULT_LOD", "DEFAULT_TOLERANCE", "OSM_TILES", "LevelOfDetail", "TileMap", "explore"]

#: Simplification tolerance in degrees (about 1 km): invisible at the zoom that shows
#: thousands of 110 km tiles, and it cuts the vertices of densified covers by ~5x.
DEFAULT_TOLERANCE = 0.01
_POPUP_COLUMNS = ("path", "status", "sensing_time", "failed_ingestion_cause", "id")


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

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(20, seed=1))
    >>> m = gdf.byoc.explore(tiles=None)
    >>> m = gdf.iloc[:5].byoc.explore(m=m, name="first five")  # a second layer
    >>> m.drawn, m.hidden
    (25, 0)
    """

    def __init__(
        self,
        layer: dict[str, Any],
        basemap: dict[str, str] | None,
        title: str,
        size: tuple[int | str, int | str] = ("100%", 560),
    ):
        self._layers = [layer]
        self._basemap = basemap
        self._title = title
        self._size = tuple(
            _css_length(v, n) for v, n in zip(size, ("width", "height"), strict=True)
        )
        self._html: tuple[int, str] | None = None

    @property
    def html(self) -> str:
        """The page (built again only after a layer was added)."""
        if self._html is None or self._html[0] != len(self._layers):
            payload = {
                "layers": self._layers,
                "land": mappage.pack(np.asarray(shapely.get_parts(_land())), 3),
                "basemap": self._basemap,
            }
            self._html = (len(self._layers), mappage.page(payload, self._title))
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
        crash) never sees half a page. ``~`` is the home folder; a folder that does not
        exist is a `byocframe.ValidationError`, as in `byocframe.write_file`.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> import byocframe
        >>> from byocframe.frame.synthetic import synthetic_tiles
        >>> m = byocframe.tiles_from_records(synthetic_tiles(3, seed=1)).byoc.explore()
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     saved = m.save(Path(folder) / "tiles.html")
        ...     saved.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        True
        """
        target = Path(path).expanduser()  # ~ is the home folder, as in write_file
        if not target.parent.is_dir():
            raise ValidationError(f"{target.parent}: folder not found; create it first")
        with Scratch(target) as scratch:  # renamed over the target once complete
            scratch.path.write_text(self.html, encoding="utf-8")
            scratch.commit()
        return target

    def _repr_html_(self) -> str:
        # an iframe keeps Leaflet's CSS and globals out of the notebook page
        page = html.escape(self.html, quote=True)
        width, height = self._size
        return (
            f'<iframe srcdoc="{page}" style="width:{width};height:{height};border:none" '
            'title="byocframe tile map"></iframe>'
        )

    def __repr__(self) -> str:
        size = len(self.html.encode()) / 1e6
        layers = f"{len(self._layers)} layers, " if len(self._layers) > 1 else ""
        return f"TileMap({layers}drawn={self.drawn}, hidden={self.hidden}, {size:.1f} MB of HTML)"


def _css_length(value: int | str, name: str) -> str:
    """Pixels (an int) or a percentage ("100%") as CSS, as geopandas' width and height."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return f"{value}px"
    if isinstance(value, str) and value.endswith("%") and value[:-1].replace(".", "", 1).isdigit():
        return value
    raise ValueError(
        f"{name} must be pixels (an int) or a percentage such as '100%', got {value!r}"
    )


def explore(
    frame: gpd.GeoDataFrame,
    column: str | None = "status",
    *,
    cmap: Any = None,
    color: str | None = None,
    categorical: bool = False,
    legend: bool = True,
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
    lod: LevelOfDetail | None = DEFAULT_LOD,
    width: int | str = "100%",
    height: int | str = 560,
) -> TileMap:
    """An interactive map of tile footprints as one self-contained HTML page.

    The arguments shared with `geopandas.GeoDataFrame.explore` (``column``, ``cmap``,
    ``color``, ``categorical``, ``legend``, ``tooltip``, ``popup``, ``tiles``, ``attr``,
    ``m``, ``style_kwds``, ``width``, ``height``) mean what they mean there; the
    defaults suit tile frames.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame (any CRS; drawn in EPSG:4326 on a web map, so antimeridian pieces
        stay in place and polar caps are cut at 85 degrees by the web projection).
    column : str or None, default "status"
        Colour by this column: status colours of `byocframe.maps.columns.STATUS_COLORS`,
        up to 12 categories (more go to "(other)"), datetimes by UTC date (6
        equal-count classes past 12 dates) or numbers in 6 equal-count classes.
        None: one colour.
    cmap : str, matplotlib Colormap or list of colours, optional
        Colours for the classes of ``column``: a matplotlib colormap name (``"magma"``),
        a Colormap, or colours (names or hex) used in order. By default status colours
        for ``"status"``, ``tab20`` for categories and ``viridis`` for numbers and dates.
    color : str, optional
        One colour (a name or hex) for every tile of this layer; ``column`` is then not
        used (one class, "tiles").
    categorical : bool, default False
        Each value of ``column`` its own class (up to 12, then "(other)"), numbers and
        dates too, instead of 6 equal-count classes.
    legend : bool, default True
        List this layer's classes (with their counts) in the legend, where each can be
        switched off. False: no legend entries (no legend at all when no layer has any).
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
    lod : LevelOfDetail or None, default `DEFAULT_LOD`
        Levels of detail for large frames: with more than ``lod.threshold`` drawable
        tiles (50,000 by default), the page shows the cells the tiles touch (merged,
        with counts and class mix on click) until the view holds at most
        ``lod.view_tiles`` tiles, and the tiles themselves from there, loaded per group
        as the view moves. The default popup then leaves out ``id`` (random ids do not
        compress; ask for it with ``popup=``). None: draw every tile at every zoom
        (a ByocframeWarning above the default threshold: such pages open slowly).
    width, height : int or str, default "100%" and 560
        The size of the map shown in a notebook: pixels (an int) or a percentage.
        Ignored when ``m`` is given.

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
        `TileMap`, or ``lod`` is not a `LevelOfDetail`.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(100, seed=1))
    >>> m = explore(gdf, tiles=None)
    >>> m.drawn, m.hidden
    (100, 0)
    >>> "<script src=" in m.html
    False
    >>> m = explore(gdf.head(10), "sensing_time", cmap="magma", popup=True, m=m, name="first 10")
    >>> m.drawn
    110
    >>> big = explore(gdf, tiles=None, lod=LevelOfDetail(threshold=50))  # cells, then tiles
    >>> "lod" in big._layers[0], big.drawn
    (True, 100)
    """
    if m is not None and not isinstance(m, TileMap):
        raise ValueError(
            f"m must be a TileMap returned by byocframe's explore(), got {type(m).__name__}; "
            "drop m= to start a new map"
        )
    if color is not None:
        if not isinstance(color, str):
            raise ValueError(
                f"color= takes one colour (a name or hex), got {type(color).__name__}; "
                "colour tiles by a column with column= and cmap="
            )
        column, cmap = None, [color]
    size = (width, height)
    if m is None:  # checked before the drawing, kept as given (TileMap writes the CSS)
        _css_length(width, "width"), _css_length(height, "height")
    check_column(frame, column)
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 degrees, got {tolerance!r}")
    if lod is not None and not isinstance(lod, LevelOfDetail):
        raise ValueError(
            f"lod must be a byocframe.maps.LevelOfDetail or None, got {type(lod).__name__}; "
            "pass e.g. lod=LevelOfDetail(threshold=100_000)"
        )
    popup_fields = _columns(frame, popup, "popup", list(_POPUP_COLUMNS))
    tooltip_fields = _columns(frame, tooltip, "tooltip", ["path", *([column] if column else [])])
    style = _style(style_kwds)
    colormap = mapclasses.colormap(cmap)
    web = None if m is not None else mappage.web_tiles(tiles, attr, basemap)
    geoms = mappage.display_geometry(frame, tolerance)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    keep = polygonal & ~shapely.is_empty(geoms)
    kept = frame[keep]
    # shells counter-clockwise, holes clockwise: the page fills with the "nonzero" rule,
    # so overlapping tiles of one class are filled once and holes stay open
    geoms = shapely.orient_polygons(geoms[keep])
    decimals = mappage.decimals(tolerance)
    # classes over every tile, drawn or not: a FAILED tile without a footprint still
    # shows in the legend (as "not drawn")
    labels, colors, codes = mapclasses.classes(frame, column, colormap, categorical=categorical)
    hidden_counts = np.bincount(codes[~keep], minlength=len(labels))
    drawn = int(keep.sum())
    if lod is None and drawn > DEFAULT_LOD.threshold:
        warnings.warn(
            f"explore(lod=None) draws all {drawn:,} tiles one by one: a page that browsers "
            f"open slowly; leave lod at its default (levels of detail above "
            f"LevelOfDetail.threshold={DEFAULT_LOD.threshold:,} tiles)",
            ByocframeWarning,
            stacklevel=user_stacklevel(),
        )
    detail = lod is not None and drawn > lod.threshold
    if detail and popup is None:  # random ids are ~21 bytes each even compressed
        popup_fields = [f for f in popup_fields if f != "id"]
    names = list(dict.fromkeys([*popup_fields, *tooltip_fields]))
    index = len(m._layers) if m is not None else 0
    if detail:
        assert lod is not None
        layer = _lod_layer(kept, geoms, labels, colors, codes[keep], hidden_counts, names, lod,
                           decimals)  # fmt: skip
        layer.update(
            name=name or ("tiles" if index == 0 else f"layer {index + 1}"),
            popup=[names.index(f) for f in popup_fields],
            tooltip=[names.index(f) for f in tooltip_fields],
            style=style,
            legend=bool(legend),
            bounds=mappage.bounds(geoms),
            info=[*mappage.caption(frame, keep, tolerance), *_lod_caption(lod)],
            drawn=drawn,
            hidden=int((~keep).sum()),
        )
        if m is None:
            return TileMap(layer, web, title, size)
        m._add(layer)
        return m
    layer = {
        "name": name or ("tiles" if index == 0 else f"layer {index + 1}"),
        "tiles": mappage.pack(geoms, decimals),
        "classes": {
            "labels": labels,
            "colors": colors,
            "codes": mappage.int32(codes[keep]),
            "hidden": [int(n) for n in hidden_counts],
        },
        "fields": [mappage.field(kept, field) for field in names],
        "popup": [names.index(f) for f in popup_fields],
        "tooltip": [names.index(f) for f in tooltip_fields],
        "style": style,
        "legend": bool(legend),
        "bounds": mappage.bounds(geoms),
        "info": mappage.caption(frame, keep, tolerance),
        "drawn": int(keep.sum()),
        "hidden": int((~keep).sum()),
    }
    if m is None:
        return TileMap(layer, web, title, size)
    m._add(layer)
    return m


def _lod_layer(
    kept: gpd.GeoDataFrame,
    geoms: np.ndarray,
    labels: list[str],
    colors: list[str],
    codes: np.ndarray,
    hidden_counts: np.ndarray,
    names: list[str],
    lod: LevelOfDetail,
    decimals: int,
) -> dict[str, Any]:
    """A layer drawn as merged cells at low zoom and as tiles (loaded per group) zoomed in."""
    series = [
        (kept[f] if f in kept.columns else kept.index.to_series()).rename(f).reset_index(drop=True)
        for f in names
    ]
    return {
        "lod": lod_layer(geoms, codes, len(labels), series, decimals, lod),
        "fieldnames": names,
        "decimals": decimals,
        "classes": {
            "labels": labels,
            "colors": colors,
            "totals": [int(n) for n in np.bincount(codes, minlength=len(labels))],
            "hidden": [int(n) for n in hidden_counts],
        },
    }


def _lod_caption(lod: LevelOfDetail) -> list[str]:
    return [
        f"merged into {lod.cell:g}-degree cells until at most {lod.view_tiles:,} tiles are in "
        "view (LevelOfDetail.cell, .view_tiles)",
        f"levels of detail above {lod.threshold:,} tiles (LevelOfDetail.threshold)",
    ]


def _columns(
    frame: pd.DataFrame, choice: bool | str | int | list[str] | None, what: str, default: list[str]
) -> list[str]:
    """The columns of a popup or tooltip, in geopandas' conventions."""
    # every column but geometries, as geopandas' explore() (outlines are the map itself);
    # the native geometries are geometries too, kept as WKB bytes
    names = [
        c
        for c in frame.columns
        if not isinstance(frame[c].dtype, gpd.array.GeometryDtype) and c not in NATIVE_COLUMNS
    ]
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


def _land() -> shapely.Geometry:
    from byocframe.frame.synthetic import land

    return land()

"""Coverage maps (matplotlib, imported only when drawing); timelines: `maps.timeline`.

`plot_coverage` draws a frame's footprints in lon/lat. What may colour it is
`byocframe.maps.columns`, the classes and legend of a column `byocframe.maps.legend`,
and the web tiles or land layer behind it `byocframe.maps.basemap`; the names this
module listed before are still handed on here.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from byocframe.exceptions import ByocframeWarning, user_stacklevel
from byocframe.maps.basemap import draw_background
from byocframe.maps.columns import STATUS_COLORS, check_column, colour_columns
from byocframe.maps.legend import (
    MAX_CATEGORIES,
    SMALL_TILE_PIXELS,
    LegendKeys,
    draw_column,
    mark_small,
)
from byocframe.moved import forward_settings
from byocframe.tools.areas import aoi_geometry
from byocframe.tools.groups import group_labels

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "MAX_CATEGORIES",
    "SMALL_TILE_PIXELS",
    "STATUS_COLORS",
    "check_column",
    "colour_columns",
    "plot_coverage",
]


def plot_coverage(
    frame: gpd.GeoDataFrame,
    column: str | None = None,
    *,
    ax: Axes | None = None,
    basemap: bool | str | Any | None = None,
    aoi: Any = None,
    title: str | None = None,
    **style: Any,
) -> Axes:
    """Draw tile footprints on a world map in longitude / latitude.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame (any CRS; drawn in EPSG:4326, so antimeridian pieces and polar
        caps stay in place).
    column : str, optional
        Colour by this column: ``"status"`` (default when present), a category, a
        number or a datetime such as ``"sensing_time"``. Up to `MAX_CATEGORIES`
        distinct values (UTC dates for datetimes; half as many for numbers) get a colour
        each and a legend; more, a colour bar. The legend also counts tiles without a
        geometry, which cannot be drawn; tiles too small to see at the map's scale are
        marked with a dot.
    ax : matplotlib Axes, optional
        Draw here; a figure without a layout engine gets the constrained layout, so a
        plain ``savefig`` keeps the title, legend and colour bar.
    basemap : bool, str or contextily provider, optional
        None: web tiles unless ``BYOCFRAME_OFFLINE`` is set; False: none; True, a
        provider or a tile URL. When tiles cannot be fetched within a few seconds, the
        Natural Earth land layer shipped with byocframe is drawn instead, with a
        one-line warning the first time in a process.
    aoi : optional
        An area of interest (see `byocframe.tools.areas.aoi_geometry`): the map zooms to
        it and outlines it, and the legend and title count the tiles that meet it (tiles
        beyond it are cut off by the view; tiles without a geometry are still counted,
        since they cannot be placed).
    title : str, optional
        Defaults to counts of tiles and dates.
    **style
        Passed to `geopandas.GeoDataFrame.plot` (``alpha``, ``edgecolor``, ...), whose
        keywords mean here what they mean there: ``figsize`` (without ``ax``),
        ``legend=False`` (no legend or colour bar), ``legend_kwds`` (to the legend or
        colour bar), ``cmap`` (the classes' colours, except for ``status``, which keeps
        its own), ``color`` (every tile in one colour, instead of a column) and
        ``categorical=True`` (a class per value, past `MAX_CATEGORIES` too).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(100, seed=1))
    >>> ax = plot_coverage(gdf, basemap=False)
    >>> ax.get_legend().get_title().get_text()
    'status'
    >>> ax = plot_coverage(gdf, basemap=False, aoi=(175, 60, -175, 70))
    >>> ax.get_title()  # the legend counts these too
    '68 of 100 tiles meet the AOI, on 4 dates'
    >>> ax = plot_coverage(gdf, "sensing_time", basemap=False, cmap="magma", figsize=(6, 4))
    """
    import matplotlib.pyplot as plt

    check_column(frame, column)
    # geopandas' keywords that are not matplotlib's: the figure, the legend, the colours
    figsize = style.pop("figsize", None) or (12, 6.6)
    keys = LegendKeys(
        legend=bool(style.pop("legend", True)),
        legend_kwds=dict(style.pop("legend_kwds", None) or {}),
        cmap=style.pop("cmap", None),
        categorical=bool(style.pop("categorical", False)),
    )
    if "color" in style and column is not None:  # as geopandas says and does
        warnings.warn(
            "Only specify one of 'column' or 'color'. Using 'color'.",
            ByocframeWarning,
            stacklevel=user_stacklevel(),
        )
        column = None
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    else:
        _fit_layout(ax)
    # shapely's predicates: GeoSeries.notna() warns about empty geometries, which a frame
    # in a CRS that leaves far tiles empty (EPSG:3035, say) holds
    shapes = np.asarray(frame.geometry.array, dtype=object)
    drawn = ~(shapely.is_missing(shapes) | shapely.is_empty(shapes))
    data = frame[drawn]
    data = data.to_crs("EPSG:4326") if data.crs is not None else data
    if column is None and "status" in frame.columns and "color" not in style:
        column = "status"
    region = aoi_geometry(aoi) if aoi is not None else None
    bounds = _extent(data, region)
    # what the legend and title count: the tiles in view, not those the view cuts off
    inside = data.intersects(region).to_numpy() if region is not None else None
    draw_background(ax, bounds, basemap)
    style = {"linewidth": 0.3, "alpha": 0.75, **style}
    if column is None:
        color = style.pop("color", "#1565c0")
        if len(data):  # geopandas warns when asked to draw nothing
            data.plot(ax=ax, color=color, **style)
        mark_small(ax, data, [color] * len(data), bounds)
    else:
        hidden = frame[~drawn]
        draw_column(ax, data, column, style, hidden, bounds, inside, keys)
    if region is not None:
        gpd.GeoSeries([region], crs="EPSG:4326").boundary.plot(
            ax=ax, color="black", linewidth=1.2, linestyle="--"
        )
    ax.set_xlim(bounds[0], bounds[2])
    ax.set_ylim(bounds[1], bounds[3])
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title or _title(frame, data, inside))
    return ax


def _title(frame: gpd.GeoDataFrame, data: gpd.GeoDataFrame, inside: np.ndarray | None) -> str:
    """Tiles and dates of the map (of those meeting the AOI when ``inside`` is given)."""
    counted = data[inside] if inside is not None else frame
    dates = 0
    if "sensing_time" in counted.columns and len(counted):
        dates = int(group_labels(counted, "sensing_time").nunique())
    hidden = len(frame) - len(data)
    on = f"on {dates} date{'' if dates == 1 else 's'}"
    text = f"{len(frame):,} tiles {on}"
    if inside is not None:
        text = f"{len(counted):,} of {len(frame):,} tiles meet the AOI, {on}"
    if hidden:
        text += f" ({hidden:,} without geometry not drawn)"
    return text


def _fit_layout(ax: Axes) -> None:
    """Give a figure without a layout engine the constrained layout.

    Titles, legends and colorbars then stay inside the figure in a plain ``savefig``
    (no ``bbox_inches="tight"`` needed). A figure with an engine of its own keeps it.
    """
    from matplotlib.figure import Figure

    figure = ax.get_figure()
    if isinstance(figure, Figure) and figure.get_layout_engine() is None:
        figure.set_layout_engine("constrained")


def _extent(data: gpd.GeoDataFrame, region: Any) -> tuple[float, float, float, float]:
    """The map's view: the AOI when there is one, else every drawn tile."""
    if region is not None:  # zoom to the area asked about; tiles beyond it are cut off
        west, south, east, north = region.bounds
        pad = max(0.05 * max(east - west, north - south), 0.01)
        return (
            max(-180.0, west - pad),
            max(-90.0, south - pad),
            min(180.0, east + pad),
            min(90.0, north + pad),
        )
    boxes = [data.total_bounds] if len(data) else []
    if not boxes:
        return (-180.0, -90.0, 180.0, 90.0)
    stacked = np.vstack(boxes)
    west, south = stacked[:, 0].min(), stacked[:, 1].min()
    east, north = stacked[:, 2].max(), stacked[:, 3].max()
    pad = max(2.0, 0.05 * max(east - west, north - south))
    return (
        max(-180.0, west - pad),
        max(-90.0, south - pad),
        min(180.0, east + pad),
        min(90.0, north + pad),
    )


# settings moved with the code: set here, they take effect there (byocframe.moved)
forward_settings(
    sys.modules[__name__],
    sys.modules["byocframe.maps.basemap"],
    sys.modules["byocframe.maps.columns"],
    sys.modules["byocframe.maps.legend"],
)

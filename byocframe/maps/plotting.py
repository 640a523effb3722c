"""Coverage maps (matplotlib, imported only when drawing); timelines: `maps.timeline`."""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.exceptions import ByocframeWarning, user_stacklevel
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

STATUS_COLORS = {
    "WAITING": "#9e9e9e",
    "QUEUED": "#64b5f6",
    "INGESTING": "#1565c0",
    "INGESTED": "#2e7d32",
    "FAILED": "#d32f2f",
}
#: Seconds to wait for basemap tiles before drawing the shipped land layer instead.
BASEMAP_TIMEOUT = 8.0
_OFFLINE_ENV = "BYOCFRAME_OFFLINE"
_DRAW_ORDER = ("INGESTED", "INGESTING", "QUEUED", "WAITING", "FAILED")  # FAILED on top
# The basemap fallback is said once per process (a notebook draws many maps).
_fallback_said = threading.Event()
#: A tile drawn smaller than this, in pixels each way, also gets a dot so that it shows.
SMALL_TILE_PIXELS = 2.0
#: The snapshot token push needs (`byocframe.frame`): a column, but nothing to colour by.
_NOT_COLOURS = ("loaded",)


def colour_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` a map can be coloured by, in frame order.

    Every column but those holding geometries (``geometry``, ``tile_geometry``) or WKB
    bytes (``native_cover``, ``native_tile``), and the ``loaded`` token.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> colour_columns(gdf)[:3]
    ['path', 'status', 'sensing_time']
    >>> {"geometry", "tile_geometry", "native_cover", "loaded"} & set(colour_columns(gdf))
    set()
    """
    return [
        str(name)
        for name, values in frame.items()
        if name not in _NOT_COLOURS and not _holds_shapes(values)
    ]


def _holds_shapes(values: pd.Series) -> bool:
    """Whether a column holds geometries or WKB bytes (nothing a colour can stand for)."""
    dtype = values.dtype
    if isinstance(dtype, gpd.array.GeometryDtype) or dtype.kind == "S":
        return True
    if isinstance(dtype, pd.ArrowDtype):
        return "binary" in str(dtype.pyarrow_dtype)
    if pd.api.types.is_object_dtype(dtype):  # the first value that is there tells
        first = next((v for v in values if v is not None and v is not np.nan), None)
        return isinstance(first, bytes | shapely.Geometry)
    return False


def check_column(frame: pd.DataFrame, column: str | None) -> None:
    """Refuse, in one line, a ``column`` that cannot colour a map of ``frame``.

    Parameters
    ----------
    frame : DataFrame
    column : str or None
        None (the default colouring) always passes.

    Raises
    ------
    ValueError
        When ``column`` is not a column of ``frame``, or holds geometries or WKB bytes;
        the message lists the columns that can colour the map.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> check_column(gdf, "sensing_time")
    >>> check_column(gdf, "date")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: column='date' is not a column of the frame, so it cannot colour the map; \
pick one of path, status, sensing_time, ...
    """
    if column is None:
        return
    usable = colour_columns(frame)
    if column in usable:
        return
    why = (
        "holds geometries or WKB bytes"
        if column in frame.columns
        else "is not a column of the frame"
    )
    raise ValueError(
        f"column={column!r} {why}, so it cannot colour the map; pick one of {', '.join(usable)}"
    )


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
        An area of interest (see `byocframe.tools.stats.aoi_geometry`): the map zooms to
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
    keys = _Keys(
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
    _background(ax, bounds, basemap)
    style = {"linewidth": 0.3, "alpha": 0.75, **style}
    if column is None:
        color = style.pop("color", "#1565c0")
        if len(data):  # geopandas warns when asked to draw nothing
            data.plot(ax=ax, color=color, **style)
        _mark_small(ax, data, [color] * len(data), bounds)
    else:
        hidden = frame[~drawn]
        _draw_column(ax, data, column, style, hidden, bounds, inside, keys)
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


#: At most this many distinct values (UTC dates for datetimes) are coloured as
#: categories with a legend; more get a continuous colour bar.
MAX_CATEGORIES = 12


def _draw_column(
    ax: Axes,
    data: gpd.GeoDataFrame,
    column: str,
    style: dict[str, Any],
    hidden: pd.DataFrame,
    bounds: tuple[float, float, float, float],
    inside: np.ndarray | None,
    keys: _Keys,
) -> None:
    """Colour the drawn tiles by ``column``; the legend also counts ``hidden`` tiles.

    With ``inside`` (a flag per drawn tile), the legend counts only the flagged ones.
    """
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    values = data[column]
    classes = _categories(values, hidden[column] if column in hidden.columns else None, keys)
    if classes is not None:
        labels, hidden_labels, order, palette = classes
        if column == "status":  # problems last, so they are drawn on top
            rank = {s: i for i, s in enumerate(_DRAW_ORDER)}
            position = np.argsort(labels.map(rank).to_numpy(), kind="stable")
            data, labels = data.iloc[position], labels.iloc[position]
            inside = inside[position] if inside is not None else None
        colors = dict(zip(order, palette, strict=True))
        facecolors = [colors[v] for v in labels]
        if len(data):  # geopandas warns when asked to draw nothing
            data.plot(ax=ax, color=facecolors, **style)
        _mark_small(ax, data, facecolors, bounds)
        counts = (labels[inside] if inside is not None else labels).value_counts()
        missing = hidden_labels.value_counts()
        handles = []
        for k in order:
            text = f"{k} ({counts.get(k, 0):,})"
            if missing.get(k, 0):
                text = f"{k} ({counts.get(k, 0):,} + {missing[k]:,} without geometry, not drawn)"
            handles.append(Patch(facecolor=colors[k], label=text))
        title = f"{column} (UTC date)" if pd.api.types.is_datetime64_any_dtype(values) else column
        if keys.legend:
            placed = {"title": title, "loc": "lower left", "fontsize": "small"}
            ax.legend(handles=handles, **{**placed, **keys.legend_kwds})
        return
    cmap = keys.cmap or "viridis"
    if pd.api.types.is_datetime64_any_dtype(values):
        numbers = mdates.date2num(values.dt.tz_convert("UTC").dt.tz_localize(None))
        plotted = data.assign(_value=numbers)
        plotted.plot(ax=ax, column="_value", cmap=cmap, **style)
        if keys.legend:
            mappable = ax.collections[-1]
            options: dict[str, Any] = {"shrink": 0.7, "label": f"{column} (UTC)"}
            bar = plt.colorbar(mappable, ax=ax, **{**options, **keys.legend_kwds})
            bar.ax.yaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        return
    data.plot(
        ax=ax,
        column=column,
        cmap=cmap,
        legend=keys.legend,
        legend_kwds={"shrink": 0.7, "label": column, **keys.legend_kwds},
        **style,
    )


@dataclass(frozen=True)
class _Keys:
    """The keywords of `geopandas.GeoDataFrame.plot` that decide classes and legend."""

    legend: bool = True
    legend_kwds: dict[str, Any] = field(default_factory=dict)
    cmap: Any = None
    categorical: bool = False


def _categories(
    values: pd.Series, hidden: pd.Series | None, keys: _Keys
) -> tuple[pd.Series, pd.Series, list[str], list[Any]] | None:
    """Labels of drawn and hidden rows, the classes in order and their colours.

    None when the column is continuous: numbers or datetimes with more than
    `MAX_CATEGORIES` distinct values (UTC dates), unless ``keys.categorical``.
    """
    import matplotlib.pyplot as plt

    hidden = hidden if hidden is not None else values.iloc[:0]
    both = pd.concat([values, hidden])
    if pd.api.types.is_datetime64_any_dtype(values):

        def day(v: pd.Series) -> pd.Series:
            utc = v.dt.tz_convert("UTC") if v.dt.tz is not None else v
            return utc.dt.strftime("%Y-%m-%d").astype("string").fillna("(none)")

        if day(both).nunique() > MAX_CATEGORIES and not keys.categorical:
            return None
        labels, hidden_labels = day(values), day(hidden)
        order = sorted(set(labels) | set(hidden_labels))  # dates in time order
        cmap = plt.get_cmap(keys.cmap or "viridis")
        palette = [cmap(x) for x in np.linspace(0, 0.9, len(order))]
        return labels, hidden_labels, order, palette
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and both.nunique() > MAX_CATEGORIES // 2 and not keys.categorical:
        return None
    labels = values.astype("string").fillna("(none)")
    hidden_labels = hidden.astype("string").fillna("(none)")
    present = set(labels) | set(hidden_labels)
    if values.name == "status":
        order = [s for s in STATUS_COLORS if s in present]
        order = sorted(present - set(order)) + order  # unknown statuses first (bottom)
        return labels, hidden_labels, order, [STATUS_COLORS.get(k, "#757575") for k in order]
    if numeric:
        order = [str(v) for v in sorted(both.dropna().unique())]
        order += ["(none)"] if "(none)" in present else []
    else:
        order = sorted(present)
    cmap = plt.get_cmap(keys.cmap or "tab20", max(len(order), 1))
    return labels, hidden_labels, order, [cmap(i) for i in range(len(order))]


def _mark_small(
    ax: Axes, data: gpd.GeoDataFrame, colors: list[Any], bounds: tuple[float, float, float, float]
) -> None:
    """Mark tiles too small to see at this scale (under `SMALL_TILE_PIXELS`) with a dot."""
    if not len(data):
        return
    boxes = data.geometry.bounds.to_numpy()
    size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    small = size * _pixels_per_degree(ax, bounds) < SMALL_TILE_PIXELS
    if not small.any():
        return
    points = data.geometry[small].representative_point()
    ax.scatter(
        points.x,
        points.y,
        s=30,
        c=[colors[i] for i in np.flatnonzero(small)],
        edgecolors="black",
        linewidths=0.6,
        zorder=3,
        label="_small tiles",
    )


def _pixels_per_degree(ax: Axes, bounds: tuple[float, float, float, float]) -> float:
    """Pixels one degree takes on ``ax`` showing ``bounds`` (the smaller of x and y).

    From the axes' box in the figure, before any layout engine moves it: close enough to
    tell a tile of a few pixels from one of less than one.
    """
    box = ax.get_window_extent()  # in pixels at the figure's dpi
    span_x = max(bounds[2] - bounds[0], 1e-9)
    span_y = max(bounds[3] - bounds[1], 1e-9)
    return float(min(box.width / span_x, box.height / span_y))


def _background(ax: Axes, bounds: tuple[float, float, float, float], basemap: Any) -> None:
    if basemap is False:
        return
    if basemap is None and os.environ.get(_OFFLINE_ENV):
        _draw_land(ax)
        return
    source = None if basemap in (None, True) else basemap
    image, problem = _fetch_tiles(bounds, source)
    if image is None:
        if not _fallback_said.is_set():
            _fallback_said.set()
            warnings.warn(
                f"no basemap tiles ({problem}): drawing the land layer shipped with "
                f"byocframe instead; set {_OFFLINE_ENV}=1 to skip the download "
                "(said once per process)",
                ByocframeWarning,
                stacklevel=user_stacklevel(),
            )
        _draw_land(ax)
        return
    pixels, extent = image
    ax.imshow(pixels, extent=extent, interpolation="bilinear", zorder=0)


def _fetch_tiles(bounds: tuple[float, float, float, float], source: Any) -> tuple[Any, str]:
    """Fetch web tiles for ``bounds`` on a worker thread; give up after BASEMAP_TIMEOUT."""
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            import contextily as ctx

            provider = source if source is not None else ctx.providers.OpenStreetMap.Mapnik
            west, south, east, north = bounds
            south, north = max(south, -85.0), min(north, 85.0)
            img, ext = ctx.bounds2img(west, south, east, north, ll=True, source=provider)
            img, ext = ctx.warp_tiles(img, ext, t_crs="EPSG:4326")
            result["image"] = (img, (ext[0], ext[1], ext[2], ext[3]))
        except Exception as err:  # the library's own text is many lines of urllib3
            result["problem"] = _reason(err)

    thread = threading.Thread(target=work, name="byocframe-basemap", daemon=True)
    thread.start()
    thread.join(BASEMAP_TIMEOUT)
    if thread.is_alive():
        return None, f"no answer within {BASEMAP_TIMEOUT:.0f} s"
    return result.get("image"), result.get("problem", "")


def _reason(err: BaseException) -> str:
    """A few words on why tiles did not come: the innermost cause's type."""
    cause: BaseException = err
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(err).lower()
    if "name resolution" in text or "nodename" in text or "name or service" in text:
        return "the tile server's name does not resolve"
    if "refused" in text:
        return "connection refused"
    if "timed out" in text or "timeout" in text:
        return "timed out"
    return type(cause).__name__


def _draw_land(ax: Axes) -> None:
    from byocframe.frame.synthetic import land

    ax.set_facecolor("#dceaf5")
    gpd.GeoSeries([land()], crs="EPSG:4326").plot(
        ax=ax, color="#f1efe6", edgecolor="#b9b4a5", linewidth=0.4, zorder=0
    )

"""Colouring a coverage map by a column: its classes, their legend or a colour bar.

Up to `MAX_CATEGORIES` distinct values (UTC dates for datetimes) get a colour each and a
legend that also counts the tiles without a geometry; more get a colour bar. Tiles too
small to see (under `SMALL_TILE_PIXELS`) get a dot. Drawn with matplotlib, imported
only when drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from byocframe.maps.columns import STATUS_COLORS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MAX_CATEGORIES", "SMALL_TILE_PIXELS", "LegendKeys", "draw_column", "mark_small"]

_DRAW_ORDER = ("INGESTED", "INGESTING", "QUEUED", "WAITING", "FAILED")  # FAILED on top
#: A tile drawn smaller than this, in pixels each way, also gets a dot so that it shows.
SMALL_TILE_PIXELS = 2.0
#: At most this many distinct values (UTC dates for datetimes) are coloured as
#: categories with a legend; more get a continuous colour bar.
MAX_CATEGORIES = 12


@dataclass(frozen=True)
class LegendKeys:
    """The keywords of `geopandas.GeoDataFrame.plot` that decide classes and legend.

    Examples
    --------
    >>> LegendKeys(legend=False).cmap is None
    True
    """

    legend: bool = True
    legend_kwds: dict[str, Any] = field(default_factory=dict)
    cmap: Any = None
    categorical: bool = False


def draw_column(
    ax: Axes,
    data: gpd.GeoDataFrame,
    column: str,
    style: dict[str, Any],
    hidden: pd.DataFrame,
    bounds: tuple[float, float, float, float],
    inside: np.ndarray | None,
    keys: LegendKeys,
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
        mark_small(ax, data, facecolors, bounds)
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


def _categories(
    values: pd.Series, hidden: pd.Series | None, keys: LegendKeys
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


def mark_small(
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

"""Tiles per sensing date, stacked by status, with the covered area on a second axis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from byocframe.maps.columns import STATUS_COLORS
from byocframe.tools.groups import group_labels
from byocframe.tools.stats import coverage

__all__ = ["TIMELINE_HEADROOM", "plot_timeline"]

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes


#: The covered-area axis of `plot_timeline` reaches this multiple of the largest value.
TIMELINE_HEADROOM = 1.15


def plot_timeline(
    frame: gpd.GeoDataFrame, *, freq: str | None = None, ax: Axes | None = None
) -> Axes:
    """Tiles per sensing date (stacked by status) and the covered area on a second axis.

    Parameters
    ----------
    frame : GeoDataFrame
    freq : str, optional
        A pandas frequency (``"W"``, ``"MS"``); per UTC date by default.
    ax : matplotlib Axes, optional

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(100, seed=1))
    >>> ax = plot_timeline(gdf)
    >>> len(ax.patches)  # 4 dates, all tiles INGESTED
    4
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4), layout="constrained")
    by = freq or "sensing_time"
    labels = group_labels(frame, by)
    counts = pd.crosstab(labels, frame["status"].astype("string"))
    order = [s for s in STATUS_COLORS if s in counts.columns]
    counts = counts[order]
    positions = np.arange(len(counts))
    bottom = np.zeros(len(counts))
    for status in order:
        ax.bar(
            positions,
            counts[status],
            bottom=bottom,
            color=STATUS_COLORS[status],
            label=status,
            width=0.8,
        )
        bottom += counts[status].to_numpy()
    ax.set_xticks(positions, [_label(k) for k in counts.index], rotation=45, ha="right")
    ax.set_ylabel("tiles")
    if order:  # matplotlib warns about a legend without entries
        ax.legend(loc="upper left", fontsize="small")
    area = coverage(frame, by=by)["covered_km2"].reindex(counts.index)
    twin = ax.twinx()
    heights = area.to_numpy(dtype=float, na_value=np.nan) / 1e6
    twin.plot(positions, heights, color="black", marker="o", linewidth=1)
    twin.set_ylabel("covered area (million km²)")
    # set_ylim(bottom=0) alone keeps the autoscaled top, which sits on a flat line's
    # markers (a mosaic repeated per date): leave room below the title
    highest = np.nanmax(heights, initial=0.0)
    twin.set_ylim(0, highest * TIMELINE_HEADROOM if highest > 0 else 1)
    ax.set_title(f"{len(frame):,} tiles per {'date' if freq is None else freq}")
    return ax


def _label(key: Any) -> str:
    if isinstance(key, pd.Timestamp):
        return f"{key:%Y-%m-%d}"
    return str(key)

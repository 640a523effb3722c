"""Coverage maps and timelines (matplotlib, imported only when drawing)."""

from __future__ import annotations

import os
import threading
import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from byocframe.coverage import aoi_geometry, coverage, group_labels
from byocframe.exceptions import ByocframeWarning

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["STATUS_COLORS", "plot_coverage", "plot_timeline"]

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
        number or a datetime such as ``"sensing_time"`` (colorbar).
    ax : matplotlib Axes, optional
    basemap : bool, str or contextily provider, optional
        None: web tiles unless ``BYOCFRAME_OFFLINE`` is set; False: none; True, a
        provider or a tile URL. When tiles cannot be fetched within a few seconds, the
        Natural Earth land layer shipped with byocframe is drawn instead, with a warning.
    aoi : optional
        An area of interest to outline (see `byocframe.coverage.aoi_geometry`).
    title : str, optional
        Defaults to counts of tiles and dates.
    **style
        Passed to `geopandas.GeoDataFrame.plot` (``alpha``, ``edgecolor``, ...).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(100, seed=1))
    >>> ax = plot_coverage(gdf, basemap=False)
    >>> ax.get_legend().get_title().get_text()
    'status'
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(12, 6.6), layout="constrained")
    data = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    data = data.to_crs("EPSG:4326") if data.crs is not None else data
    if column is None and "status" in frame.columns:
        column = "status"
    region = aoi_geometry(aoi) if aoi is not None else None
    bounds = _extent(data, region)
    _background(ax, bounds, basemap)
    style = {"linewidth": 0.3, "alpha": 0.75, **style}
    if column is None:
        data.plot(ax=ax, color=style.pop("color", "#1565c0"), **style)
    else:
        _draw_column(ax, data, column, style)
    if region is not None:
        gpd.GeoSeries([region], crs="EPSG:4326").boundary.plot(
            ax=ax, color="black", linewidth=1.2, linestyle="--"
        )
    ax.set_xlim(bounds[0], bounds[2])
    ax.set_ylim(bounds[1], bounds[3])
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title or _title(frame, len(data)))
    return ax


def _title(frame: gpd.GeoDataFrame, drawn: int) -> str:
    dates = 0
    if "sensing_time" in frame.columns:
        dates = int(group_labels(frame, "sensing_time").nunique())
    hidden = len(frame) - drawn
    text = f"{len(frame):,} tiles on {dates} dates"
    if hidden:
        text += f" ({hidden:,} without geometry not drawn)"
    return text


def _extent(data: gpd.GeoDataFrame, region: Any) -> tuple[float, float, float, float]:
    boxes = [data.total_bounds] if len(data) else []
    if region is not None:
        boxes.append(np.asarray(region.bounds))
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


def _draw_column(ax: Axes, data: gpd.GeoDataFrame, column: str, style: dict[str, Any]) -> None:
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    values = data[column]
    if (
        column == "status"
        or isinstance(values.dtype, pd.CategoricalDtype)
        or (values.dtype == object or pd.api.types.is_string_dtype(values))
    ):
        if column == "status":  # problems last, so they are drawn on top
            rank = {"INGESTED": 0, "INGESTING": 1, "QUEUED": 2, "WAITING": 3, "FAILED": 4}
            data = data.iloc[np.argsort(values.map(rank).to_numpy(), kind="stable")]
            values = data[column]
        labels = values.astype("string").fillna("(none)")
        order = (
            [s for s in STATUS_COLORS if s in set(labels)]
            if column == "status"
            else sorted(set(labels))
        )
        cmap = plt.get_cmap("tab20", max(len(order), 1))
        colors = {k: STATUS_COLORS.get(k, cmap(i)) for i, k in enumerate(order)}
        if column != "status":
            colors = {k: cmap(i) for i, k in enumerate(order)}
        data.plot(ax=ax, color=[colors[v] for v in labels], **style)
        counts = labels.value_counts()
        handles = [Patch(facecolor=colors[k], label=f"{k} ({counts[k]:,})") for k in order]
        ax.legend(handles=handles, title=column, loc="lower left", fontsize="small")
        return
    if pd.api.types.is_datetime64_any_dtype(values):
        numbers = mdates.date2num(values.dt.tz_convert("UTC").dt.tz_localize(None))
        plotted = data.assign(_value=numbers)
        plotted.plot(ax=ax, column="_value", cmap="viridis", **style)
        mappable = ax.collections[-1]
        bar = plt.colorbar(mappable, ax=ax, shrink=0.7, label=f"{column} (UTC)")
        bar.ax.yaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        return
    data.plot(
        ax=ax,
        column=column,
        cmap="viridis",
        legend=True,
        legend_kwds={"shrink": 0.7, "label": column},
        **style,
    )


def _background(ax: Axes, bounds: tuple[float, float, float, float], basemap: Any) -> None:
    if basemap is False:
        return
    if basemap is None and os.environ.get(_OFFLINE_ENV):
        _draw_land(ax)
        return
    source = None if basemap in (None, True) else basemap
    image, problem = _fetch_tiles(bounds, source)
    if image is None:
        warnings.warn(
            f"basemap tiles could not be fetched ({problem}); drawing the Natural Earth "
            "land layer shipped with byocframe instead (basemap=False draws none)",
            ByocframeWarning,
            stacklevel=3,
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
        except Exception as err:
            result["problem"] = f"{type(err).__name__}: {err}"[:200]

    thread = threading.Thread(target=work, name="byocframe-basemap", daemon=True)
    thread.start()
    thread.join(BASEMAP_TIMEOUT)
    if thread.is_alive():
        return None, f"no answer within {BASEMAP_TIMEOUT:.0f} s"
    return result.get("image"), result.get("problem", "")


def _draw_land(ax: Axes) -> None:
    from byocframe.synthetic import land

    ax.set_facecolor("#dceaf5")
    gpd.GeoSeries([land()], crs="EPSG:4326").plot(
        ax=ax, color="#f1efe6", edgecolor="#b9b4a5", linewidth=0.4, zorder=0
    )


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
    >>> from byocframe.synthetic import synthetic_tiles
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
    ax.legend(loc="upper left", fontsize="small")
    area = coverage(frame, by=by)["covered_km2"].reindex(counts.index)
    twin = ax.twinx()
    twin.plot(positions, area.to_numpy() / 1e6, color="black", marker="o", linewidth=1)
    twin.set_ylabel("covered area (million km²)")
    twin.set_ylim(bottom=0)
    ax.set_title(f"{len(frame):,} tiles per {'date' if freq is None else freq}")
    return ax


def _label(key: Any) -> str:
    if isinstance(key, pd.Timestamp):
        return f"{key:%Y-%m-%d}"
    return str(key)

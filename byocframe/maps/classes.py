"""Colour classes of a tile map: one class per status, date or value, or six equal-count bins.

`classes` gives the labels and colours in drawing order and each row's class; `explore`
draws them as legend entries and layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from byocframe.maps.columns import STATUS_COLORS

__all__ = ["MAX_CLASSES", "NONE_COLOR", "STATUS_ORDER", "classes", "colormap", "palette"]

STATUS_ORDER = ("INGESTED", "INGESTING", "QUEUED", "WAITING", "FAILED")  # FAILED on top


NONE_COLOR = "#757575"


MAX_CLASSES = 12


def colormap(cmap: Any) -> Any:
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


def classes(
    frame: pd.DataFrame, column: str | None, cmap: Any = None, *, categorical: bool = False
) -> tuple[list[str], list[str], np.ndarray]:
    """Class labels and colours in drawing order, and each row's class.

    ``cmap`` (a matplotlib Colormap or None) replaces the column's default colours.
    ``categorical``: each value its own class (up to `MAX_CLASSES`), numbers and dates
    too, as geopandas' ``explore(categorical=True)``.

    Examples
    --------
    >>> frame = pd.DataFrame({"n": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 7.0]})
    >>> len(classes(frame, "n")[0]), len(classes(frame, "n", categorical=True)[0])
    (6, 7)
    """
    if column is None:
        color = palette(cmap, 1)[0] if cmap is not None else STATUS_COLORS["INGESTING"]
        return ["tiles"], [color], np.zeros(len(frame), dtype=int)
    values = frame[column]
    if column == "status":
        present = set(values.dropna().astype(str))
        order = [s for s in STATUS_ORDER if s in present]
        order = sorted(present - set(order)) + order  # unknown statuses first (bottom)
        colors = [STATUS_COLORS.get(s, NONE_COLOR) for s in order]
        if cmap is not None:
            colors = palette(cmap, len(order))
        return _with_none(values.astype("string"), order, colors)
    if pd.api.types.is_datetime64_any_dtype(values) and not categorical:
        utc = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
        days = utc.dt.strftime("%Y-%m-%d")
        if days.nunique() > MAX_CLASSES:
            return _binned(utc, cmap)
        order = sorted(days.dropna().unique())  # one class per UTC date, in time order
        return _with_none(days.astype("string"), order, palette(cmap or "viridis", len(order)))
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique() > 6 and not categorical:
        return _binned(values, cmap)
    labels = values.astype("string")
    counts = labels.value_counts()
    order = [str(k) for k in counts.index[:MAX_CLASSES]]
    if len(counts) > MAX_CLASSES:
        labels = labels.where(labels.isin(order) | labels.isna(), "(other)")
        order.append("(other)")
    return _with_none(labels, order, palette(cmap or "tab20", len(order)))


def _with_none(
    labels: pd.Series, order: list[str], colors: list[str]
) -> tuple[list[str], list[str], np.ndarray]:
    codes = pd.Categorical(labels, categories=order).codes.astype(int)
    if (codes < 0).any():  # missing values get their own grey class, drawn first
        return ["(none)", *order], [NONE_COLOR, *colors], codes + 1
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
    return _with_none(labels.astype("string"), names, palette(cmap or "viridis", len(names)))


def palette(name: Any, n: int) -> list[str]:
    """``n`` colours of a colormap (a name or a Colormap)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps[name] if isinstance(name, str) else name
    if cmap.N < 256:  # qualitative: take its colours in order
        return [to_hex(cmap(i % cmap.N)) for i in range(n)]
    return [to_hex(cmap(x)) for x in np.linspace(0, 0.9, max(n, 1))[:n]]

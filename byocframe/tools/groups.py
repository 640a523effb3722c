"""Groups of tiles for the statistics' ``by=``: one group, a column, a date or a period."""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

__all__ = ["PERIODS", "group_labels"]

#: Words ``by=`` takes for a period of ``sensing_time``, and the pandas frequency of each
#: (the periods start on their first day; a week ends on Sunday, as pandas' ``"W"``).
PERIODS = {
    "day": "D",
    "week": "W",
    "month": "MS",
    "quarter": "QS",
    "year": "YS",
}


def group_labels(frame: pd.DataFrame, by: str | None) -> pd.Series:
    """The group of each row for ``by``: None (one group), a column, or a frequency.

    ``"sensing_time"`` (or ``"date"``) groups by UTC date; a period (``"day"``,
    ``"week"``, ``"month"``, ``"quarter"``, ``"year"``, plural or ``-ly`` too, see
    `PERIODS`) or a pandas frequency such as ``"MS"`` or ``"W"`` bins ``sensing_time``.

    Examples
    --------
    >>> frame = pd.DataFrame({"sensing_time": pd.to_datetime(
    ...     ["2024-06-03T10:00Z", "2024-06-28T10:00Z", "2024-07-01T10:00Z"])})
    >>> [f"{t:%Y-%m-%d}" for t in group_labels(frame, "month")]
    ['2024-06-01', '2024-06-01', '2024-07-01']
    """
    if by is None:
        return pd.Series("all", index=frame.index, name="group")
    if by == "sensing_time" or by == "date":
        times = frame["sensing_time"]
        return times.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize().rename("date")
    if by in frame.columns:
        return frame[by].rename(by)
    try:
        offset = pd.tseries.frequencies.to_offset(_period(by))
    except ValueError:
        names = [str(c) for c in frame.columns] + ["date", *PERIODS]
        close = difflib.get_close_matches(by, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"by={by!r} is neither a column nor a pandas frequency (e.g. 'D', 'W', 'MS') "
            f"nor a period ({', '.join(PERIODS)}){hint}"
        ) from None
    times = frame["sensing_time"].dt.tz_convert("UTC").dt.tz_localize(None)
    bins = pd.DataFrame({"t": times.to_numpy()}).groupby(pd.Grouper(key="t", freq=offset))
    labels = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[us]")
    for key, positions in bins.indices.items():
        labels[positions] = np.datetime64(key, "us")
    return pd.Series(labels, index=frame.index, name="period")


def _period(by: str) -> str:
    """``"month"``, ``"months"``, ``"monthly"`` as ``"MS"``; anything else unchanged."""
    word = by.strip().lower()
    for suffix in ("ly", "s", ""):
        stem = word.removesuffix(suffix) if suffix else word
        if stem in PERIODS:
            return PERIODS[stem]
    return "D" if word == "daily" else by

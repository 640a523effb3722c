"""A one-look summary of a tile frame: statuses, dates, CRSs, failures, covered area."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from byocframe.tools.stats import coverage

__all__ = ["Summary", "failure_kind", "summarize"]

_SHOWN = 5  # failure causes listed in the text and HTML views


@dataclass
class Summary:
    """What a tile frame holds; prints as text, and as tables in a notebook.

    Attributes
    ----------
    tiles : int
    statuses : dict of str to int
        Tiles per status, in lifecycle order (zero counts left out).
    first, last : pandas.Timestamp or None
        Earliest and latest sensing time.
    dates : int
        Distinct UTC sensing dates.
    crs : dict of str to int
        Tiles per native CRS.
    failures : dict of str to int
        FAILED tiles per kind of ingestion failure (`failure_kind`: the cause with its
        tile's own paths reduced to the file name, so one missing band is one line).
    without_geometry : int
        Tiles with no footprint yet.
    covered_km2 : float
        Area of the union of all footprints (equal-area, WGS84 ellipsoid).
    """

    tiles: int
    statuses: dict[str, int]
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    dates: int
    crs: dict[str, int]
    failures: dict[str, int] = field(default_factory=dict)
    without_geometry: int = 0
    covered_km2: float = 0.0

    def __repr__(self) -> str:
        statuses = ", ".join(f"{k}={v:,}" for k, v in self.statuses.items())
        causes = sorted(self.failures.items(), key=lambda kv: -kv[1])
        shown = "; ".join(f"{cause}: {n:,}" for cause, n in causes[:3])
        more = f" and {len(causes) - 3} more" if len(causes) > 3 else ""
        failures = f", failures=[{shown}{more}]" if causes else ""
        return (
            f"Summary(tiles={self.tiles:,}, {statuses}, dates={self.dates}, "
            f"crs={len(self.crs)}, covered_km2={self.covered_km2:,.0f}{failures})"
        )

    def __str__(self) -> str:
        lines = [f"{self.tiles:,} tiles, {self.covered_km2:,.0f} km2 covered"]
        lines.append("status: " + ", ".join(f"{k} {v:,}" for k, v in self.statuses.items()))
        if self.first is not None:
            lines.append(
                f"sensing: {self.first:%Y-%m-%d %H:%M} to {self.last:%Y-%m-%d %H:%M} UTC "
                f"on {self.dates} dates"
            )
        lines.append(f"CRS: {len(self.crs)} in use ({_top(self.crs)})")
        if self.without_geometry:
            lines.append(f"without geometry: {self.without_geometry}")
        causes = sorted(self.failures.items(), key=lambda kv: -kv[1])
        for cause, count in causes[:_SHOWN]:
            lines.append(f"FAILED: {str(cause).rstrip('.')}: {count:,} tiles")
        if len(causes) > _SHOWN:
            lines.append(f"... and {len(causes) - _SHOWN} more kinds of failure")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = [
            ("tiles", f"{self.tiles:,}"),
            ("covered", f"{self.covered_km2:,.0f} km²"),
            ("status", ", ".join(f"{k}: {v:,}" for k, v in self.statuses.items())),
            (
                "sensing",
                "none"
                if self.first is None
                else f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d} ({self.dates} dates)",
            ),
            ("CRS", f"{len(self.crs)} ({_top(self.crs)})"),
            ("without geometry", f"{self.without_geometry:,}"),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        causes = sorted(self.failures.items(), key=lambda kv: -kv[1])
        failures = "".join(
            f"<tr><td style='text-align:right'>{n}</td><td style='text-align:left'>"
            f"{html.escape(cause)}</td></tr>"
            for cause, n in causes[:_SHOWN]
        )
        if len(causes) > _SHOWN:
            failures += f"<tr><td></td><td>... and {len(causes) - _SHOWN} more causes</td></tr>"
        extra = (
            f"<p><b>Failures</b></p><table><tr><th>tiles</th><th>cause</th></tr>{failures}</table>"
            if failures
            else ""
        )
        return f"<div><table>{body}</table>{extra}</div>"


_PATH = re.compile(r"[^\s'\"]*/([^\s/'\"]+)")


def failure_kind(cause: str) -> str:
    """A failure cause with its tile's own paths reduced to the file name.

    Examples
    --------
    >>> failure_kind("File s3://bucket/tiles/2024/06/01/31T/123/B08.tif not found.")
    'File B08.tif not found.'
    >>> failure_kind("File tiles/2024/06/01/22S/569/B08.tif not found.")
    'File B08.tif not found.'
    """
    return _PATH.sub(r"\1", cause)


def _top(counts: dict[str, int], n: int = 3) -> str:
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{k} {v:,}" for k, v in items[:n])
    return shown + (", ..." if len(items) > n else "")


def summarize(frame: gpd.GeoDataFrame) -> Summary:
    """Summarise a tile frame.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> summary = summarize(byocframe.tiles_from_records(synthetic_tiles(200, seed=1)))
    >>> summary.tiles, summary.dates
    (200, 4)
    """
    status = frame["status"]
    counts = status.value_counts(sort=False)
    statuses = {str(k): int(v) for k, v in counts.items() if v}
    times = frame["sensing_time"].dropna()
    failed = frame.loc[status == "FAILED", "failed_ingestion_cause"].fillna("(no cause given)")
    stats = coverage(frame)
    return Summary(
        tiles=len(frame),
        statuses=statuses,
        first=times.min() if len(times) else None,
        last=times.max() if len(times) else None,
        dates=int(times.dt.tz_convert("UTC").dt.normalize().nunique()),
        crs={str(k): int(v) for k, v in frame["native_crs"].value_counts().items()},
        failures={
            str(k): int(v) for k, v in failed.astype(str).map(failure_kind).value_counts().items()
        },
        without_geometry=int(frame.geometry.isna().sum()),
        covered_km2=float(stats["covered_km2"].sum()) if len(stats) else 0.0,
    )

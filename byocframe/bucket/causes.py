"""FAILED tiles grouped by the ingestion rule their cause names, with the fix."""

from __future__ import annotations

import re

import pandas as pd

from byocframe.bucket.rules import RULES

__all__ = ["failure_causes"]


def _cause_patterns() -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for rule in RULES:
        if not rule.service or rule.id == "header":
            continue
        text = re.escape(rule.service)
        out.append((rule.id, re.compile(re.sub(r"\\\{[a-z_]+\\\}", ".+?", text) + "$")))
    return out


def failure_causes(tiles: pd.DataFrame) -> pd.DataFrame:
    """FAILED tiles grouped by the rule their ``failed_ingestion_cause`` names.

    Returns
    -------
    DataFrame
        Indexed by rule (``unknown`` for causes the table does not know, e.g.
        "Unexpected error occurred while ingesting the tile"): ``tiles`` (count),
        ``example`` (a cause as the service wrote it), ``example_path``, ``requirement``
        and ``fix``.

    Examples
    --------
    >>> frame = pd.DataFrame({"path": ["a/(BAND).tif", "b/(BAND).tif"],
    ...     "status": ["FAILED", "FAILED"],
    ...     "failed_ingestion_cause": ["Unsupported CRS EPSG:2056", "Unsupported CRS EPSG:27700"]})
    >>> failure_causes(frame)[["tiles", "example"]].values.tolist()
    [[2, 'Unsupported CRS EPSG:2056']]
    """
    failed = tiles[tiles["status"].astype(object) == "FAILED"]
    patterns = _cause_patterns()
    table = {r.id: r for r in RULES}
    kinds = []
    for cause in failed.get("failed_ingestion_cause", pd.Series(dtype=object)).fillna(""):
        kinds.append(next((rid for rid, rx in patterns if rx.match(str(cause))), "unknown"))
    grouped = pd.DataFrame(
        {"rule": kinds, "cause": failed.get("failed_ingestion_cause"), "path": failed["path"]}
    ).groupby("rule", sort=False)
    rows = []
    for rid, group in grouped:
        rule = table.get(str(rid))
        rows.append(
            {
                "rule": rid,
                "tiles": len(group),
                "example": group["cause"].iloc[0],
                "example_path": group["path"].iloc[0],
                "requirement": rule.requirement if rule else "see the cause",
                "fix": rule.fix_for() if rule else "run byocframe.check() on the tile's files",
            }
        )
    columns = ["rule", "tiles", "example", "example_path", "requirement", "fix"]
    return (
        pd.DataFrame(rows, columns=columns).set_index("rule").sort_values("tiles", ascending=False)
    )

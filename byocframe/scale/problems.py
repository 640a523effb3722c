"""The edits a push would refuse, found over a partitioned dataset.

`byocframe.edits.diff.plan` lists them for one frame (``Plan.problems``): read-only
fields edited, covers that are not polygons, new rows without a path, and new rows
whose path another row of the frame has (a path is one tile). A partition's own `plan`
finds all but the last across partitions, so `byocframe.scale.partitioned` takes each
partition's problems except the repeated paths (`partition_rows`) and finds those over
the whole dataset (`repeated_paths`), with the rule of `plan`: a new row's path must
not be a loaded row's, nor an earlier new row's, partitions taken in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from byocframe.edits.plans import Plan
from byocframe.exceptions import ValidationError

__all__ = ["NEW_PATH", "PROBLEM", "PartitionedPlan", "partition_rows", "repeated_paths"]

#: ``action`` of the report rows that carry a problem (``old``: its text, ``new``: the
#: value) or a new row's path (``new``); never in a returned table.
PROBLEM = "\0problem"
NEW_PATH = "\0new-path"
#: How `plan` words a repeated path (the combine step finds those over every partition).
_REPEATED = "another row has the path"
_NEW_ROW = re.compile(r"^new row (\d+)")


@dataclass
class PartitionedPlan:
    """The changes of a partitioned dataset and the edits a push would refuse.

    ``changes`` is what `byocframe.scale.partitioned.partitioned_changes` returns;
    ``problems`` are ``Plan.problems`` of the whole dataset (``id``, ``field``,
    ``value``, ``problem``, plus ``partition``), in partition and row order, a row
    numbered within its partition; ``collection`` is the partitions' collection.
    """

    changes: pd.DataFrame
    problems: list[dict[str, Any]] = field(default_factory=list)
    collection: str = ""

    def check(self) -> None:
        """Refuse the plan as a push refuses a frame's: `ValidationError` listing problems.

        Examples
        --------
        >>> problem = {"id": None, "field": "path", "value": "a.tif", "partition": 1,
        ...            "problem": "new row 0 of partition 1: another row has the path 'a.tif'"}
        >>> PartitionedPlan(pd.DataFrame(), [problem]).check()
        Traceback (most recent call last):
        ...
        byocframe.exceptions.ValidationError: 1 edit(s) cannot be pushed (nothing was sent); \
only sensing_time and the cover (a polygon) can change, and each new row needs a path \
of its own, over all partitions:
        path: new row 0 of partition 1: another row has the path 'a.tif'
        """
        if self.problems:
            raise ValidationError.of_edits(
                self.problems,
                "tile",
                "only sensing_time and the cover (a polygon) can change, and each new row "
                "needs a path of its own, over all partitions",
            )


def partition_rows(part: pd.DataFrame, found: Plan, number: int) -> pd.DataFrame:
    """A partition's problems (its repeated paths left out) and new paths, as report rows.

    ``row`` is the row's position in the partition; a problem's text names it as
    ``new row N of partition P`` where `plan` wrote ``new row N``.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.edits.diff import plan
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> new = gdf.iloc[[0]].drop(columns="loaded").reset_index(drop=True).assign(path=None)
    >>> frame = pd.concat([gdf, new])
    >>> rows = partition_rows(frame, plan(frame), 2)
    >>> rows["old"].dropna().tolist(), rows["row"].tolist()
    (['new row 3 of partition 2 has no path'], [3, 3])
    """
    ids = pd.Index(part.index.astype(object))
    rows: list[tuple[Any, ...]] = []
    for p in found.problems:
        text = str(p["problem"])
        if p["id"] is None and p["field"] == "path" and _REPEATED in text:
            continue  # found over every partition instead
        numbered = _NEW_ROW.match(text)
        if numbered:
            row = int(numbered.group(1))
            text = _NEW_ROW.sub(f"new row {row} of partition {number}", text, count=1)
        else:
            where = ids.get_loc(p["id"]) if p["id"] in ids else len(part)
            row = where if isinstance(where, int) else len(part)
        rows.append((p["id"], p["field"], text, p["value"], PROBLEM, row))
    rows += [(None, "path", None, c.path, NEW_PATH, int(c.position)) for c in found.creates]
    return pd.DataFrame(rows, columns=["id", "field", "old", "new", "action", "row"], dtype=object)


def repeated_paths(new_paths: pd.DataFrame, taken: set[str]) -> list[dict[str, Any]]:
    """Problems for the new rows whose path a loaded row or an earlier new row has.

    Parameters
    ----------
    new_paths : pandas.DataFrame
        ``partition``, ``row`` and ``new`` (the path, None when missing) of every new
        row of the dataset.
    taken : set of str
        The paths the loaded rows of the dataset hold now.

    Returns
    -------
    list of dict
        ``Plan.problems`` entries with ``partition`` and ``_row`` (for ordering).

    Examples
    --------
    >>> rows = pd.DataFrame({"partition": [1, 0, 2], "row": [0, 5, 1],
    ...                      "new": ["a.tif", "a.tif", "b.tif"]})
    >>> [p["problem"] for p in repeated_paths(rows, {"b.tif"})]
    ["new row 0 of partition 1: another row has the path 'a.tif' (a path is one tile)", \
"new row 1 of partition 2: another row has the path 'b.tif' (a path is one tile)"]
    """
    ordered = new_paths.sort_values(["partition", "row"], kind="stable")
    seen: set[str] = set()
    out = []
    for number, row, path in zip(
        ordered["partition"].to_numpy(np.int64),
        ordered["row"].to_numpy(np.int64),
        ordered["new"].to_numpy(object),
        strict=True,
    ):
        if path is None or pd.isna(path):
            continue
        if path in taken or path in seen:
            out.append(
                {
                    "id": None,
                    "field": "path",
                    "value": path,
                    "problem": f"new row {row} of partition {number}: {_REPEATED} {path!r} "
                    "(a path is one tile)",
                    "partition": int(number),
                    "_row": int(row),
                }
            )
        seen.add(path)
    return out

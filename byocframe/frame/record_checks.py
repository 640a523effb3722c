"""Finding the values of API records that byocframe cannot read, and reporting them.

One bad value must not make a collection unreadable: each check returns what it can
use (a bad value becomes a missing one) and a list of problems, and `report` then
raises one `~byocframe.exceptions.ValidationError` or emits one
`~byocframe.exceptions.ByocframeWarning` for all of them, as ``errors=`` asks.

A problem is a dict with ``row`` (position in the records), ``id``, ``field``,
``value`` and ``problem``.

Examples
--------
>>> tiles = [{"id": "a", "status": "INGESTED"}, {"id": "b", "status": "PAUSED"}]
>>> statuses, problems = check_statuses(tiles, ["a", "b"])
>>> statuses, [p["problem"] for p in problems]
(['INGESTED', None], ["unknown status 'PAUSED'"])
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from byocframe.exceptions import ByocframeWarning, ValidationError, user_stacklevel
from byocframe.frame.records import STATUSES, parse_datetimes
from byocframe.ids import check_id

__all__ = [
    "Errors",
    "check_additional",
    "check_errors",
    "check_ids",
    "check_statuses",
    "check_times",
    "duplicates",
    "problem",
    "report",
]

#: What to do with records byocframe cannot read in full.
Errors = Literal["raise", "warn"]

#: Problems listed in a raised error; a warning names the first few tiles only.
MAX_LISTED = 10
MAX_WARNED = 5

#: What loading does with each bad value, said in the warning.
CONSEQUENCE = {
    "id": "the row is left out",
    "path": "it is kept without a path",
    "status": "its status is set to NaN",
    "coverGeometry": "its cover geometry is set to None",
    "tileGeometry": "its tile geometry is set to None",
    "additionalData": "its additional data is left out",
}


def check_errors(errors: object) -> None:
    """Refuse an ``errors=`` argument other than "raise" or "warn"."""
    if errors not in ("raise", "warn"):
        raise ValueError(f"errors must be 'raise' or 'warn', got {errors!r}")


def problem(pos: int, tid: Any, field: str, value: Any, text: str) -> dict[str, Any]:
    """One problem of the record at position ``pos``."""
    return {"row": pos, "id": tid, "field": field, "value": value, "problem": text}


def check_ids(recs: Sequence[Mapping[str, Any]], kind: str) -> tuple[list[Any], list[dict]]:
    """The ids of the records (None where unusable) and the problems with them.

    An id goes into URLs later, so it must be a plain id (`byocframe.ids.check_id`).

    Examples
    --------
    >>> ids, problems = check_ids([{"id": "a"}, {}, {"id": "x/y"}], "tile")
    >>> ids, [p["problem"] for p in problems]
    (['a', None, None], ['missing tile id', "not a plain tile id: 'x/y'"])
    """
    ids: list[Any] = []
    problems = []
    for pos, rec in enumerate(recs):
        value = rec.get("id")
        try:
            ids.append(check_id(value, kind))
        except ValidationError:
            ids.append(None)
            text = f"missing {kind} id" if value in (None, "") else f"not a plain {kind} id"
            shown = "" if value in (None, "") else f": {value!r}"
            problems.append(problem(pos, None, "id", value, text + shown))
    return ids, problems


def duplicates(ids: Sequence[Any]) -> list[dict[str, Any]]:
    """A problem for every id seen before (None ids are not compared)."""
    seen: dict[Any, int] = {}
    out = []
    for pos, tid in enumerate(ids):
        if tid and tid in seen:
            out.append(problem(pos, tid, "id", tid, f"duplicate id (also row {seen[tid]})"))
        elif tid:
            seen[tid] = pos
    return out


def check_statuses(
    recs: Sequence[Mapping[str, Any]], ids: Sequence[Any]
) -> tuple[list[str | None], list[dict[str, Any]]]:
    """Each tile's status (None when missing or unknown) and the unknown ones."""
    out: list[str | None] = []
    problems = []
    for pos, rec in enumerate(recs):
        value = rec.get("status")
        if value is None or (isinstance(value, str) and value in STATUSES):
            out.append(value)
            continue
        out.append(None)
        problems.append(problem(pos, ids[pos], "status", value, f"unknown status {value!r}"))
    return out, problems


#: additionalData members that become typed columns: numbers and true/false flags.
NUMBERS = ("minMetersPerPixel", "maxMetersPerPixel")
FLAGS = ("hasAddedPoints",)


def check_additional(
    recs: Sequence[Mapping[str, Any]], ids: Sequence[Any]
) -> tuple[list[Mapping[str, Any]], list[dict[str, Any]]]:
    """Each record's ``additionalData`` ({} when missing or not an object) and problems.

    A member that becomes a typed column (`NUMBERS`, `FLAGS`) with a value of another
    type is left out of the returned object.

    Examples
    --------
    >>> extra, problems = check_additional([{"additionalData": {"minMetersPerPixel": "x"}}], ["a"])
    >>> extra, [p["field"] for p in problems]
    ([{}], ['additionalData.minMetersPerPixel'])
    """
    out: list[Mapping[str, Any]] = []
    problems = []
    for pos, rec in enumerate(recs):
        value = rec.get("additionalData")
        if value is not None and not isinstance(value, Mapping):
            out.append({})
            text = f"not an object: {type(value).__name__} {str(value)[:40]!r}"
            problems.append(problem(pos, ids[pos], "additionalData", value, text))
            continue
        value = value or {}
        if _plainly_right(value):
            out.append(value)
            continue
        wrong = [k for k in NUMBERS if not _is_a(value.get(k), (int, float))]
        wrong += [k for k in FLAGS if not _is_a(value.get(k), (bool,))]
        for key in wrong:
            text = f"not {'a number' if key in NUMBERS else 'true or false'}: {value[key]!r}"
            problems.append(problem(pos, ids[pos], f"additionalData.{key}", value[key], text))
        bands = value.get("bands")
        if bands is not None and not (
            isinstance(bands, Mapping)
            and all(spec is None or isinstance(spec, Mapping) for spec in bands.values())
        ):
            wrong.append("bands")  # a summary reads it as {name: {bitDepth, ...}}
            text = f"not an object of band objects: {str(bands)[:40]!r}"
            problems.append(problem(pos, ids[pos], "additionalData.bands", bands, text))
        out.append({k: v for k, v in value.items() if k not in wrong} if wrong else value)
    return out, problems


def _plainly_right(value: Mapping[str, Any]) -> bool:
    """The usual ``additionalData``: plain numbers and flags, no band map to look into.

    Exact types only (a subclass such as numpy's float64, or True as a number, takes
    the full check), so every object let through here passes it too.
    """
    for key in NUMBERS:
        number = value.get(key)
        if number is not None and type(number) not in _PLAIN_NUMBERS:
            return False
    for key in FLAGS:
        flag = value.get(key)
        if flag is not None and type(flag) is not bool:
            return False
    return value.get("bands") is None


_PLAIN_NUMBERS = (int, float)


def _is_a(value: Any, kinds: tuple[type, ...]) -> bool:
    """None, or of one of ``kinds`` (True is not a number here)."""
    if value is None:
        return True
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))


def check_times(
    values: list[Any], wire: str, ids: Sequence[Any]
) -> tuple[Any, list[dict[str, Any]]]:
    """Parse one datetime field of every record; return the times and the problems.

    A time must be ISO-8601 text with a four-digit year (or a datetime); anything else
    becomes NaT. Numbers are refused before pandas could read them as epoch offsets.

    Examples
    --------
    >>> times, problems = check_times(["0999-06-01T00:00:00Z", "999-06-01T00:00:00Z"], "t", [1, 2])
    >>> [str(t) for t in times], [p["row"] for p in problems]
    (['0999-06-01 00:00:00+00:00', 'NaT'], [1])
    """
    values = list(values)
    bad = []
    for pos, value in enumerate(values):
        if value is not None and not isinstance(value, str | dt.datetime | np.datetime64):
            bad.append(problem(pos, ids[pos], wire, value, f"not an ISO-8601 time: {value!r}"))
            values[pos] = None
    try:
        return parse_datetimes(values).array, bad
    except (ValueError, TypeError, OverflowError):
        pass
    # find the culprits one by one (only on this slow error path)
    for pos, value in enumerate(values):
        try:
            parse_datetimes([value])
        except (ValueError, TypeError, OverflowError):
            bad.append(problem(pos, ids[pos], wire, value, f"not an ISO-8601 time: {value!r}"))
            values[pos] = None
    bad.sort(key=lambda p: p["row"])
    return parse_datetimes(values).array, bad


def _describe(p: Mapping[str, Any], kind: str) -> str:
    who = f"{kind} {p['id']!r}" if p["id"] else f"{kind} at row {p['row']}"
    return f"{who}: {p['field']}: {p['problem']}"


def report(problems: list[dict[str, Any]], errors: str, kind: str, n: int = 0) -> np.ndarray | None:
    """Raise or warn (once) about bad rows; return the rows to keep (None: all of them).

    A row whose id is unusable is left out, and its other problems are not listed.

    Examples
    --------
    >>> report([], "warn", "tile") is None
    True
    >>> report([problem(1, None, "id", None, "missing tile id")], "raise", "tile")
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: 1 problem(s) in the tile records (pass ...
    tile at row 1: id: missing tile id
    """
    if not problems:
        return None
    drop = {p["row"] for p in problems if p["field"] == "id"}
    problems = [p for p in problems if p["field"] == "id" or p["row"] not in drop]
    if errors == "raise":
        lines = [_describe(p, kind) for p in problems]
        more = f"\n... and {len(lines) - MAX_LISTED} more" if len(lines) > MAX_LISTED else ""
        raise ValidationError(
            f"{len(problems)} problem(s) in the {kind} records "
            f"(pass errors='warn' to load the rest):\n" + "\n".join(lines[:MAX_LISTED]) + more,
            problems,
        )
    warnings.warn(_warning(problems, kind), ByocframeWarning, stacklevel=user_stacklevel())
    return np.array([i for i in range(n) if i not in drop], dtype=int) if drop else None


def _warning(problems: list[dict[str, Any]], kind: str) -> str:
    """One line: how many records, the first few with their problems, what to do."""
    by_row: dict[int, list[dict[str, Any]]] = {}
    for p in problems:
        by_row.setdefault(p["row"], []).append(p)
    shown = []
    for _, rows in sorted(by_row.items())[:MAX_WARNED]:
        parts = [f"{p['field']}: {p['problem']} ({_consequence(p)})" for p in rows]
        parts[0] = f"{_describe(rows[0], kind)} ({_consequence(rows[0])})"
        shown.append("; ".join(parts))
    count = len(by_row)
    more = f"; and {count - MAX_WARNED} more" if count > MAX_WARNED else ""
    verb = "has" if count == 1 else "have"
    return (
        f"{count} {kind}{'s' if count != 1 else ''} {verb} values byocframe cannot read, "
        f"loaded as far as they go: {'; '.join(shown)}{more}; "
        "pass errors='raise' to refuse them instead"
    )


def _consequence(p: Mapping[str, Any]) -> str:
    field = p["field"]
    if field in CONSEQUENCE:
        return CONSEQUENCE[field]
    return "the time is set to NaT" if field.endswith(("Time", "created", "Start")) else "left out"

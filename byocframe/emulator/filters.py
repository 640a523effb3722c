"""The Catalog's ``filter``: CQL2 text or JSON, gated to the subset the Catalog takes, as SQL.

The standard is read by the ``cql2`` package (imported here, when a filter arrives);
this module is the gate behind it. Sentinel Hub documents comparisons (``=``, ``<>``,
``<``, ``<=``, ``>``, ``>=``), ``between`` and ``and``; ``not`` comes from the
cql2-json schema. The only properties a BYOC item has to filter on are ``id``,
``datetime`` and ``proj:epsg`` (optionally written ``properties.<name>``). Anything
else is refused with a message that names it.

The work is linear in the filter's size, and bounded before it starts: the text's
size, its parentheses and its ``AND``/``OR``/``NOT`` keywords are counted before the
parser sees it (the parser recurses and would crash the process on a deep enough
input), and the parsed tree is measured again before it is compiled. The bounds are
`~byocframe.emulator.limits.Limits` settings; a breach names the setting.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from byocframe.emulator.limits import Limits
from byocframe.emulator.problems import read_json, shown

__all__ = ["QUERYABLES", "FilterProblem", "compile_filter", "read_filter", "time_micros"]


class FilterProblem(ValueError):
    """A filter outside the supported subset; the message names the construct."""


#: property -> (SQL column, converter of a literal into the column's value, JSON schema)
QUERYABLES: dict[str, tuple[str, Callable[[Any], Any], dict[str, Any]]] = {}

_COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


#: RFC 3339's grammar (section 5.6; ``T``/``Z`` in either case), with the date alone or
#: the zone left out also taken (UTC); the values are read by `datetime.fromisoformat`.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?"
    r"(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def time_micros(value: Any) -> int:
    """An RFC 3339 time (``Z``, offsets, fractional seconds) in microseconds, UTC.

    Digits beyond the microsecond are dropped (`datetime` keeps microseconds); a time
    without a zone is UTC.

    Examples
    --------
    >>> time_micros("1970-01-01T00:00:01.5Z"), time_micros("1970-01-01T01:00:00+01:00")
    (1500000, 0)
    """
    text = str(value).strip()
    if not _RFC3339.fullmatch(text):
        raise FilterProblem(f"{text!r} is not an RFC 3339 time such as 2024-06-01T00:00:00Z")
    try:
        stamp = dt.datetime.fromisoformat(text.upper())
    except ValueError as err:
        raise FilterProblem(f"{text!r} is not a valid time ({err})") from err
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return (stamp - _EPOCH) // _MICROSECOND


#: SQLite integers are signed 64-bit: a bound outside them cannot be a column value.
_INT_RANGE = 2**63


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FilterProblem(f"proj:epsg compares with a number, got {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterProblem(f"proj:epsg compares with a finite number, got {value}")
    if not -_INT_RANGE < value < _INT_RANGE:
        raise FilterProblem(
            f"proj:epsg compares with a number between -2^63 and 2^63, got {shown(value)}"
        )
    # whole numbers as integers (cql2 reads 32633 as 32633.0); others stay exact
    return int(value) if float(value).is_integer() else float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise FilterProblem(f"id compares with a string, got {shown(value)}")
    return value


def _time(value: Any) -> int:
    if isinstance(value, Mapping) and len(value) == 1 and ("timestamp" in value or "date" in value):
        value = next(iter(value.values()))
    if not isinstance(value, str):
        raise FilterProblem(f"datetime compares with a timestamp, got {shown(value)}")
    return time_micros(value)


QUERYABLES.update(
    {
        "id": ("id", _text, {"type": "string", "title": "Item (tile) id"}),
        "datetime": (
            "dt_us",
            _time,
            {"type": "string", "format": "date-time", "title": "Sensing time"},
        ),
        "proj:epsg": ("epsg", _number, {"type": "integer", "title": "EPSG code of the tile"}),
    }
)


def read_filter(value: Any, lang: Any, limits: Limits) -> tuple[str, list[Any]]:
    """A ``filter`` (with its ``filter-lang``) as an SQL condition on ``catalog_items``.

    A string is cql2-text unless ``lang`` is ``cql2-json``; anything else is a parsed
    cql2-json filter. The limits are checked before each step they protect.

    Raises
    ------
    FilterProblem
        For a filter that breaks a limit, does not parse, or leaves the subset.

    Examples
    --------
    >>> read_filter('"proj:epsg" < 32633.5', "cql2-text", Limits())
    ('(epsg < ?)', [32633.5])
    >>> try:
    ...     read_filter("NOT NOT NOT id = 'a'", None, Limits(max_filter_depth=2))
    ... except FilterProblem as err:
    ...     print(err)
    the filter nests 3 levels of AND/NOT, more than max_filter_depth=2; write it flatter
    """
    if isinstance(value, str):
        _check_size(value, limits)
        if lang not in (None, "", "cql2-text"):  # as before: any other language is JSON
            return compile_filter(_read_json_text(value, limits), limits)
        _prescan(value, limits)
        return compile_filter(_parse("text", value), limits)
    _measure(value, limits)  # the body's nesting is bounded already: walk it first
    text = json.dumps(value, allow_nan=True)
    _check_size(text, limits)
    return compile_filter(_read_json_text(text, limits), limits)


def _check_size(text: str, limits: Limits) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_filter_bytes:
        raise FilterProblem(
            f"the filter is {size} bytes, more than max_filter_bytes={limits.max_filter_bytes}; "
            "search with fewer conditions"
        )


def _read_json_text(text: str, limits: Limits) -> Any:
    try:
        node = read_json(text, f"nested deeper than max_filter_depth={limits.max_filter_depth}")
    except ValueError as err:
        raise FilterProblem(f"the filter is not valid JSON ({err})") from None
    _measure(node, limits)
    _check_numbers(node)
    return _parse("json", text)


def _check_numbers(node: Any) -> None:
    """Refuse non-finite numbers before the parser (it cannot read ``Infinity``)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            args = item.get("args")
            args = args if isinstance(args, list) else []
            for arg in args:
                if isinstance(arg, float) and not math.isfinite(arg):
                    first = args[0] if isinstance(args[0], dict) else {}
                    name = first.get("property", "the filter")
                    raise FilterProblem(f"{shown(name)} compares with a finite number, got {arg}")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _parse(kind: str, text: str) -> Any:
    """The filter read by the ``cql2`` package, as cql2-json (a dict)."""
    import cql2  # only where a filter is parsed: `import byocframe` stays without it

    try:
        expr = cql2.parse_text(text) if kind == "text" else cql2.parse_json(text)
        return expr.to_json()
    except (cql2.ParseError, ValueError) as err:
        detail = " ".join(str(err).split())  # the parser's message spans several lines
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise FilterProblem(f"the filter is not valid cql2-{kind} ({detail})") from None


_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_KEYWORDS = re.compile(r"[()]|\b(?:and|or|not|between)\b", re.IGNORECASE)
_MINUSES = re.compile(r"-(?:\s*-)+")


def _prescan(text: str, limits: Limits) -> None:
    """Bound a cql2-text filter's nesting and terms before it is parsed.

    Literals and quoted names are blanked first, so a keyword inside them counts
    for nothing. A ``BETWEEN`` takes one ``AND``; padding with ``BETWEEN`` cannot hide
    more than half of the ``AND``s.
    """
    bare = _QUOTED.sub("''", text)
    # "- - - 1" nests as deep as it is long in the parser, like parentheses
    minuses = max((m.group().count("-") for m in _MINUSES.finditer(bare)), default=0)
    if minuses > limits.max_filter_depth:
        raise FilterProblem(
            f"the filter has {minuses} minus signs in a row, more than "
            f"max_filter_depth={limits.max_filter_depth}"
        )
    depth = deepest = logical = nots = betweens = 0
    for match in _KEYWORDS.finditer(bare):
        token = match.group().lower()
        if token == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif token == ")":
            depth -= 1
        elif token == "not":
            nots += 1
        elif token == "between":
            betweens += 1
        else:
            logical += 1
    if deepest > limits.max_filter_depth + 1:
        raise FilterProblem(
            f"the filter nests parentheses {deepest} deep, more than "
            f"max_filter_depth={limits.max_filter_depth} (+1); write it flatter"
        )
    terms = max(logical - betweens, logical // 2) + 1 + nots
    _check_terms(terms, limits)


def _check_terms(terms: int, limits: Limits) -> None:
    if terms > limits.max_filter_terms:
        raise FilterProblem(
            f"the filter has {terms} conditions and NOTs, more than "
            f"max_filter_terms={limits.max_filter_terms}; split the search"
        )


_LOGICAL = frozenset({"and", "or", "not"})


def _measure(node: Any, limits: Limits) -> None:
    """Check the nesting of AND/OR/NOT and the number of terms of a cql2-json tree.

    Iterative (a tree of any depth is safe to walk), each node once, stopping at the
    first breach; an ``args`` list longer than ``max_filter_terms`` is refused before
    its items are looked at.
    """
    terms = 0
    stack = [(node, 0)]
    while stack:
        item, depth = stack.pop()
        op = item.get("op") if isinstance(item, Mapping) else None
        if not isinstance(op, str) or op.lower() not in _LOGICAL:
            terms += 1  # a condition (or something the compiler refuses)
        else:
            depth += 1
            if depth > limits.max_filter_depth:
                raise FilterProblem(
                    f"the filter nests {depth} levels of AND/NOT, more than "
                    f"max_filter_depth={limits.max_filter_depth}; write it flatter"
                )
            terms += op.lower() == "not"
            args = item.get("args")
            if isinstance(args, list):
                if len(args) > limits.max_filter_terms:
                    _check_terms(len(args), limits)
                stack.extend((arg, depth) for arg in args)
        _check_terms(terms, limits)


def compile_filter(node: Any, limits: Limits | None = None) -> tuple[str, list[Any]]:
    """A cql2-json filter as an SQL condition on ``catalog_items`` and its arguments.

    Examples
    --------
    >>> compile_filter({"op": "=", "args": [{"property": "proj:epsg"}, 32633.0]})
    ('(epsg = ?)', [32633])
    >>> compile_filter({"op": "and", "args": [
    ...     {"op": ">=", "args": [{"property": "datetime"}, {"timestamp": "1970-01-01T00:00:01Z"}]},
    ...     {"op": "not", "args": [{"op": "=", "args": [{"property": "id"}, "x"]}]}]})
    ('((dt_us >= ?) AND (NOT (id = ?)))', [1000000, 'x'])
    """
    _measure(node, limits or Limits())  # the compiler recurses: bound it first
    parts: list[str] = []
    values: list[Any] = []
    _emit(node, parts, values)
    return "".join(parts), values


def _emit(node: Any, parts: list[str], values: list[Any]) -> None:
    """Append the SQL of ``node`` to ``parts`` (one join at the end: linear)."""
    if not isinstance(node, Mapping) or not isinstance(node.get("op"), str):
        raise FilterProblem(f"expected an operation such as {{'op': '=', ...}}, got {shown(node)}")
    op = node["op"].lower()
    args = node.get("args")
    if not isinstance(args, list):
        raise FilterProblem(f"operation {shown(op)} needs a list of args")
    if op == "and":
        # sentinelhub-py wraps a cql2-json filter in an "and" with one argument
        if not args:
            raise FilterProblem("'and' needs at least one argument")
        parts.append("(")
        for k, arg in enumerate(args):
            if k:
                parts.append(" AND ")
            _emit(arg, parts, values)
        parts.append(")")
    elif op == "not":
        if len(args) != 1:
            raise FilterProblem("'not' takes exactly one argument")
        parts.append("(NOT ")
        _emit(args[0], parts, values)
        parts.append(")")
    elif op in _COMPARISONS:
        if len(args) != 2:
            raise FilterProblem(f"{op!r} takes a property and a value")
        column, convert = _property(args[0])
        parts.append(f"({column} {_COMPARISONS[op]} ?)")
        values.append(convert(args[1]))
    elif op == "between":
        if len(args) != 3:
            raise FilterProblem("'between' takes a property, a low and a high value")
        column, convert = _property(args[0])
        parts.append(f"({column} BETWEEN ? AND ?)")
        values += [convert(args[1]), convert(args[2])]
    elif op == "or":
        raise FilterProblem("'or' is not supported by the Catalog; only 'and' combines")
    else:
        raise FilterProblem(
            f"unsupported filter operation {shown(op)}; use =, <>, <, <=, >, >=, between, and, not"
        )


def _property(node: Any) -> tuple[str, Callable[[Any], Any]]:
    if not isinstance(node, Mapping) or not isinstance(node.get("property"), str):
        raise FilterProblem(f"the first argument must be a property, got {shown(node)}")
    name = node["property"].removeprefix("properties.")
    if name not in QUERYABLES:
        raise FilterProblem(
            f"unknown property {shown(name)}; BYOC items can be filtered on {sorted(QUERYABLES)}"
        )
    column, convert, _ = QUERYABLES[name]
    return column, convert

"""The CQL2 subset the Catalog accepts, in text and JSON, compiled to SQL conditions.

Sentinel Hub documents comparisons (``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``), ``between``
and ``and``; ``not`` comes from the cql2-json schema. The only properties a BYOC item
has to filter on are ``id``, ``datetime`` and ``proj:epsg`` (optionally written
``properties.<name>``). Anything else is refused with a message that names it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["QUERYABLES", "FilterProblem", "compile_filter", "parse_text", "time_micros"]


class FilterProblem(ValueError):
    """A filter outside the supported subset; the message names the construct."""


#: property -> (SQL column, converter of a literal into the column's value, JSON schema)
QUERYABLES: dict[str, tuple[str, Callable[[Any], Any], dict[str, Any]]] = {}

_COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def time_micros(value: Any) -> int:
    """An RFC 3339 time (``Z``, offsets, up to 9 fractional digits) in microseconds, UTC.

    Examples
    --------
    >>> time_micros("1970-01-01T00:00:01.5Z"), time_micros("1970-01-01T01:00:00+01:00")
    (1500000, 0)
    """
    text = str(value).strip()
    match = re.fullmatch(
        r"(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?", text
    )
    if not match:
        raise FilterProblem(f"{text!r} is not an RFC 3339 time such as 2024-06-01T00:00:00Z")
    day, clock, fraction, zone = match.groups()
    try:
        stamp = np.datetime64(f"{day}T{clock or '00:00:00'}", "us")
    except ValueError as err:
        raise FilterProblem(f"{text!r} is not a valid time ({err})") from err
    micros = int(stamp.astype(np.int64)) + round(float(fraction or 0) * 1e6)
    if zone and zone not in "Zz":
        sign = 1 if zone[0] == "+" else -1
        micros -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * 1_000_000
    return micros


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FilterProblem(f"proj:epsg compares with a number, got {value!r}")
    return int(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise FilterProblem(f"id compares with a string, got {value!r}")
    return value


def _time(value: Any) -> int:
    if isinstance(value, Mapping) and len(value) == 1 and ("timestamp" in value or "date" in value):
        value = next(iter(value.values()))
    if not isinstance(value, str):
        raise FilterProblem(f"datetime compares with a timestamp, got {value!r}")
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


def compile_filter(node: Any) -> tuple[str, list[Any]]:
    """A cql2-json filter as an SQL condition on ``catalog_items`` and its arguments.

    Examples
    --------
    >>> compile_filter({"op": "=", "args": [{"property": "proj:epsg"}, 32633.0]})
    ('(epsg = ?)', [32633])
    >>> compile_filter(parse_text("datetime >= TIMESTAMP('1970-01-01T00:00:01Z') AND id <> 'x'"))
    ('((dt_us >= ?) AND (id <> ?))', [1000000, 'x'])
    """
    if not isinstance(node, Mapping) or "op" not in node:
        raise FilterProblem(f"expected an operation such as {{'op': '=', ...}}, got {node!r}")
    op = str(node["op"]).lower()
    args = node.get("args")
    if not isinstance(args, list):
        raise FilterProblem(f"operation {op!r} needs a list of args")
    if op == "and":
        # sentinelhub-py wraps a cql2-json filter in an "and" with one argument
        if not args:
            raise FilterProblem("'and' needs at least one argument")
        parts = [compile_filter(a) for a in args]
        return "(" + " AND ".join(p for p, _ in parts) + ")", [v for _, vs in parts for v in vs]
    if op == "not":
        if len(args) != 1:
            raise FilterProblem("'not' takes exactly one argument")
        inner, values = compile_filter(args[0])
        return f"(NOT {inner})", values
    if op in _COMPARISONS:
        if len(args) != 2:
            raise FilterProblem(f"{op!r} takes a property and a value")
        column, convert = _property(args[0])
        return f"({column} {_COMPARISONS[op]} ?)", [convert(args[1])]
    if op == "between":
        if len(args) != 3:
            raise FilterProblem("'between' takes a property, a low and a high value")
        column, convert = _property(args[0])
        return f"({column} BETWEEN ? AND ?)", [convert(args[1]), convert(args[2])]
    raise FilterProblem(
        f"unsupported filter operation {op!r}; use =, <>, <, <=, >, >=, between, and, not"
    )


def _property(node: Any) -> tuple[str, Callable[[Any], Any]]:
    if not isinstance(node, Mapping) or "property" not in node:
        raise FilterProblem(f"the first argument must be a property, got {node!r}")
    name = str(node["property"]).removeprefix("properties.")
    if name not in QUERYABLES:
        raise FilterProblem(
            f"unknown property {name!r}; BYOC items can be filtered on {sorted(QUERYABLES)}"
        )
    column, convert, _ = QUERYABLES[name]
    return column, convert


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<op><>|<=|>=|=|<|>)|(?P<paren>[(),])|(?P<word>[A-Za-z_][\w:.]*))"
)


def parse_text(text: str) -> dict[str, Any]:
    """Parse the cql2-text subset into cql2-json.

    Examples
    --------
    >>> parse_text("proj:epsg BETWEEN 32601 AND 32660")
    {'op': 'between', 'args': [{'property': 'proj:epsg'}, 32601, 32660]}
    """
    tokens = _tokens(text)
    node, rest = _conjunction(tokens)
    if rest:
        raise FilterProblem(f"unexpected {rest[0][1]!r} in filter {text!r}")
    return node


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterProblem(f"cannot read the filter {text!r} at {text[pos:]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _conjunction(tokens: list[tuple[str, str]]) -> tuple[dict[str, Any], list[Any]]:
    args = []
    while True:
        node, tokens = _term(tokens)
        args.append(node)
        if tokens and tokens[0][0] == "word" and tokens[0][1].upper() == "AND":
            tokens = tokens[1:]
            continue
        if tokens and tokens[0][0] == "word" and tokens[0][1].upper() == "OR":
            raise FilterProblem("'or' is not supported by the Catalog; only 'and' combines")
        break
    return (args[0] if len(args) == 1 else {"op": "and", "args": args}), tokens


def _term(tokens: list[tuple[str, str]]) -> tuple[dict[str, Any], list[Any]]:
    if not tokens:
        raise FilterProblem("the filter ends too early")
    kind, value = tokens[0]
    if kind == "word" and value.upper() == "NOT":
        inner, rest = _term(tokens[1:])
        return {"op": "not", "args": [inner]}, rest
    if (kind, value) == ("paren", "("):
        node, rest = _conjunction(tokens[1:])
        if not rest or rest[0] != ("paren", ")"):
            raise FilterProblem("a '(' in the filter is not closed")
        return node, rest[1:]
    if kind != "word":
        raise FilterProblem(f"expected a property name, got {value!r}")
    prop, rest = {"property": value}, tokens[1:]
    if rest and rest[0][0] == "word" and rest[0][1].upper() == "BETWEEN":
        low, rest = _literal(rest[1:])
        if not rest or rest[0][0] != "word" or rest[0][1].upper() != "AND":
            raise FilterProblem("'between' needs 'AND' between its two values")
        high, rest = _literal(rest[1:])
        return {"op": "between", "args": [prop, low, high]}, rest
    if not rest or rest[0][0] != "op":
        raise FilterProblem(f"expected a comparison after {value!r}")
    op = rest[0][1]  # cql2-json spells the comparisons as the text does
    literal, rest = _literal(rest[1:])
    return {"op": op, "args": [prop, literal]}, rest


def _literal(tokens: list[tuple[str, str]]) -> tuple[Any, list[Any]]:
    if not tokens:
        raise FilterProblem("a comparison has no value")
    kind, value = tokens[0]
    if kind == "string":
        return value[1:-1].replace("''", "'"), tokens[1:]
    if kind == "number":
        number = float(value)
        return (int(number) if number.is_integer() and "." not in value else number), tokens[1:]
    if kind == "word" and value.upper() in ("TIMESTAMP", "DATE"):
        if (
            len(tokens) < 4
            or tokens[1] != ("paren", "(")
            or tokens[2][0] != "string"
            or tokens[3] != ("paren", ")")
        ):
            raise FilterProblem(f"{value.upper()} takes one quoted argument")
        return {value.lower(): tokens[2][1][1:-1]}, tokens[4:]
    raise FilterProblem(f"expected a value (number, 'text' or TIMESTAMP('...')), got {value!r}")

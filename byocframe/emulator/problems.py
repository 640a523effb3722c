"""The HTTP problem the local service answers a refused request with.

Also the small helpers shared by the modules that validate requests.

Examples
--------
>>> problem = bad("noData must be a finite number, got inf")
>>> problem.status, problem.code
(400, 'COMMON_BAD_PAYLOAD')
>>> shown("x" * 100)[-5:]
'xx...'
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = [
    "MAX_INT_DIGITS",
    "ApiProblem",
    "bad",
    "is_number",
    "json_integer",
    "not_found",
    "read_json",
    "shown",
]

#: Digits of a JSON integer read as they are. Longer ones are read as ±10**40: past 64
#: bits like them, so each field's own range check names the field, while ``int()`` of
#: thousands of digits (slow, and refused by Python with advice for the server's code)
#: is never called.
MAX_INT_DIGITS = 40


class ApiProblem(Exception):
    """A request the service refuses: carries the HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str, errors: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors


def bad(message: str, errors: Any = None) -> ApiProblem:
    """A 400 COMMON_BAD_PAYLOAD problem."""
    return ApiProblem(400, "COMMON_BAD_PAYLOAD", message, errors)


def not_found(what: str, ident: str) -> ApiProblem:
    """A 404 COMMON_NOT_FOUND problem, worded as the real service words it."""
    return ApiProblem(404, "COMMON_NOT_FOUND", f"{what} {ident} not found.")


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (messages stay one short line)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite JSON number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def json_integer(text: str) -> int:
    """``int(text)`` for the JSON decoder (``parse_int``); past `MAX_INT_DIGITS`, ±10**40.

    Examples
    --------
    >>> json_integer("-12")
    -12
    >>> json_integer("-" + "9" * 5000) == -(10**MAX_INT_DIGITS)
    True
    """
    negative = text.startswith("-")
    if len(text) - negative > MAX_INT_DIGITS:
        return -(10**MAX_INT_DIGITS) if negative else 10**MAX_INT_DIGITS
    return int(text)


def read_json(text: str | bytes, too_deep: str) -> Any:
    """``json.loads``; a nesting too deep for the decoder is ``ValueError(too_deep)``.

    The decoder gives up near 1,000 levels with a RecursionError, in linear time.

    Examples
    --------
    >>> read_json(b"[" * 5000, "deeper than allowed")
    Traceback (most recent call last):
    ...
    ValueError: deeper than allowed
    """
    try:
        return json.loads(text, parse_int=json_integer)
    except RecursionError:
        raise ValueError(too_deep) from None

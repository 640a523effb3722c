"""Values of the columns the service owns, as the canonical texts their digests take.

These columns are never sent, so their canonical text only has to see a deliberate edit
and to read the same after any file format: an empty text is missing (CSV cannot tell
them apart), numbers keep 15 significant digits (what GDAL writes, also inside JSON
texts), flags read alike as bools, 0/1 or text, and a value that is not a text where a
text belongs is a different value (`byocframe.frame.tokens.other_digests`).

Examples
--------
>>> canonical_text("has_added_points", 1), canonical_text("warnings", "")
('true', None)
>>> canonical_text("additional_data", '{"m":0.30000000000000004}')
'{"m":0.3}'
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

from byocframe.frame.records import dumps

__all__ = ["canonical_text", "number_text"]

_FLAGS = {"1": "true", "1.0": "true", "0": "false", "0.0": "false"}


#: Numbers of 16 or more digits: written again by GDAL with 15 significant digits.
_LONG_NUMBER = re.compile(r"-?\d*\.?\d{16,}(?:[eE][-+]?\d+)?|-?\d+\.\d*(?:[eE][-+]?\d+)?")
#: A digit run long enough that `_LONG_NUMBER` may have to round something.
_LONG_DIGITS = re.compile(r"\d{16}|\d\.\d{15}|\d{2}\.\d{14}")


def canonical_text(name: str, value: Any) -> str | None:
    """The text a value of an `OTHER_READ_ONLY` column is digested as (None: missing).

    These columns are never sent, so their canonical text only has to see a deliberate
    edit, and to read the same after any file format: an empty text is missing (CSV
    cannot tell them apart), numbers keep 15 significant digits (what GDAL writes, also
    inside JSON texts), flags read alike as bools, 0/1 or text, and a value that is not
    a text where a text belongs (a dict from ``json.loads``) is a different value.
    """
    if not isinstance(value, str | bytes | dict | list) and not pd.api.types.is_scalar(value):
        return "\0not a text: " + str(value)  # an array where a value belongs
    if value is None or (not isinstance(value, str | dict | list) and bool(pd.isna(value))):
        return None
    if name == "has_added_points":
        text = str(value).strip().lower()
        return _FLAGS.get(text, text)
    if name in ("min_meters_per_pixel", "max_meters_per_pixel"):
        try:
            return number_text(float(value))
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return "\0not a text: " + (dumps(value) or "")
    text = str(value)
    if not text:
        return None
    if _LONG_DIGITS.search(text):  # rare: only those texts pay for the rounding
        rounded = _rounded_json(text)
        if rounded is not None:
            return rounded
        # not JSON: a plain text whose digits a table reader may have taken for a number
        text = _LONG_NUMBER.sub(lambda m: number_text(float(m.group())), text)
    return text


#: A number of a JSON text while `_rounded_json` rewrites it (JSON escapes the NULs).
_NUMBER_MARK = re.compile(r'"\\u0000(\d+)\\u0000"')


def _rounded_json(text: str) -> str | None:
    """A JSON text with its long numbers as GDAL writes them; None if it is not JSON.

    The json module finds the numbers, so digits inside a string stay as they are (an
    edit of them is an edit, finding 332). The text comes back compact (as the frame
    writes it), every other number literal as it was written.
    """
    if "\\u0000" in text:  # the marks below could not be told from the text's own
        return None
    literals: list[str] = []

    def mark(literal: str) -> str:
        rounds = _LONG_NUMBER.fullmatch(literal) is not None
        literals.append(number_text(float(literal)) if rounds else literal)
        return f"\0{len(literals) - 1}\0"

    try:
        value = json.loads(text, parse_int=mark, parse_float=mark, parse_constant=mark)
    except (ValueError, RecursionError):
        return None
    return _NUMBER_MARK.sub(lambda m: literals[int(m.group(1))], dumps(value) or "")


def number_text(number: float) -> str:
    """A number as GDAL writes a double: 15 significant digits, ".0" when integral."""
    text = format(number, ".15g")
    return text if any(c in text for c in ".einf") else text + ".0"

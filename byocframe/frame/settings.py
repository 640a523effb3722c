"""A frame's byocframe settings (``attrs["byocframe"]``): how it was drawn, and their JSON form.

A tile frame's shown geometries are drawn from its native ones with a densify step and a
tolerance (`byocframe.geo.geometry.reproject`); the frame records both, so a redrawing (a
file read back, an edit compared) gives the very geometries it was loaded with. Files
keep the settings as JSON, where infinity is text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypedDict

from byocframe.geo.geometry import DEFAULT_DENSIFY

__all__ = ["Drawing", "drawing", "json_safe", "saved_settings"]


class Drawing(TypedDict):
    """`reproject`'s keywords that drew a frame's geometries (see `drawing`)."""

    densify: float | None
    tolerance: float | None


def drawing(settings: Mapping[str, Any]) -> Drawing:
    """How a frame's shown geometries were drawn from its native ones.

    The keywords to give `byocframe.geo.geometry.reproject` so a recomputation gives
    the very geometries the frame was loaded with: ``densify`` and ``tolerance`` as the
    frame's attrs record them. A frame saved before adaptive densifying (December 2026)
    records a ``densify`` step but no ``tolerance``: its geometries were drawn with fixed
    steps only (tolerance inf). Without either, today's defaults.

    Examples
    --------
    >>> drawing({"densify": 10_000.0})
    {'densify': 10000.0, 'tolerance': inf}
    >>> drawing({"densify": "inf", "tolerance": 5.0})
    {'densify': inf, 'tolerance': 5.0}
    >>> drawing({})
    {'densify': inf, 'tolerance': None}
    """
    densify = settings.get("densify", DEFAULT_DENSIFY)
    if "tolerance" in settings:
        tolerance = settings["tolerance"]
    elif "densify" in settings:
        tolerance = math.inf
    else:
        tolerance = None
    return {"densify": _number(densify), "tolerance": _number(tolerance)}


def _number(value: Any) -> float | None:
    """A setting as a float: JSON keeps infinity as the text "inf" (see `json_safe`)."""
    return None if value is None else float(value)


def json_safe(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings with infinite numbers as text, so strict JSON readers take them.

    Examples
    --------
    >>> json_safe({"densify": float("inf"), "tolerance": 5.0, "kind": "tiles"})
    {'densify': 'inf', 'tolerance': 5.0, 'kind': 'tiles'}
    """
    return {
        key: (str(value) if isinstance(value, float) and math.isinf(value) else value)
        for key, value in settings.items()
    }


def saved_settings(saved: Mapping[str, Any]) -> dict[str, Any]:
    """Settings read back from a file's JSON, as the frame that was saved held them.

    The inverse of `json_safe`; a frame saved with a ``densify`` step also gets the
    ``tolerance`` it was drawn with (inf before adaptive densifying), so a reader's
    defaults never replace how its geometries were drawn.

    Examples
    --------
    >>> saved_settings({"densify": 10000.0, "collection": "c"})
    {'densify': 10000.0, 'collection': 'c', 'tolerance': inf}
    >>> saved_settings({"densify": "inf", "tolerance": 5.0})
    {'densify': inf, 'tolerance': 5.0}
    """
    out = dict(saved)
    if "densify" in out:
        out.update(drawing(out))
    return out

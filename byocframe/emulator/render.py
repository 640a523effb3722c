"""What the local BYOC service writes on the wire: tiles, pages and error envelopes.

Output is strict JSON (``allow_nan=False``): validation keeps non-finite numbers out of
the store, and if one ever got in, rendering fails loudly instead of sending
``Infinity`` that no JSON parser reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from byocframe.emulator.coords import box_rings, transform_polygons
from byocframe.geo.crs import crs_urn

__all__ = ["error_body", "page_body", "render_tile", "to_json"]


def to_json(value: Any) -> str:
    """Compact, strict JSON text.

    Examples
    --------
    >>> to_json({"a": [1, 2.5]})
    '{"a":[1,2.5]}'
    """
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def render_tile(state: Mapping[str, Any], native: list[Any] | None = None) -> str:
    """The tile as the API shows it (JSON text): cover in the tile's CRS with the urn.

    ``native`` is the cover already transformed back into the tile's CRS (bulk seeding).
    """
    out: dict[str, Any] = {"id": state["id"], "created": state["created"]}
    if state.get("ingestionStart"):
        out["ingestionStart"] = state["ingestionStart"]
    if state.get("sensingTime"):
        out["sensingTime"] = state["sensingTime"]
    crs = state.get("crs") or "EPSG:4326"
    if state.get("cover84"):
        polygons = native or transform_polygons(state["cover84"], "EPSG:4326", crs)
        kind = state.get("coverType", "MultiPolygon")
        out["coverGeometry"] = {
            "type": kind,
            "crs": {"type": "name", "properties": {"name": crs_urn(crs)}},
            "coordinates": polygons[0] if kind == "Polygon" else polygons,
        }
    if state.get("tileBox"):
        out["tileGeometry"] = {
            "type": "Polygon",
            "crs": {"type": "name", "properties": {"name": crs_urn(crs)}},
            "coordinates": box_rings(state["tileBox"]),
        }
    out["path"] = state["path"]
    out["status"] = state["status"]
    extra = dict(state.get("additionalData") or {})
    if state.get("failedIngestionCause"):
        extra["failedIngestionCause"] = state["failedIngestionCause"]
    if extra:
        out["additionalData"] = extra
    return to_json(out)


def page_body(items: list[str], links: Mapping[str, str]) -> bytes:
    """A list answer from already rendered items: ``{"data": [...], "links": {...}}``.

    Examples
    --------
    >>> page_body(['{"id":"a"}'], {"currentToken": ""})
    b'{"data":[{"id":"a"}],"links":{"currentToken":""}}'
    """
    return b'{"data":[' + ",".join(items).encode() + b'],"links":' + to_json(links).encode() + b"}"


def error_body(status: int, code: str, message: str, errors: Any = None) -> dict[str, Any]:
    """The error envelope ``{"error": {status, reason, message, code[, errors]}}``.

    Examples
    --------
    >>> error_body(404, "COMMON_NOT_FOUND", "Tile x not found.")["error"]["reason"]
    'Not Found'
    """
    inner: dict[str, Any] = {
        "status": status,
        "reason": HTTPStatus(status).phrase,
        "message": message,
        "code": code,
    }
    if errors is not None:
        inner["errors"] = errors
    return {"error": inner}

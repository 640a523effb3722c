"""The OpenAPI document and HTML page the local Catalog serves (``service-desc``, ``service-doc``).

STAC API core asks the landing page for a ``service-desc`` link (a machine-readable
API definition) and a ``service-doc`` link (a page for people). This is the
definition of the routes `byocframe.emulator.catalog.Catalog` answers, no more: each
path, its methods, its parameters and its answers, with the bearer token that every
route but the landing page, ``/conformance`` and these two documents needs.

Examples
--------
>>> doc = openapi("http://127.0.0.1:8080/api/v1/catalog/1.0.0")
>>> doc["openapi"], sorted(doc["paths"])[:3]
('3.0.3', ['/', '/api', '/api.html'])
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["OPENAPI_MEDIA", "SERVICE_DESC", "SERVICE_DOC", "openapi", "service_doc"]

#: The media type of the definition (what the ``service-desc`` link and answer carry).
OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"
#: Paths under the Catalog root.
SERVICE_DESC, SERVICE_DOC = "/api", "/api.html"

_GEOJSON, _JSON = "application/geo+json", "application/json"
_SEARCH_PARAMS = {
    "collections": "Exactly one id, byoc-<collection id> (comma list in GET).",
    "ids": "Item ids (comma list in GET).",
    "bbox": "west,south,east,north (or 6 numbers) in CRS84; west > east crosses 180.",
    "intersects": "A GeoJSON geometry (a JSON string in GET); not together with bbox.",
    "datetime": "An RFC 3339 date-time, a/b, a/.. or ../b (2024-06-01T00:00:00Z/..).",
    "limit": "Items per page, 1 or more; above 100 it is 100 (default 10).",
    "next": "The offset of the page, from context.next.",
    "filter": "CQL2 text or JSON on id, datetime and proj:epsg.",
    "filter-lang": "cql2-text or cql2-json.",
    "fields": "Names to include, -names to exclude (GET); {include, exclude} (POST).",
    "distinct": "Only 'date': the dates with items instead of items.",
}


def _answer(description: str, media: str = _JSON) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "object"}}}}


def _errors(*codes: str) -> dict[str, Any]:
    text = {
        "400": "A bad parameter or body: {code, description} names it.",
        "401": "No valid bearer token.",
        "404": "No such collection or item.",
        "429": "Rate limit reached.",
    }
    return {code: _answer(text[code]) for code in codes}


def _query(names: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "query",
            "required": name == "collections",  # exactly one, always [CATALOG_API.md 4.7]
            "description": _SEARCH_PARAMS[name],
            "schema": {"type": "string"},
        }
        for name in names
    ]


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def openapi(base: str) -> dict[str, Any]:
    """The OpenAPI 3.0 definition of the Catalog served at ``base``.

    Parameters
    ----------
    base : str
        The absolute URL of the Catalog root (the landing page), without a slash.

    Returns
    -------
    dict
        An OpenAPI 3.0.3 document (JSON).

    Examples
    --------
    >>> doc = openapi("http://127.0.0.1:8080/api/v1/catalog/1.0.0")
    >>> doc["paths"]["/search"]["post"]["requestBody"]["content"]["application/json"] != {}
    True
    """
    anonymous: list[dict[str, Any]] = []
    collection = _path_param("collectionId", "byoc-<collection id>")
    item = _path_param("featureId", "The tile id.")
    every = list(_SEARCH_PARAMS)
    items_params = [name for name in every if name != "collections"]  # the path names it
    search = {"200": _answer("One page of items.", _GEOJSON), **_errors("400", "401", "404")}

    def get(summary: str, answer: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"get": {"summary": summary, "responses": answer, **extra}}

    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Sentinel Hub Catalog API (byocframe local service)",
            "version": "1.0.0",
            "description": "STAC API 1.0.0 over the BYOC collections of this service.",
        },
        "servers": [{"url": base}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/": get("Landing page", {"200": _answer("A STAC Catalog.")}, security=anonymous),
            "/conformance": get(
                "Conformance classes", {"200": _answer("conformsTo.")}, security=anonymous
            ),
            SERVICE_DESC: get(
                "This definition",
                {"200": _answer("OpenAPI 3.0.", OPENAPI_MEDIA)},
                security=anonymous,
            ),
            SERVICE_DOC: get(
                "This definition for people",
                {"200": {"description": "HTML.", "content": {"text/html": {}}}},
                security=anonymous,
            ),
            "/queryables": get(
                "Queryables", {"200": _answer("JSON Schema.", "application/schema+json")}
            ),
            "/collections": get(
                "The BYOC collections", {"200": _answer("Collections."), **_errors("401")}
            ),
            "/collections/{collectionId}": get(
                "One collection",
                {"200": _answer("A STAC Collection."), **_errors("400", "401", "404")},
                parameters=[collection],
            ),
            "/collections/{collectionId}/queryables": get(
                "Queryables of a collection",
                {"200": _answer("JSON Schema.", "application/schema+json")},
                parameters=[collection],
            ),
            "/collections/{collectionId}/items": get(
                "Items of a collection",
                search,
                parameters=[collection, *_query(items_params)],
            ),
            "/collections/{collectionId}/items/{featureId}": get(
                "One item",
                {"200": _answer("A STAC Item.", _GEOJSON), **_errors("400", "401", "404")},
                parameters=[collection, item],
            ),
            "/search": {
                **get("Search", search, parameters=_query(every)),
                "post": {
                    "summary": "Search",
                    "requestBody": {
                        "required": True,
                        "content": {
                            _JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["collections"],
                                    "properties": {
                                        name: {"description": text}
                                        for name, text in _SEARCH_PARAMS.items()
                                    },
                                }
                            }
                        },
                    },
                    "responses": search,
                },
            },
        },
    }


def service_doc(base: str) -> str:
    """An HTML page listing the routes of `openapi` (the ``service-doc``).

    Examples
    --------
    >>> "<code>GET /search</code>" in service_doc("http://127.0.0.1:8080/api/v1/catalog/1.0.0")
    True
    """
    doc = openapi(base)
    rows = []
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            rows.append(
                f"<li><code>{method.upper()} {html.escape(path)}</code>: "
                f"{html.escape(operation['summary'])}</li>"
            )
    title = html.escape(doc["info"]["title"])
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><h1>{title}</h1><p>{html.escape(doc['info']['description'])} "
        f'Root: <a href="{html.escape(base)}/">{html.escape(base)}/</a>; definition: '
        f'<a href="{html.escape(base)}{SERVICE_DESC}">OpenAPI 3.0</a>.</p>'
        f"<ul>{''.join(rows)}</ul></body></html>"
    )

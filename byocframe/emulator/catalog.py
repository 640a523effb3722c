"""The Sentinel Hub Catalog API (STAC API 1.0.0) of the local service, BYOC collections only.

Served under ``/api/v1/catalog/1.0.0`` next to the BYOC API, with the same tokens:
landing page, conformance and the API's OpenAPI definition (``/api``) and HTML page
(``/api.html``), all anonymous; collections, items, item by id, queryables, and search
(GET and POST). The behaviour follows ``shared/CATALOG_API.md``: only
INGESTED tiles are items, newest first (then id), paged by an integer offset ``next``
with ``context`` on every page and absolute links built from the request's ``Host``.

A search's result list is computed once, on its first page, and kept for later pages
of the same query (ten minutes; 64 queries or a million items): a tile written
meanwhile neither shifts an item onto a second page nor hides one, which plain
offsets would do.

Examples
--------
>>> import requests, byocframe
>>> with byocframe.local_service() as service:
...     landing = requests.get(service.base_url + CATALOG_ROOT, timeout=5).json()
>>> landing["type"], len(landing["conformsTo"])
('Catalog', 18)
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from byocframe.emulator.auth import TokenIssuer
from byocframe.emulator.catalog_openapi import OPENAPI_MEDIA, SERVICE_DESC, SERVICE_DOC, openapi
from byocframe.emulator.catalog_openapi import service_doc as service_doc_page
from byocframe.emulator.faults import Faults, RateLimit
from byocframe.emulator.filters import QUERYABLES
from byocframe.emulator.limits import Limits
from byocframe.emulator.problems import ApiProblem, read_json
from byocframe.emulator.search import SearchQuery, apply_fields, collection_uuid, problem
from byocframe.emulator.spatial import Candidate, CatalogIndex, format_stac_time
from byocframe.emulator.store import Store

__all__ = ["CATALOG_ROOT", "CONFORMANCE", "Catalog"]

CATALOG_ROOT = "/api/v1/catalog/1.0.0"
_API = "https://api.stacspec.org/v1.0.0"
_OGC = "http://www.opengis.net/spec"
#: The list the real service advertises (``shared/CATALOG_API.md`` section 9).
CONFORMANCE = [
    f"{_OGC}/ogcapi-features-1/1.0/conf/core",
    f"{_OGC}/ogcapi-features-1/1.0/conf/oas30",
    f"{_OGC}/ogcapi-features-1/1.0/conf/geojson",
    f"{_API}/core",
    f"{_API}/collections",
    f"{_API}/ogcapi-features",
    f"{_API}/ogcapi-features#fields",
    f"{_API}/ogcapi-features#context",
    f"{_API}/ogcapi-features#filter",
    f"{_API}/item-search",
    f"{_API}/item-search#fields",
    f"{_API}/item-search#context",
    f"{_API}/item-search#filter",
    f"{_OGC}/ogcapi-features-3/1.0/conf/filter",
    f"{_OGC}/ogcapi-features-3/1.0/conf/features-filter",
    f"{_OGC}/cql2/1.0/conf/cql2-text",
    f"{_OGC}/cql2/1.0/conf/cql2-json",
    f"{_OGC}/cql2/1.0/conf/basic-cql2",
]
JSON, GEOJSON, SCHEMA = "application/json", "application/geo+json", "application/schema+json"
HTML = "text/html"
#: Routes any client may read without a token [CATALOG_API.md 2], and the API's definition.
_ANONYMOUS = ("", "/conformance", SERVICE_DESC, SERVICE_DOC)
_KEPT_RESULTS = 64
_KEPT_ITEMS = 1_000_000  # ~100 MB of (seq, datetime, id) triples at most
_KEPT_SECONDS = 600.0


class CatalogHost(Protocol):
    """What the Catalog needs from the HTTP server it is mounted on."""

    store: Store
    issuer: TokenIssuer
    faults: Faults
    rate_limit: RateLimit | None

    def count_request(self) -> None:
        """Count one answered request."""


class Catalog:
    """The Catalog endpoints over a `Store` (see the module docstring).

    Parameters
    ----------
    store : Store
    timeless_match_datetime : bool, default False
        Whether tiles without a sensing time match a ``datetime`` filter (the real
        behaviour is unconfirmed; they always match searches without one).
    limits : Limits, optional
        Bounds of request bodies, filters and ``intersects`` (`Limits` defaults).
    """

    def __init__(
        self,
        store: Store,
        *,
        timeless_match_datetime: bool = False,
        limits: Limits | None = None,
    ):
        self.store = store
        self.limits = limits or Limits()
        self.index = CatalogIndex(store)
        self.timeless_match_datetime = timeless_match_datetime
        self._results: collections.OrderedDict[str, tuple[float, list[Candidate]]] = (
            collections.OrderedDict()
        )
        self._results_lock = threading.Lock()

    # ---------------------------------------------------------------- HTTP
    def serve(
        self,
        request: BaseHTTPRequestHandler,
        host: CatalogHost,
        method: str,
        read_body: Callable[[], bytes],
    ) -> None:
        """Answer one request on a `BYOCServer` handler (tokens, faults, rate limit).

        ``read_body`` is called only once the token was checked: an anonymous client
        cannot make the service read (or invite with ``100 Continue``) a body.
        """
        url = urllib.parse.urlsplit(request.path)
        rest = url.path[len(CATALOG_ROOT) :].rstrip("/")
        try:
            faults = host.faults
            if faults.latency:
                time.sleep(faults.latency)
            if rest not in _ANONYMOUS:
                client = _bearer_client(request, host.issuer)
                wait = host.rate_limit.acquire(client) if host.rate_limit is not None else 0
                fate = faults.decide() if faults.active else "ok"
                if wait or fate == "throttle":
                    raise ApiProblem(429, "RATE_LIMIT_EXCEEDED", "You have exceeded your limit")
                if fate == "error":
                    raise ApiProblem(503, "SERVICE_UNAVAILABLE", "Injected failure.")
            body = read_body()
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            base = "http://" + (request.headers.get("Host") or "localhost") + CATALOG_ROOT
            status, media, answer = self.answer(
                method, rest, query, _json_body(body, self.limits.max_json_depth), base
            )
            host.count_request()
        except ApiProblem as err:
            status, media = err.status, JSON
            answer = {"code": err.code, "description": err.message}
        if media == HTML:
            data = str(answer).encode()
            media += "; charset=utf-8"
        else:
            data = json.dumps(answer, separators=(",", ":")).encode()
        request.send_response(status)
        request.send_header("Content-Type", media)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def answer(
        self,
        method: str,
        rest: str,
        query: Mapping[str, str],
        body: Mapping[str, Any] | None,
        base: str,
    ) -> tuple[int, str, Any]:
        """(status, media type, JSON) for ``method`` on ``CATALOG_ROOT + rest``."""
        parts = rest.strip("/").split("/") if rest.strip("/") else []
        route = tuple(p if i % 2 == 0 else "*" for i, p in enumerate(parts))
        if method == "POST" and route == ("search",):
            search = SearchQuery.parse(body or {}, get=False, limits=self.limits)
            return 200, GEOJSON, self.search(search, base)
        if method != "GET":
            allowed = route == ("search",) or route in _GET_ROUTES
            raise ApiProblem(405 if allowed else 404, "METHOD_NOT_ALLOWED", f"{method} {rest}")
        if route == ():
            return 200, JSON, self.landing(base)
        if route == ("conformance",):
            return 200, JSON, {"conformsTo": CONFORMANCE}
        if rest == SERVICE_DESC:
            return 200, OPENAPI_MEDIA, openapi(base)
        if rest == SERVICE_DOC:
            return 200, HTML, service_doc_page(base)
        if route == ("search",):
            search = SearchQuery.parse(query, get=True, limits=self.limits)
            return 200, GEOJSON, self.search(search, base, get=query)
        if route == ("queryables",) or route == ("collections", "*", "queryables"):
            return 200, SCHEMA, _queryables(base + rest)
        if route == ("collections",):
            return 200, JSON, self.collections(base)
        if route == ("collections", "*"):
            return 200, JSON, self.collection(parts[1], base)
        if route == ("collections", "*", "items"):
            search = SearchQuery.parse(query, get=True, collection=parts[1], limits=self.limits)
            return 200, GEOJSON, self.search(search, base, get=query, items=parts[1])
        if route == ("collections", "*", "items", "*") and len(parts) == 4:
            return 200, GEOJSON, self.item(parts[1], parts[3], base)
        raise ApiProblem(404, "NOT_FOUND", f"No such Catalog endpoint: {rest or '/'}")

    # ---------------------------------------------------------------- documents
    def landing(self, base: str) -> dict[str, Any]:
        """The landing page: a STAC Catalog with ``conformsTo`` and typed links."""
        search = {"href": f"{base}/search", "rel": "search", "type": GEOJSON}
        return {
            "type": "Catalog",
            "stac_version": "1.0.0",
            "id": "sentinel-hub",
            "title": "Sentinel Hub STAC catalog (byocframe local service)",
            "description": "STAC v1.0.0 implementation of the BYOC collections of this service",
            "conformsTo": CONFORMANCE,
            "links": [
                {"href": f"{base}/", "rel": "root", "type": JSON},
                {"href": f"{base}/", "rel": "self", "type": JSON},
                {"href": f"{base}/collections", "rel": "data", "type": JSON},
                {"href": f"{base}/conformance", "rel": "conformance", "type": JSON},
                {**search, "title": "STAC search", "method": "GET"},
                {**search, "title": "STAC search", "method": "POST"},
                {
                    "href": f"{base}/queryables",
                    "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                    "type": SCHEMA,
                },
                {"href": base + SERVICE_DESC, "rel": "service-desc", "type": OPENAPI_MEDIA},
                {"href": base + SERVICE_DOC, "rel": "service-doc", "type": HTML},
            ],
        }

    def collections(self, base: str) -> dict[str, Any]:
        """Every BYOC collection of the account, as STAC Collections."""
        docs, token = [], None
        while True:
            page, token = self.store.collections(search=None, count=100, token=token)
            docs += page
            if not token:
                break
        return {
            "links": [
                {"href": f"{base}/", "rel": "root", "type": JSON},
                {"href": f"{base}/collections", "rel": "self", "type": JSON},
                {"href": f"{base}/", "rel": "parent", "type": JSON},
            ],
            "collections": [self._collection(doc, base) for doc in docs],
        }

    def collection(self, catalog_id: str, base: str) -> dict[str, Any]:
        """One collection (400 for a malformed id, 404 for an unknown one)."""
        return self._collection(self.store.collection(collection_uuid(catalog_id)), base)

    def _collection(self, doc: Mapping[str, Any], base: str) -> dict[str, Any]:
        self.index.refresh()
        box, (first, last) = self.index.extent(doc["id"])
        bands = (doc.get("additionalData") or {}).get("bands") or {}
        cat_id = "byoc-" + doc["id"]
        href = f"{base}/collections/{cat_id}"
        return {
            "stac_version": "1.0.0",
            "type": "Collection",
            "stac_extensions": [
                "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            ],
            "id": cat_id,
            "title": doc.get("name") or cat_id,
            "description": f"BYOC collection {doc.get('name') or doc['id']}",
            "license": "proprietary",
            "providers": [],
            "extent": {
                "spatial": {"bbox": [box or [-180.0, -90.0, 180.0, 90.0]]},
                "temporal": {"interval": [[format_stac_time(first), format_stac_time(last)]]},
            },
            "summaries": {
                "eo:bands": [{"name": name} for name in bands],
                "raster:bands": [_raster_band(spec, doc.get("noData")) for spec in bands.values()],
            },
            "links": [
                {"href": f"{base}/", "rel": "root", "type": JSON},
                {"href": href, "rel": "self", "type": JSON},
                {"href": f"{base}/collections", "rel": "parent", "type": JSON},
                {"href": f"{href}/items", "rel": "items", "type": GEOJSON},
                {
                    "href": f"{href}/queryables",
                    "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                    "type": SCHEMA,
                },
            ],
        }

    def item(self, catalog_id: str, item_id: str, base: str) -> dict[str, Any]:
        """One item by id (404 unless the collection has such an INGESTED tile)."""
        cid = collection_uuid(catalog_id)
        self.store.collection_doc(cid)
        self.index.refresh()
        doc = self.index.item(cid, item_id)
        if doc is None:
            raise ApiProblem(404, "NOT_FOUND", f"Item {item_id} not found in {catalog_id}.")
        return _with_links(doc, base)

    # ---------------------------------------------------------------- search
    def matches(self, query: SearchQuery) -> list[Candidate]:
        """The matching items of a query, newest first, then by id; kept for its later pages."""
        key = query.key
        now = time.monotonic()
        with self._results_lock:
            kept = self._results.get(key)
        if query.next > 0 and kept is not None and now - kept[0] < _KEPT_SECONDS:
            return kept[1]
        self.index.refresh()
        where: list[str] = []
        args: list[Any] = []
        if query.ids is not None:
            where.append("id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(query.ids))
        if query.interval is not None:
            low, high = query.interval
            bounds = []
            if low is not None:
                bounds.append("dt_us >= ?")
                args.append(low)
            if high is not None:
                bounds.append("dt_us <= ?")
                args.append(high)
            test = " AND ".join(bounds)
            where.append(f"(dt_us IS NULL OR ({test}))" if self.timeless_match_datetime else test)
        if query.filter is not None:
            where.append(query.filter[0])
            args += query.filter[1]
        found = self.index.candidates(query.collection, where, args, area=query.area)
        # newest first, timeless last, then id: a total order, so offsets are stable
        found.sort(key=lambda c: (c[1] is None, -(c[1] or 0), c[2]))
        with self._results_lock:
            self._results[key] = (now, found)
            self._results.move_to_end(key)
            while len(self._results) > _KEPT_RESULTS or (
                len(self._results) > 1
                and sum(len(v) for _, v in self._results.values()) > _KEPT_ITEMS
            ):
                self._results.popitem(last=False)
        return found

    def search(
        self,
        query: SearchQuery,
        base: str,
        *,
        get: Mapping[str, str] | None = None,
        items: str | None = None,
    ) -> dict[str, Any]:
        """One page of a search as a FeatureCollection with ``context`` and ``next`` links."""
        self.store.collection_doc(query.collection)  # 404 for an unknown collection
        found = self.matches(query)
        if query.distinct == "date":
            days = sorted({str(format_stac_time(c[1]))[:10] for c in found if c[1] is not None})
            result: list[Any] = days[::-1]
        else:
            result = found
        start, stop = query.next, query.next + query.limit
        page = result[start:stop]
        if query.distinct == "date":
            features: list[Any] = page
        else:
            docs = self.index.documents(c[0] for c in page)
            features = [
                apply_fields(_with_links(docs[c[0]], base), query.fields)
                for c in page
                if c[0] in docs
            ]
        context: dict[str, Any] = {
            "limit": query.limit,
            "returned": len(features),
            "matched": len(result),
        }
        path = f"{base}/collections/{items}/items" if items else f"{base}/search"
        links = [
            {"href": f"{base}/", "rel": "root", "type": JSON},
            {"href": path, "rel": "self", "type": GEOJSON},
        ]
        if stop < len(result):
            context["next"] = stop
            link: dict[str, Any] = {"rel": "next", "type": GEOJSON, "title": "Next results"}
            if get is None:
                link.update(href=path, method="POST", body={"next": stop}, merge=True)
            else:
                link["href"] = path + "?" + urllib.parse.urlencode({**get, "next": stop})
            links.append(link)
        answer: dict[str, Any] = {"type": "FeatureCollection", "features": features}
        answer["links"] = links
        answer["context"] = context
        if items:
            answer["numberReturned"] = len(features)
            answer["numberMatched"] = len(result)
            answer["timeStamp"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return answer


_GET_ROUTES = {
    (),
    ("conformance",),
    ("api",),
    ("api.html",),
    ("queryables",),
    ("collections",),
    ("collections", "*"),
    ("collections", "*", "queryables"),
    ("collections", "*", "items"),
    ("collections", "*", "items", "*"),
}


def _with_links(doc: dict[str, Any], base: str) -> dict[str, Any]:
    href = f"{base}/collections/{doc['collection']}"
    doc["links"] = [
        {"href": f"{base}/", "rel": "root", "type": JSON},
        {"href": f"{href}/items/{doc['id']}", "rel": "self", "type": GEOJSON},
        {"href": href, "rel": "parent", "type": JSON},
        {"href": href, "rel": "collection", "type": JSON},
    ]
    return doc


def _raster_band(spec: Mapping[str, Any], no_data: Any) -> dict[str, Any]:
    """``raster:bands`` entry: ``UINT`` + 16 -> ``uint16``; the band's or collection's noData."""
    out: dict[str, Any] = {
        "data_type": f"{str(spec.get('sampleFormat', 'UINT')).lower()}{spec.get('bitDepth', 8)}"
    }
    value = spec.get("noData", no_data)
    if value is not None:
        out["nodata"] = value
    return out


def _queryables(href: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": href,
        "type": "object",
        "title": "Queryables of BYOC items",
        "properties": {name: schema for name, (_, _, schema) in QUERYABLES.items()},
        "additionalProperties": False,
    }


def _bearer_client(request: BaseHTTPRequestHandler, issuer: TokenIssuer) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    client = issuer.check(token.strip()) if scheme.lower() == "bearer" else None
    if client is None:
        raise ApiProblem(401, "UNAUTHORIZED", "Missing, invalid or expired access token.")
    return client


def _json_body(body: bytes, max_depth: int) -> dict[str, Any] | None:
    if not body.strip():
        return None
    deeper = f"nested deeper than max_json_depth={max_depth} levels"
    try:
        value = read_json(body, deeper)
    except ValueError as err:
        raise problem(f"the request body is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise problem("the request body must be a JSON object")
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:  # iterative: what is decoded can be walked without recursion
        item, depth = stack.pop()
        if depth > max_depth:
            raise problem(f"the request body is {deeper}")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return value

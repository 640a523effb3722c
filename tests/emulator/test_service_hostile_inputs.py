"""Hostile values in every parameter the local service reads: a 4xx naming it, never a 500.

Issue 22: inputs past a limit Python or SQLite sets (an integer too large for a float,
an infinite number, a list where names are due) reached code that assumed them sane
and were answered 500. Each case here is sent as raw bytes (a strict JSON writer
refuses ``1e999`` and ``NaN``), and the answer must be a 4xx in the envelope of its
API whose one-line message names the parameter or the limit. The Catalog's issue
list (``proj:epsg`` past 2^63, nested ``NOT``s, ...) is in ``test_catalog_filters.py``.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from conftest import ServiceApi, utm33_files

import byocframe

CATALOG = "/api/v1/catalog/1.0.0"
BIG = "9" * 400  # an integer no float holds (float() raises OverflowError)


@pytest.fixture(scope="module")
def world():
    """A service with one collection holding one INGESTED tile, and a session with a token."""
    with byocframe.local_service() as service:
        api = ServiceApi(service)
        body = {"name": "c", "s3Bucket": "bkt", "additionalData": {"bands": {"B02": {}}}}
        cid = api("POST", "/collections", json=body).json()["data"]["id"]
        service.register_files("bkt", utm33_files("t/(BAND).tif"))
        answer = api("POST", f"/collections/{cid}/tiles", json={"path": "t/(BAND).tif"})
        yield service, api, cid, answer.json()["data"]["id"]


def _point(x: str, y: str = "0") -> str:
    return '{"type": "Point", "coordinates": [' + x + ", " + y + "]}"


def _square(corner: str) -> str:
    return '{"type": "Polygon", "coordinates": [[[0, 0], [' + corner + ", 0], [1, 1], [0, 0]]]}"


# a POST /search body's members after "collections", and words its refusal must hold
SEARCH_BODIES = {
    "bbox-integer-past-float": ('"bbox": [' + BIG + ", 0, 1, 1]", "bbox"),
    "bbox-infinite": ('"bbox": [-1e999, 0, 1, 1]', "bbox"),
    "bbox-nan": ('"bbox": [NaN, 0, 1, 1]', "bbox"),
    "bbox-6-infinite": ('"bbox": [0, 0, 0, 1e999, 1, 1]', "bbox"),
    "limit-negative-past-digits": ('"limit": -' + "9" * 5000, "limit"),
    "intersects-infinite": ('"intersects": ' + _square("1e999"), "finite"),
    "intersects-nan": ('"intersects": ' + _point("NaN"), "finite"),
    "intersects-infinite-z": (
        '"intersects": {"type": "Point", "coordinates": [0, 0, 1e999]}',
        "finite",
    ),
    "limit-infinite": ('"limit": 1e999', "limit"),
    "limit-nan": ('"limit": NaN', "limit"),
    "next-infinite": ('"next": 1e999', "next"),
    "next-negative-infinite": ('"next": -1e999', "next"),
    "fields-include-number": ('"fields": {"include": [1]}', "fields.include"),
    "fields-include-object": ('"fields": {"include": [{}]}', "fields.include"),
    "fields-exclude-null": ('"fields": {"exclude": [null]}', "fields.exclude"),
    "fields-exclude-list-only": ('"fields": {"include": null, "exclude": [[]]}', "fields.exclude"),
    "filter-epsg-nan-json": (
        '"filter-lang": "cql2-json", '
        '"filter": {"op": "=", "args": [{"property": "proj:epsg"}, NaN]}',
        "proj:epsg",
    ),
}

# query parameters of GET /search and /collections/{id}/items
SEARCH_PARAMS = {
    "bbox-infinite": ({"bbox": "-inf,0,1,1"}, "bbox"),
    "bbox-nan": ({"bbox": "nan,0,1,1"}, "bbox"),
    "intersects-infinite": ({"intersects": _point("1e999")}, "finite"),
    "limit-float": ({"limit": "1e3"}, "limit"),
    "limit-past-int-digits": ({"limit": "9" * 5000}, "limit"),
    "next-negative": ({"next": "-1"}, "next"),
}


def _catalog_refusal(answer: requests.Response, word: str) -> None:
    assert 400 <= answer.status_code < 500, answer.text[:300]
    body = answer.json()
    assert set(body) == {"code", "description"}, body
    assert "\n" not in body["description"]
    assert word in body["description"], body["description"]


@pytest.mark.parametrize("case", list(SEARCH_BODIES))
def test_a_hostile_search_body_is_a_400_naming_it(world, case):
    service, api, cid, _ = world
    members, word = SEARCH_BODIES[case]
    raw = '{"collections": ["byoc-' + cid + '"], ' + members + "}"
    answer = api.session.post(
        service.base_url + CATALOG + "/search",
        data=raw.encode(),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    _catalog_refusal(answer, word)


@pytest.mark.parametrize("route", ["search", "items"])
@pytest.mark.parametrize("case", list(SEARCH_PARAMS))
def test_a_hostile_search_parameter_is_a_400_naming_it(world, case, route):
    service, api, cid, _ = world
    params, word = SEARCH_PARAMS[case]
    if route == "search":
        url, params = (
            service.base_url + CATALOG + "/search",
            {"collections": f"byoc-{cid}", **params},
        )
    else:
        url = service.base_url + CATALOG + f"/collections/byoc-{cid}/items"
    _catalog_refusal(api.session.get(url, params=params, timeout=60), word)


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _byoc_cases(cid: str, tid: str) -> dict[str, tuple[str, str, dict[str, Any], str]]:
    tiles = f"/collections/{cid}/tiles"
    deep = b'{"name": "a", "s3Bucket": "b", "x": ' + b"[" * 40 + b"]" * 40 + b"}"
    crs = '{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::' + "9" * 5000 + '"}}'
    cover = '{"type": "Polygon", "crs": ' + crs + ', "coordinates": [[[0,0],[1,0],[1,1],[0,0]]]}'
    return {
        "count-past-int-digits": ("GET", tiles, {"params": {"count": "9" * 5000}}, "count"),
        "count-float": ("GET", tiles, {"params": {"count": "1e3"}}, "count"),
        "sort-unknown": ("GET", tiles, {"params": {"sort": "x" * 1000}}, "sort"),
        "status-nul": ("GET", tiles, {"params": {"status": "\x00"}}, "status"),
        "viewtoken-garbage": ("GET", tiles, {"params": {"viewtoken": "!!!!"}}, "viewtoken"),
        "viewtoken-integer-past-digits": (
            "GET",
            tiles,
            {"params": {"viewtoken": _token(b'["created",' + b"9" * 5000 + b"]")}},
            "viewtoken",
        ),
        "viewtoken-infinite": (
            "GET",
            tiles,
            {"params": {"viewtoken": _token(b'["created:asc",1e999]')}},
            "viewtoken",
        ),
        "viewtoken-nested": (
            "GET",
            "/collections",
            {"params": {"viewtoken": _token(b"[" * 2000 + b"]" * 2000)}},
            "viewtoken",
        ),
        "body-nested-40": ("POST", "/collections", {"data": deep}, "32 levels"),
        "body-nested-100000": (
            "POST",
            "/collections",
            {"data": b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"},
            "32 levels",
        ),
        "body-integer-past-digits": (
            "POST",
            tiles,
            {"data": b'{"path": "t/(BAND).tif", "sensingTime": ' + b"9" * 5000 + b"}"},
            "64 bits",
        ),
        "body-infinite": (
            "POST",
            "/collections",
            {"data": b'{"name": "a", "s3Bucket": "b", "additionalData": {"noData": 1e999}}'},
            "noData",
        ),
        "cover-100000-parts": (
            "POST",
            tiles,
            {
                "json": {
                    "path": "t/(BAND).tif",
                    "coverGeometry": {
                        "type": "MultiPolygon",
                        "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]] * 100_000,
                    },
                }
            },
            "at most 100",
        ),
        "cover-crs-code-past-int-digits": (
            "PUT",
            f"{tiles}/{tid}",
            {"data": ('{"coverGeometry": ' + cover + "}").encode()},
            "coverGeometry.crs",
        ),
        "path-5000-characters": (
            "POST",
            tiles,
            {"json": {"path": "(BAND)" + "a" * 5000}},
            "at most 1024",
        ),
        "copy-without-target": ("POST", f"/collections/{cid}/copyTiles", {}, "toCollection"),
    }


BYOC_CASES = list(_byoc_cases("c", "t"))


@pytest.mark.parametrize("case", BYOC_CASES)
def test_a_hostile_byoc_request_is_a_4xx_naming_it(world, case):
    _, api, cid, tid = world
    method, path, kwargs, word = _byoc_cases(cid, tid)[case]
    headers = {"Content-Type": "application/json"} if "data" in kwargs else {}
    answer = api(method, path, timeout=60, headers=headers, **kwargs)
    assert 400 <= answer.status_code < 500, answer.text[:300]
    error = answer.json()["error"]
    assert error["status"] == answer.status_code
    assert word in error["message"], error["message"]
    assert "sys.set_int_max_str_digits" not in error["message"]  # Python's advice, not ours

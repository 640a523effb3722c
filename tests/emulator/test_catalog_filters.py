"""Catalog ``filter``: standard CQL2 read by the ``cql2`` package, the subset gate, the limits.

Every answer here is compared with a truth computed from the tiles' own records (the
EPSG code in their geometry's CRS), and every refused request must be a 400 in the
Catalog's envelope that names the limit it broke, never a 500 nor a long wait.
"""

from __future__ import annotations

import json

import pytest
import requests
from catalog_world import CATALOG, build_world, token_for

import byocframe
from byocframe.emulator import Limits

DEFAULTS = Limits()


@pytest.fixture(scope="module")
def world_service():
    with byocframe.local_service(ingestion_delay=None) as service:
        client = service.client()
        world = build_world(service, client)
        # two tiles in UTM zones 30N and 31N: a truncated bound (32630.5 -> 32630) shows
        for epsg in (32630, 32631):
            _add_tile(service, client, world.collection, epsg)
        records = list(client.iter_tiles(world.collection))
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + token_for(service)
        yield service, world, records, session


def _add_tile(service, client, collection: str, epsg: int) -> None:
    path = f"zone-{epsg}/(BAND).tif"
    spec = {"crs": f"EPSG:{epsg}", "bounds": [400_000, 4_900_000, 509_800, 5_009_800]}
    spec |= {"resolution": 10, "bitDepth": 16, "sampleFormat": "UINT"}
    service.register_files("world", {path.replace("(BAND)", b): spec for b in ("B02", "B03")})
    body = {"path": path, "sensingTime": "2020-04-11T10:00:00Z"}
    client.create_tile(collection, body)
    service.ingest_pending()


def _post(ctx, body, *, raw: bytes | None = None, timeout: float = 30):
    service, world, _, session = ctx
    url = service.base_url + CATALOG + "/search"
    if raw is not None:
        headers = {"Content-Type": "application/json"}
        return session.post(url, data=raw, headers=headers, timeout=timeout)
    return session.post(url, json={"collections": [world.catalog_id], **body}, timeout=timeout)


def _ids(ctx, **body) -> set[str]:
    """Every item id of a search, following ``context.next``."""
    body = {"limit": 100, **body}
    ids: set[str] = set()
    while True:
        answer = _post(ctx, body)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        ids |= {f["id"] for f in page["features"]}
        if "next" not in page["context"]:
            return ids
        body = {**body, "next": page["context"]["next"]}


def _epsg(record) -> int:
    """The EPSG code of a tile, read from its geometry's CRS name (not from the service)."""
    geojson = record.get("coverGeometry") or record["tileGeometry"]
    return int(geojson["crs"]["properties"]["name"].rsplit(":", 1)[-1])


def _truth(records, keep) -> set[str]:
    return {r["id"] for r in records if r["status"] == "INGESTED" and keep(_epsg(r))}


def _refused(answer, *words: str) -> None:
    assert answer.status_code == 400, answer.text[:300]
    body = answer.json()
    assert set(body) == {"code", "description"}
    assert "\n" not in body["description"]
    for word in words:
        assert word in body["description"]


# ---------------------------------------------------------------- standard CQL2
@pytest.mark.parametrize(
    "text",
    [
        '"proj:epsg" = 32633',
        '"properties.proj:epsg" = 32633',
        "\"proj:epsg\" = 32633 AND id <> 'x'",
    ],
)
def test_quoted_property_names(world_service, text):
    records = world_service[2]
    expected = _truth(records, lambda epsg: epsg == 32633)
    assert len(expected) >= 8  # seven UTM 33N tiles, the timeless one (and the once WAITING)
    assert _ids(world_service, filter=text) == expected


def test_quoted_property_names_on_get(world_service):
    service, world, records, session = world_service
    params = {"collections": world.catalog_id, "filter": '"proj:epsg" = 32633', "limit": "100"}
    answer = session.get(service.base_url + CATALOG + "/search", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    got = {f["id"] for f in answer.json()["features"]}
    assert got == _truth(records, lambda epsg: epsg == 32633)


@pytest.mark.parametrize(
    ("text", "keep"),
    [
        ("proj:epsg < 32633.5", lambda e: e < 32633.5),
        ("proj:epsg >= 32633.5", lambda e: e >= 32633.5),
        ("proj:epsg >= 32601.5 AND proj:epsg <= 32660.5", lambda e: 32601.5 <= e <= 32660.5),
        ("proj:epsg BETWEEN 32630.5 AND 32633.5", lambda e: 32630.5 <= e <= 32633.5),
        ("proj:epsg = 32633.5", lambda e: e == 32633.5),
        ("proj:epsg <> 32633.5", lambda e: e != 32633.5),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_non_whole_numbers_compare_exactly(world_service, text, keep):
    records = world_service[2]
    expected = _truth(records, keep)
    assert _ids(world_service, filter=text) == expected


def test_non_whole_numbers_in_cql2_json(world_service):
    records = world_service[2]
    between = {"op": "between", "args": [{"property": "proj:epsg"}, 32630.5, 32633.5]}
    expected = _truth(records, lambda e: 32630.5 <= e <= 32633.5)
    assert expected  # the seven UTM 33N tiles and the timeless one, not the zone 1 crosser
    got = _ids(world_service, filter=between, **{"filter-lang": "cql2-json"})
    assert got == expected
    below = {"op": "and", "args": [{"op": "<", "args": [{"property": "proj:epsg"}, 32633.5]}]}
    got = _ids(world_service, filter=below, **{"filter-lang": "cql2-json"})
    assert got == _truth(records, lambda e: e < 32633.5)


# ---------------------------------------------------------------- what was a 500
def _deep_json(collection: str, levels: int) -> bytes:
    head = '{"collections": ["' + collection + '"], "deep": '
    return head.encode() + b"[" * levels + b"]" * levels + b"}"


def _rectangles(n: int) -> dict[str, object]:
    """A MultiPolygon of ``n`` disjoint axis-aligned rectangles over the Pacific."""
    boxes = []
    for k in range(n):
        w, s = -170.0 + (k % 50) * 0.5, -40.0 + (k // 50) * 0.5
        boxes.append([[[w, s], [w + 0.2, s], [w + 0.2, s + 0.2], [w, s + 0.2], [w, s]]])
    return {"type": "MultiPolygon", "coordinates": boxes}


NOT_JSON = {"op": "=", "args": [{"property": "proj:epsg"}, 1]}
HUGE = 2**63 + 1

CASES = {
    "epsg-above-2^63-text": ({"filter": "proj:epsg = 99999999999999999999999"}, ("2^63",)),
    "epsg-above-2^63-between": (
        {"filter": f"proj:epsg BETWEEN 1 AND {HUGE}"},
        ("2^63",),
    ),
    "epsg-infinite-text": ({"filter": "proj:epsg < 1e400"}, ("finite",)),
    "epsg-above-2^63-json": (
        {
            "filter": {"op": "=", "args": [{"property": "proj:epsg"}, HUGE]},
            "filter-lang": "cql2-json",
        },
        ("2^63",),
    ),
    "50-nested-nots": ({"filter": "NOT " * 50 + "proj:epsg = 1"}, ("max_filter_depth",)),
    "50-nested-not-groups": (
        {"filter": "NOT (" * 50 + "proj:epsg = 1" + ")" * 50},
        ("max_filter_depth",),
    ),
    "500-nested-parentheses": (
        {"filter": "(" * 500 + "proj:epsg = 1" + ")" * 500},
        ("max_filter_depth",),
    ),
    "1000-ands": ({"filter": " AND ".join(["id<>''"] * 1000)}, ("max_filter_terms",)),
    "1000-ands-json": (
        {
            "filter": {
                "op": "and",
                "args": [{"op": "<>", "args": [{"property": "id"}, ""]}] * 1000,
            },
            "filter-lang": "cql2-json",
        },
        ("max_filter_terms",),
    ),
    "intersects-600-rectangles": ({"intersects": _rectangles(600)}, ("max_intersects_parts",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_former_500s_are_400s_naming_the_limit(world_service, case):
    body, words = CASES[case]
    _refused(_post(world_service, body), *words)


def test_infinite_epsg_in_a_json_body(world_service):
    world = world_service[1]
    for literal in (b"1e999", b"-1e999", str(HUGE).encode()):
        raw = (
            b'{"collections": ["' + world.catalog_id.encode() + b'"], "filter-lang": "cql2-json", '
            b'"filter": {"op": "<", "args": [{"property": "proj:epsg"}, ' + literal + b"]}}"
        )
        answer = _post(world_service, {}, raw=raw)
        _refused(answer, "proj:epsg")
        assert "2^63" in answer.json()["description"] or "finite" in answer.json()["description"]


@pytest.mark.parametrize("levels", [40, 2_500, 100_000])
def test_deeply_nested_json_body(world_service, levels):
    raw = _deep_json(world_service[1].catalog_id, levels)
    _refused(_post(world_service, {}, raw=raw), "max_json_depth")


def _nested_nots(levels: int) -> str:
    """A cql2-json text of ``levels`` nested ``not`` (built as text: json.dumps would recurse)."""
    return '{"op":"not","args":[' * levels + json.dumps(NOT_JSON) + "]}" * levels


def test_deeply_nested_cql2_json_text(world_service):
    service, world, _, session = world_service
    body = {"filter-lang": "cql2-json", "filter": _nested_nots(3_000)}
    # 60 KB of text: refused by its size before it is read
    _refused(_post(world_service, body), "max_filter_bytes")
    params = {"collections": world.catalog_id, "filter-lang": "cql2-json"}
    url = service.base_url + CATALOG + "/search"
    answer = session.get(url, params={**params, "filter": _nested_nots(40)}, timeout=30)
    _refused(answer, "max_filter_depth")
    _refused(_post(world_service, {**body, "filter": _nested_nots(40)}), "max_filter_depth")


def test_a_100k_and_filter_is_refused_by_its_size(world_service):
    text = " AND ".join(f"proj:epsg <> {k}" for k in range(100_000))
    assert len(text) > 1_000_000
    answer = _post(world_service, {"filter": text})
    _refused(answer, "max_filter_bytes", str(DEFAULTS.max_filter_bytes))


def test_limits_are_settings(world_service):
    """Smaller limits are honoured; each breach names its setting and value."""
    limits = Limits(
        max_filter_bytes=100, max_filter_terms=4, max_filter_depth=2, max_intersects_parts=1000
    )
    with byocframe.local_service(limits=limits, ingestion_delay=None) as service:
        client = service.client()
        world = build_world(service, client)
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + token_for(service)
        ctx = (service, world, [], session)
        _refused(_post(ctx, {"filter": "id <> '" + "x" * 100 + "'"}), "max_filter_bytes=100")
        many = "id<>'a' AND id<>'b' AND id<>'c' AND id<>'d' AND id<>'e'"
        _refused(_post(ctx, {"filter": many}), "max_filter_terms=4")
        _refused(_post(ctx, {"filter": "NOT (NOT (NOT (id <> 'a')))"}), "max_filter_depth=2")
        assert _ids(ctx, filter="NOT (id = 'a') AND id<>'b'")
        assert _ids(ctx, intersects=_rectangles(600)) == set()  # all over the open Pacific


# ---------------------------------------------------------------- RFC 3339 times
@pytest.mark.parametrize(
    "text",
    [
        "2024-06-01T00:00:00Z",
        "2024-06-01t12:30:15.25z",
        "2024-06-01T12:30:15.123456+05:30",
        "2024-02-29T23:59:59-11:45",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "1969-12-31T23:59:59.5Z",
        "2024-06-01",
    ],
)
def test_times_read_as_the_standard_library_reads_them(text):
    """The microseconds since 1970 of an RFC 3339 time: numpy's datetime64 of the UTC
    instant (built from ``astimezone``) as the independent reading."""
    import datetime as dt

    import numpy as np

    from byocframe.emulator.filters import time_micros

    stamp = dt.datetime.fromisoformat(text.upper())
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    expected = int(np.datetime64(stamp.isoformat(), "us").astype(np.int64))
    assert time_micros(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-06-01T00:00:00+99:99",  # read as an offset of 4 days before
        "2024-06-01T00:00:00+24:00",
        "2024-06-01T00:00:00-01:60",
        "2024-02-30T00:00:00Z",
        "2024-06-01T24:00:00Z",
        "2024-06-01Z",
    ],
)
def test_times_outside_rfc_3339_are_refused(world_service, text):
    """Finding 331: the hand-written reader took any two digits as an offset's hours and
    minutes (RFC 3339 section 5.6: 00-23 and 00-59), so ``+99:99`` moved the time by four
    days instead of being refused."""
    _refused(_post(world_service, {"datetime": f"{text}/.."}), text)
    if text.endswith("+24:00"):
        return  # the cql2 package itself reads +24:00 as an offset and hands on UTC
    body = {"filter": {"op": ">=", "args": [{"property": "datetime"}, {"timestamp": text}]}}
    _refused(_post(world_service, {**body, "filter-lang": "cql2-json"}), text)

"""Generated tile and collection bodies against the service (issue 12, property test).

The invariant: every request is answered with JSON (``data`` on success, the ``error``
envelope otherwise, never a 5xx), a refused request changes nothing, and everything the
service shows afterwards is strict JSON.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from conftest import UTM33_URN, ServiceApi, box_ring, geojson, strict_json, utm33_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

import byocframe

# hypothesis caches what it learns under its home: keep it out of the working directory
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "byocframe-hypothesis")


@pytest.fixture(scope="module")
def world():
    with byocframe.local_service() as service:
        api = ServiceApi(service)
        cid = api("POST", "/collections", json={"name": "p", "s3Bucket": "bkt"}).json()["data"][
            "id"
        ]
        service.register_files("bkt", utm33_files("keep/(BAND).tif"))
        tid = api("POST", f"/collections/{cid}/tiles", json={"path": "keep/(BAND).tif"}).json()[
            "data"
        ]["id"]
        yield api, cid, tid


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(min_value=300_000, max_value=700_000),
    st.floats(min_value=4_900_000, max_value=5_200_000),
    st.text(max_size=3),
    st.booleans(),
)
positions = st.lists(numbers, min_size=0, max_size=3)
rings = st.one_of(
    st.lists(positions, min_size=0, max_size=6),
    positions.flatmap(lambda p: st.lists(st.just(p), min_size=4, max_size=5)),
)
covers = st.one_of(
    st.builds(
        geojson,
        st.sampled_from(["Polygon", "MultiPolygon", "Point", None]),
        st.one_of(st.lists(rings, max_size=2), st.lists(st.lists(rings, max_size=2), max_size=2)),
        st.sampled_from([UTM33_URN, None, "EPSG:4326", "EPSG:5714", "urn:ogc:def:crs:EPSG::4978"]),
    ),
    st.just(geojson("Polygon", [box_ring(410_000, 5_010_000, 420_000, 5_020_000)], UTM33_URN)),
    json_values,
)
times = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    st.text(max_size=30),
    json_values,
)
tile_bodies = st.fixed_dictionaries(
    {},
    optional={
        "path": st.one_of(st.text(min_size=1, max_size=20), json_values),
        "sensingTime": times,
        "coverGeometry": covers,
        "additionalData": json_values,
        "status": json_values,
    },
)
band_specs = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "source": json_values,
            "bandIndex": st.one_of(st.integers(-3, 120), json_values),
            "bitDepth": st.one_of(st.sampled_from([8, 16, 32, 12]), json_values),
            "sampleFormat": st.one_of(st.sampled_from(["UINT", "INT", "FLOAT", "X"]), json_values),
            "noData": numbers,
        },
    ),
    json_values,
)
collection_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=10), json_values),
        "s3Bucket": st.one_of(st.text(max_size=10), json_values),
        "noData": numbers,
        "additionalData": st.one_of(
            st.fixed_dictionaries(
                {}, optional={"bands": st.dictionaries(st.text(max_size=4), band_specs)}
            ),
            json_values,
        ),
    },
)

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def send(api, method, path, body):
    data = json.dumps(body, allow_nan=True).encode()  # NaN and Infinity literals included
    return api(method, path, data=data, headers={"Content-Type": "application/json"})


def check_answer(answer, ok):
    assert answer.status_code < 500, answer.text
    if answer.status_code == 204:
        assert answer.content == b""
        return None
    parsed = strict_json(answer.text)
    if answer.status_code == ok:
        assert isinstance(parsed["data"], dict)
    else:
        assert parsed["error"]["status"] == answer.status_code
        assert parsed["error"]["code"]
    return parsed


def tiles_text(api, cid):
    answer = api("GET", f"/collections/{cid}/tiles")
    strict_json(answer.text)
    return answer.text


@SETTINGS
@given(body=tile_bodies)
def test_created_tiles(world, body):
    api, cid, _ = world
    before = tiles_text(api, cid)
    answer = send(api, "POST", f"/collections/{cid}/tiles", body)
    parsed = check_answer(answer, 201)
    if answer.status_code == 201:
        tid = parsed["data"]["id"]
        strict_json(api("GET", f"/collections/{cid}/tiles/{tid}").text)
        tiles_text(api, cid)
        assert api("DELETE", f"/collections/{cid}/tiles/{tid}").status_code == 204
    else:
        assert tiles_text(api, cid) == before


@SETTINGS
@given(body=tile_bodies)
def test_updated_tile(world, body):
    api, cid, tid = world
    url = f"/collections/{cid}/tiles/{tid}"
    before = api("GET", url).text
    answer = send(api, "PUT", url, body)
    check_answer(answer, 204)
    after = api("GET", url).text
    strict_json(after)
    if answer.status_code != 204:
        assert after == before


@SETTINGS
@given(body=collection_bodies)
def test_created_collections(world, body):
    api, _, _ = world
    before = api("GET", "/collections").json()["data"]
    answer = send(api, "POST", "/collections", body)
    parsed = check_answer(answer, 201)
    listing = strict_json(api("GET", "/collections").text)["data"]
    if answer.status_code == 201:
        new = parsed["data"]["id"]
        assert new in [c["id"] for c in listing]
        assert api("DELETE", f"/collections/{new}").status_code == 204
    else:
        assert [c["id"] for c in listing] == [c["id"] for c in before]

"""One bad value never makes a collection unreadable.

The local service stores and answers sensing times with four-digit years (RFC 3339), the
client writes them so, and a listing with a bad row loads the other rows with one
`ByocframeWarning` that names the bad tiles (``errors="raise"`` refuses them instead).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import ServiceApi, box_ring, geojson, utm33_files

import byocframe
from byocframe import ByocframeWarning, ValidationError
from byocframe.io.catalog import catalog_datetime

UTM33 = "urn:ogc:def:crs:EPSG::32633"
BOUNDS = (400_000.0, 5_000_000.0, 509_800.0, 5_109_800.0)
EVERYWHERE = [-180.0, -90.0, 180.0, 90.0]


@pytest.fixture
def world():
    """A fresh service with one collection of three INGESTED tiles (a, b, c)."""
    with byocframe.local_service() as service:
        api = ServiceApi(service)
        body = {"name": "c", "s3Bucket": "bkt"}
        cid = api("POST", "/collections", json=body).json()["data"]["id"]
        tids = {}
        for name in ("a", "b", "c"):
            path = f"{name}/(BAND).tif"
            service.register_files("bkt", utm33_files(path))
            tile = {"path": path, "sensingTime": "2024-06-01T10:00:00Z"}
            tids[name] = api("POST", f"/collections/{cid}/tiles", json=tile).json()["data"]["id"]
        yield service, api, cid, tids


def spoil(service, tid, **fields):
    """Make the service answer ``fields`` in a tile's document (None: drop the field).

    Stands in for a service that answers a value it should not have stored: the
    document is what both the listing and a GET of the tile send back.
    """
    with service.store.transaction() as conn:
        (text,) = conn.execute("SELECT doc FROM tiles WHERE id = ?", (tid,)).fetchone()
        doc = json.loads(text)
        for key, value in fields.items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        conn.execute("UPDATE tiles SET doc = ? WHERE id = ?", (json.dumps(doc), tid))


def one_warning(record):
    """The single ByocframeWarning among the recorded warnings (and no other warning)."""
    assert [type(w.message).__name__ for w in record] == ["ByocframeWarning"], [
        str(w.message) for w in record
    ]
    return str(record[0].message)


# ---------------------------------------------------------------------- the service
def test_service_answers_a_year_before_1000_with_four_digits(world):
    service, api, cid, tids = world
    early = {"path": "a/(BAND).tif", "sensingTime": "0999-06-01T00:00:00Z"}
    assert api("PUT", f"/collections/{cid}/tiles/{tids['a']}", json=early).status_code == 204
    service.register_files("bkt", utm33_files("d/(BAND).tif"))
    created = api(
        "POST",
        f"/collections/{cid}/tiles",
        json={"path": "d/(BAND).tif", "sensingTime": "0500-01-01T12:00:00+01:00"},
    ).json()["data"]
    assert created["sensingTime"] == "0500-01-01T11:00:00.000Z"
    got = api("GET", f"/collections/{cid}/tiles/{tids['a']}").json()["data"]
    assert got["sensingTime"] == "0999-06-01T00:00:00.000Z"
    listed = api("GET", f"/collections/{cid}/tiles").json()["data"]
    assert {t["sensingTime"][:4] for t in listed} == {"0999", "2024", "0500"}
    extra = api("GET", f"/collections/{cid}").json()["data"]["additionalData"]
    # the least and most recent sensing times, in time order (not text order)
    assert extra["fromSensingTime"] == "0500-01-01T11:00:00.000Z"
    assert extra["toSensingTime"] == "2024-06-01T10:00:00.000Z"


@pytest.mark.parametrize(
    "value", ["999-06-01T00:00:00Z", "+10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"]
)
def test_service_refuses_an_unpadded_or_out_of_range_year(world, value):
    """A guard (the service refused these before the fix too): 400, the usual envelope."""
    _service, api, cid, tids = world
    answer = api(
        "PUT",
        f"/collections/{cid}/tiles/{tids['a']}",
        json={"path": "a/(BAND).tif", "sensingTime": value},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "COMMON_BAD_PAYLOAD"
    assert error["message"].startswith("sensingTime ")
    got = api("GET", f"/collections/{cid}/tiles/{tids['a']}").json()["data"]
    assert got["sensingTime"] == "2024-06-01T10:00:00.000Z"


@pytest.mark.parametrize("search", [{}, {"bbox": EVERYWHERE}], ids=["listing", "catalog"])
def test_read_tiles_after_a_year_0999_put(world, search):
    service, api, cid, tids = world
    early = {"path": "a/(BAND).tif", "sensingTime": "0999-06-01T00:00:00Z"}
    api("PUT", f"/collections/{cid}/tiles/{tids['a']}", json=early)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gdf = byocframe.read_tiles(service.client(), cid, progress=False, **search)
    assert len(gdf) == 3
    assert gdf.loc[tids["a"], "sensing_time"].year == 999
    assert byocframe.to_records(gdf.loc[[tids["a"]]])[0]["sensingTime"] == "0999-06-01T00:00:00Z"


# ---------------------------------------------------------------------- the client writes
def test_catalog_datetime_pads_the_year():
    assert catalog_datetime((dt.datetime(500, 1, 1), None)) == "0500-01-01T00:00:00Z/.."
    assert catalog_datetime(("0500-01-01", "0999-12-31")) == (
        "0500-01-01T00:00:00Z/0999-12-31T23:59:59.999999Z"
    )


def test_read_tiles_finds_a_tile_of_year_999_by_datetime(world):
    service, api, cid, tids = world
    early = {"path": "a/(BAND).tif", "sensingTime": "0999-06-01T00:00:00Z"}
    api("PUT", f"/collections/{cid}/tiles/{tids['a']}", json=early)
    found = byocframe.read_tiles(
        service.client(), cid, datetime=("0900-01-01", "1000-01-01"), progress=False
    )
    assert found.index.tolist() == [tids["a"]]


# ---------------------------------------------------------------------- the client reads
BAD = {
    "unpadded year": ({"sensingTime": "999-06-01T00:00:00.000Z"}, "sensingTime"),
    "garbage time": ({"sensingTime": "soon"}, "sensingTime"),
    "number as time": ({"sensingTime": 12345}, "sensingTime"),
    "cover as text": ({"coverGeometry": "POLYGON ((0 0, 1 0, 1 1, 0 0))"}, "coverGeometry"),
    "cover not a geometry": ({"coverGeometry": {"type": "Polygon"}}, "coverGeometry"),
    "unknown status": ({"status": "PAUSED"}, "status"),
    "status not text": ({"status": 3}, "status"),
    "additionalData not an object": ({"additionalData": "none"}, "additionalData"),
    "resolution not a number": (
        {"additionalData": {"minMetersPerPixel": "10 m"}},
        "additionalData.minMetersPerPixel",
    ),
    "id not text": ({"id": {"uuid": 1}}, "id"),
}


@pytest.mark.parametrize(("edit", "field"), BAD.values(), ids=BAD.keys())
def test_one_bad_record_warns_once_and_the_rest_loads(make_tile, edit, field):
    records = [
        make_tile("good", bounds=BOUNDS),
        make_tile("bad-tile", bounds=BOUNDS, **edit),
        make_tile("fine", bounds=BOUNDS),
    ]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gdf = byocframe.tiles_from_records(records)
    message = one_warning(record)
    assert "1 tile" in message
    assert field in message
    if field == "id":
        assert gdf.index.tolist() == ["good", "fine"]
    else:
        assert "'bad-tile'" in message
        assert gdf.index.tolist() == ["good", "bad-tile", "fine"]
    assert gdf.loc["good", "status"] == "INGESTED"
    assert gdf.loc["fine", "sensing_time"] == gdf.loc["good", "sensing_time"]
    with pytest.raises(ValidationError, match=rf"{field}"):
        byocframe.tiles_from_records(records, errors="raise")


def test_a_missing_id_warns_without_the_path_noise(make_tile):
    records = [make_tile("good"), make_tile(id=None, path=None)]
    with pytest.warns(ByocframeWarning, match="row 1: id: missing tile id") as record:
        gdf = byocframe.tiles_from_records(records)
    assert len(record) == 1
    assert "path" not in str(record[0].message)
    assert gdf.index.tolist() == ["good"]


def test_many_bad_records_give_one_warning_naming_the_first_few(make_tile):
    records = [make_tile(f"t{i}", sensingTime="soon") for i in range(12)]
    records += [make_tile("u0", status="PAUSED"), make_tile("ok")]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gdf = byocframe.tiles_from_records(records)
    message = one_warning(record)
    assert "\n" not in message
    assert message.startswith("13 tiles have values byocframe cannot read")
    assert "'t0'" in message
    assert "'t4'" in message
    assert "'t11'" not in message
    assert "and 8 more" in message
    assert "errors='raise'" in message
    assert len(gdf) == 14
    assert gdf["sensing_time"].isna().sum() == 12
    assert gdf["status"].isna().tolist() == [False] * 12 + [True, False]


def test_the_warning_points_at_the_caller(make_tile):
    records = [make_tile("x", sensingTime="soon")]
    with pytest.warns(ByocframeWarning) as record:
        byocframe.tiles_from_records(records)
    assert record[0].filename == __file__


# ---------------------------------------------------------------------- listing and Catalog
SPOILS = {
    "unpadded year": {"sensingTime": "999-06-01T00:00:00.000Z"},
    "cover not GeoJSON": {"coverGeometry": "POLYGON ((0 0, 1 0, 1 1, 0 0))"},
    "unknown status": {"status": "PAUSED"},
    "created not text": {"created": 17},
}


# the local Catalog renders its items from the tile documents: a cover that is not
# GeoJSON leaves the item out there, so that case is read through the listing only
CASES = [
    pytest.param(fields, search, id=f"{name}-{way}")
    for name, fields in SPOILS.items()
    for way, search in (("listing", {}), ("catalog", {"bbox": EVERYWHERE}))
    if not (way == "catalog" and "coverGeometry" in fields)
]


@pytest.mark.parametrize(("fields", "search"), CASES)
def test_read_tiles_loads_the_rest_of_a_spoiled_collection(world, fields, search):
    service, _api, cid, tids = world
    # the Catalog indexes the tiles first (its items are not the tile documents)
    assert len(byocframe.read_tiles(service.client(), cid, progress=False, **search)) == 3
    spoil(service, tids["b"], **fields)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gdf = byocframe.read_tiles(service.client(), cid, progress=False, **search)
    message = one_warning(record)
    assert repr(tids["b"]) in message
    assert next(iter(fields)) in message
    assert record[0].filename == __file__
    assert sorted(gdf.index) == sorted(tids.values())
    assert gdf.loc[tids["a"], "sensing_time"].year == 2024
    with pytest.raises(ValidationError, match=tids["b"]):
        byocframe.read_tiles(service.client(), cid, progress=False, errors="raise", **search)


@pytest.mark.parametrize("both_ends", [True, False])
def test_read_tiles_survives_a_listed_tile_without_id(world, both_ends):
    service, _api, cid, tids = world
    spoil(service, tids["b"], id=None)
    with pytest.warns(ByocframeWarning, match="missing tile id") as record:
        gdf = byocframe.read_tiles(service.client(), cid, progress=False, both_ends=both_ends)
    assert len(record) == 1
    assert sorted(gdf.index) == sorted([tids["a"], tids["c"]])


def test_a_cover_geometry_of_the_wrong_kind_in_a_listing(world):
    service, _api, cid, tids = world
    spoil(service, tids["c"], coverGeometry=geojson("Point", [1.0, 2.0], UTM33))
    spoil(service, tids["b"], coverGeometry=geojson("Polygon", [box_ring(0, 0, 1, 1)], "x"))
    with pytest.warns(ByocframeWarning, match=r"^2 tiles have values") as record:
        gdf = byocframe.read_tiles(service.client(), cid, progress=False)
    assert len(record) == 1
    assert gdf.byoc.native_covers()[tids["c"]] is None
    assert gdf.loc[tids["c"], "geometry_source"] == "tile"


# ---------------------------------------------------------------------- pushing after it
def test_push_after_loading_a_spoiled_tile(world):
    """Other rows push; an edit of the bad tile fails on its own row, saying what to do."""
    service, api, cid, tids = world
    spoil(service, tids["b"], sensingTime="999-06-01T00:00:00.000Z")
    with pytest.warns(ByocframeWarning, match="sensingTime"):
        gdf = byocframe.read_tiles(service.client(), cid, progress=False)
    when = pd.Timestamp("2025-01-01", tz="UTC")
    gdf.loc[[tids["a"], tids["b"]], "sensing_time"] = when
    result = byocframe.push(gdf, service.client())
    assert result.loc[tids["a"], "outcome"] == "ok"
    assert result.loc[tids["b"], "outcome"] == "failed"
    assert (
        "give it a valid sensing time with Client.update_tile" in result.loc[tids["b"], "message"]
    )
    got = api("GET", f"/collections/{cid}/tiles/{tids['a']}").json()["data"]
    assert got["sensingTime"] == "2025-01-01T00:00:00.000Z"


def test_a_cover_with_very_many_vertices_is_left_out_with_a_warning():
    """Today: an invalid 16,000-vertex ring takes 27 s to repair; the rest waits."""
    import math

    import byocframe
    from byocframe import ByocframeWarning
    from byocframe.frame.synthetic import synthetic_tiles

    records = synthetic_tiles(3, seed=2)
    n = 20_000
    # a star: self-intersecting, so loading it would repair it (quadratic)
    ring = [
        [15 + (1 + (k % 2)) * math.cos(2 * math.pi * k * 7 / n), 45 + math.sin(2 * math.pi * k / n)]
        for k in range(n)
    ]
    ring.append(ring[0])
    records[1]["coverGeometry"] = {"type": "Polygon", "coordinates": [ring]}
    with pytest.warns(ByocframeWarning, match=r"MAX_VERTICES") as caught:
        gdf = byocframe.tiles_from_records(records)
    assert len(caught) == 1
    assert len(gdf) == 3
    assert gdf.byoc.native_covers().iloc[1] is None
    assert gdf["native_cover"].iloc[[0, 2]].notna().all()


def _comb(n: int, west: float = 15.0) -> list[list[float]]:
    """A closed ring of ``n`` vertices whose edges cross each other: n / 4 teeth."""
    ring = [
        [west + k * 1e-4, 45 + (0.01 if k % 2 else -0.01) * (1 if (k // 2) % 2 else -1)]
        for k in range(n)
    ]
    return [*ring, ring[0]]


@pytest.mark.parametrize(
    ("kind", "west"),
    [("Polygon", 15.0), ("MultiPolygon", 15.0), ("Polygon", 179.9)],
    ids=["polygon", "multipolygon", "across-the-antimeridian"],
)
def test_a_self_crossing_cover_is_repaired_in_linear_time(monkeypatch, kind, west):
    """Today: a 9,999-vertex comb (under MAX_VERTICES) took 3-7 s, 5 s across 180 degrees.

    Time is not asserted (the machine is shared); what made it grow with the square of
    the vertices is: GEOS repairs a MultiPolygon by a union of its repaired parts, and a
    union of the thousands of teeth the repair leaves. Neither may happen, and the
    repaired cover must hold the same area as the slow repair's (linework, then union).
    """
    import shapely

    import byocframe
    from byocframe.frame.synthetic import synthetic_tiles

    ring = _comb(4_001, west)  # 1,000 teeth: the slow repair (the truth) stays quick
    coordinates = [[ring]] if kind == "MultiPolygon" else [ring]
    records = synthetic_tiles(1, seed=2)
    records[0]["coverGeometry"] = {"type": kind, "coordinates": coordinates}
    unions: list[int] = []
    repairs: list[str] = []
    union_all, make_valid = shapely.union_all, shapely.make_valid

    def counted_union(geoms, *args, **kwargs):
        unions.append(int(shapely.get_num_geometries(geoms).sum()))
        return union_all(geoms, *args, **kwargs)

    def counted_repair(geoms, *args, **kwargs):
        repairs.extend(shapely.get_type_id(geoms).ravel().tolist())
        return make_valid(geoms, *args, **kwargs)

    monkeypatch.setattr(shapely, "union_all", counted_union)
    monkeypatch.setattr(shapely, "make_valid", counted_repair)
    gdf = byocframe.tiles_from_records(records)
    monkeypatch.undo()
    assert max(unions, default=0) <= 3  # never a union of the teeth
    assert 6 not in repairs  # never a MultiPolygon repaired whole (type id 6)
    cover = gdf.geometry.iloc[0]
    assert cover.is_valid
    teeth = shapely.get_parts(shapely.make_valid(shapely.Polygon(ring), method="linework"))
    truth = shapely.union_all([t for t in teeth if t.geom_type in ("Polygon", "MultiPolygon")])
    assert truth.area > 1e-3
    assert abs(cover.area - truth.area) < 1e-9 * truth.area


@pytest.mark.parametrize(
    "value",
    [1, 1.5, None, True, "2", np.float64(2.0), np.int64(3), [1]],
    ids=["int", "float", "none", "bool", "text", "np-float", "np-int", "list"],
)
def test_the_quick_additional_data_check_agrees_with_the_full_one(value):
    """Plain records skip the full check; every other kind of value still gets it."""
    from byocframe.frame.record_checks import check_additional

    for key in ("minMetersPerPixel", "hasAddedPoints"):
        record = {"additionalData": {key: value, "x": 1}}
        kept, problems = check_additional([record], ["a"])
        wrong = [p["field"] for p in problems]
        if key == "minMetersPerPixel":
            plain = value is None or (
                isinstance(value, int | float) and not isinstance(value, bool)
            )
        else:
            plain = value is None or isinstance(value, bool)
        assert wrong == ([] if plain else [f"additionalData.{key}"])
        assert (key in kept[0]) == plain

# ruff: noqa: E501  (the case tables read best one case per line)
"""Bad input is refused with a 400 naming the field, and changes nothing (issue 12,
classes 2 and 3).

One table of cases: each sends a body to one endpoint of a service that already holds a
collection with an ingested tile, then checks the answer (status, envelope, the field
named) and that the service's whole visible state is what it was.
"""

from __future__ import annotations

import base64
import json

import pytest
from conftest import UTM33_URN, ServiceApi, box_ring, geojson, strict_json, utm33_files

import byocframe
from byocframe.emulator.ingest import UNEXPECTED_FAILURE

WGS84_URN = "urn:ogc:def:crs:OGC::CRS84"


@pytest.fixture(scope="module")
def world():
    """A service with one configured collection holding one INGESTED tile."""
    with byocframe.local_service() as service:
        api = ServiceApi(service)
        bands = {"B02": {"bitDepth": 16}, "B03": {"bitDepth": 16}}
        body = {"name": "c", "s3Bucket": "bkt", "additionalData": {"bands": bands}}
        cid = api("POST", "/collections", json=body).json()["data"]["id"]
        service.register_files("bkt", utm33_files("t/(BAND).tif"))
        tid = api("POST", f"/collections/{cid}/tiles", json={"path": "t/(BAND).tif"}).json()[
            "data"
        ]["id"]
        assert api("GET", f"/collections/{cid}/tiles/{tid}").json()["data"]["status"] == (
            "INGESTED"
        )
        yield api, cid, tid


def snapshot(api, cid):
    """Everything a client can see (strictly parsed), bucket included."""
    collections = strict_json(api("GET", "/collections").text)["data"]
    tiles = strict_json(api("GET", f"/collections/{cid}/tiles").text)["data"]
    for c in collections:
        c.pop("requiresMetadataUpdate")
    files = api.service.store.files("bkt")
    return collections, tiles, files


def polygon(ring, crs=UTM33_URN, holes=()):
    return geojson("Polygon", [ring, *holes], crs)


def token(sort, key):
    raw = json.dumps([sort, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


UTM_BOX = box_ring(410_000, 5_010_000, 420_000, 5_020_000)
BOWTIE = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]
FLAT = [[0, 0], [1, 1], [2, 2], [0, 0]]
OUTER = box_ring(0, 0, 1, 1)
FAR_HOLE = box_ring(5, 5, 6, 6)
HUGE = "1" + "0" * 400

# (case id, target, body (dict, or raw JSON text), words the message must contain)
CASES = [
    # viewtokens whose contents do not fit (crashed the handler)
    ("token-dict", "list", {"viewtoken": token("created:asc", {"x": 1})}, "viewtoken"),
    ("token-huge", "list", {"viewtoken": token("created:asc", 10**30)}, "viewtoken"),
    ("token-bool", "list", {"viewtoken": token("created:asc", True)}, "viewtoken"),
    ("token-path-int", "list", {"viewtoken": token("path:asc", 5), "sort": "path:asc"}, "viewtoken"),
    ("token-scalar", "list", {"viewtoken": token("created:asc", 1)[:-3] + "xyz"}, "viewtoken"),
    ("token-collections", "list-collections", {"viewtoken": token("created:asc", "x")}, "viewtoken"),
    ("count-huge", "list", {"count": "9" * 40}, "count"),
    ("sort-unknown", "list", {"sort": "size:asc"}, "sort"),
    ("status-unknown", "list", {"status": "DONE"}, "status"),
    # covers with empty or malformed coordinates
    ("cover-empty-polygon", "tile", {"coverGeometry": geojson("Polygon", [], None)}, "coverGeometry"),
    ("cover-empty-ring-list", "tile", {"coverGeometry": geojson("Polygon", [[]], None)}, "coverGeometry"),
    ("cover-empty-multi", "tile", {"coverGeometry": geojson("MultiPolygon", [], None)}, "coverGeometry"),
    ("cover-multi-empty-part", "tile", {"coverGeometry": geojson("MultiPolygon", [[]], None)}, "coverGeometry"),
    ("cover-string-positions", "tile", {"coverGeometry": polygon([["0", "0"], ["1", "0"], ["1", "1"], ["0", "0"]], None)}, "position"),
    ("cover-bool-positions", "tile", {"coverGeometry": polygon([[False, False], [True, False], [True, True], [False, False]], None)}, "position"),
    ("cover-3d-positions", "tile", {"coverGeometry": polygon([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 0, 1]], None)}, "position"),
    ("cover-ring-not-list", "tile", {"coverGeometry": geojson("Polygon", ["abcd"], None)}, "coverGeometry"),
    ("cover-1e308", "tile", {"coverGeometry": polygon([[0, 0], [1e308, 0], [1e308, 1e308], [0, 0]])}, "area of use"),
    ("cover-utm-far-east", "tile", {"coverGeometry": polygon(box_ring(5_000_000, 5_000_000, 5_100_000, 5_100_000))}, "area of use"),
    ("cover-lon-200", "tile", {"coverGeometry": polygon(box_ring(199, 10, 200, 11), WGS84_URN)}, "area of use"),
    ("cover-lat-95", "tile", {"coverGeometry": polygon(box_ring(10, 94, 11, 95), WGS84_URN)}, "area of use"),
    ("cover-bowtie", "tile", {"coverGeometry": polygon(BOWTIE, None)}, "Self-intersection"),
    ("cover-zero-area", "tile", {"coverGeometry": polygon(FLAT, None)}, "coverGeometry"),
    ("cover-hole-outside", "tile", {"coverGeometry": polygon(OUTER, None, [FAR_HOLE])}, "Hole lies outside shell"),
    ("cover-vertical-crs", "tile", {"coverGeometry": polygon(OUTER, "EPSG:5714")}, "Vertical CRS"),
    ("cover-geocentric-crs", "tile", {"coverGeometry": polygon(OUTER, "EPSG:4978")}, "coverGeometry.crs"),
    ("cover-compound-crs", "tile", {"coverGeometry": polygon(OUTER, "EPSG:9518")}, "coverGeometry.crs"),
    ("cover-3d-geographic-crs", "tile", {"coverGeometry": polygon(OUTER, "EPSG:4979")}, "coverGeometry.crs"),
    ("cover-huge-int", "tile", f'{{"path": "x", "coverGeometry": {{"type": "Polygon", "coordinates": [[[0, 0], [{HUGE}, 0], [1, 1], [0, 0]]]}}}}', "coverGeometry.coordinates"),
    # times
    ("time-overflow-low", "tile", {"sensingTime": "0001-01-01T00:00:00+01:00"}, "sensingTime"),
    ("time-overflow-high", "tile", {"sensingTime": "9999-12-31T23:59:59-01:00"}, "sensingTime"),
    ("time-number", "tile", {"sensingTime": 1_700_000_000}, "sensingTime"),
    ("time-overflow-put", "put-tile", {"sensingTime": "0001-01-01T00:00:00+01:00"}, "sensingTime"),
    ("put-cover-bowtie", "put-tile", {"coverGeometry": polygon(BOWTIE, None)}, "coverGeometry"),
    # bodies
    ("deep-nesting", "tile", "[" * 100_000 + "]" * 100_000, "nested"),
    ("deep-object", "tile", '{"path": "x", "a": ' + '{"b": ' * 40 + "1" + "}" * 41, "nested"),
    ("body-array", "tile", "[1, 2]", "JSON object"),
    ("body-not-json", "tile", "{'path': 'x'}", "not valid JSON"),
    ("path-too-long", "tile", {"path": "p" * 2000}, "path"),
    ("path-number", "tile", {"path": 5}, "path"),
    # collections
    ("nodata-infinity", "collection", '{"name": "n", "s3Bucket": "b", "noData": Infinity}', "noData"),
    ("nodata-nan", "collection", '{"name": "n", "s3Bucket": "b", "noData": NaN}', "noData"),
    ("nodata-1e999", "collection", '{"name": "n", "s3Bucket": "b", "noData": 1e999}', "noData"),
    ("nodata-huge-int", "collection", f'{{"name": "n", "s3Bucket": "b", "noData": {HUGE}}}', "noData"),
    ("nodata-string", "collection", {"noData": "0"}, "noData"),
    ("nodata-put-infinity", "put-collection", '{"name": "c", "s3Bucket": "bkt", "noData": -Infinity}', "noData"),
    ("name-too-long", "collection", {"name": "n" * 2000}, "name"),
    ("name-number", "collection", {"name": 7}, "name"),
    ("bucket-list", "collection", {"s3Bucket": ["b"]}, "s3Bucket"),
    ("additional-list", "collection", {"additionalData": []}, "additionalData"),
    ("additional-string", "collection", {"additionalData": "bands"}, "additionalData"),
    ("additional-put-list", "put-collection", {"additionalData": [1]}, "additionalData"),
    ("bands-list", "collection", {"additionalData": {"bands": ["B1"]}}, "additionalData.bands"),
    ("band-spec-string", "collection", {"additionalData": {"bands": {"B1": "x"}}}, "additionalData.bands.B1"),
    ("band-spec-number", "collection", {"additionalData": {"bands": {"B1": 5}}}, "additionalData.bands.B1"),
    ("band-source-number", "collection", {"additionalData": {"bands": {"B1": {"source": 5}}}}, "B1.source"),
    ("band-source-empty", "collection", {"additionalData": {"bands": {"B1": {"source": ""}}}}, "B1.source"),
    ("band-index-string", "collection", {"additionalData": {"bands": {"B1": {"bandIndex": "x"}}}}, "B1.bandIndex"),
    ("band-index-negative", "collection", {"additionalData": {"bands": {"B1": {"bandIndex": -5}}}}, "B1.bandIndex"),
    ("band-index-bool", "collection", {"additionalData": {"bands": {"B1": {"bandIndex": True}}}}, "B1.bandIndex"),
    ("band-nodata-string", "collection", {"additionalData": {"bands": {"B1": {"noData": "x"}}}}, "B1.noData"),
    ("band-bitdepth-float", "collection", {"additionalData": {"bands": {"B1": {"bitDepth": 16.0}}}}, "B1.bitDepth"),
    ("band-format-number", "collection", {"additionalData": {"bands": {"B1": {"sampleFormat": 1}}}}, "B1.sampleFormat"),
    ("band-name", "collection", {"additionalData": {"bands": {"1B": {}}}}, "band name"),
    ("band-name-long", "collection", {"additionalData": {"bands": {"B" * 300: {}}}}, "band name"),
    ("long-key-in-message", "collection", {"x" * 5000: float("inf")}, "must be a finite number"),
    ("band-put-index", "put-collection", {"additionalData": {"bands": {"B02": {"bandIndex": "x"}}}}, "bandIndex"),
    # the virtual bucket manifest
    ("manifest-nan", "bucket", '{"k.tif": {"crs": "EPSG:32633", "bounds": [NaN, 0, 1, 1]}}', "bounds"),
    ("manifest-strings", "bucket", {"k.tif": {"crs": "EPSG:32633", "bounds": ["0", "0", "1", "1"]}}, "bounds"),
    ("manifest-entry-list", "bucket", {"k.tif": ["EPSG:32633"]}, "k.tif"),
    ("manifest-no-crs", "bucket", {"k.tif": {"bounds": [0, 0, 1, 1]}}, "crs"),
    ("manifest-bad-depth", "bucket", {"k.tif": {"crs": "EPSG:32633", "bounds": [0, 0, 1, 1], "bitDepth": "16"}}, "bitDepth"),
    ("manifest-zero-res", "bucket", {"k.tif": {"crs": "EPSG:32633", "bounds": [0, 0, 1, 1], "resolution": 0}}, "resolution"),
]  # fmt: skip


def _send(api, cid, tid, target, body):
    """Send ``body`` to ``target``; a dict is completed into an otherwise valid body."""
    if target in ("list", "list-collections"):
        path = f"/collections/{cid}/tiles" if target == "list" else "/collections"
        return api("GET", path, params=body)
    method, path, base = {
        "tile": ("POST", f"/collections/{cid}/tiles", {"path": "new/(BAND).tif"}),
        "put-tile": ("PUT", f"/collections/{cid}/tiles/{tid}", {"path": "t/(BAND).tif"}),
        "collection": ("POST", "/collections", {"name": "new", "s3Bucket": "b"}),
        "put-collection": ("PUT", f"/collections/{cid}", {"name": "c", "s3Bucket": "bkt"}),
        "bucket": ("PUT", "/_emulator/buckets/bkt", {}),
    }[target]
    data = body.encode() if isinstance(body, str) else json.dumps({**base, **body}).encode()
    return api(method, path, data=data, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("target", "body", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_refused_and_nothing_changes(world, target, body, words):
    api, cid, tid = world
    before = snapshot(api, cid)
    answer = _send(api, cid, tid, target, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["status"] == 400
    assert error["code"] == "COMMON_BAD_PAYLOAD"
    assert words in error["message"]
    assert len(error["message"]) < 600  # one line, whatever the input's size
    assert snapshot(api, cid) == before


ACCEPTED = [
    # a UTM tile reaching half a degree into the next zone (as MGRS tiles do)
    ("utm-next-zone", {"coverGeometry": polygon(box_ring(250_000, 5_000_000, 300_000, 5_050_000))}),
    ("antimeridian-multi", {"coverGeometry": geojson("MultiPolygon", [[box_ring(179, -17, 180, -16)], [box_ring(-180, -17, -179, -16)]], WGS84_URN)}),
    ("polygon-with-hole", {"coverGeometry": polygon(box_ring(0, 0, 4, 4), None, [box_ring(1, 1, 2, 2)])}),
    ("offset-time", {"sensingTime": "2024-06-01T10:00:00+14:00"}),
    ("int-coordinates", {"coverGeometry": polygon([[0, 0], [1, 0], [1, 1], [0, 0]], "EPSG:4326")}),
]  # fmt: skip


@pytest.mark.parametrize(("body"), [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_valid_tiles_are_accepted_and_render_strictly(world, body):
    api, cid, _ = world
    path = f"ok/{len(json.dumps(body))}/{abs(hash(json.dumps(body)))}"
    answer = api("POST", f"/collections/{cid}/tiles", json={"path": path, **body})
    assert answer.status_code == 201, answer.text
    strict_json(answer.text)
    strict_json(api("GET", f"/collections/{cid}/tiles").text)
    assert api("DELETE", f"/collections/{cid}/tiles/{answer.json()['data']['id']}").status_code == (
        204
    )


def test_band_rules_still_name_the_band(world):
    api, cid, _ = world
    body = {"name": "c", "s3Bucket": "bkt", "additionalData": {"bands": {"X": {"source": "Z"}}}}
    answer = api("PUT", f"/collections/{cid}", json=body)
    assert answer.status_code == 400
    assert "additionalData.bands.X" in answer.json()["error"]["message"]


def test_an_ingestion_error_fails_the_tile_instead_of_leaving_it_waiting(monkeypatch):
    with byocframe.local_service() as service:
        api = ServiceApi(service)
        cid = api("POST", "/collections", json={"name": "c", "s3Bucket": "bkt"}).json()["data"][
            "id"
        ]

        def broken(bucket, prefix=""):
            raise RuntimeError("the bucket listing broke")

        monkeypatch.setattr(service.store, "files", broken)
        answer = api("POST", f"/collections/{cid}/tiles", json={"path": "t/(BAND).tif"})
        assert answer.status_code == 201  # committed before ingestion ran
        tile = api("GET", f"/collections/{cid}/tiles/{answer.json()['data']['id']}").json()["data"]
    assert tile["status"] == "FAILED"
    assert tile["additionalData"]["failedIngestionCause"] == UNEXPECTED_FAILURE

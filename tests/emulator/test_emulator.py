"""The local BYOC service on the wire: endpoints, envelopes, paging, ingestion, faults."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse

import pytest
import requests
from conftest import UTM33_URN, ServiceApi, box_ring, geojson, utm33_files

import byocframe
from byocframe import Faults, RateLimit

API = "/api/v1/byoc"


class Raw(ServiceApi):
    """Plain requests against a service, to check the wire format itself."""

    def new_collection(self, name="c", bucket="bkt", bands=None):
        body = {"name": name, "s3Bucket": bucket}
        if bands:
            body["additionalData"] = {"bands": bands}
        return self("POST", "/collections", json=body).json()["data"]["id"]

    def new_tile(self, cid, path, **fields):
        body = {"path": path, **fields}
        return self("POST", f"/collections/{cid}/tiles", json=body).json()["data"]["id"]

    def tile(self, cid, tid):
        return self("GET", f"/collections/{cid}/tiles/{tid}").json()["data"]


@pytest.fixture
def raw(service):
    return Raw(service)


@pytest.fixture
def collection(raw):
    response = raw("POST", "/collections", json={"name": "test", "s3Bucket": "bucket"})
    return response.json()["data"]["id"]


def make_tiles(raw, cid, n):
    for i in range(n):
        answer = raw("POST", f"/collections/{cid}/tiles", json={"path": f"t/{i:04d}/(BAND).tif"})
        assert answer.status_code == 201


class TestAuth:
    @pytest.mark.parametrize(
        "path", ["/oauth/token", "/auth/realms/main/protocol/openid-connect/token"]
    )
    def test_token_endpoint(self, service, path):
        form = {
            "grant_type": "client_credentials",
            "client_id": service.client_id,
            "client_secret": service.client_secret,
        }
        body = requests.post(service.base_url + path, data=form).json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] >= 3600
        payload = body["access_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["azp"] == service.client_id
        assert claims["exp"] > time.time() + 3000

    def test_bad_secret(self, service):
        form = {
            "grant_type": "client_credentials",
            "client_id": service.client_id,
            "client_secret": "wrong",
        }
        answer = requests.post(service.token_url, data=form)
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"

    @pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic abc"])
    def test_api_needs_a_valid_token(self, service, header):
        headers = {"Authorization": header} if header else {}
        answer = requests.get(service.base_url + API + "/collections", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "COMMON_UNAUTHORIZED"

    def test_expired_token(self):
        now = [1_000_000.0]
        with byocframe.local_service(clock=lambda: now[0]) as service:
            raw = Raw(service)
            assert raw("GET", "/collections").status_code == 200
            now[0] += 3601
            answer = raw("GET", "/collections")
            assert answer.status_code == 401
            assert "expired" in answer.json()["error"]["message"]


class TestCollections:
    def test_create_get_update_delete(self, raw):
        created = raw("POST", "/collections", json={"name": "c1", "s3Bucket": "b1"})
        assert created.status_code == 201
        data = created.json()["data"]
        assert data["name"] == "c1"
        assert data["created"].endswith("Z")
        assert data["isConfigured"] is False
        cid = data["id"]
        # read-only, null and unknown fields are ignored on PUT
        whole = raw("GET", f"/collections/{cid}").json()["data"]
        whole.update(name="renamed", accountId="x", isConfigured=True, somethingNew=1)
        answer = raw("PUT", f"/collections/{cid}", json=whole)
        assert answer.status_code == 204
        assert answer.content == b""
        again = raw("GET", f"/collections/{cid}").json()["data"]
        assert again["name"] == "renamed"
        assert again["accountId"] == data["accountId"]
        assert "somethingNew" not in again
        assert raw("DELETE", f"/collections/{cid}").status_code == 204
        gone = raw("GET", f"/collections/{cid}")
        assert gone.status_code == 404
        assert gone.json() == {
            "error": {
                "status": 404,
                "reason": "Not Found",
                "message": f"Collection {cid} not found.",
                "code": "COMMON_NOT_FOUND",
            }
        }

    @pytest.mark.parametrize(
        "body", [{"name": "x"}, {"s3Bucket": "b"}, {"name": "", "s3Bucket": "b"}]
    )
    def test_required_fields(self, raw, body):
        answer = raw("POST", "/collections", json=body)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "COMMON_BAD_PAYLOAD"

    def test_sentinelhub_style_nulls_are_ignored(self, raw):
        body = {
            "name": "c1",
            "s3Bucket": "b",
            "id": None,
            "userId": None,
            "created": None,
            "noData": None,
            "otherData": {},
            "additionalData": {
                "bands": {
                    "B1": {
                        "source": "B1",
                        "bandIndex": 1,
                        "bitDepth": 16,
                        "sampleFormat": "UINT",
                        "noData": None,
                    }
                },
                "maxMetersPerPixel": None,
            },
        }
        data = raw("POST", "/collections", json=body).json()["data"]
        assert data["id"]
        assert data["additionalData"]["bands"]["B1"]["bitDepth"] == 16
        assert data["isConfigured"] is True

    def test_search(self, raw):
        for name in ("alpha one", "beta one", "gamma"):
            raw("POST", "/collections", json={"name": name, "s3Bucket": "b"})

        def names(search):
            body = raw("GET", "/collections", params={"search": search}).json()
            return sorted(c["name"] for c in body["data"])

        assert names("one") == ["alpha one", "beta one"]
        assert names("alpha|gamma") == ["alpha one", "gamma"]
        assert names("beta&one") == ["beta one"]

    def test_band_rules_once_tiles_exist(self, service, raw):
        bands = {"B02": {"bitDepth": 16}, "B03": {"bitDepth": 16}}
        cid = raw.new_collection(bands=bands)
        service.register_files("bkt", utm33_files("t/(BAND).tif"))
        raw("POST", f"/collections/{cid}/tiles", json={"path": "t/(BAND).tif"})
        rename = {
            "name": "c",
            "s3Bucket": "bkt",
            "additionalData": {
                "bands": {
                    "blue": {"bitDepth": 16, "source": "B02"},
                    "green": {"bitDepth": 16, "source": "B03"},
                }
            },
        }
        assert raw("PUT", f"/collections/{cid}", json=rename).status_code == 204
        add = {
            "name": "c",
            "s3Bucket": "bkt",
            "additionalData": {"bands": {"new": {"bitDepth": 8, "source": "B09"}}},
        }
        answer = raw("PUT", f"/collections/{cid}", json=add)
        assert answer.status_code == 400
        assert "only be renamed or removed" in answer.json()["error"]["message"]
        move = {"name": "c", "s3Bucket": "other"}
        assert raw("PUT", f"/collections/{cid}", json=move).status_code == 400


class TestPaging:
    def test_pages_and_links(self, raw, collection):
        make_tiles(raw, collection, 250)
        seen, url, params, pages = [], f"/collections/{collection}/tiles", {}, 0
        while True:
            body = raw("GET", url, params=params).json()
            pages += 1
            seen += [t["id"] for t in body["data"]]
            links = body["links"]
            if "nextToken" not in links:
                assert "next" not in links
                break
            # `next` is a full URL a client can follow as is
            assert urllib.parse.parse_qs(urllib.parse.urlsplit(links["next"]).query)[
                "viewtoken"
            ] == [links["nextToken"]]
            params = {"viewtoken": links["nextToken"]}
        assert pages == 3
        assert len(seen) == len(set(seen)) == 250

    def test_next_link_is_followable(self, raw, collection):
        make_tiles(raw, collection, 7)
        first = raw("GET", f"/collections/{collection}/tiles", params={"count": 5}).json()
        second = raw("GET", first["links"]["next"]).json()
        assert len(first["data"]) == 5
        assert len(second["data"]) == 2
        assert "nextToken" not in second["links"]

    @pytest.mark.parametrize(
        ("count", "status", "size"),
        [("0", 400, None), ("abc", 400, None), ("500", 200, 100), ("3", 200, 3)],
    )
    def test_count(self, raw, collection, count, status, size):
        make_tiles(raw, collection, 120)
        answer = raw("GET", f"/collections/{collection}/tiles", params={"count": count})
        assert answer.status_code == status
        if size:
            assert len(answer.json()["data"]) == size

    def test_bad_viewtoken(self, raw, collection):
        answer = raw("GET", f"/collections/{collection}/tiles", params={"viewtoken": "junk!"})
        assert answer.status_code == 400

    def test_camel_case_viewtoken(self, raw, collection):
        make_tiles(raw, collection, 3)
        first = raw("GET", f"/collections/{collection}/tiles", params={"count": 2}).json()
        token = first["links"]["nextToken"]
        rest = raw(
            "GET", f"/collections/{collection}/tiles", params={"viewToken": token, "count": 2}
        ).json()
        assert len(rest["data"]) == 1

    def test_sort_and_filters(self, raw, collection):
        for path in ("b/(BAND).tif", "a/(BAND).tif", "c/(BAND).tif"):
            raw("POST", f"/collections/{collection}/tiles", json={"path": path})

        def paths(**params):
            body = raw("GET", f"/collections/{collection}/tiles", params=params).json()
            return [t["path"] for t in body["data"]]

        assert paths() == ["b/(BAND).tif", "a/(BAND).tif", "c/(BAND).tif"]
        assert paths(sort="created:desc") == ["c/(BAND).tif", "a/(BAND).tif", "b/(BAND).tif"]
        assert paths(sort="path:asc") == ["a/(BAND).tif", "b/(BAND).tif", "c/(BAND).tif"]
        assert paths(path="a/(BAND).tif") == ["a/(BAND).tif"]
        # the path travels URL-encoded, as sentinelhub-py sends it
        query = "path=" + urllib.parse.quote("c/(BAND).tif", safe="")
        body = raw("GET", f"/collections/{collection}/tiles?{query}").json()
        assert [t["path"] for t in body["data"]] == ["c/(BAND).tif"]
        assert paths(status="FAILED") == paths()  # nothing in the bucket: all failed
        assert paths(status="INGESTED") == []
        assert (
            raw("GET", f"/collections/{collection}/tiles", params={"sort": "x"}).status_code == 400
        )

    def test_unknown_collection(self, raw):
        assert raw("GET", "/collections/sinergise/tiles").status_code == 404


class TestTiles:
    def test_create_answers_waiting_with_cover_in_its_crs(self, raw, collection):
        cover = geojson("Polygon", [box_ring(400_000, 5_000_000, 450_000, 5_050_000)], UTM33_URN)
        answer = raw(
            "POST",
            f"/collections/{collection}/tiles",
            json={
                "path": "x/(BAND).tif",
                "coverGeometry": cover,
                "status": None,
                "id": None,
                "created": None,
                "sensingTime": "2024-06-01T10:00:00",
            },
        )
        assert answer.status_code == 201
        data = answer.json()["data"]
        assert data["status"] == "WAITING"
        assert data["sensingTime"] == "2024-06-01T10:00:00.000Z"
        assert data["coverGeometry"]["crs"]["properties"]["name"] == UTM33_URN
        ring = data["coverGeometry"]["coordinates"][0]
        # stored in CRS84 and returned in the tile's CRS: equal up to float noise
        assert ring[0] == pytest.approx([400_000, 5_000_000], abs=1e-3)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({}, "path is required"),
            ({"path": "/abs/(BAND).tif"}, "must not start or end"),
            ({"path": "a//b"}, "must not start or end"),
            (
                {"path": "p", "coverGeometry": {"type": "Point", "coordinates": [1, 2]}},
                "Polygon or MultiPolygon",
            ),
            ({"path": "p", "sensingTime": "soon"}, "not an ISO-8601 time"),
            (
                {"path": "p", "coverGeometry": {"type": "Polygon", "coordinates": None}},
                "coordinates must be a list, got NoneType",
            ),
            (
                {"path": "p", "coverGeometry": {"type": "Polygon", "coordinates": [[[0, 0]]]}},
                "at least 4 positions",
            ),
        ],
    )
    def test_bad_tiles(self, raw, collection, body, message):
        answer = raw("POST", f"/collections/{collection}/tiles", json=body)
        assert answer.status_code == 400
        assert message in answer.json()["error"]["message"]

    def test_more_than_100_points(self, raw, collection):
        ring = [[i * 0.01, 0.0] for i in range(60)] + [[0.6 - i * 0.01, 0.5] for i in range(60)]
        ring.append(ring[0])
        cover = geojson("Polygon", [ring], None)
        answer = raw(
            "POST", f"/collections/{collection}/tiles", json={"path": "p", "coverGeometry": cover}
        )
        assert answer.status_code == 400
        assert "121 points; at most 100" in answer.json()["error"]["message"]

    def test_duplicate_path(self, raw, collection):
        raw("POST", f"/collections/{collection}/tiles", json={"path": "same"})
        answer = raw("POST", f"/collections/{collection}/tiles", json={"path": "same"})
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "COMMON_UNIQUE_KEY_VIOLATION"

    def test_update_semantics(self, service, raw):
        cid = raw.new_collection()
        service.register_files("bkt", utm33_files("t/(BAND).tif"))
        small = geojson("Polygon", [box_ring(410_000, 5_010_000, 420_000, 5_020_000)], UTM33_URN)
        tid = raw(
            "POST",
            f"/collections/{cid}/tiles",
            json={
                "path": "t/(BAND).tif",
                "coverGeometry": small,
                "sensingTime": "2024-06-01T00:00:00Z",
            },
        ).json()["data"]["id"]
        url = f"/collections/{cid}/tiles/{tid}"
        tile = raw("GET", url).json()["data"]
        # a PUT with the cover keeps it; an absent sensingTime is unchanged
        assert (
            raw(
                "PUT", url, json={"path": tile["path"], "coverGeometry": tile["coverGeometry"]}
            ).status_code
            == 204
        )
        after = raw("GET", url).json()["data"]
        assert after["sensingTime"] == "2024-06-01T00:00:00.000Z"
        assert after["coverGeometry"]["coordinates"][0][0] == pytest.approx(
            [410_000, 5_010_000], abs=1e-3
        )
        # a PUT without a cover resets it to the tile's bounding box; null clears the time
        raw("PUT", url, json={"sensingTime": None})
        reset = raw("GET", url).json()["data"]
        assert "sensingTime" not in reset
        xs = [p[0] for p in reset["coverGeometry"]["coordinates"][0]]
        assert min(xs) == pytest.approx(400_000, abs=1e-3)
        assert max(xs) == pytest.approx(509_800, abs=1e-3)

    def test_cover_in_wgs84_comes_back_in_the_tile_crs(self, service, raw):
        cid = raw.new_collection()
        service.register_files("bkt", utm33_files("t/(BAND).tif"))
        cover = geojson("Polygon", [box_ring(14.0, 45.2, 14.5, 45.6)], "urn:ogc:def:crs:OGC::CRS84")
        tid = raw(
            "POST",
            f"/collections/{cid}/tiles",
            json={"path": "t/(BAND).tif", "coverGeometry": cover},
        ).json()["data"]["id"]
        tile = raw.tile(cid, tid)
        assert tile["status"] == "INGESTED"
        assert tile["coverGeometry"]["crs"]["properties"]["name"] == UTM33_URN
        x, y = tile["coverGeometry"]["coordinates"][0][0]
        assert 400_000 < x < 500_000
        assert 5_000_000 < y < 5_100_000

    def test_delete_and_404(self, raw, collection):
        tid = raw("POST", f"/collections/{collection}/tiles", json={"path": "p"}).json()["data"][
            "id"
        ]
        assert raw("DELETE", f"/collections/{collection}/tiles/{tid}").status_code == 204
        answer = raw("GET", f"/collections/{collection}/tiles/{tid}")
        assert answer.status_code == 404
        assert answer.json()["error"]["message"] == f"Tile {tid} not found."

    def test_method_not_allowed(self, raw, collection):
        assert raw("PATCH", f"/collections/{collection}").status_code in (405, 501)
        assert raw("POST", f"/collections/{collection}").status_code == 405


class TestIngestion:
    def test_ingested_from_the_virtual_bucket(self, service, raw):
        cid = raw.new_collection()
        service.register_files("bkt", utm33_files("2024/t1/(BAND).tif"))
        tid = raw.new_tile(cid, "2024/t1/(BAND).tif")
        tile = raw.tile(cid, tid)
        assert tile["status"] == "INGESTED"
        assert tile["tileGeometry"]["coordinates"] == [
            [
                [400_000, 5_109_800],
                [509_800, 5_109_800],
                [509_800, 5_000_000],
                [400_000, 5_000_000],
                [400_000, 5_109_800],
            ]
        ]
        assert tile["additionalData"]["minMetersPerPixel"] == 10
        assert set(tile["additionalData"]["filesMetadata"]) == {"B02", "B03"}
        collection = raw("GET", f"/collections/{cid}").json()["data"]
        assert collection["isConfigured"] is True
        assert set(collection["additionalData"]["bands"]) == {"B02", "B03"}
        assert collection["additionalData"]["hasSensingTimes"] == "NO"

    def test_folder_path_is_rewritten(self, service, raw):
        cid = raw.new_collection()
        service.register_files("bkt", utm33_files("folder/(BAND).tiff"))
        tid = raw.new_tile(cid, "folder")
        tile = raw.tile(cid, tid)
        assert tile["status"] == "INGESTED"
        assert tile["path"] == "folder/(BAND).tiff"

    def test_missing_file_fails_then_reingest_succeeds(self, service, raw):
        bands = {"B02": {"bitDepth": 16}, "B08": {"bitDepth": 16}}
        cid = raw.new_collection(bands=bands)
        service.register_files("bkt", utm33_files("t/(BAND).tif", bands=("B02",)))
        tid = raw.new_tile(cid, "t/(BAND).tif")
        url = f"/collections/{cid}/tiles/{tid}"
        failed = raw("GET", url).json()["data"]
        assert failed["status"] == "FAILED"
        assert (
            failed["additionalData"]["failedIngestionCause"] == "File s3://bkt/t/B08.tif not found."
        )
        service.register_files("bkt", utm33_files("t/(BAND).tif", bands=("B08",)))
        answer = raw("POST", url + "/reingest", headers={"Content-Type": "application/json"})
        assert answer.status_code == 204
        assert answer.content == b""
        assert raw("GET", url).json()["data"]["status"] == "INGESTED"

    def test_unsupported_crs_fails(self, service, raw):
        cid = raw.new_collection()
        service.register_files(
            "bkt", {"p/B1.tif": {"crs": "EPSG:3031", "bounds": [0, 0, 1000, 1000]}}
        )
        tid = raw.new_tile(cid, "p/(BAND).tif")
        tile = raw.tile(cid, tid)
        assert tile["status"] == "FAILED"
        assert "Unsupported CRS EPSG:3031" in tile["additionalData"]["failedIngestionCause"]

    def test_delayed_ingestion_passes_through_every_state(self):
        """The stages come 0.2 s apart on the ingestion's clock; here that clock moves
        only when the test moves it, past one stage at a time, so no state goes by
        unseen however slow the machine (reading each state the moment it was due
        missed one whenever a GET took longer than 0.2 s)."""
        with byocframe.local_service(ingestion_delay=0.6) as service:
            now = [1000.0]
            service._server.ingestor.clock = lambda: now[0]  # the ingestor's clock seam
            raw = Raw(service)
            cid = raw.new_collection()
            service.register_files("bkt", utm33_files("t/(BAND).tif"))
            tid = raw.new_tile(cid, "t/(BAND).tif")

            def status() -> str:
                return raw("GET", f"/collections/{cid}/tiles/{tid}").json()["data"]["status"]

            seen = [status()]
            for _ in range(3):
                now[0] += 0.25  # past the next stage, not the one after
                deadline = time.monotonic() + 10
                # the ingestion thread looks at its clock every 0.2 s at most
                while (current := status()) == seen[-1] and time.monotonic() < deadline:
                    time.sleep(0.02)
                seen.append(current)
            assert seen == ["WAITING", "QUEUED", "INGESTING", "INGESTED"]

    def test_manual_ingestion(self):
        with byocframe.local_service(ingestion_delay=None) as service:
            raw = Raw(service)
            cid = raw.new_collection()
            raw("POST", f"/collections/{cid}/tiles", json={"path": "t/(BAND).tif"})
            tiles = raw("GET", f"/collections/{cid}/tiles").json()["data"]
            assert [t["status"] for t in tiles] == ["WAITING"]
            assert service.ingest_pending() == 1
            tiles = raw("GET", f"/collections/{cid}/tiles").json()["data"]
            assert [t["status"] for t in tiles] == ["FAILED"]

    def test_copy_tiles(self, service, raw):
        ids = [
            raw("POST", "/collections", json={"name": n, "s3Bucket": "bkt"}).json()["data"]["id"]
            for n in ("a", "b")
        ]
        service.register_files(
            "bkt", {**utm33_files("1/(BAND).tif"), **utm33_files("2/(BAND).tif")}
        )
        for path in ("1/(BAND).tif", "2/(BAND).tif", "missing/(BAND).tif"):
            raw("POST", f"/collections/{ids[0]}/tiles", json={"path": path})
        raw("POST", f"/collections/{ids[1]}/tiles", json={"path": "1/(BAND).tif"})
        answer = raw(
            "POST",
            f"/collections/{ids[0]}/copyTiles?toCollection={ids[1]}",
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 204
        paths = sorted(t["path"] for t in raw("GET", f"/collections/{ids[1]}/tiles").json()["data"])
        assert paths == ["1/(BAND).tif", "2/(BAND).tif"]


class TestPersistenceAndConcurrency:
    def test_state_and_tokens_survive_a_restart(self, tmp_path):
        db = tmp_path / "byoc.sqlite"
        with byocframe.local_service(db=db) as first:
            raw = Raw(first)
            cid = raw("POST", "/collections", json={"name": "kept", "s3Bucket": "b"}).json()[
                "data"
            ]["id"]
            make_tiles(raw, cid, 3)
            token = raw.session.headers["Authorization"]
        with byocframe.local_service(db=db) as second:
            answer = requests.get(
                f"{second.base_url}{API}/collections/{cid}/tiles", headers={"Authorization": token}
            )
            assert answer.status_code == 200
            assert len(answer.json()["data"]) == 3

    def test_demo_is_seeded_once_per_database(self, tmp_path):
        db = tmp_path / "demo.sqlite"
        with byocframe.local_service(db=db, demo=True, demo_tiles=30) as first:
            cid = first.demo_collection
        with byocframe.local_service(db=db, demo=True, demo_tiles=30) as second:
            assert second.demo_collection == cid
            collections = list(second.client().iter_collections())
            assert len(collections) == 1

    def test_concurrent_writers_lose_nothing(self, raw, collection):
        errors = []

        def writer(k):
            session = Raw(raw.service)
            for i in range(25):
                answer = session(
                    "POST", f"/collections/{collection}/tiles", json={"path": f"w{k}/{i}"}
                )
                if answer.status_code != 201:
                    errors.append(answer.text)
            # everyone also races for one shared path: exactly one may win
            session("POST", f"/collections/{collection}/tiles", json={"path": "shared"})

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        tiles = list(raw.service.client().iter_tiles(collection))
        paths = [t["path"] for t in tiles]
        assert len(paths) == len(set(paths)) == 8 * 25 + 1


class TestFaults:
    def test_errors_throttles_and_drops(self, service, raw):
        service.faults = Faults(error_rate=1.0)
        answer = raw("GET", "/collections")
        assert answer.status_code == 503
        assert answer.json()["error"]["status"] == 503
        service.faults = Faults(throttle_rate=1.0, retry_after_ms=1234)
        answer = raw("GET", "/collections")
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "1234"
        assert answer.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        service.faults = Faults(drop_rate=1.0)
        with pytest.raises(requests.ConnectionError):
            raw("GET", "/collections")
        service.faults = None
        assert raw("GET", "/collections").status_code == 200

    def test_faults_are_repeatable(self, service, raw):
        def run():
            service.faults = Faults(error_rate=0.3, throttle_rate=0.2, seed=42)
            return [raw("GET", "/collections").status_code for _ in range(30)]

        first = run()
        assert first == run()
        assert {200, 429, 503} <= set(first)

    def test_latency(self, service, raw):
        service.faults = Faults(latency=0.2)
        start = time.perf_counter()
        raw("GET", "/collections")
        assert time.perf_counter() - start >= 0.2

    def test_token_bucket(self, service, raw):
        service.rate_limit = RateLimit(capacity=3, per_second=2.0)
        codes = [raw("GET", "/collections").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200]
        assert codes[3] == 429
        waited = int(raw("GET", "/collections").headers.get("Retry-After", "0"))
        assert 0 < waited <= 500

"""The local Catalog against the STAC API 1.0.0 schemas, offline, and its definition documents.

Independent truths: the STAC API 1.0.0 OpenAPI schemas and the STAC 1.0.0 JSON schemas
(``tests/data/stac-schemas``), the OpenAPI 3.0 schema of ``openapi-spec-validator``,
and the BYOC API's own listing for "which tiles fall on a day".

stac-api-validator is not run here: it cannot run offline (``docs/design/catalog.md``,
"STAC API conformance").
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
import requests
from catalog_world import token_for
from stac_schemas import api_errors, validate, validate_api

import byocframe

openapi_spec_validator = pytest.importorskip("openapi_spec_validator")

CATALOG = "/api/v1/catalog/1.0.0"
OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"


@pytest.fixture(scope="module")
def api(demo_service):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token_for(demo_service)}"
    root = demo_service.base_url + CATALOG
    return session, root, "byoc-" + demo_service.demo_collection


def _links(doc):
    return {link["rel"]: link for link in doc["links"]}


def test_landing_page_links_its_definition_and_its_documentation(api):
    _, root, _ = api
    landing = requests.get(root, timeout=10).json()  # anonymous, as sentinelhub-py calls it
    links = _links(landing)
    desc, doc = links["service-desc"], links["service-doc"]
    assert desc["type"] == OPENAPI_MEDIA
    assert doc["type"] == "text/html"
    answer = requests.get(desc["href"], headers={"Accept": desc["type"]}, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == OPENAPI_MEDIA
    openapi_spec_validator.validate(answer.json())  # a valid OpenAPI 3.0 document
    page = requests.get(doc["href"], timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].split(";")[0] == "text/html"
    for path in answer.json()["paths"]:
        assert f"{path}</code>" in page.text.replace("&#x27;", "'")


def test_the_definition_is_true_to_the_routes(api, demo_service):
    """Every path and method it lists answers 200; a path it does not list is a 404."""
    session, root, cid = api
    definition = session.get(root + "/api", timeout=10).json()
    item_id = session.get(f"{root}/collections/{cid}/items?limit=1", timeout=10).json()
    values = {"collectionId": cid, "featureId": item_id["features"][0]["id"]}
    assert definition["servers"] == [{"url": root}]
    for path, methods in definition["paths"].items():
        url = root + re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
        for method in methods:
            body = {"collections": [cid], "limit": 1} if method == "post" else None
            needed = [
                p["name"]
                for p in methods[method].get("parameters", [])
                if p["in"] == "query" and p["required"]
            ]
            assert needed == (["collections"] if (path, method) == ("/search", "get") else [])
            params = {name: cid for name in needed}
            answer = session.request(method.upper(), url, json=body, params=params, timeout=10)
            assert answer.status_code == 200, (method, path, answer.text[:200])
            media = next(iter(methods[method]["responses"]["200"]["content"]))
            assert answer.headers["Content-Type"].split(";")[0] == media.split(";")[0], path
            if methods[method].get("security") == []:  # anonymous in the definition too
                assert requests.request(method.upper(), url, timeout=10).status_code == 200
            else:
                assert requests.request(method.upper(), url, timeout=10).status_code == 401
    for missing in ("/apis", "/collections/x/y", "/search/1"):
        assert session.get(root + missing, timeout=10).status_code in (400, 404)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "value",
    [
        "2024-06-01",
        "2024-06-01/2024-06-02",
        "2024-06-01T00:00:00Z/2024-06-02",
        "2024-06-01T00:00:00",  # no offset
        "2024-06",
    ],
)
def test_a_date_is_not_a_datetime(api, method, value):
    session, root, cid = api
    if method == "GET":
        answer = session.get(
            root + "/search", params={"collections": cid, "datetime": value}, timeout=10
        )
    else:
        answer = session.post(
            root + "/search", json={"collections": [cid], "datetime": value}, timeout=10
        )
    assert answer.status_code == 400, answer.text[:200]
    error = answer.json()
    assert set(error) == {"code", "description"}  # the Catalog's error envelope
    assert error["code"] == "BAD_REQUEST"
    assert "datetime" in error["description"]
    assert "RFC 3339" in error["description"]
    assert "T00:00:00Z" in error["description"]  # the expected form, spelled out
    items = session.get(f"{root}/collections/{cid}/items", params={"datetime": value}, timeout=10)
    assert items.status_code == 400


def test_the_whole_day_as_an_interval_finds_that_days_tiles(api, demo_service):
    session, root, cid = api
    client = demo_service.client()
    frame = byocframe.read_tiles(client, demo_service.demo_collection, status="INGESTED")
    day = pd.Timestamp("2024-06-01", tz="UTC")
    truth = set(
        frame.index[
            (frame["sensing_time"] >= day) & (frame["sensing_time"] < day + pd.Timedelta(days=1))
        ]
    )
    assert truth, "the demo has tiles on 2024-06-01"
    body = {
        "collections": [cid],
        "datetime": "2024-06-01T00:00:00Z/2024-06-01T23:59:59.999999Z",
        "limit": 100,
    }
    found: set[str] = set()
    while True:
        page = session.post(root + "/search", json=body, timeout=10).json()
        found |= {f["id"] for f in page["features"]}
        if "next" not in page["context"]:
            break
        body["next"] = page["context"]["next"]
    assert found == truth


def test_every_answer_matches_the_stac_api_schemas(api):
    session, root, cid = api
    landing = requests.get(root, timeout=10).json()
    validate_api(landing, "core/openapi.yaml#landingPage")
    validate(landing)  # a STAC 1.0.0 Catalog
    conformance = requests.get(root + "/conformance", timeout=10).json()
    validate_api(conformance, "core/commons.yaml#conformanceClasses")
    collections = session.get(root + "/collections", timeout=10).json()
    validate_api(collections, "ogcapi-features/openapi-collections.yaml#collections")
    collection = session.get(f"{root}/collections/{cid}", timeout=10).json()
    validate_api(collection, "core/commons.yaml#collection")
    validate(collection)  # STAC 1.0.0 Collection, eo and raster 1.1.0
    items = session.get(f"{root}/collections/{cid}/items?limit=7", timeout=10).json()
    validate_api(items, "ogcapi-features/openapi-features.yaml#featureCollectionGeoJSON")
    page = "fragments/itemcollection/openapi.yaml#itemCollection"
    searched = session.get(f"{root}/search?collections={cid}&limit=7", timeout=10).json()
    validate_api(searched, page)
    posted = session.post(root + "/search", json={"collections": [cid], "limit": 7}, timeout=10)
    validate_api(posted.json(), page)
    second = _links(posted.json())["next"]
    assert second["method"] == "POST"
    validate_api(
        session.post(
            second["href"], json={"collections": [cid], "limit": 7, **second["body"]}, timeout=10
        ).json(),
        page,
    )
    for feature in items["features"] + searched["features"]:
        one = session.get(f"{root}/collections/{cid}/items/{feature['id']}", timeout=10).json()
        validate_api(one, "core/commons.yaml#item")
        if one["properties"]["datetime"] is not None:  # timeless: see catalog.md
            validate(one)  # STAC 1.0.0 Item with projection 1.0.0


def test_the_schemas_can_fail(api):
    session, root, cid = api
    collection = session.get(f"{root}/collections/{cid}", timeout=10).json()
    del collection["extent"]
    assert api_errors(collection, "core/commons.yaml#collection")
    landing = requests.get(root, timeout=10).json()
    landing["links"] = [{"rel": "self"}]  # a link without href
    assert api_errors(landing, "core/openapi.yaml#landingPage")

"""STAC exports validate against the published schemas, offline (``tests/data/stac-schemas``).

Independent truth: the JSON schemas of the STAC specification and its extensions, as
published, checked by ``jsonschema``, by pystac's own validator and by stac-validator
(stac-utils' command-line validator, given the stored schemas for their URLs); none
knows byocframe. Items without their ``collection`` link must fail, so the check can fail.
"""

from __future__ import annotations

import copy
import types

import pytest
import requests
from catalog_world import token_for
from stac_schemas import STORE, errors, offline_validation, validate

import byocframe
from byocframe.stac import tiles_from_stac, to_stac
from byocframe.stac.fields import PROJECTION

pystac = pytest.importorskip("pystac")

CATALOG = "/api/v1/catalog/1.0.0"


@pytest.fixture(scope="module")
def export(demo_service):
    client = demo_service.client()
    frame = byocframe.read_tiles(client, demo_service.demo_collection)
    record = client.get_collection(demo_service.demo_collection)
    return frame, record, [item.to_dict() for item in frame.byoc.to_stac(record)]


@pytest.fixture
def offline_pystac():
    """pystac validates with the stored schemas only (any other URL raises)."""
    with offline_validation():
        yield


def test_every_item_of_the_demo_export_validates(export):
    frame, _, items = export
    assert len(items) == len(frame) == 400
    for item in items:
        validate(item)  # the core schema of its stac_version, then each extension
    assert {i["stac_version"] for i in items} == {pystac.get_stac_version()}
    assert PROJECTION in items[0]["stac_extensions"]


def test_pystac_validates_the_items_offline(export, offline_pystac):
    _, _, items = export
    for item in items[::20]:
        checked = pystac.Item.from_dict(item).validate()
        assert "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json" in checked
        assert PROJECTION in checked


def test_an_item_without_its_collection_link_fails(export, offline_pystac):
    _, _, items = export
    broken = copy.deepcopy(items[0])
    broken["links"] = [link for link in broken["links"] if link["rel"] != "collection"]
    assert any("collection" in e for e in errors(broken))
    with pytest.raises(pystac.errors.STACValidationError, match="collection"):
        pystac.Item.from_dict(broken).validate()


def test_a_schema_not_stored_is_an_error_not_a_download(export, offline_pystac):
    # an extension no package ships: pystac 1.16's extension packages (pystac-ext-sat, ...)
    # carry their own schemas, so a real one such as sat may validate without a download
    _, _, items = export
    unstored = "https://stac-extensions.github.io/byocframe-unstored/v1.0.0/schema.json"
    other = {**items[0], "stac_extensions": [unstored]}
    with pytest.raises(Exception, match="byocframe-unstored"):
        list(errors(other))
    with pytest.raises(Exception, match="not in"):
        pystac.Item.from_dict(other).validate()


def test_projection_2_is_written(export):
    frame, _, items = export
    by_id = {item["id"]: item for item in items}
    for tile_id, crs in frame["native_crs"].items():
        props = by_id[tile_id]["properties"]
        assert props["proj:code"] == crs  # "EPSG:32633", as pystac 1.15 writes it
        assert "proj:epsg" not in props
    assert PROJECTION == "https://stac-extensions.github.io/projection/v2.0.0/schema.json"


def test_projection_1_items_still_read(export):
    """Items written before (``proj:epsg``, extension 1.1.0) give the same frame."""
    frame, _, items = export
    old = copy.deepcopy(items)
    for item in old:
        code = item["properties"].pop("proj:code")
        item["properties"]["proj:epsg"] = int(code.split(":")[1])
        item["stac_extensions"] = [
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
            if uri == PROJECTION
            else uri
            for uri in item["stac_extensions"]
        ]
    validate(old[0])  # a valid projection 1.1 item
    spelled = copy.deepcopy(items)  # proj:code in another spelling pyproj reads
    for item in spelled:
        item["properties"]["proj:code"] = item["properties"]["proj:code"].replace("EPSG:", "epsg:")
    for back in (tiles_from_stac(old), tiles_from_stac(items), tiles_from_stac(spelled)):
        assert list(back.index) == list(frame.index)
        assert back["native_crs"].equals(frame["native_crs"])
        assert back.geometry.geom_equals_exact(frame.geometry, tolerance=1e-9).all()


def test_no_argument_when_the_frame_knows_its_collection(demo_service, monkeypatch):
    client = demo_service.client()
    frame = byocframe.read_tiles(client, demo_service.demo_collection).iloc[:30]
    monkeypatch.setenv("SH_CLIENT_ID", demo_service.client_id)
    monkeypatch.setenv("SH_CLIENT_SECRET", demo_service.client_secret)
    items = frame.byoc.to_stac()  # the record comes from the frame's own service
    record = client.get_collection(demo_service.demo_collection)
    assert [i.to_dict() for i in items] == [i.to_dict() for i in to_stac(frame, record)]
    # the link leads to the collection in the service's Catalog, a valid STAC Collection
    href = items.items[0].get_single_link("collection").href
    assert href == (
        f"{demo_service.base_url}{CATALOG}/collections/byoc-{demo_service.demo_collection}"
    )
    headers = {"Authorization": f"Bearer {token_for(demo_service)}"}
    answer = requests.get(href, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == items.items[0].collection_id
    validate(answer.json())


def test_a_frame_without_a_collection_needs_the_record(export):
    frame, record, _ = export
    plain = byocframe.tiles_from_records(byocframe.to_records(frame.iloc[:3]))
    with pytest.raises(ValueError, match="which collection"):
        plain.byoc.to_stac()
    with pytest.raises(TypeError, match="record"):
        to_stac(plain, 42)  # type: ignore[arg-type]
    # with the record, an unknown service links to Sentinel Hub's main deployment
    href = to_stac(plain, record).items[0].get_single_link("collection").href
    assert href.startswith("https://services.sentinel-hub.com/api/v1/catalog/1.0.0/collections/")


@pytest.fixture
def stac_validator(monkeypatch):
    """stac-validator's ``StacValidate`` with the stored schemas; any download raises."""
    checker = pytest.importorskip("stac_validator.stac_validator")
    utilities = pytest.importorskip("stac_validator.utilities")

    def refuse(url, *args, **kwargs):
        raise RuntimeError(f"stac-validator tried to download {url}")

    offline = types.SimpleNamespace(get=refuse, exceptions=requests.exceptions)
    monkeypatch.setattr(utilities, "requests", offline)  # its module, not everybody's
    monkeypatch.setattr(utilities, "urlopen", refuse)
    schema_map = {
        "https://" + path.relative_to(STORE).as_posix(): str(path) for path in STORE.rglob("*.json")
    }

    def check(document, **options):
        validator = checker.StacValidate(schema_map=schema_map, **options)
        valid = validator.validate_dict(document)
        return valid, validator.message[-1]

    return check


def test_stac_validator_passes_every_exported_item(export, stac_validator):
    _, _, items = export
    for item in items:
        valid, message = stac_validator(item)
        assert valid, message
    assert message["asset_type"] == "ITEM"
    assert any(PROJECTION.split("//")[1] in schema for schema in message["schema"])


def test_stac_validator_passes_the_stac_geoparquet_items(export, stac_validator, tmp_path):
    frame, record, _ = export
    pq = pytest.importorskip("pyarrow.parquet")
    stac_arrow = pytest.importorskip("stac_geoparquet.arrow")
    frame.byoc.to_stac_geoparquet(tmp_path / "items.parquet", record)
    items = list(stac_arrow.stac_table_to_items(pq.read_table(tmp_path / "items.parquet")))
    assert len(items) == len(frame)
    for item in items[::10]:
        valid, message = stac_validator(item)
        assert valid, message


def test_stac_validator_passes_the_catalog_answers(demo_service, stac_validator):
    headers = {"Authorization": f"Bearer {token_for(demo_service)}"}
    base = f"{demo_service.base_url}{CATALOG}"
    collection = f"{base}/collections/byoc-{demo_service.demo_collection}"
    kinds = {}
    for url in (f"{base}/", collection):
        answer = requests.get(url, headers=headers, timeout=10)
        valid, message = stac_validator(answer.json())
        assert valid, message
        kinds[url] = message["asset_type"]
    assert kinds == {f"{base}/": "CATALOG", collection: "COLLECTION"}
    page = requests.get(f"{collection}/items", params={"limit": 100}, headers=headers, timeout=10)
    features = page.json()["features"]
    assert len(features) == 100
    for item in features:
        valid, message = stac_validator(item)
        assert valid, message


def test_stac_validator_fails_an_item_without_its_collection_link(export, stac_validator):
    _, _, items = export
    broken = copy.deepcopy(items[0])
    broken["links"] = [link for link in broken["links"] if link["rel"] != "collection"]
    valid, message = stac_validator(broken)
    assert not valid
    assert "rel='collection'" in message["error_message"]


def test_the_catalogs_own_items_say_what_they_lack(demo_service):
    """Items of a Catalog search have no byoc:* fields: the frame lacks paths and statuses."""
    headers = {"Authorization": f"Bearer {token_for(demo_service)}"}
    url = f"{demo_service.base_url}{CATALOG}/collections/byoc-{demo_service.demo_collection}/items"
    page = requests.get(url, params={"limit": 20}, headers=headers, timeout=10).json()
    with pytest.warns(byocframe.ByocframeWarning) as caught:
        frame = byocframe.tiles_from_stac(page)
    first = str(caught[0].message)
    assert "20 STAC items carry no byoc:" in first
    assert "read_tiles(" in first
    assert "\n" not in first
    assert caught[0].filename == __file__  # points at the caller's line
    assert list(frame.index) == [f["id"] for f in page["features"]]
    assert frame["path"].isna().all()
    assert frame.geometry.notna().all()  # covers and times still come through

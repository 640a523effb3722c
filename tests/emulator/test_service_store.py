"""The service's storage on its own: prefix lookups and conditional tile changes."""

from __future__ import annotations

import json

import pytest

from byocframe.emulator.problems import ApiProblem
from byocframe.emulator.store import Store
from byocframe.emulator.validate import manifest_rows, new_collection, new_tile


@pytest.fixture
def store():
    store = Store()
    yield store
    store.close()


def entry():
    return {"crs": "EPSG:32633", "bounds": [0, 0, 1, 1]}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", ["a/1.tif", "a/2.tif", "a0/1.tif", "a\U0010ffff/1.tif", "b/1.tif", "é/1.tif"]),
        ("a/", ["a/1.tif", "a/2.tif"]),
        ("a", ["a/1.tif", "a/2.tif", "a0/1.tif", "a\U0010ffff/1.tif"]),
        ("a\U0010ffff", ["a\U0010ffff/1.tif"]),
        ("é", ["é/1.tif"]),
        ("c", []),
    ],
    ids=["all", "folder", "letter", "last-code-point", "accent", "none"],
)
def test_files_under_a_prefix(store, prefix, expected):
    keys = ["a/1.tif", "a/2.tif", "a0/1.tif", "a\U0010ffff/1.tif", "b/1.tif", "é/1.tif"]
    store.register_files("bkt", manifest_rows({key: entry() for key in keys}))
    store.register_files("other", manifest_rows({"a/3.tif": entry()}))
    assert sorted(store.files("bkt", prefix)) == sorted(expected)


def test_change_tile_is_conditional_and_atomic(store):
    cid = store.create_collection(new_collection({"name": "c", "s3Bucket": "b"}))["id"]
    doc = store.create_tile(cid, new_tile({"path": "p", "sensingTime": "2024-01-01T00:00:00Z"}))
    tid = json.loads(doc)["id"]

    def refuse(state):
        state["status"] = "INGESTED"
        return False

    assert store.change_tile(cid, tid, refuse) is None
    assert store.tile_state(cid, tid)["status"] == "WAITING"

    def explode(state):
        state["sensingTime"] = "2030-01-01T00:00:00.000Z"
        raise ApiProblem(400, "COMMON_BAD_PAYLOAD", "no")

    with pytest.raises(ApiProblem):
        store.change_tile(cid, tid, explode)
    assert store.tile_state(cid, tid)["sensingTime"] == "2024-01-01T00:00:00.000Z"

    def ingest(state):
        state["status"] = "INGESTED"
        return True

    bands = {"B1": {"bitDepth": 8, "sampleFormat": "UINT", "source": "B1", "bandIndex": 1}}
    assert store.change_tile(cid, tid, ingest, bands=bands)["status"] == "INGESTED"
    assert store.collection_doc(cid)["additionalData"]["bands"] == bands
    assert '"status":"INGESTED"' in store.tile(cid, tid)

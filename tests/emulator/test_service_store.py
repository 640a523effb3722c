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


def _created_in_listing_order(store: Store, cid: str, sort: str) -> list[str]:
    docs, _ = store.tiles_page(cid, count=100, token=None, sort=sort, path=None, status=None)
    return [json.loads(doc)["created"] for doc in docs]


def test_created_agrees_with_the_listing_order_when_the_clock_steps_back(tmp_path):
    """``sort=created`` lists by insertion: the times must agree (finding 230).

    A clock that steps back (or a time read before the lock, two POSTs at once) gave a
    later tile an earlier time; a client checking the order it asked for saw disorder.
    """
    now = [100.0]
    path = str(tmp_path / "s.db")
    store = Store(path, clock=lambda: now[0])
    cid = store.create_collection(new_collection({"name": "c", "s3Bucket": "b"}))["id"]
    for name, when in zip("abcd", [100.0, 50.0, 200.0, 150.0], strict=True):
        now[0] = when
        store.create_tile(cid, new_tile({"path": f"{name}/(BAND).tif"}))
    created = _created_in_listing_order(store, cid, "created:asc")
    assert created == sorted(created)
    assert created[0].startswith("1970-01-01T00:01:40")  # 100 s: the first clock read
    assert _created_in_listing_order(store, cid, "created:desc") == created[::-1]
    store.close()
    # opened again, the store goes on after the latest time it holds
    again = Store(path, clock=lambda: 10.0)
    again.create_tile(cid, new_tile({"path": "e/(BAND).tif"}))
    later = _created_in_listing_order(again, cid, "created:asc")
    assert later == sorted(later)
    assert later[-1] == later[-2]
    again.close()


def test_a_database_with_times_out_of_order_goes_on_after_the_latest(tmp_path):
    """An older service's database may hold the latest time on an earlier tile: a tile
    stored after reopening it is never created before it."""
    path = str(tmp_path / "old.db")
    now = [500.0]
    store = Store(path, clock=lambda: now[0])
    cid = store.create_collection(new_collection({"name": "c", "s3Bucket": "b"}))["id"]
    store.create_tile(cid, new_tile({"path": "a/(BAND).tif"}))
    store.close()
    # as an older service left it: a later tile stored with an earlier time
    older = Store(path)
    state = older.new_tile_state(cid, {"path": "b/(BAND).tif"})
    state["created"] = state["ingestionStart"] = "1970-01-01T00:01:40.000000Z"  # 100 s
    older.insert_tiles(cid, [state])
    older.close()
    reopened = Store(path, clock=lambda: 10.0)
    reopened.create_tile(cid, new_tile({"path": "c/(BAND).tif"}))
    created = _created_in_listing_order(reopened, cid, "created:asc")
    assert created[1].startswith("1970-01-01T00:01:40")  # the older service's time, kept
    assert created[-1] >= max(created[:-1])
    reopened.close()

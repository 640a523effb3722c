"""The push's guards against one pandas slip: each refusal has its way through, tested."""

from __future__ import annotations

import pandas as pd
import pytest

import byocframe
from byocframe import ByocframeWarning, ValidationError
from byocframe.edits import route


@pytest.fixture
def demo():
    with byocframe.local_service(demo=True, demo_tiles=40) as service:
        yield service


def _ids(service) -> set[str]:
    return {t["id"] for t in service.client().iter_tiles(service.demo_collection)}


def test_max_deletes_lets_through_exactly_the_deletions_it_names(demo):
    client = demo.client()
    gdf = byocframe.read_tiles(client, demo.demo_collection)
    kept = gdf.iloc[:5]  # 35 of 40 dropped: more than half
    with pytest.raises(ValidationError, match="MAX_DELETE_SHARE"):
        byocframe.push(kept, client, delete_missing=True)
    with pytest.raises(ValidationError, match="more than max_deletes=34"):
        byocframe.push(kept, client, delete_missing=True, max_deletes=34)
    assert len(_ids(demo)) == 40  # both refused before anything was sent
    result = byocframe.push(kept, client, delete_missing=True, max_deletes=35)
    assert (result["action"] == "delete").sum() == 35
    assert _ids(demo) == set(kept.index)


def test_deletions_within_the_share_need_no_max_deletes(demo, monkeypatch):
    client = demo.client()
    gdf = byocframe.read_tiles(client, demo.demo_collection)
    result = byocframe.push(gdf.iloc[20:], client, delete_missing=True)  # 20 of 40: half
    assert (result["outcome"] == "ok").sum() == 20
    monkeypatch.setattr(route, "MAX_DELETE_SHARE", 0.1)  # the setting, lowered
    with pytest.raises(ValidationError, match="10%"):
        byocframe.push(gdf.iloc[31:], client, delete_missing=True)  # 31 of 40: over 10 and 10%


def test_a_failed_write_back_warns_and_returns_what_was_sent(demo, monkeypatch):
    client = demo.client()
    gdf = byocframe.read_tiles(client, demo.demo_collection)
    tid = gdf.index[0]
    gdf.loc[tid, "sensing_time"] += pd.Timedelta(hours=1)

    def broken(*args, **kwargs):
        raise TypeError("a column that takes no such value")

    monkeypatch.setattr(route, "write_back", broken)
    with pytest.warns(ByocframeWarning, match="the push was sent"):
        result = byocframe.push(gdf, client)
    assert result.loc[tid, "outcome"] == "ok"  # the result of the sent write is kept
    wanted = gdf.loc[tid, "sensing_time"]
    assert pd.Timestamp(client.get_tile(demo.demo_collection, tid)["sensingTime"]) == wanted

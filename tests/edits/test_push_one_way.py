"""The push as one route: what it changes in the caller's frame, typed tasks, the typing
module, the frame stamped once on load, and the ``s3=`` keyword of the bucket readers."""

from __future__ import annotations

import copy
import inspect

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import byocframe
import byocframe.frame.convert
import byocframe.io.listing
from byocframe.accessor import ByocAccessor
from byocframe.edits.route import push
from byocframe.edits.tasks import (
    Action,
    Done,
    NewRow,
    Outcome,
    Result,
    Task,
    run_tasks,
    task_result,
)
from byocframe.typing import ClientLike

#: What push's docstring says it may change in the frame (besides ``attrs`` and the
#: index of created rows).
DOCUMENTED = [
    "loaded",
    "sensing_time",
    "geometry",
    "native_cover",
    "native_crs",
    "status",
    # of created rows only, as the service answered the create
    "created",
    "ingestion_start",
]


@pytest.fixture
def demo():
    with byocframe.local_service(demo=True, demo_tiles=20) as service:
        yield service


def _server_times(service) -> dict[str, pd.Timestamp]:
    return {
        t["id"]: pd.Timestamp(t["sensingTime"])
        for t in service.client().iter_tiles(service.demo_collection)
    }


def test_push_changes_only_what_its_docstring_says(demo):
    client = demo.client()
    gdf = byocframe.read_tiles(client, demo.demo_collection, progress=False)
    gdf = gdf[gdf["status"] == "INGESTED"].iloc[:8].copy()
    gdf["note"] = [f"n{i}" for i in range(len(gdf))]  # a column of the user's own
    ids = list(gdf.index)
    gdf.loc[ids[:3], "sensing_time"] += pd.Timedelta(hours=1)
    gdf.loc[ids[5], "sensing_time"] += pd.Timedelta(hours=3)
    # another writer changes ids[2] differently meanwhile: that row is a conflict
    theirs = demo.client()
    record = theirs.get_tile(demo.demo_collection, ids[2])
    their_time = pd.Timestamp(record["sensingTime"]) + pd.Timedelta(days=2)
    body = {**record, "sensingTime": their_time.isoformat().replace("+00:00", "Z")}
    theirs.update_tile(demo.demo_collection, ids[2], body)
    # ... and moves ids[5] to what we want: unchanged, and written back too
    record = theirs.get_tile(demo.demo_collection, ids[5])
    wanted = gdf.loc[ids[5], "sensing_time"]
    body = {**record, "sensingTime": wanted.isoformat().replace("+00:00", "Z")}
    theirs.update_tile(demo.demo_collection, ids[5], body)
    before = gdf.copy(deep=True)
    attrs = copy.deepcopy(gdf.attrs)

    result = push(gdf, client, progress=False)

    assert result["outcome"].to_dict() == {
        ids[0]: "ok",
        ids[1]: "ok",
        ids[2]: "conflict",
        ids[5]: "unchanged",
    }
    assert list(gdf.index) == ids
    assert list(gdf.columns) == list(before.columns)
    others = [c for c in before.columns if c not in DOCUMENTED]
    assert "note" in others
    assert "path" in others
    assert_frame_equal(gdf[others], before[others])
    untouched = [i for i in ids if i not in (ids[0], ids[1], ids[5])]
    assert_frame_equal(gdf.loc[untouched], before.loc[untouched])
    held = _server_times(demo)
    for tid in (ids[0], ids[1], ids[5]):
        assert gdf.loc[tid, "sensing_time"] == held[tid]
    assert {k: v for k, v in gdf.attrs.items() if k != "byocframe"} == {
        k: v for k, v in attrs.items() if k != "byocframe"
    }
    again = push(gdf, client, progress=False)  # only the conflict is left
    assert again["outcome"].to_dict() == {ids[2]: "conflict"}


def test_a_dry_run_or_a_refused_push_leaves_the_frame_as_it_was(demo):
    client = demo.client()
    gdf = byocframe.read_tiles(client, demo.demo_collection, progress=False)
    bare = gdf.drop(columns="loaded")  # lost its tokens: original= supplies them
    bare.loc[bare.index[:2], "sensing_time"] += pd.Timedelta(hours=1)
    before = bare.copy(deep=True)
    attrs = copy.deepcopy(bare.attrs)
    result = push(bare, client, original=gdf, dry_run=True)
    assert set(result["outcome"]) == {"would update"}
    assert_frame_equal(bare, before)
    assert bare.attrs == attrs
    bare.loc[bare.index[3], "path"] = "elsewhere/(BAND).tif"  # read-only: refused
    before = bare.copy(deep=True)
    with pytest.raises(byocframe.ValidationError, match="read-only"):
        push(bare, client, original=gdf)
    assert_frame_equal(bare, before)


def test_created_rows_take_their_id_and_waiting(demo):
    client = demo.client()
    gdf = byocframe.read_tiles(client, demo.demo_collection, progress=False)
    new = gdf.iloc[:1].drop(columns="loaded").copy()
    new.index = pd.Index([None], name="id", dtype=object)
    new["path"] = "new/tile/(BAND).tif"
    frame = pd.concat([gdf, new])
    frame.attrs = gdf.attrs
    before = frame.copy(deep=True)
    result = push(frame, client, progress=False)
    (created,) = result.index
    assert result.loc[created, "outcome"] == "ok"
    assert list(frame.index[:-1]) == list(before.index[:-1])
    assert frame.index[-1] == created
    assert frame["status"].iloc[-1] == "WAITING"
    record = client.get_tile(demo.demo_collection, created)
    assert record["path"] == "new/tile/(BAND).tif"
    for column, key in (("created", "created"), ("ingestion_start", "ingestionStart")):
        assert frame[column].iloc[-1] == pd.Timestamp(record[key])
    others = [c for c in before.columns if c not in DOCUMENTED]
    assert_frame_equal(frame[others].reset_index(drop=True), before[others].reset_index(drop=True))


def test_read_tiles_stamps_the_frame_once(demo, monkeypatch):
    calls = []
    for module in (byocframe.io.listing, byocframe.frame.convert):
        original = module.stamp

        def counted(frame, *, _original=original, **kwargs):
            calls.append(kwargs["collection"])
            return _original(frame, **kwargs)

        monkeypatch.setattr(module, "stamp", counted)
    gdf = byocframe.read_tiles(demo.client(), demo.demo_collection, progress=False)
    assert calls == [demo.demo_collection]
    assert gdf.attrs["byocframe"]["whole"] is True
    assert gdf.byoc.changes().empty


def test_tasks_and_outcomes_have_named_fields():
    outcome = Outcome("ok", 204)
    assert outcome.outcome is Result.OK
    assert outcome.outcome.settled
    assert not Outcome("conflict").outcome.settled
    with pytest.raises(ValueError, match="'fine' is not a valid Result"):
        Outcome("fine")
    tasks = [Task(Action.DELETE, "t1", lambda: Outcome(Result.OK, 204))]
    tasks.append(Task(Action.CREATE, NewRow(7), lambda: Outcome(Result.OK, 201, id="t2")))
    tasks.append(Task(Action.UPDATE, "t3", lambda: 1 / 0))
    done = run_tasks(tasks, 2, False, "")
    assert [type(d) for d in done] == [Done] * 3
    assert [(d.action, d.key) for d in done] == [
        (Action.DELETE, "t1"),
        (Action.CREATE, NewRow(7)),
        (Action.UPDATE, "t3"),
    ]
    assert done[2].outcome.outcome is Result.FAILED
    assert done[2].outcome.message == "ZeroDivisionError: division by zero"
    result = task_result(done)
    assert list(result.index) == ["t1", "t2", "t3"]
    # plain text in the result, as before the enums
    assert [type(v) for v in result["outcome"]] == [str] * 3
    assert result["action"].tolist() == ["delete", "create", "update"]


def test_client_like_names_what_the_push_uses(demo):
    client = demo.client()
    assert isinstance(client, ClientLike)
    assert not isinstance(object(), ClientLike)


def test_accessor_methods_spell_out_their_parameters():
    loose = {
        name
        for name, method in inspect.getmembers(ByocAccessor, inspect.isfunction)
        if not name.startswith("_")
        and any(p.kind is p.VAR_KEYWORD for p in inspect.signature(method).parameters.values())
    }
    assert loose == {"plot"}  # matplotlib's style keywords, as GeoDataFrame.plot takes
    hints = inspect.signature(ByocAccessor.push).parameters
    assert list(hints)[1:] == list(inspect.signature(push).parameters)[1:]


def test_accessor_push_of_collections_refuses_tile_options(demo):
    client = demo.client()
    collections = byocframe.read_collections(client)
    with pytest.raises(TypeError, match="takes no delete_missing, tolerance: leave"):
        collections.byoc.push(client, delete_missing=True, tolerance=1.0)
    collections["name"] = "renamed"
    result = collections.byoc.push(client, progress=False)
    assert result["outcome"].tolist() == ["ok"]


def test_the_old_client_keyword_warns_and_still_works(local_s3, sample_bucket):
    url = f"s3://{sample_bucket}/tiles/valid/"
    new = byocframe.read_bucket(url, s3=local_s3.client(), progress=False)
    with pytest.warns(FutureWarning, match=r"read_bucket\(client=...\) is now read_bucket\(s3="):
        old = byocframe.read_bucket(url, client=local_s3.client(), progress=False)
    assert len(new) > 0
    assert_frame_equal(old, new)
    with pytest.raises(TypeError, match="got both s3= and client="):
        byocframe.read_bucket(url, s3=local_s3.client(), client=local_s3.client())


def test_check_and_trace_covers_take_s3(local_s3, sample_bucket):
    from byocframe.emulator.cogs import SAMPLE_PATTERN

    url = f"s3://{sample_bucket}/"
    new = byocframe.check(url, pattern=SAMPLE_PATTERN, s3=local_s3.client(), progress=False)
    with pytest.warns(FutureWarning, match=r"check\(client=...\) is now check\(s3="):
        old = byocframe.check(url, pattern=SAMPLE_PATTERN, client=local_s3.client())
    assert len(new) > 0
    assert_frame_equal(old, new)
    candidates = byocframe.read_bucket(
        f"{url}tiles/valid", pattern=SAMPLE_PATTERN, s3=local_s3.client(), progress=False
    )
    covers = byocframe.trace_covers(url, candidates, s3=local_s3.client())
    with pytest.warns(FutureWarning, match=r"trace_covers\(client=...\) is now"):
        again = byocframe.trace_covers(url, candidates, client=local_s3.client())
    assert covers.notna().all()
    assert covers.geom_equals(again).all()


def test_a_row_without_a_cover_that_finds_its_tile_shows_that_tiles_cover(demo):
    """A new row with no cover whose path the service holds at its time (a rerun after a
    kill; another editor's create) adopts that tile: the row then shows its cover, which
    is what a later deletion of the row checks."""
    client = demo.client()
    cid = demo.demo_collection
    gdf = byocframe.read_tiles(client, cid, progress=False)
    source = gdf.index[0]
    record = client.get_tile(cid, source)
    when = "2031-01-01T00:00:00Z"
    other = client.create_tile(
        cid,
        {
            "path": "adopted/(BAND).tif",
            "sensingTime": when,
            "coverGeometry": record["coverGeometry"],
        },
    )
    new = gdf.iloc[:1].drop(columns="loaded").copy()
    new.index = pd.Index([None], name="id", dtype=object)
    new["path"] = "adopted/(BAND).tif"
    new["sensing_time"] = pd.Timestamp(when)
    new = new.set_geometry([None], crs=gdf.crs)
    frame = pd.concat([gdf, new])
    frame.attrs = gdf.attrs
    result = push(frame, client, progress=False)
    assert result["outcome"].tolist() == ["unchanged"]
    assert frame.index[-1] == other["id"]
    shown = frame.geometry.iloc[-1]
    assert shown is not None
    assert shown.equals_exact(gdf.geometry.loc[source], tolerance=1e-9)
    assert byocframe.changes(frame).empty

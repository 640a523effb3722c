"""The delete checks, the push guards and tables without tokens, attacked both ways.

Branch ``attack13``, findings 140 on (``tests/attack/FINDINGS.md``). A wrong delete or a
lost edit on one side (a check that can be fooled, carried to the wrong tiles, or lost
on the way), a false refusal of an everyday flow on the other. Every test runs against a
fresh local service of 40 demo tiles (loopback only). Each ``xfail(strict=True)`` pins a
defect seen today (its reason names the finding) and must lose its mark once fixed;
the unmarked tests pin what holds, each seen failing with the code broken on purpose
(the section in FINDINGS.md says how).
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

import byocframe
from byocframe.cli import main

COLUMNS = ["path", "sensing_time", "geometry"]  # what a person keeps of a listing to edit
LATER = pd.Timestamp("2030-01-01T00:00:00Z")


@pytest.fixture
def service() -> Iterator[Any]:
    """A fresh local service with 40 demo tiles (39 INGESTED, 1 FAILED)."""
    with byocframe.local_service(demo=True, demo_tiles=40) as running:
        yield running


def _account(service: Any) -> list[str]:
    return [
        *("--base-url", service.base_url, "--token-url", service.token_url),
        *("--client-id", service.client_id, "--client-secret", service.client_secret),
    ]


def _load(service: Any, **options: Any) -> gpd.GeoDataFrame:
    return byocframe.read_tiles(
        service.client(), service.demo_collection, progress=False, **options
    )


def _plain(frame: gpd.GeoDataFrame) -> list[str]:
    """INGESTED tiles not shown cut at the antimeridian (covers that can be edited)."""
    bounds = frame.geometry.bounds
    plain = (frame["status"] == "INGESTED") & (bounds["maxx"] - bounds["minx"] < 90)
    return [str(t) for t in frame.index[plain]]


def _server(service: Any) -> dict[str, dict[str, Any]]:
    client = service.client()
    return {t["id"]: t for t in client.iter_tiles(service.demo_collection)}


def _retime(service: Any, tid: str, when: pd.Timestamp = LATER) -> None:
    """Another editor gives ``tid`` another sensing time (their own load and push)."""
    theirs = _load(service)
    theirs.loc[tid, "sensing_time"] = when
    assert byocframe.push(theirs, service.client(), progress=False)["outcome"].tolist() == ["ok"]


def _recover(service: Any, tid: str) -> None:
    """Another editor shrinks the cover of ``tid`` (their own load and push)."""
    theirs = _load(service)
    theirs.loc[[tid], "geometry"] = theirs.loc[[tid]].geometry.scale(0.5, 0.5)
    assert byocframe.push(theirs, service.client(), progress=False)["outcome"].tolist() == ["ok"]


def _reingest(service: Any, tid: str) -> None:
    """Another editor puts new files in place and has the tile ingested again."""
    before = _server(service)[tid]["ingestionStart"]
    service.client().reingest_tile(service.demo_collection, tid)
    service.ingest_pending()
    assert _server(service)[tid]["ingestionStart"] != before


# ---------------------------------------------------------------------------------------
# Wrong deletes and lost edits
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["retimed", "recovered", "reingested"])
def test_a_table_without_tokens_deletes_no_tile_changed_since_it_was_listed(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str
) -> None:
    cid = service.demo_collection
    gdf = _load(service)
    x = _plain(gdf)[0]
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(gdf[COLUMNS], table)
    saved = byocframe.read_file(table)
    assert "loaded_checks" in saved.attrs["byocframe"]  # what each tile held, recorded
    {"retimed": _retime, "recovered": _recover, "reingested": _reingest}[change](service, x)
    # this editor deletes x as they saw it: one row dropped from the table
    byocframe.write_file(saved.drop(index=[x]), table)
    code = main(["push", cid, str(table), "--delete-missing", *_account(service)])
    out = capsys.readouterr()
    assert x in _server(service), out.out  # changed since the table was listed: kept
    # a conflict (exit 2), or the push refused before anything is sent (exit 1)
    assert (code, "conflict" in out.out) in ((2, True), (1, False))


def test_a_tile_retimed_by_this_editor_is_not_deleted_after_another_moved_its_cover(
    service: Any,
) -> None:
    client = service.client()
    gdf = _load(service)
    x = _plain(gdf)[0]
    gdf.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    assert byocframe.push(gdf, client, progress=False)["outcome"].tolist() == ["ok"]
    _recover(service, x)
    result = byocframe.push(gdf.drop(index=[x]), client, progress=False, delete_missing=True)
    assert x in _server(service)  # their cover edit is not deleted unseen
    assert result["outcome"].tolist() == ["conflict"]


def test_a_tile_never_pushed_is_not_deleted_after_another_moved_its_cover(service: Any) -> None:
    """What 141 lacks: the same flow without this editor's own push first is refused."""
    client = service.client()
    gdf = _load(service)
    x, y = _plain(gdf)[:2]
    gdf.loc[y, "sensing_time"] += pd.Timedelta(hours=1)  # a push of another tile
    assert byocframe.push(gdf, client, progress=False)["outcome"].tolist() == ["ok"]
    _recover(service, x)
    result = byocframe.push(gdf.drop(index=[x]), client, progress=False, delete_missing=True)
    assert result["outcome"].tolist() == ["conflict"]
    assert "cover" in result["message"].iloc[0]
    assert x in _server(service)


def test_a_table_with_one_row_from_outside_its_load_undoes_no_other_editors_time(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = service.demo_collection
    part = _load(service, status="INGESTED")  # a filtered load: the FAILED tile left out
    x, y = _plain(part)[:2]
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(part[COLUMNS], table)
    _retime(service, x)
    saved = byocframe.read_file(table)
    saved.loc[y, "sensing_time"] += pd.Timedelta(hours=1)  # this editor's own edit
    # a row pasted in (a tool that keeps the file's metadata, e.g. QGIS editing the layer)
    whole = _load(service)
    failed = whole.index[whole["status"] == "FAILED"]
    pasted = pd.concat([saved, whole.loc[failed, COLUMNS]])
    pasted.attrs = saved.attrs
    byocframe.write_file(pasted, table)
    code = main(["push", cid, str(table), *_account(service)])
    out = capsys.readouterr()
    server = _server(service)
    assert pd.Timestamp(server[x]["sensingTime"]) == LATER, out.out  # their time kept
    assert code == 0 or "sensing time changed" in out.err


def test_a_table_of_its_own_load_keeps_another_editors_time(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same table without the pasted row (143 held for it before 5e3f6e2 too)."""
    cid = service.demo_collection
    part = _load(service, status="INGESTED")
    x, y = _plain(part)[:2]
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(part[COLUMNS], table)
    _retime(service, x)
    saved = byocframe.read_file(table)
    saved.loc[y, "sensing_time"] += pd.Timedelta(hours=1)
    byocframe.write_file(saved, table)
    code = main(["push", cid, str(table), *_account(service)])
    out = capsys.readouterr()
    server = _server(service)
    assert code == 0, out.err
    assert pd.Timestamp(server[x]["sensingTime"]) == LATER
    assert pd.Timestamp(server[y]["sensingTime"]) == part.loc[y, "sensing_time"] + pd.Timedelta(
        hours=1
    )


def test_a_sensing_time_moved_by_two_to_the_26_seconds_is_seen_before_deleting(
    service: Any,
) -> None:
    client = service.client()
    gdf = _load(service)
    x = _plain(gdf)[0]
    _retime(service, x, gdf.loc[x, "sensing_time"] + pd.Timedelta(seconds=2**26))
    result = byocframe.push(gdf.drop(index=[x]), client, progress=False, delete_missing=True)
    assert x in _server(service)
    assert result["outcome"].tolist() == ["conflict"]


def test_a_sensing_time_moved_by_a_second_is_seen_before_deleting(service: Any) -> None:
    """What 144 lacks: any other move is seen (here 1 s, and 2**25 s)."""
    client = service.client()
    gdf = _load(service)
    x, y = _plain(gdf)[:2]
    _retime(service, x, gdf.loc[x, "sensing_time"] + pd.Timedelta(seconds=1))
    _retime(service, y, gdf.loc[y, "sensing_time"] + pd.Timedelta(seconds=2**25))
    result = byocframe.push(gdf.drop(index=[x, y]), client, progress=False, delete_missing=True)
    assert result["outcome"].tolist() == ["conflict", "conflict"]
    assert {x, y} <= set(_server(service))


def test_a_frame_recording_no_delete_checks_deletes_nothing_unchecked(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    x = _plain(gdf)[0]
    # what byocframe wrote before the checks were recorded (d127fbe^, checked by hand):
    # the sealed loaded ids, no loaded_checks
    settings = gdf.attrs["byocframe"]
    gdf.attrs["byocframe"] = {
        k: v for k, v in settings.items() if k not in ("loaded_checks", "loaded_checks_seal")
    }
    _retime(service, x)
    try:
        result = byocframe.push(gdf.drop(index=[x]), client, progress=False, delete_missing=True)
    except byocframe.ValidationError:
        result = None  # refused: as good as a conflict
    assert x in _server(service)  # changed since the load: not deleted unseen
    assert result is None or result["outcome"].tolist() == ["conflict"]


def test_a_stale_file_after_a_delete_and_recreate_of_the_path_touches_no_new_tile(
    service: Any, tmp_path: Path
) -> None:
    client, cid = service.client(), service.demo_collection
    gdf = _load(service)
    x = _plain(gdf)[0]
    stale = tmp_path / "stale.parquet"
    byocframe.write_file(gdf, stale)
    # another editor deletes x and creates a tile at its path again (a new id)
    record = client.get_tile(cid, x)
    client.delete_tile(cid, x)
    again = client.create_tile(
        cid,
        {k: record[k] for k in ("path", "coverGeometry", "sensingTime")},
    )
    dropped = byocframe.read_file(stale).drop(index=[x])
    result = byocframe.push(dropped, client, progress=False, delete_missing=True)
    assert result["outcome"].tolist() == ["unchanged"]  # already gone
    edited = byocframe.read_file(stale)
    edited.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    result = byocframe.push(edited, client, progress=False)
    assert result["outcome"].tolist() == ["conflict"]
    server = _server(service)
    assert again["id"] in server
    assert [t["id"] for t in server.values() if t["path"] == record["path"]] == [again["id"]]


# ---------------------------------------------------------------------------------------
# False refusals
# ---------------------------------------------------------------------------------------


def test_a_tile_whose_cover_was_pushed_can_be_deleted_after_another_push(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    x, y = _plain(gdf)[:2]
    gdf.loc[[x], "geometry"] = gdf.loc[[x]].geometry.scale(0.5, 0.5)
    assert byocframe.push(gdf, client, progress=False)["outcome"].tolist() == ["ok"]
    gdf.loc[y, "sensing_time"] += pd.Timedelta(hours=1)
    assert byocframe.push(gdf, client, progress=False)["outcome"].tolist() == ["ok"]
    result = byocframe.push(gdf.drop(index=[x]), client, progress=False, delete_missing=True)
    assert result["outcome"].tolist() == ["ok"], result["message"].tolist()
    assert x not in _server(service)


def test_a_file_pushed_three_times_deletes_the_tile_whose_cover_it_pushed(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = service.demo_collection
    path = tmp_path / "tiles.parquet"
    gdf = _load(service)
    x, y = _plain(gdf)[:2]
    byocframe.write_file(gdf, path)
    steps: list[Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]] = [
        lambda t: t.assign(geometry=t.geometry.where(t.index != x, t.geometry.scale(0.5, 0.5))),
        lambda t: t.assign(
            sensing_time=t["sensing_time"].where(
                t.index != y, t["sensing_time"] + pd.Timedelta(hours=1)
            )
        ),
        lambda t: t.drop(index=[x]),
    ]
    codes = []
    for step in steps:
        byocframe.write_file(step(byocframe.read_file(path)), path)
        extra = ["--delete-missing"] if step is steps[-1] else []
        codes.append(main(["push", cid, str(path), *extra, *_account(service)]))
    out = capsys.readouterr()
    assert codes == [0, 0, 0], out.out
    assert x not in _server(service)


def test_a_tile_created_by_a_push_can_be_deleted_after_another_push() -> None:
    with byocframe.local_service(demo=True, demo_tiles=40, ingestion_delay=None) as service:
        client = service.client()
        gdf = _load(service)
        y, z = _plain(gdf)[:2]
        new = gdf.loc[[z]].copy()
        new.index = pd.Index(["new"], dtype=object)
        new["path"] = "tiles/attack13/new/(BAND).tif"
        new["loaded"] = None
        mine = pd.concat([gdf, new])
        created = byocframe.push(mine, client, progress=False, original=gdf)
        assert created["outcome"].tolist() == ["ok"]
        tid = str(created.index[0])
        assert service.ingest_pending() == 1
        mine.loc[y, "sensing_time"] += pd.Timedelta(hours=1)
        assert byocframe.push(mine, client, progress=False)["outcome"].tolist() == ["ok"]
        result = byocframe.push(mine.drop(index=[tid]), client, progress=False, delete_missing=True)
        assert result["outcome"].tolist() == ["ok"], result["message"].tolist()
        assert tid not in _server(service)


def test_a_tile_loaded_while_waiting_can_be_deleted_once_ingested() -> None:
    with byocframe.local_service(demo=True, demo_tiles=40, ingestion_delay=None) as service:
        client, cid = service.client(), service.demo_collection
        made = client.create_tile(cid, {"path": "tiles/attack13/typo/(BAND).tif"})
        gdf = _load(service)  # the new tile shows WAITING, without a cover yet
        tid = made["id"]
        assert gdf.loc[tid, "status"] == "WAITING"
        assert gdf.loc[[tid]].geometry.isna().all()
        assert service.ingest_pending() == 1  # the service ingests it (no files: FAILED)
        after = _server(service)[tid]
        assert after["ingestionStart"] == made["ingestionStart"]  # nobody reingested it
        result = byocframe.push(gdf.drop(index=[tid]), client, progress=False, delete_missing=True)
        assert result["outcome"].tolist() == ["ok"], result["message"].tolist()
        assert tid not in _server(service)


def test_a_tile_loaded_while_waiting_and_reingested_since_is_not_deleted() -> None:
    """What 145's fix must keep: a reingest after the load (a new start) is a conflict."""
    with byocframe.local_service(demo=True, demo_tiles=40, ingestion_delay=None) as service:
        client, cid = service.client(), service.demo_collection
        made = client.create_tile(cid, {"path": "tiles/attack13/typo/(BAND).tif"})
        gdf = _load(service)
        tid = made["id"]
        service.ingest_pending()
        _reingest(service, tid)
        result = byocframe.push(gdf.drop(index=[tid]), client, progress=False, delete_missing=True)
        assert result["outcome"].tolist() == ["conflict"]
        assert tid in _server(service)


@pytest.mark.parametrize("kept", ["status", "every column"])
def test_a_table_keeping_the_status_pushes_its_edit_after_the_service_ingested_a_tile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kept: str
) -> None:
    with byocframe.local_service(demo=True, demo_tiles=40, ingestion_delay=None) as service:
        client, cid = service.client(), service.demo_collection
        made = client.create_tile(cid, {"path": "tiles/attack13/new/(BAND).tif"})
        gdf = _load(service)  # listed while the new tile waits for its ingestion
        assert gdf.loc[made["id"], "status"] == "WAITING"
        y = _plain(gdf)[0]
        columns = ["path", "status", "sensing_time", "geometry"]
        table = tmp_path / "mine.gpkg"
        byocframe.write_file(
            gdf[columns] if kept == "status" else gdf.drop(columns=["loaded"]), table
        )
        assert service.ingest_pending() == 1  # the service moves the new tile on
        saved = byocframe.read_file(table)
        saved.loc[y, "sensing_time"] += pd.Timedelta(hours=1)  # the only edit
        byocframe.write_file(saved, table)
        code = main(["push", cid, str(table), *_account(service)])
        out = capsys.readouterr()
        assert code == 0, out.err
        wanted = gdf.loc[y, "sensing_time"] + pd.Timedelta(hours=1)
        assert pd.Timestamp(_server(service)[y]["sensingTime"]) == wanted


def test_a_table_editing_the_status_is_refused_by_name(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What 147's fix must keep: a status the table itself changed is refused."""
    cid = service.demo_collection
    gdf = _load(service)
    y = _plain(gdf)[0]
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(gdf[["path", "status", "sensing_time", "geometry"]], table)
    saved = byocframe.read_file(table)
    saved.loc[y, "status"] = "FAILED"
    byocframe.write_file(saved, table)
    code = main(["push", cid, str(table), *_account(service)])
    out = capsys.readouterr()
    assert code == 1
    assert "status: read-only field edited" in out.err
    assert _server(service)[y]["status"] == "INGESTED"


def test_a_reload_drop_and_push_deletes_and_a_second_push_sends_nothing(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    x, y = _plain(gdf)[:2]
    _retime(service, y)  # before this editor's load: nothing to do with it
    gdf = _load(service)
    dropped = gdf.drop(index=[x])
    assert byocframe.push(dropped, client, progress=False, delete_missing=True)[
        "outcome"
    ].tolist() == ["ok"]
    again = byocframe.push(dropped, client, progress=False, delete_missing=True)
    assert again.empty  # the write-back took x out of the loaded ids
    assert x not in _server(service)
    assert y in _server(service)


def _parquet_by_geopandas(frame: gpd.GeoDataFrame, tmp_path: Path) -> gpd.GeoDataFrame:
    path = tmp_path / "plain.parquet"
    frame.to_parquet(path)
    return gpd.read_parquet(path)


KEPT: dict[str, Callable[[gpd.GeoDataFrame, Path], gpd.GeoDataFrame]] = {
    "pickle": lambda g, _: pickle.loads(pickle.dumps(g)),
    "copy": lambda g, _: g.copy(),
    "deepcopy": lambda g, _: copy.deepcopy(g),
    "sort": lambda g, _: g.sort_values("path"),
    "geopandas-parquet": _parquet_by_geopandas,
    **{
        ext: (
            lambda g, tmp, ext=ext: (
                byocframe.write_file(g, tmp / f"t.{ext}"),
                byocframe.read_file(tmp / f"t.{ext}"),
            )[1]
        )
        for ext in ("parquet", "gpkg", "csv", "geojson")
    },
}


@pytest.mark.parametrize("way", sorted(KEPT))
def test_the_checks_survive_copies_and_files_both_ways(
    service: Any, tmp_path: Path, way: str
) -> None:
    """A frame kept any of these ways deletes its untouched tile and keeps the changed one."""
    client = service.client()
    gdf = _load(service)
    x, y = _plain(gdf)[:2]
    kept = KEPT[way](gdf, tmp_path)
    _retime(service, y)
    result = byocframe.push(kept.drop(index=[x, y]), client, progress=False, delete_missing=True)
    assert result.loc[x, "outcome"] == "ok", result["message"].tolist()
    assert result.loc[y, "outcome"] == "conflict"
    server = _server(service)
    assert x not in server
    assert y in server


def test_two_loads_joined_plan_no_deletion(service: Any) -> None:
    """Rows of an old load and of a new one (another editor changed a tile between)."""
    client = service.client()
    old = _load(service)
    x, y = _plain(old)[:2]
    _retime(service, y)
    new = _load(service)
    half = len(old) // 2
    joined = pd.concat([old.iloc[:half], new.iloc[half:]]).drop(index=[x])
    with pytest.raises(byocframe.ValidationError, match=r"ids that were loaded|seal"):
        byocframe.push(joined, client, progress=False, delete_missing=True)
    assert {x, y} <= set(_server(service))


def test_a_tile_with_no_cover_yet_can_be_deleted(service: Any) -> None:
    client, cid = service.client(), service.demo_collection
    made = client.create_tile(cid, {"path": "tiles/attack13/nocover/(BAND).tif"})
    gdf = _load(service)
    tid = made["id"]
    assert gdf.loc[[tid]].geometry.isna().all()
    result = byocframe.push(gdf.drop(index=[tid]), client, progress=False, delete_missing=True)
    assert result["outcome"].tolist() == ["ok"], result["message"].tolist()
    assert tid not in _server(service)


def test_a_frame_pushed_into_another_collection_is_refused(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    other = client.create_collection({"name": "staging", "s3Bucket": "bucket-b"})
    x = _plain(gdf)[0]
    with pytest.raises(byocframe.ValidationError):
        byocframe.push(
            gdf.drop(index=[x]),
            client,
            progress=False,
            delete_missing=True,
            collection=str(other["id"]),
        )
    assert x in _server(service)


def test_write_listing_records_each_ids_check_in_batches_from_both_ends(tmp_path: Path) -> None:
    """The checks of a listing written batch by batch belong to their own ids."""
    from byocframe.frame.snapshot import checks_now

    with byocframe.local_service(demo=True, demo_tiles=120) as service:
        path = tmp_path / "tiles.parquet"
        for both_ends in (True, False):
            byocframe.write_listing(
                service.client(),
                service.demo_collection,
                path,
                batch_size=7,
                both_ends=both_ends,
                progress=False,
            )
            gdf = byocframe.read_file(path)
            ids = [str(t) for t in gdf.index]
            recorded = checks_now(gdf.iloc[:0], ids)  # from the attrs only
            from_rows = checks_now(gdf, ids)  # from each row's own token
            assert (recorded["flags"] == 0).all()
            assert recorded.tobytes() == from_rows.tobytes()


def test_a_geopackage_saved_again_by_geopandas_plans_no_deletion(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A QGIS-like rewrite (no byocframe metadata) of a filtered table deletes nothing."""
    cid = service.demo_collection
    table = tmp_path / "mine.gpkg"
    gdf = _load(service)
    byocframe.write_file(gdf[COLUMNS], table)
    other = gpd.read_file(table)
    other = other[other["path"].isin(gdf["path"].iloc[:3])]
    other.to_file(table, driver="GPKG")  # another tool saves a selection over it
    code = main(["push", cid, str(table), "--delete-missing", *_account(service)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert len(_server(service)) == len(gdf)


def test_records_saved_earlier_are_checked_as_saved(service: Any, tmp_path: Path) -> None:
    """A frame built today from records saved before another editor's change."""
    client, cid = service.client(), service.demo_collection
    saved = tmp_path / "records.json"
    saved.write_text(json.dumps(list(client.iter_tiles(cid))))
    x, y = _plain(_load(service))[:2]
    _retime(service, x)
    frame = byocframe.tiles_from_records(json.loads(saved.read_text()))
    result = byocframe.push(
        frame.drop(index=[x, y]), client, progress=False, delete_missing=True, collection=cid
    )
    assert result.loc[x, "outcome"] == "conflict"
    assert result.loc[y, "outcome"] == "ok"
    server = _server(service)
    assert x in server
    assert y not in server


def test_a_file_keeping_loaded_but_not_the_status_is_pushed_or_refused_in_one_line(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = service.demo_collection
    gdf = _load(service)
    y = _plain(gdf)[0]
    table = gdf[[*COLUMNS, "loaded"]].copy()  # the columns to edit, and the tokens kept
    table.loc[y, "sensing_time"] += pd.Timedelta(hours=1)
    path = tmp_path / "mine.gpkg"
    byocframe.write_file(table, path)
    code = main(["push", cid, str(path), *_account(service)])
    out = capsys.readouterr()
    server = _server(service)
    if code == 0:  # pushed: the edit landed
        assert pd.Timestamp(server[y]["sensingTime"]) == table.loc[y, "sensing_time"]
    else:  # refused: one line naming the column, nothing sent
        assert code == 1
        assert len(out.err.strip().splitlines()) == 1
        assert "status" in out.err
        assert pd.Timestamp(server[y]["sensingTime"]) == gdf.loc[y, "sensing_time"]

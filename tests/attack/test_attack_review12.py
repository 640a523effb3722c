"""Review of the change 1a38b68..main (branch ``review12``, findings 130 on).

Deletions checked without ``original=`` (the per-id delete checks a load records in
``attrs``), the new push guards, tables without tokens pushed by the command line.
Every test runs against a fresh local service of 40 demo tiles (loopback only). Each
``xfail(strict=True)`` pins a defect seen today (its reason names the finding) and must
lose its mark once fixed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.cli import main


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


def _load(service: Any) -> gpd.GeoDataFrame:
    return byocframe.read_tiles(service.client(), service.demo_collection, progress=False)


def _plain(frame: gpd.GeoDataFrame) -> list[str]:
    """INGESTED tiles not shown cut at the antimeridian (covers that can be edited)."""
    bounds = frame.geometry.bounds
    plain = (frame["status"] == "INGESTED") & (bounds["maxx"] - bounds["minx"] < 90)
    return [str(t) for t in frame.index[plain]]


def _server(service: Any) -> dict[str, dict[str, Any]]:
    client = service.client()
    return {t["id"]: t for t in client.iter_tiles(service.demo_collection)}


def test_a_push_with_original_keeps_the_delete_checks_of_the_next_push(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    x, y, z = _plain(gdf)[:3]
    # a new row joined with pd.concat: the frame loses its attrs, so original= is passed
    new = gdf.loc[[z]].copy()
    new.index = pd.Index(["new"], dtype=object)
    new["path"] = "tiles/review12/new/(BAND).tif"
    new["loaded"] = None
    new.attrs = {}
    mine = pd.concat([gdf.drop(index=[x]), new])
    assert not mine.attrs  # the documented reason to pass original=
    mine.loc[z, "sensing_time"] += pd.Timedelta(days=1)
    first = byocframe.push(mine, client, progress=False, original=gdf)
    assert first["outcome"].tolist() == ["ok", "ok"]
    # another editor moves x and y
    theirs = _load(service)
    theirs.loc[[x, y], "sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
    assert byocframe.push(theirs, client, progress=False)["outcome"].tolist() == ["ok", "ok"]
    # the first editor drops y as well and deletes what it dropped
    result = byocframe.push(mine.drop(index=[y]), client, progress=False, delete_missing=True)
    server = _server(service)
    # both changed since this editor loaded them: conflicts, kept
    assert sorted(result.index) == sorted([x, y])
    assert set(result["outcome"]) == {"conflict"}
    assert x in server
    assert y in server


@pytest.mark.parametrize("held_as", ["object", "str"])
def test_local_times_stripped_of_their_zone_are_refused_in_any_dtype(
    service: Any, held_as: str
) -> None:
    gdf = _load(service)
    local = gdf["sensing_time"].dt.tz_convert("Europe/Berlin").dt.tz_localize(None)
    gdf["sensing_time"] = local.astype(held_as)
    with pytest.raises(byocframe.ValidationError, match="time zone"):
        byocframe.changes(gdf)


def test_a_csv_whose_times_lost_their_zone_is_refused(service: Any, tmp_path: Path) -> None:
    gdf = _load(service)
    path = tmp_path / "tiles.csv"
    byocframe.write_file(gdf, path)
    header, body = path.read_text().split("\n", 1)
    table = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    times = pd.to_datetime(table["sensing_time"]).dt.tz_convert("Europe/Berlin")
    table["sensing_time"] = times.dt.strftime("%Y-%m-%d %H:%M:%S")  # as a spreadsheet saves
    path.write_text(header + "\n" + table.to_csv(index=False))
    with pytest.raises(byocframe.ValidationError, match="time zone"):
        byocframe.changes(byocframe.read_file(path))


def test_a_tile_whose_cover_was_pushed_can_be_deleted_next(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    y = _plain(gdf)[1]
    gdf.loc[y, "geometry"] = shapely.affinity.scale(gdf.loc[y, "geometry"], 0.99, 0.99)
    assert byocframe.push(gdf, client, progress=False)["outcome"].tolist() == ["ok"]
    assert byocframe.changes(gdf).empty
    result = byocframe.push(gdf.drop(index=[y]), client, progress=False, delete_missing=True)
    assert result["outcome"].tolist() == ["ok"], result["message"].tolist()
    assert y not in _server(service)


def test_a_tile_created_by_a_push_can_be_deleted_by_the_next() -> None:
    with byocframe.local_service(demo=True, demo_tiles=40, ingestion_delay=None) as service:
        client = service.client()
        gdf = _load(service)
        z = _plain(gdf)[2]
        new = gdf.loc[[z]].copy()
        new.index = pd.Index(["new"], dtype=object)
        new["path"] = "tiles/review12/new/(BAND).tif"
        new["loaded"] = None
        mine = pd.concat([gdf, new])
        created = byocframe.push(mine, client, progress=False)
        assert created["outcome"].tolist() == ["ok"]
        tid = str(created.index[0])
        assert mine.loc[tid, "status"] == "WAITING"
        assert service.ingest_pending() == 1  # the service ingests it (here: fails it)
        assert _server(service)[tid]["status"] != "WAITING"
        result = byocframe.push(mine.drop(index=[tid]), client, progress=False, delete_missing=True)
        # this editor's own new tile, which nobody else touched: deleted
        assert result["outcome"].tolist() == ["ok"], result["message"].tolist()
        assert tid not in _server(service)


@pytest.mark.xfail(
    strict=True,
    reason="finding 134 (kept as a refusal): a stale table is refused for a cover another "
    "editor changed, even one it left alone; its drawn cover cannot be told from an edit",
)
def test_a_stale_table_pushes_its_edit_when_another_editor_moved_a_cover_it_left_alone(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, cid = service.client(), service.demo_collection
    gdf = _load(service)
    x, y = _plain(gdf)[:2]
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(gdf[["path", "sensing_time", "geometry"]], table)
    theirs = _load(service)
    theirs.loc[x, "geometry"] = shapely.affinity.scale(theirs.loc[x, "geometry"], 0.99, 0.99)
    assert byocframe.push(theirs, client, progress=False)["outcome"].tolist() == ["ok"]
    their_cover = _server(service)[x]["coverGeometry"]
    saved = byocframe.read_file(table)
    saved.loc[y, "sensing_time"] = pd.Timestamp("2031-01-01T00:00:00Z")
    byocframe.write_file(saved, table)
    code = main(["push", cid, str(table), *_account(service)])
    out = capsys.readouterr()
    assert code == 0, out.err
    server = _server(service)
    assert pd.Timestamp(server[y]["sensingTime"]) == pd.Timestamp("2031-01-01T00:00:00Z")
    assert server[x]["coverGeometry"] == their_cover  # their cover stays


def test_a_delete_refused_as_a_conflict_stays_refused_when_pushed_again(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    x = _plain(gdf)[0]
    theirs = _load(service)
    theirs.loc[x, "sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
    assert byocframe.push(theirs, client, progress=False)["outcome"].tolist() == ["ok"]
    # the partitioned route of docs/guide/coverage.md: parts joined, original= passed
    edited = pd.concat([gdf.iloc[:20], gdf.iloc[20:]]).drop(index=[x])
    edited.attrs = {}
    first = byocframe.push(
        edited, client, progress=False, delete_missing=True, original=gdf, delete_only=[x]
    )
    assert first["outcome"].tolist() == ["conflict"]  # changed since: kept
    again = byocframe.push(edited, client, progress=False, delete_missing=True)
    assert set(again["outcome"]) <= {"conflict"}
    assert x in _server(service)


def test_a_dry_run_foresees_the_refusal_of_a_mass_delete(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    with pytest.raises(byocframe.ValidationError, match="max_deletes"):
        byocframe.push(gdf.iloc[:5], client, progress=False, delete_missing=True)
    refused: list[str] = []
    try:
        dry = byocframe.push(
            gdf.iloc[:5], client, progress=False, delete_missing=True, dry_run=True
        )
    except byocframe.ValidationError as err:
        refused.append(str(err))
    if refused:  # the dry run refuses as the push does: foreseen
        assert "max_deletes" in refused[0]
        return
    # today: 35 rows 'would delete', not a word of the refusal the push gives
    assert not (dry["outcome"] == "would delete").all()


def test_a_column_of_nat_clears_with_clear_times(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    part = gdf.iloc[:3].copy()
    part.attrs = gdf.attrs
    part["sensing_time"] = pd.NaT  # 'NaT clears it' (docs/guide/edits.md)
    result = byocframe.push(part, client, progress=False, clear_times=True)
    assert result["outcome"].tolist() == ["ok"] * 3


def test_a_tile_this_frame_pushed_can_be_deleted_with_original_given(service: Any) -> None:
    client = service.client()
    gdf = _load(service)
    as_loaded = gdf.copy()  # "the frame as loaded", kept for original=
    x = _plain(gdf)[0]
    gdf.loc[x, "sensing_time"] += pd.Timedelta(hours=2)
    assert byocframe.push(gdf, client, progress=False)["outcome"].tolist() == ["ok"]
    # the frame's attrs record x as this push left it; only original= is older
    result = byocframe.push(
        gdf.drop(index=[x]), client, progress=False, delete_missing=True, original=as_loaded
    )
    assert result["outcome"].tolist() == ["ok"], result["message"].tolist()
    assert x not in _server(service)

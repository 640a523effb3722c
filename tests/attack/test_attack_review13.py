"""A review of the session's change (branch ``review13``), both ways: findings 210 on.

Wrong deletes, lost or unseen edits and false refusals that this session's fixes opened
(the file write-back, the delete records, the relaxed checks of ``io.overlay``), pinned
against a fresh local service of 40 demo tiles (loopback only). A
``xfail(strict=True)`` pins a defect still open (its reason names the finding); an
unmarked test either pins what holds or a finding fixed on this branch, each seen
failing on the code before (``tests/attack/FINDINGS.md``, section ``review13``).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

import byocframe
import byocframe.io.files as files
from byocframe.cli import main


@pytest.fixture
def service() -> Iterator[Any]:
    """A fresh local service of 40 demo tiles; the test says when tiles are ingested."""
    with byocframe.local_service(demo=True, demo_tiles=40, ingestion_delay=None) as running:
        yield running


def _account(service: Any) -> list[str]:
    return [
        *("--base-url", service.base_url, "--token-url", service.token_url),
        *("--client-id", service.client_id, "--client-secret", service.client_secret),
    ]


def _cli(*args: str) -> tuple[int, str]:
    """Run ``byocframe ARGS`` in this process: its exit code and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(list(args))
        except SystemExit as err:  # argparse's own refusals
            code = int(err.code or 0)
    return code, out.getvalue()


def _load(service: Any) -> gpd.GeoDataFrame:
    return byocframe.read_tiles(service.client(), service.demo_collection, progress=False)


def _plain(frame: gpd.GeoDataFrame) -> list[str]:
    """INGESTED tiles not shown cut at the antimeridian (covers that can be edited)."""
    bounds = frame.geometry.bounds
    plain = (frame["status"] == "INGESTED") & (bounds["maxx"] - bounds["minx"] < 90)
    return [str(t) for t in frame.index[plain]]


def _shrink(frame: gpd.GeoDataFrame, tid: str, by: float = 0.5) -> None:
    frame.loc[[tid], "geometry"] = frame.loc[[tid]].geometry.scale(by, by)


def _outcomes(result: pd.DataFrame) -> list[list[str]]:
    return result[["action", "outcome"]].values.tolist()


# ---------------------------------------------------------------------------------------
# 210: a cover edit the server already held is recorded with the frame's cover
# ---------------------------------------------------------------------------------------


def test_a_cover_edit_found_already_made_can_be_deleted_later(service: Any) -> None:
    """Two copies of one load make the same cover edit; the second push is ``unchanged``.

    The write-back recorded the frame's cover for the deletion check, not the server's
    (which keeps its own rounding): dropping the tile was "its cover changed" (finding
    132 again, through the ``unchanged`` path).
    """
    client = service.client()
    gdf = _load(service)
    x = _plain(gdf)[0]
    first, second = gdf.copy(), gdf.copy()
    _shrink(first, x)
    _shrink(second, x)
    assert _outcomes(byocframe.push(first, client, progress=False)) == [["update", "ok"]]
    again = byocframe.push(second, client, progress=False)
    assert _outcomes(again) == [["update", "unchanged"]]
    gone = byocframe.push(second.drop(index=[x]), client, progress=False, delete_missing=True)
    assert _outcomes(gone) == [["delete", "ok"]], gone["message"].tolist()
    assert x not in {t["id"] for t in client.iter_tiles(service.demo_collection)}


def test_a_file_pushed_again_after_no_write_back_deletes_the_tile_whose_cover_it_pushed(
    service: Any, tmp_path: Path
) -> None:
    """The command line's way to meet 210: ``--no-write-back``, then the same file again
    (as after a push killed before its write-back): the rerun is ``unchanged`` and the
    write-back records the file's cover; the deletion was refused (exit 2)."""
    cid, account = service.demo_collection, _account(service)
    path = tmp_path / "tiles.parquet"
    assert _cli("tiles", cid, "-o", str(path), *account)[0] == 0
    gdf = byocframe.read_file(path)
    x = _plain(gdf)[0]
    _shrink(gdf, x)
    byocframe.write_file(gdf, path)
    assert _cli("push", cid, str(path), "--no-write-back", *account)[0] == 0
    code, out = _cli("push", cid, str(path), *account)
    assert code == 0, out
    assert "unchanged" in out
    byocframe.write_file(byocframe.read_file(path).drop(index=[x]), path)
    code, out = _cli("push", cid, str(path), "--delete-missing", *account)
    assert code == 0, out
    assert x not in {t["id"] for t in service.client().iter_tiles(cid)}


def test_a_cover_another_editor_set_after_an_unchanged_push_is_seen_before_deleting(
    service: Any,
) -> None:
    """What 210's fix must keep: the record is the server's cover as this push saw it, so
    another editor's cover set after it is a conflict, not a delete."""
    client = service.client()
    gdf = _load(service)
    x = _plain(gdf)[0]
    first, second = gdf.copy(), gdf.copy()
    _shrink(first, x)
    _shrink(second, x)
    byocframe.push(first, client, progress=False)
    assert _outcomes(byocframe.push(second, client, progress=False)) == [["update", "unchanged"]]
    theirs = _load(service)
    _shrink(theirs, x, 0.8)
    assert _outcomes(byocframe.push(theirs, client, progress=False)) == [["update", "ok"]]
    gone = byocframe.push(second.drop(index=[x]), client, progress=False, delete_missing=True)
    assert _outcomes(gone) == [["delete", "conflict"]]
    assert "cover" in gone["message"].iloc[0]


# ---------------------------------------------------------------------------------------
# 211: 147's relaxation lets a path edit go unseen
# ---------------------------------------------------------------------------------------


def _table_with_a_waiting_tile(service: Any, path: Path) -> str:
    """A table keeping the status, listed while a new tile waits; the tile ingested since."""
    client, cid = service.client(), service.demo_collection
    tid = str(client.create_tile(cid, {"path": "tiles/review13/a/(BAND).tif"})["id"])
    table = _load(service)[["path", "status", "sensing_time", "geometry"]]
    assert table.loc[tid, "status"] == "WAITING"
    byocframe.write_file(table, path)
    service.ingest_pending()
    assert client.get_tile(cid, tid)["status"] != "WAITING"
    return tid


def test_a_path_edit_of_a_tile_ingested_since_the_table_was_listed_is_refused(
    service: Any, tmp_path: Path
) -> None:
    """A table's path edit is refused by name ("path: read-only field edited"); for a tile
    the service moved on since the listing, 147's ``_ingested_since`` dropped the whole
    row from the read-only overlay, so the edit was never looked at: "nothing to push:
    the file matches the collection" (exit 0), while the table holds another path."""
    path = tmp_path / "table.gpkg"
    tid = _table_with_a_waiting_tile(service, path)
    table = byocframe.read_file(path)
    table.loc[tid, "path"] = "tiles/review13/b/(BAND).tif"
    byocframe.write_file(table, path)
    code, out = _cli("push", service.demo_collection, str(path), *_account(service))
    assert code == 1, out
    assert "path: read-only field edited" in out


def test_a_table_keeping_the_status_of_a_tile_ingested_since_still_pushes_an_edit(
    service: Any, tmp_path: Path
) -> None:
    """What 211's fix must keep (147): the status the service moved on is the server's."""
    path = tmp_path / "table.gpkg"
    tid = _table_with_a_waiting_tile(service, path)
    table = byocframe.read_file(path)
    other = next(t for t in _plain(_load(service)) if t != tid)
    table.loc[other, "sensing_time"] += pd.Timedelta(hours=1)
    byocframe.write_file(table, path)
    code, out = _cli("push", service.demo_collection, str(path), *_account(service))
    assert code == 0, out
    assert "update  ok         1" in out


# ---------------------------------------------------------------------------------------
# 212: the file's state is noted after it was read
# ---------------------------------------------------------------------------------------


def _file_with_a_time_edit(service: Any, tmp_path: Path) -> tuple[Path, str, Any]:
    """A file of `tiles -o` with x's time edited; the tile y and the time another program
    will save for it."""
    path = tmp_path / "tiles.parquet"
    assert _cli("tiles", service.demo_collection, "-o", str(path), *_account(service))[0] == 0
    gdf = byocframe.read_file(path)
    x, y = _plain(gdf)[:2]
    gdf.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    byocframe.write_file(gdf, path)
    return path, y, gdf.loc[y, "sensing_time"] + pd.Timedelta(hours=2)


def test_an_edit_saved_while_push_reads_the_file_is_not_overwritten(
    service: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """196's guard notes the file's inode, size and time *after* reading it: an edit saved
    while the file is read (seconds for a large file) is taken as the file read, and the
    write-back replaces it without a word; the next push says "nothing to push"."""
    cid, account = service.demo_collection, _account(service)
    path, y, wanted = _file_with_a_time_edit(service, tmp_path)
    read = files.read_file

    def saved_while_read(name: Any, *args: Any, **kwargs: Any) -> Any:
        frame = read(name, *args, **kwargs)
        theirs = read(name)  # another program saves an edit of y meanwhile
        theirs.loc[y, "sensing_time"] = wanted
        byocframe.write_file(theirs, name)
        return frame

    monkeypatch.setattr(files, "read_file", saved_while_read)
    code, out = _cli("push", cid, str(path), *account)
    monkeypatch.setattr(files, "read_file", read)
    assert code == 0, out
    assert byocframe.read_file(path).loc[y, "sensing_time"] == wanted, out


# ---------------------------------------------------------------------------------------
# 213: a GeoPackage whose tiles are not its first layer, read in part
# ---------------------------------------------------------------------------------------


def _beside_another_layer(frame: gpd.GeoDataFrame, path: Path) -> None:
    """The tiles written into a GeoPackage that holds an AOI layer already (kept)."""
    aoi = gpd.GeoDataFrame({"name": ["aoi"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    aoi.to_file(path, layer="aoi", driver="GPKG")
    byocframe.write_file(frame, path)


def test_a_part_of_a_geopackage_holding_another_layer_deletes_nothing_outside_it(
    service: Any, tmp_path: Path
) -> None:
    """``read_file(bbox=)`` marks a part (no loaded ids: no deletions) when it holds fewer
    rows than the file's features; those were counted in the *first* layer (the AOI's
    one), while the rows are read from the tiles' layer (finding 194's fix). The part
    kept the whole load's ids: pushed with ``delete_missing``, every tile outside the box
    was deleted."""
    client, cid = service.client(), service.demo_collection
    gdf = _load(service)
    path = tmp_path / "project.gpkg"
    _beside_another_layer(gdf, path)
    part = byocframe.read_file(path, bbox=(-180, -90, 0, 90))
    outside = set(gdf.index) - set(part.index)
    assert 0 < len(outside) < len(gdf) // 4
    with pytest.raises(byocframe.ValidationError, match="a part of a file"):
        byocframe.push(part, client, progress=False, delete_missing=True)  # as one layer's
    assert outside <= {t["id"] for t in client.iter_tiles(cid)}


def test_columns_of_a_geopackage_holding_another_layer_are_read(tmp_path: Path) -> None:
    """``read_file(columns=)`` took the file's fields from the first layer (the AOI's):
    "no 'path' column; is it a tile table?"."""
    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    path = tmp_path / "project.gpkg"
    _beside_another_layer(gdf, path)
    read = byocframe.read_file(path, columns=["status"])
    assert read["status"].tolist() == gdf["status"].tolist()


# ---------------------------------------------------------------------------------------
# 214: bbox= given as a GeoSeries (documented) crashes the reading of a file
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet"])
def test_a_bbox_given_as_a_geoseries_is_read(tmp_path: Path, suffix: str) -> None:
    """The docstring takes a GeoSeries or GeoDataFrame for ``bbox``; ``read_file`` compared
    ``(bbox, mask, ...) != (None,) * 4``, which asks a GeoSeries for its truth value:
    ValueError ("The truth value of a Series is ambiguous")."""
    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    path = tmp_path / f"tiles{suffix}"
    byocframe.write_file(gdf, path)
    everywhere = gpd.GeoSeries([box(-180, -90, 180, 90)], crs="EPSG:4326")
    assert len(byocframe.read_file(path, bbox=everywhere, rows=5)) == 5


# ---------------------------------------------------------------------------------------
# 216: the file's state is checked before the write-back writes, not before it renames
# ---------------------------------------------------------------------------------------


def test_an_edit_saved_while_the_write_back_writes_is_not_overwritten(
    service: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """196's guard compares the file's state once, then `write_file` writes the whole file
    (seconds for a large one) and renames it over the path: an edit saved in that time is
    replaced without a word, as 212's was in the read."""
    cid, account = service.demo_collection, _account(service)
    path, y, wanted = _file_with_a_time_edit(service, tmp_path)
    write = files.write_file

    def saved_while_written(frame: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
        theirs = byocframe.read_file(path)  # another program saves an edit of y meanwhile
        theirs.loc[y, "sensing_time"] = wanted
        write(theirs, path)
        return write(frame, name, *args, **kwargs)

    monkeypatch.setattr(files, "write_file", saved_while_written)
    code, out = _cli("push", cid, str(path), *account)
    monkeypatch.setattr(files, "write_file", write)
    assert code == 0, out
    assert byocframe.read_file(path).loc[y, "sensing_time"] == wanted, out


# ---------------------------------------------------------------------------------------
# 217: the table write-back (193's fix, bc8a70d) records the push-time listing
# ---------------------------------------------------------------------------------------


def _reingest(service: Any, tid: str) -> None:
    """Another editor puts new files in place and has the tile ingested again."""
    client = service.client()
    before = client.get_tile(service.demo_collection, tid)["ingestionStart"]
    client.reingest_tile(service.demo_collection, tid)
    service.ingest_pending()
    assert client.get_tile(service.demo_collection, tid)["ingestionStart"] != before


def test_a_table_that_pushed_a_time_edit_does_not_delete_a_tile_reingested_before_it(
    service: Any, tmp_path: Path
) -> None:
    """195 for tables: another editor reingests x after the table was listed; the table
    edits x's time and pushes (``ok``: a time edit does not look at ingestion); its
    write-back records x as the listing made at push time holds it (the reingest
    included), so x dropped from the table later was deleted, the reingest unseen. The
    table's own record (as listed) made that deletion a conflict before."""
    cid, account = service.demo_collection, _account(service)
    path = tmp_path / "table.parquet"
    gdf = _load(service)
    byocframe.write_file(gdf[["path", "sensing_time", "geometry"]], path)
    x = _plain(gdf)[0]
    _reingest(service, x)
    table = byocframe.read_file(path)
    table.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    byocframe.write_file(table, path)
    code, out = _cli("push", cid, str(path), *account)
    assert code == 0, out
    assert "wrote what was pushed back" in out
    byocframe.write_file(byocframe.read_file(path).drop(index=[x]), path)
    code, out = _cli("push", cid, str(path), "--delete-missing", *account)
    assert x in {t["id"] for t in service.client().iter_tiles(cid)}, out
    assert code == 2, out
    assert "ingestion start" in out


def test_a_table_deletes_a_tile_after_pushing_a_time_edit_of_it(
    service: Any, tmp_path: Path
) -> None:
    """What 217's fix must keep (193): the table's own edit is not a change since."""
    cid, account = service.demo_collection, _account(service)
    path = tmp_path / "table.parquet"
    gdf = _load(service)
    byocframe.write_file(gdf[["path", "sensing_time", "geometry"]], path)
    x = _plain(gdf)[0]
    table = byocframe.read_file(path)
    table.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    byocframe.write_file(table, path)
    assert _cli("push", cid, str(path), *account)[0] == 0
    byocframe.write_file(byocframe.read_file(path).drop(index=[x]), path)
    code, out = _cli("push", cid, str(path), "--delete-missing", *account)
    assert code == 0, out
    assert x not in {t["id"] for t in service.client().iter_tiles(cid)}

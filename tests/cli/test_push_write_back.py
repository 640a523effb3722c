"""``byocframe push FILE`` saves what it pushed back into FILE, and files are never half-written.

A file written by ``byocframe tiles`` remembers, row by row, what each tile held when it
was listed. After a push the collection holds the file's edits; a file left as it was
would still remember the old values, so the next edit of a pushed row would be refused
as a conflict with the push itself, and a new row would be created a second time. The
truths here are the collection itself (listed again) and the bytes of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import renamed_durably

import byocframe
from byocframe.cli import main


@pytest.fixture
def service() -> Iterator[Any]:
    with byocframe.local_service(demo=True, demo_tiles=8) as running:
        yield running


def _account(service: Any) -> list[str]:
    return [
        *("--base-url", service.base_url, "--token-url", service.token_url),
        *("--client-id", service.client_id, "--client-secret", service.client_secret),
    ]


def _listed(service: Any) -> pd.DataFrame:
    return byocframe.read_tiles(service.client(), service.demo_collection, progress=False)


def _edit(path: Path, tile: str, hours: int = 1, new_path: str | None = None) -> None:
    """Move ``tile``'s sensing time by ``hours`` in the file; add a new row at ``new_path``."""
    table = byocframe.read_file(path)
    table.loc[tile, "sensing_time"] += pd.Timedelta(hours=hours)
    if new_path is not None:
        row = table.loc[[tile], ["path", "sensing_time", "geometry"]].copy()
        row.index = pd.Index([None], name="id")
        row["path"] = new_path
        table = pd.concat([table, row])
    byocframe.write_file(table, path)


@pytest.mark.parametrize("suffix", [".parquet", ".gpkg", ".csv"])
def test_edit_push_edit_push_through_one_file(
    service: Any, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, path = service.demo_collection, tmp_path / f"tiles{suffix}"
    assert main(["tiles", cid, "-o", str(path), *_account(service)]) == 0
    tile = str(byocframe.read_file(path).index[0])
    before = _listed(service).loc[tile, "sensing_time"]
    _edit(path, tile, new_path="new/one/(BAND).tif")
    assert main(["push", cid, str(path), *_account(service)]) == 0
    listed = _listed(service)
    created = listed.index[listed["path"] == "new/one/(BAND).tif"]
    assert len(created) == 1
    # the file knows the new tile by its id now
    assert str(created[0]) in set(byocframe.read_file(path).index.astype(str))
    # a second edit of the same row goes out: not a conflict with the first push
    _edit(path, tile)
    capsys.readouterr()
    assert main(["push", cid, str(path), *_account(service)]) == 0, capsys.readouterr()
    listed = _listed(service)
    assert listed.loc[tile, "sensing_time"] == before + pd.Timedelta(hours=2)
    # a rerun sends nothing, and the new row was created once
    assert main(["push", cid, str(path), *_account(service)]) == 0
    assert "nothing to push" in capsys.readouterr().out
    assert (_listed(service)["path"] == "new/one/(BAND).tif").sum() == 1


def test_no_write_back_leaves_the_file_byte_for_byte(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid, path = service.demo_collection, tmp_path / "tiles.parquet"
    assert main(["tiles", cid, "-o", str(path), *_account(service)]) == 0
    tile = str(byocframe.read_file(path).index[0])
    _edit(path, tile)
    kept = path.read_bytes()
    assert main(["push", cid, str(path), "--no-write-back", *_account(service)]) == 0
    assert path.read_bytes() == kept
    # which is why it is not the default: the file still remembers the time before
    _edit(path, tile)
    capsys.readouterr()
    assert main(["push", cid, str(path), "--no-write-back", *_account(service)]) == 2
    assert "conflict" in capsys.readouterr().out


def test_a_dry_run_and_a_push_that_sent_nothing_leave_the_file(
    service: Any, tmp_path: Path
) -> None:
    cid, path = service.demo_collection, tmp_path / "tiles.gpkg"
    assert main(["tiles", cid, "-o", str(path), *_account(service)]) == 0
    _edit(path, str(byocframe.read_file(path).index[0]))
    kept = path.read_bytes()
    assert main(["push", cid, str(path), "--dry-run", *_account(service)]) == 0
    assert path.read_bytes() == kept


@pytest.mark.parametrize("suffix", [".gpkg", ".csv", ".geojson", ".fgb"])
def test_a_write_that_fails_halfway_leaves_the_file_that_was_there(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from byocframe.frame.synthetic import synthetic_tiles

    frame = byocframe.tiles_from_records(synthetic_tiles(6, seed=3))
    path = tmp_path / f"tiles{suffix}"
    byocframe.write_file(frame, path)
    kept = path.read_bytes()

    def broken(self: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if hasattr(target, "write"):  # to_csv into the open file
            target.write("half a file")
        else:
            Path(target).write_bytes(b"half a file")  # as a kill or a full disk leaves it
        raise OSError("No space left on device")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", broken)
    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)

    def broken_text(self: Path, text: str, *args: Any, **kwargs: Any) -> None:
        broken(None, self)

    monkeypatch.setattr(Path, "write_text", broken_text)
    with pytest.raises(OSError, match="No space left"):
        byocframe.write_file(frame.iloc[:2], path)
    assert path.read_bytes() == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing left beside


def test_a_geopackage_keeps_its_other_layers(tmp_path: Path) -> None:
    from byocframe.frame.synthetic import synthetic_tiles

    frame = byocframe.tiles_from_records(synthetic_tiles(6, seed=3))
    path = tmp_path / "work.gpkg"
    aoi = gpd.GeoDataFrame({"name": ["aoi"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    aoi.to_file(path, layer="aoi")  # the user's own layer, first in the file
    byocframe.write_file(frame, path)
    byocframe.write_file(frame.iloc[:3], path)  # written again, replacing the file
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["aoi", "work"]
    back = byocframe.read_file(path)  # the tiles' layer, not the first one
    assert list(back.index) == list(frame.index[:3])


def test_a_table_naming_a_tile_deleted_since_is_refused(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hand-made table (no ``loaded``) whose row names a tile a colleague deleted.

    Before, the row was taken for a new tile and its deletion undone, or refused with a
    message about the index; now the refusal names the tile, and nothing is sent.
    """
    cid, path = service.demo_collection, tmp_path / "table.gpkg"
    table = _listed(service)[["path", "sensing_time", "geometry"]]
    gpd.GeoDataFrame(table).reset_index().to_file(path)
    gone = str(table.index[1])
    service.client().delete_tile(cid, gone)
    assert main(["push", cid, str(path), *_account(service)]) == 1
    err = capsys.readouterr().err
    assert gone in err
    assert "not in collection" in err
    assert gone not in set(_listed(service).index)
    assert len(_listed(service)) == len(table) - 1


def test_a_rerun_after_a_push_whose_file_was_not_saved(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As after a kill between the last request and the file's write-back."""
    cid, path = service.demo_collection, tmp_path / "tiles.parquet"
    assert main(["tiles", cid, "-o", str(path), *_account(service)]) == 0
    _edit(path, str(byocframe.read_file(path).index[0]), new_path="new/two/(BAND).tif")
    assert main(["push", cid, str(path), "--no-write-back", *_account(service)]) == 0
    capsys.readouterr()
    # the rerun finds both edits on the server already, and saves that
    assert main(["push", cid, str(path), *_account(service)]) == 0
    out = capsys.readouterr().out
    assert "unchanged" in out
    assert "wrote what was pushed back" in out
    assert main(["push", cid, str(path), *_account(service)]) == 0
    assert "nothing to push" in capsys.readouterr().out
    assert (_listed(service)["path"] == "new/two/(BAND).tif").sum() == 1


def test_a_file_that_cannot_be_written_back_says_the_push_was_sent(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    cid, path = service.demo_collection, tmp_path / "tiles.parquet"
    assert main(["tiles", cid, "-o", str(path), *_account(service)]) == 0
    tile = str(byocframe.read_file(path).index[0])
    _edit(path, tile)
    kept = path.read_bytes()

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(byocframe.io.file_write, "write_parquet", full_disk)
    capsys.readouterr()
    assert main(["push", cid, str(path), *_account(service)]) == 0  # the push went out
    err = capsys.readouterr().err
    assert "the push was sent" in err
    assert "No space left" in err
    assert path.read_bytes() == kept


def test_write_file_keeps_the_permissions_and_the_link(tmp_path: Path) -> None:
    from byocframe.frame.synthetic import synthetic_tiles

    frame = byocframe.tiles_from_records(synthetic_tiles(4, seed=3))
    for suffix in (".parquet", ".gpkg"):
        target = tmp_path / f"real{suffix}"
        byocframe.write_file(frame, target)
        target.chmod(0o640)
        link = tmp_path / f"link{suffix}"
        link.symlink_to(target)
        byocframe.write_file(frame.iloc[:2], link)
        assert link.is_symlink()
        assert (target.stat().st_mode & 0o777) == 0o640
        assert len(byocframe.read_file(target)) == 2


def test_the_written_back_file_reaches_the_disk_before_and_after_its_rename(
    service: Any, tmp_path: Path, disk_calls: list[tuple[str, str]]
) -> None:
    """A power loss just after the push leaves the file as read or as written back, whole."""
    cid, path = service.demo_collection, tmp_path / "tiles.gpkg"
    assert main(["tiles", cid, "-o", str(path), *_account(service)]) == 0
    _edit(path, str(byocframe.read_file(path).index[0]))
    disk_calls.clear()
    assert main(["push", cid, str(path), *_account(service)]) == 0
    assert renamed_durably(disk_calls, path), disk_calls
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert main(["push", cid, str(path), *_account(service)]) == 0  # nothing left to push

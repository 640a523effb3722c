"""Attack on the everyday in-memory edit path (branch ``attack11``, findings 91 on).

``read_tiles`` -> pandas edits -> ``changes()`` / ``push()`` / ``gdf.byoc.push``, the
command line's ``tiles`` / ``push``, file round trips, two editors on one collection and
a push killed with SIGKILL. Priority: nothing unseen, nothing deleted by mistake. Every
test runs against a fresh local service of a few dozen demo tiles (loopback only). A
test marked ``xfail(strict=True)`` pins a defect open today (its reason names the
finding in ``tests/attack/FINDINGS.md``) and must lose its mark once fixed; the unmarked
tests show what holds, each seen failing once with the code broken on purpose (the
FINDINGS section says how).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

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


def _server(service: Any) -> dict[str, dict[str, Any]]:
    """Every tile on the service, by id, as its listing answers it (the independent truth)."""
    client = service.client()
    return {t["id"]: t for t in client.iter_tiles(service.demo_collection)}


def _load(service: Any, **filters: Any) -> gpd.GeoDataFrame:
    return byocframe.read_tiles(
        service.client(), service.demo_collection, progress=False, **filters
    )


def _ingested(frame: gpd.GeoDataFrame) -> list[str]:
    """The INGESTED tiles not shown cut at the antimeridian (plain covers to edit)."""
    width = frame.geometry.bounds["maxx"] - frame.geometry.bounds["minx"]
    return [str(t) for t in frame.index[(frame["status"] == "INGESTED") & (width < 90)]]


def _cover(record: dict[str, Any]) -> Any:
    """A tile's cover as the service answers it, as a shapely geometry in its own CRS."""
    return shapely.geometry.shape(record["coverGeometry"])


def _when(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text)


# --- 91. a table without tokens reverts what another editor pushed since it was saved ---


def test_a_stale_table_without_tokens_never_reverts_another_editors_push(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = service.demo_collection
    client = service.client()
    mine = _load(service)
    x, y = _ingested(mine)[:2]
    # editor A saves a tidy table for a person: the columns to edit, no 'loaded'
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(mine[["path", "sensing_time", "geometry"]], table)
    saved = byocframe.read_file(table)
    assert saved.attrs["byocframe"]["listed_at"]  # the file knows it was a listing
    # editor B loads, fixes x's sensing time, pushes
    theirs = _load(service)
    theirs.loc[x, "sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
    assert byocframe.push(theirs, client, progress=False)["outcome"].tolist() == ["ok"]
    # A edits another tile (y) in the table and pushes it
    saved.loc[y, "sensing_time"] = pd.Timestamp("2031-01-01T00:00:00Z")
    byocframe.write_file(saved, table)
    code = main(["push", cid, str(table), *_account(service)])
    capsys.readouterr()
    server = _server(service)
    if code == 1:  # refused: fine, as long as nothing was sent
        assert _when(server[x]["sensingTime"]) == pd.Timestamp("2030-01-01T00:00:00Z")
        return
    # A's own edit landed, and B's edit is still there
    assert _when(server[y]["sensingTime"]) == pd.Timestamp("2031-01-01T00:00:00Z")
    # today: x is back at its old time, reported as an 'update ok' of A's
    assert _when(server[x]["sensingTime"]) == pd.Timestamp("2030-01-01T00:00:00Z")


def test_a_stale_table_without_tokens_deletes_no_tile_created_since(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = service.demo_collection
    client = service.client()
    mine = _load(service)
    dropped = _ingested(mine)[0]  # the one tile meant to go
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(mine.drop(index=dropped)[["path", "sensing_time", "geometry"]], table)
    colleague = _new_rows(["c0", "c1"], "EPSG:4326")  # a colleague adds two tiles meanwhile
    for path, when, cover in zip(
        colleague["path"], colleague["sensing_time"], colleague.geometry, strict=True
    ):
        record = {"path": path, "coverGeometry": shapely.geometry.mapping(cover)}
        client.create_tile(cid, {**record, "sensingTime": when.isoformat()})
    theirs = {t["id"] for t in _server(service).values() if t["path"].startswith("new/c")}
    assert len(theirs) == 2
    code = main(["push", cid, str(table), "--delete-missing", *_account(service)])
    capsys.readouterr()
    server = _server(service)
    assert theirs <= set(server)  # today: both deleted, exit 0, "delete ok 3"
    assert code == 1 or dropped not in server


def test_a_stale_table_without_tokens_never_brings_back_a_deleted_tile(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: a row of a tile a colleague deleted since is refused, not created again."""
    cid = service.demo_collection
    client = service.client()
    mine = _load(service)
    x = _ingested(mine)[0]
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(mine[["path", "sensing_time", "geometry"]], table)
    client.delete_tile(cid, x)  # the colleague's clean-up
    before = _server(service)
    assert main(["push", cid, str(table), *_account(service)]) == 1
    assert x in capsys.readouterr().err
    assert _server(service) == before  # the path stays free


def test_a_table_of_a_densified_load_pushes_nothing_unedited(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = service.demo_collection
    dense = _load(service, densify=20_000)  # footprints drawn every 20 km
    table = tmp_path / "dense.gpkg"
    byocframe.write_file(dense[["path", "sensing_time", "geometry"]], table)
    assert byocframe.read_file(table).attrs["byocframe"]["densify"] == 20_000
    before = _server(service)
    assert main(["push", cid, str(table), *_account(service)]) == 0
    out = capsys.readouterr().out
    rewritten = [t for t in before if before[t] != _server(service)[t]]
    assert rewritten == [], out  # today: every tile cut at the antimeridian
    assert "nothing to push" in out


def test_a_stale_file_with_tokens_deletes_only_its_dropped_row(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: the same flow with the file as ``write_file`` wrote it (tokens kept)."""
    cid = service.demo_collection
    client = service.client()
    mine = _load(service)
    dropped = _ingested(mine)[0]
    path = tmp_path / "mine.gpkg"
    byocframe.write_file(mine.drop(index=dropped), path)
    made = client.create_tile(
        cid, {"path": "new/c0/(BAND).tif", "sensingTime": "2024-06-05T00:00:00Z"}
    )
    assert main(["push", cid, str(path), "--delete-missing", *_account(service)]) == 0
    capsys.readouterr()
    server = _server(service)
    assert made["id"] in server
    assert dropped not in server


def test_a_stale_file_with_tokens_is_a_conflict_not_an_overwrite(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: the same flow with the file as ``write_file`` wrote it (tokens kept)."""
    cid = service.demo_collection
    client = service.client()
    mine = _load(service)
    x, y = _ingested(mine)[:2]
    path = tmp_path / "mine.gpkg"
    byocframe.write_file(mine, path)
    theirs = _load(service)
    theirs.loc[x, "sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
    byocframe.push(theirs, client, progress=False)
    # in another process: A moves x to another time and y too
    edit = textwrap.dedent(
        """
        import sys, pandas as pd, byocframe
        frame = byocframe.read_file(sys.argv[1])
        frame.loc[sys.argv[2], "sensing_time"] = pd.Timestamp("2031-01-01T00:00:00Z")
        frame.loc[sys.argv[3], "sensing_time"] = pd.Timestamp("2031-01-01T00:00:00Z")
        byocframe.write_file(frame, sys.argv[1])
        """
    )
    _child(edit, str(path), x, y)
    assert main(["push", cid, str(path), *_account(service)]) == 2  # one not carried out
    out = capsys.readouterr().out
    assert f"{x}: conflict" in out
    server = _server(service)
    assert _when(server[x]["sensingTime"]) == pd.Timestamp("2030-01-01T00:00:00Z")
    assert _when(server[y]["sensingTime"]) == pd.Timestamp("2031-01-01T00:00:00Z")


def _child(code: str, *args: str, kill_after: int | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a child Python of this checkout (killed if it kills itself)."""
    root = Path(byocframe.__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        timeout=300,
        check=False,
    )
    if kill_after is None:
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done


# --- 92. a frame shown by another geometry column pushes that column as the covers ---


def test_a_frame_shown_by_its_tile_geometry_pushes_no_cover(service: Any) -> None:
    client = service.client()
    loaded = _load(service)
    ingested = loaded[loaded["status"] == "INGESTED"]  # the FAILED tile has no outline
    outlines = ingested.set_geometry("tile_geometry")  # to look at the tiles, say
    x = _ingested(loaded)[0]
    outlines.loc[x, "sensing_time"] += pd.Timedelta(hours=1)  # the one edit
    before = _server(service)
    try:
        result = byocframe.push(outlines, client, progress=False)
    except byocframe.ValidationError:
        assert _server(service) == before  # refused: nothing sent
        return
    after = _server(service)
    moved = [t for t in before if before[t]["coverGeometry"] != after[t]["coverGeometry"]]
    assert moved == []  # today: 11 covers replaced by the tile outlines
    assert result.index.tolist() == [x]


def test_an_edit_of_the_covers_is_seen_whichever_column_is_active(service: Any) -> None:
    loaded = _load(service)
    ingested = loaded[loaded["status"] == "INGESTED"]
    outlines = ingested.set_geometry("tile_geometry")
    same = _ingested(loaded)[:3]
    x = same[0]
    outlines.loc[same, "geometry"] = outlines.loc[same, "geometry"].scale(0.5, 0.5)  # halved
    # refused by name (since the fix of 92; before, the halved covers were never sent):
    # the covers are 'geometry', and the message says how to make them active again
    with pytest.raises(byocframe.ValidationError, match=r"set_geometry\('geometry'\)"):
        byocframe.changes(outlines)
    back = outlines.set_geometry("geometry")
    assert x in set(byocframe.changes(back)["id"])  # and then the edit is seen


def test_renaming_the_geometry_column_is_no_edit(service: Any) -> None:
    """Held: the cover column under another name (``rename_geometry``) is still the cover."""
    loaded = _load(service)
    renamed = loaded.rename_geometry("cover")
    assert byocframe.changes(renamed).empty
    x = _ingested(loaded)[0]
    renamed.loc[x, "cover"] = shapely.affinity.scale(renamed.loc[x, "cover"], 0.5, 0.5)
    found = byocframe.changes(renamed)
    assert found[["id", "field", "action"]].values.tolist() == [[x, "geometry", "update"]]


# --- 93. a filtered table that lost byocframe's metadata is taken for the collection ---


def _bare_failed_table(service: Any, where: Path, how: str) -> Path:
    """The FAILED tiles (a filtered load) as a tidy table without 'loaded', whose file
    keeps no byocframe metadata: FlatGeobuf (keeps no attrs), or a GeoPackage that
    geopandas saved again (as any GDAL tool does)."""
    failed = _load(service, status="FAILED")
    assert len(failed) == 1
    assert failed.attrs["byocframe"]["whole"] is False
    tidy = failed[["path", "status", "sensing_time", "geometry"]]
    if how == "fgb":
        path = where / "failed.fgb"
        byocframe.write_file(tidy, path)
        return path
    first, path = where / "failed.gpkg", where / "failed-saved-again.gpkg"
    byocframe.write_file(tidy, first)
    gpd.read_file(first).to_file(path)
    return path


@pytest.mark.parametrize("how", ["fgb", "gpkg-saved-again"])
def test_a_filtered_table_without_metadata_plans_no_deletion_outside_it(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    path = _bare_failed_table(service, tmp_path, how)
    before = _server(service)
    push = ["push", service.demo_collection, str(path), "--delete-missing", *_account(service)]
    code = main([*push, "--dry-run"])
    out = capsys.readouterr().out
    assert _server(service) == before
    if code == 1:
        return  # refused: fine
    # nothing was dropped from the table: a dry run of it deletes nothing
    first = out.splitlines()[0]
    assert "would delete 0" in first or first.startswith("nothing to push"), first


def test_the_same_filtered_table_with_its_metadata_deletes_nothing_outside_it(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held (finding 2's fix): the table as ``write_file`` wrote it, in a GeoPackage."""
    failed = _load(service, status="FAILED")
    path = tmp_path / "failed.gpkg"
    byocframe.write_file(failed[["path", "status", "sensing_time", "geometry"]], path)
    before = _server(service)
    push = ["push", service.demo_collection, str(path), "--delete-missing", *_account(service)]
    assert main(push) == 0
    assert "nothing to push" in capsys.readouterr().out
    assert _server(service) == before


# --- 94, 95. crashes instead of a refusal by name ---


def test_update_tile_takes_a_sentinelhub_tile_as_create_tile_does(service: Any) -> None:
    from sentinelhub import ByocTile

    client, cid = service.client(), service.demo_collection
    tid = next(iter(_server(service)))
    record = client.get_tile(cid, tid)
    tile = ByocTile.from_dict({**record, "sensingTime": "2025-01-01T00:00:00Z"})
    try:
        client.update_tile(cid, tid, tile)
    except byocframe.ByocframeError:
        return  # refused by name: acceptable
    assert _when(client.get_tile(cid, tid)["sensingTime"]) == pd.Timestamp("2025-01-01T00:00Z")
    assert _cover(client.get_tile(cid, tid)).equals(_cover(record))  # the cover kept


def test_create_tile_with_a_sentinelhub_tile_keeps_its_time_and_cover(service: Any) -> None:
    """Held: a ``ByocTile`` with a time in another zone and a UTM cover is created as is."""
    from sentinelhub import CRS, ByocTile, Geometry

    client, cid = service.client(), service.demo_collection
    square = shapely.box(500_000, 5_000_000, 510_000, 5_010_000)
    zone = dt.timezone(dt.timedelta(hours=2))
    tile = ByocTile(
        path="new/dataclass/(BAND).tif",
        sensing_time=dt.datetime(2024, 6, 1, 12, 0, tzinfo=zone),
        cover_geometry=Geometry(square, CRS("32633")),
    )
    made = client.create_tile(cid, tile)
    back = client.get_tile(cid, made["id"])
    assert _when(back["sensingTime"]) == pd.Timestamp("2024-06-01T10:00:00Z")
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
    cover = _cover(back)
    if "32633" not in str(back["coverGeometry"].get("crs")):  # answered in CRS84
        cover = shapely.ops.transform(to_utm.transform, cover)
    assert cover.symmetric_difference(square).area < 1.0  # m^2 of a 10 km square


@pytest.mark.parametrize("how", ["cover-dropped", "time-twice"])
def test_a_frame_without_one_column_of_each_is_refused_by_name(service: Any, how: str) -> None:
    loaded = _load(service)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if how == "cover-dropped":
            frame = loaded.drop(columns="geometry")  # geopandas keeps a GeoDataFrame
        else:  # fixed times joined as a second column of the same name
            fixed = loaded[["sensing_time"]] + pd.Timedelta(hours=1)
            frame = pd.concat([loaded, fixed], axis=1)
    before = _server(service)
    with pytest.raises(byocframe.ValidationError, match=r"geometry|sensing_time"):
        byocframe.push(frame, service.client(), progress=False)
    assert _server(service) == before


# --- what holds: a push killed with SIGKILL, then run again ---

#: Run in a child process: `push` of the frame in a file, killed with SIGKILL right after
#: the answer of its write number ``after`` (a PUT, POST or DELETE), one worker.
_KILLED_PUSH = textwrap.dedent(
    """
    import os, signal, sys
    import byocframe
    from byocframe.client.session import ApiSession

    frame = byocframe.read_file(sys.argv[1])
    base_url, token_url, client_id, secret, after = sys.argv[2:7]
    client = byocframe.Client(
        base_url=base_url, token_url=token_url, client_id=client_id, client_secret=secret
    )
    writes = []
    real = ApiSession.request

    def request(self, method, path, **kwargs):
        answer = real(self, method, path, **kwargs)
        if method in ("PUT", "POST", "DELETE"):
            writes.append(method)
            if len(writes) == int(after):
                os.kill(os.getpid(), signal.SIGKILL)
        return answer

    ApiSession.request = request
    byocframe.push(frame, client, delete_missing=True, workers=1, progress=False)
    """
)


def _new_rows(names: list[str], crs: Any) -> gpd.GeoDataFrame:
    squares = [shapely.box(10 + 2 * i, 45, 10.5 + 2 * i, 45.5) for i in range(len(names))]
    frame = gpd.GeoDataFrame(
        {
            "path": [f"new/{n}/(BAND).tif" for n in names],
            "sensing_time": pd.to_datetime(["2024-06-05T10:00:00Z"] * len(names), utc=True),
        },
        geometry=squares,
        crs="EPSG:4326",
    )
    return frame.to_crs(crs)


@pytest.mark.parametrize("after", [1, 3, 5])
def test_a_push_killed_midway_then_run_again_sends_nothing_twice_and_loses_nothing(
    service: Any, tmp_path: Path, after: int
) -> None:
    client = service.client()
    loaded = _load(service)
    retimed = _ingested(loaded)[:3]
    others = loaded.index[(loaded["status"] == "INGESTED") & ~loaded.index.isin(retimed)]
    dropped = [str(t) for t in others[:2]]
    edited = loaded.drop(index=dropped)
    edited.loc[retimed, "sensing_time"] += pd.Timedelta(hours=1)
    edited = pd.concat([edited, _new_rows(["a", "b"], edited.crs)])
    edited.attrs = loaded.attrs  # pd.concat keeps them only when all inputs share them
    path = tmp_path / "edited.parquet"
    byocframe.write_file(edited, path)
    before = _server(service)
    args = [service.base_url, service.token_url, service.client_id, service.client_secret]
    killed = _child(_KILLED_PUSH, str(path), *args, str(after), kill_after=after)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    between = _server(service)
    assert between != before  # the kill came after some writes landed
    # the same push again, from the file (the killed process wrote nothing back)
    again = byocframe.read_file(path)
    result = byocframe.push(again, client, delete_missing=True, progress=False)
    assert set(result["outcome"]) <= {"ok", "unchanged"}, result
    # 7 writes in all (3 updates, 2 creates, 2 deletes): what landed before the kill is
    # found landed (unchanged), only the rest is written (ok): nothing is sent twice
    assert len(result) == 7
    assert (result["outcome"] == "ok").sum() == 7 - after
    server = _server(service)
    assert server != between  # and before the last: the rerun had work left
    paths = [t["path"] for t in server.values()]
    assert len(paths) == len(set(paths))  # no path twice: nothing created twice
    created = set(result.index[result["action"] == "create"])
    assert set(server) == (set(before) - set(dropped)) | created
    for tid in retimed:
        wanted = loaded.loc[tid, "sensing_time"] + pd.Timedelta(hours=1)
        assert _when(server[tid]["sensingTime"]) == wanted
    for tid in set(before) - set(dropped) - set(retimed):  # nothing else moved
        assert server[tid] == before[tid]
    for name in ("a", "b"):
        made = [t for t in server.values() if t["path"] == f"new/{name}/(BAND).tif"]
        assert len(made) == 1
        assert _when(made[0]["sensingTime"]) == pd.Timestamp("2024-06-05T10:00:00Z")
    # written back: a third push has nothing left to send
    assert byocframe.changes(again, deleted=True).empty


# --- what holds: two editors on one collection ---


def test_two_editors_merge_distinct_fields_and_the_same_field_is_a_conflict(
    service: Any,
) -> None:
    client = service.client()
    a, b = _load(service), _load(service)
    x, y, z = _ingested(a)[:3]
    # A moves x's time; B edits x's cover: both land (the merge keeps A's time)
    a.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    assert byocframe.push(a, client, progress=False)["outcome"].tolist() == ["ok"]
    b.loc[x, "geometry"] = shapely.affinity.scale(b.loc[x, "geometry"], 0.9, 0.9)
    # B also moves y and z: y to another time than A's, z to the same time as A's
    a.loc[[y, z], "sensing_time"] += pd.Timedelta(hours=2)
    assert set(byocframe.push(a, client, progress=False)["outcome"]) == {"ok"}
    b.loc[y, "sensing_time"] += pd.Timedelta(hours=3)
    b.loc[z, "sensing_time"] += pd.Timedelta(hours=2)
    result = byocframe.push(b, client, progress=False)
    assert result.loc[[x, y, z], "outcome"].tolist() == ["ok", "conflict", "unchanged"]
    server = _server(service)
    loaded = _load(service)
    assert _when(server[x]["sensingTime"]) == a.loc[x, "sensing_time"]  # A's time kept
    shown = loaded.loc[x, "geometry"]
    wanted = b.loc[x, "geometry"]
    assert shown.symmetric_difference(wanted).area < 1e-6 * wanted.area  # B's cover
    assert _when(server[y]["sensingTime"]) == a.loc[y, "sensing_time"]  # A's, not B's


def test_two_editors_creating_one_path_never_make_two_tiles(service: Any) -> None:
    client = service.client()
    a, b = _load(service), _load(service)
    a2 = pd.concat([a, _new_rows(["same"], a.crs)])
    same = _new_rows(["same"], b.crs)
    other = same.copy()
    other["geometry"] = other.geometry.scale(0.5, 0.5)  # B draws it smaller
    b_same = pd.concat([b, same])
    b_other = pd.concat([b, other])
    assert byocframe.push(a2, client, progress=False)["outcome"].tolist() == ["ok"]
    # B's identical tile is A's: unchanged; B's other cover is a conflict, never a twin
    assert byocframe.push(b_same, client, progress=False)["outcome"].tolist() == ["unchanged"]
    assert byocframe.push(b_other, client, progress=False)["outcome"].tolist() == ["conflict"]
    paths = [t["path"] for t in _server(service).values()]
    assert paths.count("new/same/(BAND).tif") == 1


def test_an_edit_of_a_tile_another_editor_deleted_is_a_conflict(service: Any) -> None:
    client = service.client()
    a, b = _load(service), _load(service)
    x = _ingested(a)[0]
    assert byocframe.push(a.drop(index=x), client, delete_missing=True, progress=False)[
        "outcome"
    ].tolist() == ["ok"]
    b.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    result = byocframe.push(b, client, progress=False)
    assert result.loc[x, "outcome"] == "conflict"
    assert x not in _server(service)  # not created again


# --- what holds: edits pandas users make without thinking ---

#: Conversions that change no value: ``changes()`` must stay empty.
_NO_EDIT = {
    "astype-string": lambda f: f.astype({"path": "string", "native_crs": "string"}),
    "astype-arrow": lambda f: f.astype(
        {"path": "string[pyarrow]", "loaded": "string[pyarrow]", "warnings": "string[pyarrow]"}
    ),
    "astype-category": lambda f: f.astype({"path": "category", "loaded": "category"}),
    "astype-object": lambda f: f.astype(object).set_geometry("geometry"),
    "status-text": lambda f: f.assign(status=f["status"].astype(str)),
    "tz-tokyo": lambda f: f.assign(sensing_time=f["sensing_time"].dt.tz_convert("Asia/Tokyo")),
    "as-ns": lambda f: f.assign(sensing_time=f["sensing_time"].dt.as_unit("ns")),
    "fillna-texts": lambda f: f.fillna({"failed_ingestion_cause": "", "warnings": ""}),
    "where-notna": lambda f: f.where(f.notna(), None),
    "sort-values": lambda f: f.sort_values("sensing_time"),
    "columns-reversed": lambda f: f[list(reversed(f.columns))],
    "join-by-index": lambda f: f.join(pd.DataFrame({"note": "x"}, index=f.index)),
    "index-object": lambda f: f.set_axis(f.index.astype(object)),
    "concat-halves": lambda f: pd.concat([f.iloc[:10], f.iloc[10:]]),
    "copy-deep": lambda f: f.copy(deep=True),
    "polygons-as-multi": lambda f: f.assign(
        geometry=[shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in f.geometry]
    ),
    "rings-reversed": lambda f: f.assign(geometry=f.geometry.reverse()),
    "normalized": lambda f: f.assign(geometry=f.geometry.normalize()),
    "to-crs-and-back": lambda f: f.to_crs(3857).to_crs(4326),
    "to-crs-3035": lambda f: f.to_crs(3035),
}


@pytest.fixture(scope="module")
def shared() -> Iterator[Any]:
    """One read-only service for the tests that push nothing."""
    with byocframe.local_service(demo=True, demo_tiles=40) as running:
        yield running


@pytest.mark.parametrize("name", sorted(_NO_EDIT))
def test_a_conversion_that_changes_no_value_is_no_edit(shared: Any, name: str) -> None:
    loaded = _load(shared)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = _NO_EDIT[name](loaded.copy())
    # pandas drops attrs when joining another frame: no deletion can be planned then
    assert byocframe.changes(converted, deleted=name != "join-by-index").empty


#: Reshapes that lose the match between rows and their tokens: refused, nothing sent.
_REFUSED = {
    "where-drops-tokens": lambda f: f.where(f["status"] == "INGESTED"),
    "sort-reset-index": lambda f: f.sort_values("sensing_time").reset_index(),
    "reset-index-drop": lambda f: f.reset_index(drop=True),
    "set-index-path": lambda f: f.reset_index().set_index("path"),
    "merge-on-path": lambda f: f.merge(pd.DataFrame({"path": f["path"], "n": 1}), on="path"),
    "concat-with-a-filtered-copy": lambda f: pd.concat([f, f[f["status"] == "FAILED"]]),
    "duplicated-label": lambda f: pd.concat([f, f.iloc[[0]]]),
    "explode": lambda f: f.explode(),
    "renamed-time": lambda f: f.rename(columns={"sensing_time": "time"}),
    # the same instants without their zone: UTC or local? (finding 100's fix refuses)
    "tz-naive-utc": lambda f: f.assign(sensing_time=f["sensing_time"].dt.tz_localize(None)),
}


@pytest.mark.parametrize("name", sorted(_REFUSED))
def test_a_reshape_that_loses_the_rows_tokens_is_refused(service: Any, name: str) -> None:
    loaded = _load(service)
    x = _ingested(loaded)[0]
    loaded.loc[x, "sensing_time"] += pd.Timedelta(hours=1)  # an edit to send
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reshaped = _REFUSED[name](loaded.copy())
    before = _server(service)
    with pytest.raises(byocframe.ValidationError):
        byocframe.push(reshaped, service.client(), delete_missing=True, progress=False)
    assert _server(service) == before


def test_a_time_edit_in_any_zone_or_unit_lands_as_that_instant(service: Any) -> None:
    client = service.client()
    loaded = _load(service)
    x, y, z = _ingested(loaded)[:3]
    edited = loaded.assign(sensing_time=loaded["sensing_time"].dt.tz_convert("Europe/Berlin"))
    edited.loc[x, "sensing_time"] = pd.Timestamp("2024-06-01 12:00", tz="Europe/Berlin")
    edited.loc[y, "sensing_time"] += pd.Timedelta(milliseconds=1)  # the service's precision
    edited.loc[z, "sensing_time"] = pd.NaT  # cleared: the API allows a tile without one
    with pytest.raises(byocframe.ValidationError, match="clear_times=True"):
        byocframe.push(edited, client, progress=False)  # a clear is asked for by name (98)
    result = byocframe.push(edited, client, progress=False, clear_times=True)
    assert result.loc[[x, y, z], "outcome"].tolist() == ["ok", "ok", "ok"]
    server = _server(service)
    assert _when(server[x]["sensingTime"]) == pd.Timestamp("2024-06-01T10:00:00Z")
    wanted = loaded.loc[y, "sensing_time"] + pd.Timedelta(milliseconds=1)
    assert _when(server[y]["sensingTime"]) == wanted
    assert server[z].get("sensingTime") is None
    assert byocframe.changes(edited).empty  # written back


def test_a_view_edited_after_a_filter_pushes_its_own_edit_only(service: Any) -> None:
    client = service.client()
    loaded = _load(service)
    x, y = _ingested(loaded)[:2]
    view = loaded[loaded["status"] == "INGESTED"]  # a filtered copy (copy on write)
    view.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    assert byocframe.changes(loaded).empty  # the edit is the view's, not loaded's
    loaded.loc[y, "sensing_time"] += pd.Timedelta(hours=1)
    result = byocframe.push(view, client, progress=False)
    assert result.index.tolist() == [x]
    # the view left out the FAILED tile; pushing it with delete_only names what goes
    nothing = byocframe.push(view, client, delete_missing=True, delete_only=[], progress=False)
    assert nothing.empty
    assert len(_server(service)) == len(loaded)


# --- what holds: a listing whose pages change under it ---


@pytest.mark.parametrize("filters", [{}, {"status": "INGESTED"}, {"both_ends": False}])
def test_a_listing_changed_between_its_pages_deletes_nothing_it_did_not_see_dropped(
    service: Any, filters: dict[str, Any]
) -> None:
    """Another editor deletes a listed tile and creates one while the pages are read."""
    client, cid = service.client(), service.demo_collection
    other = service.client()
    everything = _server(service)
    ordered = sorted(everything.values(), key=lambda t: (t["created"], t["id"]))
    victim = next(t["id"] for t in ordered if t["status"] == "INGESTED")  # listed first
    real = client.tile_pages
    pages = []  # one entry a page read, from either cursor (both ends: two threads)
    acted = threading.Lock()  # the other editor acts once, after the first page
    square = shapely.geometry.mapping(shapely.box(10, 45, 10.5, 45.5))
    middle = {"path": "mid/(BAND).tif", "sensingTime": "2024-06-05T00:00:00Z"}

    def tile_pages(*args: Any, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
        kwargs["count"] = 10
        for page in real(*args, **kwargs):
            yield page
            pages.append(len(page))
            if acted.acquire(blocking=False):  # never released: once
                other.delete_tile(cid, victim)
                other.create_tile(cid, {**middle, "coverGeometry": square})

    client.tile_pages = tile_pages
    loaded = byocframe.read_tiles(client, cid, progress=False, **filters)
    assert len(pages) >= 2
    assert acted.locked()
    after = _server(service)
    born = next(t for t in after if t not in everything)
    # nothing was dropped from the frame: its push with delete_missing deletes nothing
    client.tile_pages = real
    result = byocframe.push(loaded, client, delete_missing=True, progress=False)
    assert result.empty
    assert set(_server(service)) == set(after)
    assert born in _server(service)


# --- 96. delete_only names tiles that are not dropped: nothing deleted, nothing said ---


@pytest.mark.parametrize("how", ["still-in-the-frame", "paths-for-ids"])
def test_delete_only_of_tiles_not_dropped_is_refused_or_reported(service: Any, how: str) -> None:
    client = service.client()
    loaded = _load(service)
    failed = loaded.index[loaded["status"] == "FAILED"].tolist()
    if how == "still-in-the-frame":  # "delete these": the rows were not dropped first
        frame, named = loaded, failed
    else:  # the rows dropped, but named by path (what the user reads)
        frame, named = loaded.drop(index=failed), loaded.loc[failed, "path"].tolist()
    before = _server(service)
    try:
        result = byocframe.push(
            frame, client, delete_missing=True, delete_only=named, progress=False
        )
    except byocframe.ValidationError:
        assert _server(service) == before  # refused: fine
        return
    # sent, or at least a row saying why not (today: an empty result, nothing happened)
    assert not result.empty


# --- 97. a table without tokens that holds a tile twice: one of its rows wins silently ---


def test_a_table_without_tokens_holding_a_tile_twice_is_refused(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = _load(service)
    x = _ingested(loaded)[0]
    table = loaded[["path", "sensing_time", "geometry"]]
    first, second = table.loc[[x]].copy(), table.loc[[x]].copy()
    first["sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")  # a fix from one sheet
    second["sensing_time"] = pd.Timestamp("2031-01-01T00:00:00Z")  # another from a second
    path = tmp_path / "fixes.gpkg"
    byocframe.write_file(pd.concat([table.drop(index=x), first, second]), path)
    before = _server(service)
    code = main(["push", service.demo_collection, str(path), *_account(service)])
    capsys.readouterr()
    assert code == 1  # today: 0, x moved to 2031 (the last row), 2030 dropped unsaid
    assert _server(service) == before


def test_a_frame_with_tokens_holding_a_tile_twice_is_refused_by_the_cli(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: the same two rows with their tokens are refused, nothing sent."""
    loaded = _load(service)
    x = _ingested(loaded)[0]
    first, second = loaded.loc[[x]].copy(), loaded.loc[[x]].copy()
    first["sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
    second["sensing_time"] = pd.Timestamp("2031-01-01T00:00:00Z")
    path = tmp_path / "fixes.gpkg"
    byocframe.write_file(pd.concat([loaded.drop(index=x), first, second]), path)
    before = _server(service)
    assert main(["push", service.demo_collection, str(path), *_account(service)]) == 1
    assert "more than once" in capsys.readouterr().err
    assert _server(service) == before


# --- 98. an assignment that misses the index clears every tile's sensing time ---


def test_a_misaligned_assignment_clears_no_sensing_time_unasked(service: Any) -> None:
    client = service.client()
    loaded = _load(service)
    times = loaded[["path", "sensing_time"]].reset_index(drop=True)  # a table of fixes
    times.loc[0, "sensing_time"] += pd.Timedelta(hours=1)
    loaded["sensing_time"] = times["sensing_time"]  # aligned on the index: 0, 1, ... match nothing
    assert loaded["sensing_time"].isna().all()
    before = _server(service)
    try:
        byocframe.push(loaded, client, progress=False)
    except byocframe.ValidationError:
        assert _server(service) == before  # refused: fine
        return
    cleared = [
        t
        for t, r in _server(service).items()
        if before[t].get("sensingTime") and not r.get("sensingTime")
    ]
    assert cleared == []  # today: all 40


def test_a_table_without_tokens_of_another_collection_creates_nothing(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: a staging collection's table pushed to the demo collection by mistake."""
    client, cid = service.client(), service.demo_collection
    staging = client.create_collection({"name": "staging", "s3Bucket": "byocframe-demo"})["id"]
    for i in range(3):
        square = shapely.geometry.mapping(shapely.box(10 + i, 45, 10.5 + i, 45.5))
        record = {"path": f"staging/{i}/(BAND).tif", "coverGeometry": square}
        client.create_tile(staging, {**record, "sensingTime": "2024-06-01T00:00:00Z"})
    theirs = byocframe.read_tiles(client, staging, progress=False)
    path = tmp_path / "staging.gpkg"
    byocframe.write_file(theirs[["path", "sensing_time", "geometry"]], path)
    before = _server(service)
    assert main(["push", cid, str(path), "--delete-missing", *_account(service)]) == 1
    assert "not in collection" in capsys.readouterr().err
    assert _server(service) == before


# --- 99. push(delete_missing=True) deletes any number of tiles: no limit, no confirmation ---


def test_a_push_deleting_every_tile_is_refused_unless_confirmed(service: Any) -> None:
    client = service.client()
    loaded = _load(service)
    cleaned = loaded.dropna()  # "drop the incomplete rows" before a look at the map
    assert cleaned.empty  # each row misses a text: failed_ingestion_cause, warnings, ...
    before = _server(service)
    try:
        byocframe.push(cleaned, client, delete_missing=True, progress=False)
    except byocframe.ValidationError:
        assert _server(service) == before  # refused: fine
        return
    assert len(_server(service)) > len(before) - 5  # today: 0 tiles left


# --- 100. times stripped of their zone are taken as UTC: every tile moved by the offset ---


def test_local_times_stripped_of_their_zone_move_no_tile(service: Any) -> None:
    client = service.client()
    loaded = _load(service)
    local = loaded["sensing_time"].dt.tz_convert("Europe/Berlin").dt.tz_localize(None)
    loaded["sensing_time"] = local  # "00:35 local", as a spreadsheet shows and keeps it
    before = _server(service)
    try:
        byocframe.push(loaded, client, progress=False)
    except byocframe.ValidationError:
        pass  # refused: fine, if nothing was sent
    except TypeError:
        pass  # finding 101 (after sending); what counts is the server below
    after = _server(service)
    moved = [t for t in before if before[t]["sensingTime"] != after[t]["sensingTime"]]
    assert moved == []  # today: every tile, 2 hours later


# --- 101. a push from a frame whose times are text or naive raises after sending ---


@pytest.mark.parametrize("how", ["naive-utc", "text", "tokens-as-category"])
def test_a_push_that_sent_its_writes_returns_its_result(service: Any, how: str) -> None:
    client = service.client()
    loaded = _load(service)
    x = _ingested(loaded)[0]
    wanted = loaded.loc[x, "sensing_time"] + pd.Timedelta(hours=1)
    frame = loaded.copy()
    if how == "naive-utc":  # the same instants without their zone (for Excel, say)
        frame["sensing_time"] = frame["sensing_time"].dt.tz_localize(None)
        frame.loc[x, "sensing_time"] = wanted.tz_localize(None)
    elif how == "text":  # as text, in the column's own spelling
        frame["sensing_time"] = frame["sensing_time"].astype(str)
        frame.loc[x, "sensing_time"] = str(wanted)
    else:  # the long repeated texts as categories (the held no-edit conversion above)
        frame = frame.astype({"loaded": "category"})
        frame.loc[x, "sensing_time"] = wanted
    before = _server(service)
    try:
        result = byocframe.push(frame, client, progress=False)
    except (byocframe.ValidationError, TypeError):
        # refused before sending: fine; today a TypeError from write_back, after the PUT
        assert _server(service) == before  # today: x moved by the hour
        return
    assert result.loc[x, "outcome"] == "ok"
    assert _when(_server(service)[x]["sensingTime"]) == wanted
    assert byocframe.changes(frame).empty  # written back


# --- 102. times as text with one value typed in ISO form: changes() raises ---


def test_an_iso_time_typed_into_a_text_column_is_an_edit(service: Any) -> None:
    loaded = _load(service)
    x = _ingested(loaded)[0]
    frame = loaded.assign(sensing_time=loaded["sensing_time"].astype(str))
    frame.loc[x, "sensing_time"] = "2030-01-01T00:00:00Z"  # as the service writes times
    try:
        found = byocframe.changes(frame)
    except byocframe.ValidationError:
        return  # refused by name: acceptable
    assert found[["id", "field", "action"]].values.tolist() == [[x, "sensing_time", "update"]]


def test_a_push_creating_a_tile_in_a_tidied_frame_returns_its_result(service: Any) -> None:
    client = service.client()
    loaded = _load(service)
    loaded["status"] = loaded["status"].cat.remove_unused_categories()  # no WAITING left
    frame = pd.concat([loaded, _new_rows(["tidy"], loaded.crs)])
    try:
        result = byocframe.push(frame, client, progress=False)
    except TypeError:
        result = None  # today, after the POST
    made = [t for t in _server(service).values() if t["path"] == "new/tidy/(BAND).tif"]
    assert len(made) == 1  # it was created either way
    assert result is not None  # today: the result is lost
    assert result.index.tolist() == [made[0]["id"]]
    assert frame.index[-1] == made[0]["id"]  # written back


def test_a_frame_of_sentinelhub_tiles_is_the_frame_of_their_records(service: Any) -> None:
    """Held: ``tiles_from_records`` of ``ByocTile``s gives the tokens of the dicts, and
    its edit is pushed (with ``collection=``: records do not say where they came from)."""
    from sentinelhub import ByocTile

    client, cid = service.client(), service.demo_collection
    records = list(client.iter_tiles(cid))
    tiles = byocframe.tiles_from_records([ByocTile.from_dict(r) for r in records])
    plain = byocframe.tiles_from_records(records)
    assert tiles.index.equals(plain.index)
    assert tiles["loaded"].equals(plain["loaded"])
    assert byocframe.changes(tiles).empty
    x = _ingested(plain)[0]
    tiles.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    result = byocframe.push(tiles, client, collection=cid, progress=False)
    assert result["outcome"].tolist() == ["ok"]
    assert _when(_server(service)[x]["sensingTime"]) == tiles.loc[x, "sensing_time"]

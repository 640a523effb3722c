"""The write-back, the delete records and the relaxed checks of attack13's fixes, attacked.

Branch ``attack14``, findings 190 on (``tests/attack/FINDINGS.md``). A wrong delete on
one side (a record that says the tile holds what nobody saw, a relaxation that lets a
changed tile go), a false refusal or a lost edit of the command line's everyday loops
on the other. Every test runs against a fresh local service (loopback only). Each
``xfail(strict=True)`` pins a defect seen today (its reason names the finding) and must
lose its mark once fixed; the unmarked tests pin what holds, each seen failing with the
code broken on purpose (the section in FINDINGS.md says how).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box, mapping

import byocframe
from byocframe.cli import main

NEW_PATH = "tiles/attack14/new/(BAND).tif"


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


def _load(service: Any, client: Any = None) -> gpd.GeoDataFrame:
    return byocframe.read_tiles(client or service.client(), service.demo_collection, progress=False)


def _plain(frame: gpd.GeoDataFrame) -> list[str]:
    """INGESTED tiles not shown cut at the antimeridian (covers that can be edited)."""
    bounds = frame.geometry.bounds
    plain = (frame["status"] == "INGESTED") & (bounds["maxx"] - bounds["minx"] < 90)
    return [str(t) for t in frame.index[plain]]


def _server(service: Any) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in service.client().iter_tiles(service.demo_collection)}


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


def _set_cover(service: Any, tid: str) -> None:
    """Another editor gives ``tid`` a cover of their own (a plain PUT, as any tool does)."""
    client = service.client()
    record = client.get_tile(service.demo_collection, tid)
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}}
    record["coverGeometry"] = {**mapping(box(10, 40, 11, 41)), "crs": crs}
    client.update_tile(service.demo_collection, tid, record)


CHANGES: dict[str, Callable[[Any, str], None]] = {"recovered": _recover, "reingested": _reingest}


# ---------------------------------------------------------------------------------------
# Wrong deletes: a record of what nobody saw
# ---------------------------------------------------------------------------------------


class _Window:
    """A client clock whose verify wait runs another editor's change first.

    The verify reads a written tile back only after waiting (`byocframe.edits.trail.
    wait_until`, through the client's ``sleep``): the change is made in that wait, after
    our write and before the read-back, without any real sleep.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self.pending: list[Callable[[], None]] = []

    def clock(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        while self.pending:
            self.pending.pop()()
        self.offset += seconds


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_made_between_our_write_and_its_read_back_is_seen_before_deleting(
    service: Any, change: str
) -> None:
    window = _Window()
    client = service.client(clock=window.clock, sleep=window.sleep)
    gdf = _load(service, client)
    x = _plain(gdf)[0]
    shown = gdf.loc[[x]].geometry.copy()
    gdf.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    window.pending.append(lambda: CHANGES[change](service, x))
    assert byocframe.push(gdf, client, progress=False)["outcome"].tolist() == ["ok"]
    assert not window.pending  # the other editor's change was made, in the window
    # this editor's frame still shows x as it was (the cover, the status, the files)
    assert gdf.loc[[x]].geometry.geom_equals(shown).all()
    result = byocframe.push(gdf.drop(index=[x]), client, progress=False, delete_missing=True)
    assert x in _server(service), result["message"].tolist()
    assert result["outcome"].tolist() == ["conflict"]


def test_an_overwritten_edit_is_not_recorded_as_pushed(service: Any) -> None:
    """Another editor rewrites our time in the verify's window: the push says
    ``overwritten``, and pushing the frame again is a conflict, not "nothing to push"."""
    window = _Window()
    client = service.client(clock=window.clock, sleep=window.sleep)
    gdf = _load(service, client)
    x = _plain(gdf)[0]
    gdf.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    theirs = _load(service)
    theirs.loc[x, "sensing_time"] += pd.Timedelta(hours=7)
    window.pending.append(
        lambda: byocframe.push(theirs, service.client(), force=True, progress=False)
    )
    assert byocframe.push(gdf, client, progress=False)["outcome"].tolist() == ["overwritten"]
    again = byocframe.push(gdf, client, progress=False)
    assert again["outcome"].tolist() == ["conflict"], again["message"].tolist()
    assert gdf.loc[x, "sensing_time"] != theirs.loc[x, "sensing_time"]  # ours, still shown
    result = byocframe.push(gdf.drop(index=[x]), client, progress=False, delete_missing=True)
    assert result["outcome"].tolist() == ["conflict"]
    assert x in _server(service)


@pytest.mark.parametrize("force", [False, True])
def test_a_tile_reingested_before_this_editors_time_edit_is_not_deleted_unseen(
    service: Any, force: bool
) -> None:
    client = service.client()
    gdf = _load(service)
    x = _plain(gdf)[0]
    _reingest(service, x)  # new files, ingested again: nothing of it in this frame
    gdf.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
    assert byocframe.push(gdf, client, progress=False, force=force)["outcome"].tolist() == ["ok"]
    listed = _load(service).loc[x, "ingestion_start"]
    assert gdf.loc[x, "ingestion_start"] != listed  # the frame still shows the old files
    result = byocframe.push(gdf.drop(index=[x]), client, progress=False, delete_missing=True)
    assert x in _server(service), result["message"].tolist()
    assert result["outcome"].tolist() == ["conflict"]


@pytest.mark.parametrize("then", ["still waiting", "ingested since"])
def test_a_cover_another_editor_set_on_a_waiting_tile_is_seen_before_deleting(
    service: Any, then: str
) -> None:
    client, cid = service.client(), service.demo_collection
    tid = client.create_tile(cid, {"path": NEW_PATH})["id"]
    gdf = _load(service)
    assert gdf.loc[tid, "status"] == "WAITING"
    assert gdf.loc[[tid]].geometry.isna().all()
    _set_cover(service, tid)
    if then == "ingested since":
        assert service.ingest_pending() == 1  # no files: FAILED, the editor's cover kept
    assert _server(service)[tid]["coverGeometry"]
    result = byocframe.push(gdf.drop(index=[tid]), client, progress=False, delete_missing=True)
    assert tid in _server(service), result["message"].tolist()
    assert result["outcome"].tolist() == ["conflict"]


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_tile_created_by_this_editor_and_changed_by_another_is_not_deleted(
    service: Any, change: str
) -> None:
    client = service.client()
    gdf = _load(service)
    z = _plain(gdf)[0]
    new = gdf.loc[[z]].copy()
    new.index = pd.Index(["new"], dtype=object)
    new["path"] = NEW_PATH
    new["loaded"] = None
    mine = pd.concat([gdf, new])
    created = byocframe.push(mine, client, progress=False, original=gdf)
    assert created["outcome"].tolist() == ["ok"]
    tid = str(created.index[0])
    assert service.ingest_pending() == 1
    CHANGES[change](service, tid)
    result = byocframe.push(mine.drop(index=[tid]), client, progress=False, delete_missing=True)
    assert tid in _server(service), result["message"].tolist()
    assert result["outcome"].tolist() == ["conflict"]


# ---------------------------------------------------------------------------------------
# False refusals: the everyday loops of the command line
# ---------------------------------------------------------------------------------------

COLUMNS = ["path", "sensing_time", "geometry"]  # what a person keeps of a listing to edit


def _later(frame: gpd.GeoDataFrame, tid: str, hours: int = 1) -> gpd.GeoDataFrame:
    times = frame["sensing_time"]
    return frame.assign(
        sensing_time=times.where(frame.index != tid, times + pd.Timedelta(hours=hours))
    )


def _smaller(frame: gpd.GeoDataFrame, tid: str) -> gpd.GeoDataFrame:
    shapes = frame.geometry
    return frame.assign(geometry=shapes.where(frame.index != tid, shapes.scale(0.5, 0.5)))


def _with_new_row(frame: gpd.GeoDataFrame, like: str) -> gpd.GeoDataFrame:
    new = frame.loc[[like]].copy()
    new.index = pd.Index([None], dtype=object, name="id")
    new["path"] = NEW_PATH
    if "loaded" in new.columns:
        new["loaded"] = None
    return pd.concat([frame, new])


def _edit(path: Path, change: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]) -> None:
    """A person's edit of the file: read it, change it, save it over itself."""
    byocframe.write_file(change(byocframe.read_file(path)), path)


@pytest.mark.parametrize("edit", ["time", "cover"])
def test_a_table_deletes_a_tile_after_pushing_an_edit_of_it(
    service: Any, tmp_path: Path, edit: str
) -> None:
    cid = service.demo_collection
    gdf = _load(service)
    x = _plain(gdf)[0]
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(gdf[COLUMNS], table)
    _edit(table, lambda t: _later(t, x) if edit == "time" else _smaller(t, x))
    assert _cli("push", cid, str(table), *_account(service))[0] == 0
    _edit(table, lambda t: t.drop(index=[x]))
    code, out = _cli("push", cid, str(table), "--delete-missing", *_account(service))
    assert x not in _server(service), out
    assert code == 0, out


def test_a_table_editing_a_status_the_service_moved_since_is_refused_by_name(
    service: Any, tmp_path: Path
) -> None:
    """147's relaxation keeps the server's status only where the table holds the listed
    one: a status the table changed is refused, even for a tile ingested since."""
    client, cid = service.client(), service.demo_collection
    tid = client.create_tile(cid, {"path": NEW_PATH})["id"]
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(_load(service)[["path", "status", "sensing_time", "geometry"]], table)
    assert service.ingest_pending() == 1  # WAITING when listed, FAILED now
    x = _plain(byocframe.read_file(table))[0]
    _edit(
        table, lambda t: _later(t.assign(status=t["status"].where(t.index != tid, "INGESTED")), x)
    )
    before = _server(service)[x]["sensingTime"]
    code, out = _cli("push", cid, str(table), *_account(service))
    assert code == 1, out
    assert "status: read-only field edited" in out
    assert _server(service)[tid]["status"] == "FAILED"
    assert _server(service)[x]["sensingTime"] == before  # nothing sent


@pytest.mark.parametrize("suffix", ["parquet", "gpkg", "geojson", "csv"])
def test_the_everyday_file_loop_pushes_each_edit_once_and_deletes(
    service: Any, tmp_path: Path, suffix: str
) -> None:
    """tiles -o; edit, push; edit, push; add a row; push; ingest; edit it; delete."""
    cid = service.demo_collection
    path = tmp_path / f"tiles.{suffix}"
    assert _cli("tiles", cid, "-o", str(path), *_account(service))[0] == 0
    x, y, z = _plain(byocframe.read_file(path))[:3]
    log = []
    for change in (
        lambda t: _later(t, x),
        lambda t: _smaller(t, y),
        lambda t: _with_new_row(t, z),
        lambda t: t,  # pushed again as it was written back: nothing to push
        lambda t: _later(t, x, 2),
    ):
        _edit(path, change)
        log.append(_cli("push", cid, str(path), *_account(service)))
    assert [code for code, _ in log] == [0] * 5, log
    assert "nothing to push" in log[3][1]
    assert service.ingest_pending() == 1
    new = [str(i) for i, p in byocframe.read_file(path)["path"].items() if p == NEW_PATH]
    assert len(new) == 1
    assert new[0] in _server(service)  # the file holds its tile id
    _edit(path, lambda t: _later(t, new[0], 3))
    assert _cli("push", cid, str(path), *_account(service))[0] == 0
    _edit(path, lambda t: t.drop(index=[x, y, new[0]]))
    code, out = _cli("push", cid, str(path), "--delete-missing", *_account(service))
    assert code == 0, out
    server = _server(service)
    assert not {x, y, new[0]} & set(server)
    assert [r["path"] for r in server.values()].count(NEW_PATH) == 0
    assert len(server) == 40 - 2
    assert "nothing to push" in _cli("push", cid, str(path), *_account(service))[1]


def test_a_flatgeobuf_loop_pushes_edits_and_refuses_its_deletions(
    service: Any, tmp_path: Path
) -> None:
    """FlatGeobuf keeps no metadata: deletions refused (documented), edits pushed."""
    cid = service.demo_collection
    path = tmp_path / "tiles.fgb"
    byocframe.write_file(_load(service), path)
    x, y = _plain(byocframe.read_file(path))[:2]
    _edit(path, lambda t: _later(t, x))
    assert _cli("push", cid, str(path), *_account(service))[0] == 0
    _edit(path, lambda t: _smaller(t, y))
    assert _cli("push", cid, str(path), *_account(service))[0] == 0
    _edit(path, lambda t: t.drop(index=[x]))
    code, out = _cli("push", cid, str(path), "--delete-missing", *_account(service))
    assert (code, x in _server(service)) == (1, True), out
    assert "pass original=" in out


# ---------------------------------------------------------------------------------------
# The write-back killed, skipped, or run twice at once: nothing lost, nothing twice
# ---------------------------------------------------------------------------------------

#: Runs ``byocframe push`` with the rename of the written-back file held: it says
#: "ready" once the new file is complete beside FILE, then waits to be killed.
_HELD_RENAME = """
import os, sys, threading
from byocframe.cli import main
target, real = sys.argv[1], os.replace
def held(src, dst, *args, **kwargs):
    if str(dst) == target:
        print("ready", os.path.getsize(src), flush=True)
        threading.Event().wait()
    return real(src, dst, *args, **kwargs)
os.replace = held
sys.exit(main(sys.argv[2:]))
"""


def _edited_file(service: Any, path: Path) -> str:
    """A listing saved to ``path`` with one time edited and one row added; x's id."""
    gdf = _load(service)
    x, z = _plain(gdf)[:2]
    byocframe.write_file(_with_new_row(_later(gdf, x), z), path)
    return x


def _count(service: Any, path: str) -> int:
    return [r["path"] for r in _server(service).values()].count(path)


@pytest.mark.parametrize("suffix", ["parquet", "gpkg", "csv"])
def test_a_push_killed_in_its_write_back_leaves_the_old_file_and_a_rerun_sends_nothing_twice(
    service: Any, tmp_path: Path, suffix: str
) -> None:
    cid = service.demo_collection
    path = tmp_path / f"tiles.{suffix}"
    x = _edited_file(service, path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    script = tmp_path / "held.py"
    script.write_text(_HELD_RENAME, encoding="utf-8")
    command = [sys.executable, str(script), str(path), "push", cid, str(path), *_account(service)]
    # the child imports this checkout's byocframe (a script's folder, not the cwd, leads
    # sys.path)
    here = str(Path(byocframe.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as child:
        assert child.stdout is not None
        lines = iter(child.stdout.readline, "")
        ready = next((line for line in lines if line.startswith("ready")), "")
        os.kill(child.pid, signal.SIGKILL)  # ours: started just above
        child.wait()
    assert ready.startswith("ready ")  # the new file was complete beside the old
    # killed before the rename: the old file, whole (the push itself went out)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert _count(service, NEW_PATH) == 1
    code, out = _cli("push", cid, str(path), *_account(service))
    assert code == 0, out
    assert "unchanged" in out
    assert "wrote what was pushed back" in out
    assert _count(service, NEW_PATH) == 1  # the rerun adopted the tile: not created twice
    new = byocframe.read_file(path)
    assert str(new.index[new["path"] == NEW_PATH][0]) in _server(service)
    assert "nothing to push" in _cli("push", cid, str(path), *_account(service))[1]
    assert x in _server(service)


def test_two_pushes_of_one_file_at_once_create_once_and_leave_a_file_that_pushes_nothing(
    service: Any, tmp_path: Path
) -> None:
    """Both read the file before either writes it back; the second writes it last."""
    cid = service.demo_collection
    path = tmp_path / "tiles.gpkg"
    x = _edited_file(service, path)
    as_read = path.read_bytes()  # what the second push read, before the first wrote back
    first = _cli("push", cid, str(path), *_account(service))
    path.write_bytes(as_read)
    second = _cli("push", cid, str(path), *_account(service))  # its write-back comes last
    assert (first[0], second[0]) == (0, 0), (first, second)
    assert _count(service, NEW_PATH) == 1
    assert "nothing to push" in _cli("push", cid, str(path), *_account(service))[1]
    # the next edit of the same rows is no conflict with either push
    _edit(path, lambda t: _later(_later(t, x), str(t.index[t["path"] == NEW_PATH][0])))
    code, out = _cli("push", cid, str(path), *_account(service))
    assert code == 0, out
    assert "update  ok         2" in out, out


def test_no_write_back_then_a_rerun_sends_nothing_twice(service: Any, tmp_path: Path) -> None:
    cid = service.demo_collection
    path = tmp_path / "tiles.parquet"
    _edited_file(service, path)
    before = path.read_bytes()
    code, out = _cli("push", cid, str(path), "--no-write-back", *_account(service))
    assert code == 0, out
    assert path.read_bytes() == before
    code, out = _cli("push", cid, str(path), *_account(service))
    assert code == 0, out
    assert "unchanged" in out, out
    assert _count(service, NEW_PATH) == 1
    assert "nothing to push" in _cli("push", cid, str(path), *_account(service))[1]


def test_an_edit_in_the_layer_a_renamed_geopackage_opens_with_is_not_left_unseen(
    service: Any, tmp_path: Path
) -> None:
    cid = service.demo_collection
    listed = tmp_path / "tiles.gpkg"
    assert _cli("tiles", cid, "-o", str(listed), *_account(service))[0] == 0
    path = tmp_path / "project.gpkg"  # the same file, renamed (an AOI layer added, say)
    listed.rename(path)
    x, y = _plain(byocframe.read_file(path))[:2]
    _edit(path, lambda t: _later(t, x))
    assert _cli("push", cid, str(path), *_account(service))[0] == 0
    # QGIS (and geopandas without layer=) open the first layer: the person edits y there
    theirs = gpd.read_file(path, layer="tiles")
    theirs.loc[theirs["id"] == y, "sensing_time"] = "2031-01-01T00:00:00+00:00"
    theirs.to_file(path, layer="tiles", driver="GPKG")
    out = _cli("push", cid, str(path), *_account(service))[1]
    assert "nothing to push" not in out, out  # y's edit sent, or the file refused by name


def test_an_edit_saved_while_the_push_runs_is_not_overwritten_by_the_write_back(
    service: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from byocframe.edits import route

    cid = service.demo_collection
    path = tmp_path / "tiles.gpkg"
    x = _edited_file(service, path)
    y = next(t for t in _plain(byocframe.read_file(path)) if t != x)
    pushing = route.push

    def push_while_the_person_saves(*args: Any, **kwargs: Any) -> Any:
        result = pushing(*args, **kwargs)
        _edit(path, lambda t: _later(t, y, 5))  # saved (QGIS, a script) during the push
        return result

    monkeypatch.setattr(route, "push", push_while_the_person_saves)
    first = _cli("push", cid, str(path), *_account(service))
    monkeypatch.undo()
    assert first[0] == 0, first
    second = _cli("push", cid, str(path), *_account(service))
    # y's edit is still in the file (pushed now), or the first push said it left the file
    assert "update  ok         1" in second[1] or "left" in first[1], (first, second)

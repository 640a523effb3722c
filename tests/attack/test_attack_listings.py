"""The listings deletions are planned from, attacked: wrong, partial, cut short, replayed.

Branch ``attack15``, findings 230 on (``tests/attack/FINDINGS.md``). A listing is what
a user (or byocframe for them) takes as "the tiles there are": a frame that says it is
the whole collection, a filtered load the user deletes from, the tile a create finds at
its path. Here the peer answering the listing is a real local service over loopback,
made to misbehave the way a real peer can (a query parameter it does not apply, a page
cut short, a process killed mid-write). Each ``xfail(strict=True)`` pins a defect seen
today (its reason names the finding) and must lose its mark once fixed; the unmarked
tests pin what holds, each seen failing with the code broken on purpose (FINDINGS.md
says how).
"""

from __future__ import annotations

import contextlib
import io
import signal
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

import byocframe
from byocframe.cli import main
from byocframe.edits import writeback
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, search, validate
from byocframe.emulator.demo import DEMO_NAME
from byocframe.emulator.server import TOKEN_PATHS


@pytest.fixture
def service() -> Iterator[Any]:
    """A fresh local service with 40 demo tiles (39 INGESTED, 1 FAILED)."""
    with byocframe.local_service(demo=True, demo_tiles=40) as running:
        yield running


def _ignoring(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The service from now on takes the listing's ``name`` parameter and does not apply it.

    What a peer that does not know a parameter does (a deployment or a proxy that
    predates it): it answers 200 with the listing it would give without it.
    """
    real = validate.tile_listing

    def tile_listing(query: Any) -> dict[str, Any]:
        found = real(query)
        found[name] = "created:asc" if name == "sort" else None
        return found

    monkeypatch.setattr(validate, "tile_listing", tile_listing)


def _against_it(monkeypatch: pytest.MonkeyPatch, act: Any) -> None:
    """Run ``act`` against the misbehaving peer (a refusal is fine), then make it honest."""
    try:
        act()
    except byocframe.ByocframeError:
        pass
    finally:
        monkeypatch.undo()


def _ids(service: Any) -> set[str]:
    return {t["id"] for t in service.client().iter_tiles(service.demo_collection)}


# --------------------------------------------------------------------------- 230


@pytest.fixture
def service_450() -> Iterator[Any]:
    """A fresh local service with 450 demo tiles: five pages of 100."""
    with byocframe.local_service(demo=True, demo_tiles=450) as running:
        yield running


def test_a_peer_ignoring_the_sort_gives_no_partial_listing_marked_whole(
    service_450: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = _ids(service_450)
    _ignoring(monkeypatch, "sort")
    client = service_450.client()
    # the race made deterministic: the ascending cursor asks for its second page only once
    # the descending one has its first (else, on a loaded machine, the ascending cursor
    # could read the whole listing before the other starts, and the defect not show)
    first_desc = threading.Event()
    real = client.tile_pages

    def tile_pages(cid: str, **options: Any) -> Iterator[list[dict[str, Any]]]:
        for number, page in enumerate(real(cid, **options)):
            if options.get("sort") == "created:desc":
                first_desc.set()
            elif number == 1:
                assert first_desc.wait(timeout=60)
            yield page

    monkeypatch.setattr(client, "tile_pages", tile_pages)
    with pytest.warns(byocframe.ByocframeWarning, match="sort=created"):
        gdf = byocframe.read_tiles(client, service_450.demo_collection, progress=False)
    # every tile, read from one end, and in creation order
    assert set(map(str, gdf.index)) == everything
    assert gdf.attrs["byocframe"]["whole"] is True
    assert gdf["created"].is_monotonic_increasing


def test_a_peer_listing_in_another_order_gives_every_tile(
    service_450: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both cursors answered in path order (neither ``created`` order): read to the end."""
    everything = _ids(service_450)
    real = validate.tile_listing

    def tile_listing(query: Any) -> dict[str, Any]:
        found = real(query)
        found["sort"] = "path:desc"
        return found

    monkeypatch.setattr(validate, "tile_listing", tile_listing)
    with pytest.warns(byocframe.ByocframeWarning, match="sort=created"):
        gdf = byocframe.read_tiles(
            service_450.client(), service_450.demo_collection, progress=False
        )
    assert set(map(str, gdf.index)) == everything
    assert gdf.attrs["byocframe"]["whole"] is True


def test_an_honest_peer_listed_from_both_ends_gives_every_tile(service_450: Any) -> None:
    everything = _ids(service_450)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning of the order: the service keeps it
        gdf = byocframe.read_tiles(
            service_450.client(), service_450.demo_collection, progress=False
        )
    assert gdf.attrs["byocframe"]["whole"] is True
    assert set(map(str, gdf.index)) == everything
    assert len(gdf) == 450


# --------------------------------------------------------------------------- 231


def _catalog_ignoring_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Catalog from now on takes ``filter`` and does not apply it.

    A STAC API without the Filter extension (optional in STAC API 1.0) that ignores
    what it does not know, as many servers do.
    """
    real = search.SearchQuery.parse.__func__  # type: ignore[attr-defined]

    def parse(cls: Any, params: Any, **options: Any) -> Any:
        query = real(cls, params, **options)
        query.filter = None
        return query

    monkeypatch.setattr(search.SearchQuery, "parse", classmethod(parse))


def _one_crs(client: Any, cid: str) -> tuple[dict[str, Any], set[str]]:
    """A Catalog load of the INGESTED tiles in one CRS, and the ids of those tiles."""
    tiles = list(client.iter_tiles(cid))
    crs = tiles[0]["tileGeometry"]["crs"]["properties"]["name"].rsplit(":", 1)[-1]
    ids = {
        t["id"]
        for t in tiles
        if t["status"] == "INGESTED"
        and t["tileGeometry"]["crs"]["properties"]["name"].endswith(f":{crs}")
    }
    return {"filter": f"proj:epsg = {crs}"}, ids


def _chosen(client: Any, cid: str, how: str) -> tuple[dict[str, Any], set[str]]:
    """The load of the tiles a user means to delete (``how``) and their ids."""
    if how == "status":
        failed = {t["id"] for t in client.iter_tiles(cid) if t["status"] == "FAILED"}
        return {"status": "FAILED"}, failed
    return _one_crs(client, cid)


@pytest.mark.parametrize("how", ["status", "filter"])
def test_deleting_a_filtered_load_of_a_peer_ignoring_the_filter_deletes_no_other_tile(
    service: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    client, cid = service.client(), service.demo_collection
    options, chosen = _chosen(client, cid, how)
    others = _ids(service) - chosen
    if how == "status":
        _ignoring(monkeypatch, "status")
    else:
        _catalog_ignoring_filter(monkeypatch)

    def delete_what_was_loaded() -> None:
        loaded = byocframe.read_tiles(client, cid, progress=False, **options)
        # the everyday "delete the tiles I loaded": all of the load, so max_deletes
        byocframe.push(
            loaded.iloc[:0], client, delete_missing=True, max_deletes=len(loaded), progress=False
        )

    _against_it(monkeypatch, delete_what_was_loaded)
    # today: every INGESTED tile deleted (39 of 40 with status=; 19 others with filter=)
    assert others <= _ids(service)


@pytest.mark.parametrize("how", ["status", "filter"])
def test_deleting_a_filtered_load_of_an_honest_peer_deletes_it_only(service: Any, how: str) -> None:
    client, cid = service.client(), service.demo_collection
    everything = _ids(service)
    options, chosen = _chosen(client, cid, how)
    loaded = byocframe.read_tiles(client, cid, progress=False, **options)
    assert set(map(str, loaded.index)) == chosen
    assert 1 <= len(chosen) < len(everything)
    out = byocframe.push(
        loaded.iloc[:0], client, delete_missing=True, max_deletes=len(loaded), progress=False
    )
    assert out["outcome"].tolist() == ["ok"] * len(chosen)
    assert _ids(service) == everything - chosen


def test_reingesting_the_failed_tiles_of_a_peer_ignoring_status_reingests_no_other(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, cid = service.client(), service.demo_collection
    ingested = {t["id"]: t["ingestionStart"] for t in client.iter_tiles(cid)}
    ingested = {t: s for t, s in ingested.items() if t not in _chosen(client, cid, "status")[1]}
    _ignoring(monkeypatch, "status")
    _against_it(
        monkeypatch,
        lambda: byocframe.reingest(
            byocframe.read_tiles(client, cid, status="FAILED", progress=False),
            client,
            progress=False,
        ),
    )
    now = {t["id"]: t["ingestionStart"] for t in client.iter_tiles(cid)}
    # today: all 39 sent back to ingestion (a new ingestion start each)
    assert {t: now[t] for t in ingested} == ingested


# --------------------------------------------------------------------------- 232


def _new_row(gdf: gpd.GeoDataFrame, path: str, when: pd.Timestamp) -> gpd.GeoDataFrame:
    """``gdf`` with a new row (no id, no cover) at ``path``, sensed ``when``."""
    row = gpd.GeoDataFrame(
        {"path": [path], "sensing_time": [when]},
        geometry=[None],
        crs=gdf.crs,
        index=pd.Index([None], name=gdf.index.name, dtype=object),
    )
    out = pd.concat([gdf, row])
    out.attrs = gdf.attrs
    return out


def test_a_create_meeting_its_path_taken_never_adopts_a_tile_of_another_path(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, cid = service.client(), service.demo_collection
    gdf = byocframe.read_tiles(client, cid, progress=False)
    first = str(gdf.index[0])  # what a listing without its path filter starts with
    # another editor creates a tile at the path this editor adds meanwhile; the demo's
    # tiles share four dates: this editor's new tile has the first tile's time
    client.create_tile(cid, {"path": "theirs/(BAND).tif", "sensingTime": "2024-01-01T00:00:00Z"})
    mine = _new_row(gdf, "theirs/(BAND).tif", gdf["sensing_time"].iloc[0])
    _ignoring(monkeypatch, "path")
    with warnings.catch_warnings():  # today it also warns that the write-back failed
        warnings.simplefilter("ignore", byocframe.ByocframeWarning)
        out = byocframe.push(mine, client, progress=False)
    # today: "unchanged: a tile with this path was already there", id = the first tile
    assert first not in set(map(str, out.index))


def test_a_create_meeting_its_path_taken_on_an_honest_peer_names_that_tile(
    service: Any,
) -> None:
    client, cid = service.client(), service.demo_collection
    gdf = byocframe.read_tiles(client, cid, progress=False)
    when = gdf["sensing_time"].iloc[0]
    theirs = client.create_tile(
        cid, {"path": "theirs/(BAND).tif", "sensingTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    out = byocframe.push(_new_row(gdf, "theirs/(BAND).tif", when), client, progress=False)
    assert out["outcome"].tolist() == ["unchanged"]
    assert list(map(str, out.index)) == [theirs["id"]]


# --------------------------------------------------------------------------- 233

#: A child process: the local service's start-up with its database at argv[1] and the
#: demo seeded, held (stdin read) at the moment ``argv[2]`` of `Store` is called; it
#: prints "held" first, so the parent kills it there and nowhere else.
_HELD_AT = """
import sys
from byocframe.emulator import store
from byocframe.emulator.service import create_service

real = getattr(store.Store, sys.argv[2])

def held(self, *args, **kwargs):
    if sys.argv[3] == "after":
        real(self, *args, **kwargs)
    sys.stdout.write("held\\n")  # one write: two held threads never mix their lines
    sys.stdout.flush()
    sys.stdin.read()

setattr(store.Store, sys.argv[2], held)
create_service(db=sys.argv[1], demo=True, demo_tiles=40)
"""


def _until_held(script: str, *args: str) -> list[str]:
    """Run ``script`` in a child; SIGKILL it once it prints "held"; the lines before."""
    with subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(byocframe.__file__).parent.parent,
    ) as child:
        try:
            assert child.stdout is not None
            said: list[str] = []
            while (line := child.stdout.readline()) != "held\n":
                assert line, f"the child ended without being held (it said {said})"
                said.append(line.strip())
            return said
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()


def _killed_at(db: Any, method: str, when: str) -> None:
    """Start the service on ``db`` seeding its demo; SIGKILL it in ``method`` (``when``)."""
    assert _until_held(_HELD_AT, str(db), method, when) == []


def _demo_collections(service: Any) -> list[tuple[str, int]]:
    client = service.client()
    named = [c["id"] for c in client.iter_collections() if c["name"] == DEMO_NAME]
    return [(cid, len(list(client.iter_tiles(cid)))) for cid in named]


@pytest.mark.parametrize(
    "when",
    [
        # finding 233 (fixed): killed while seeding its demo, the service left an empty
        # collection of the demo's name beside the new demo
        pytest.param("before", id="killed-while-inserting"),
        # ... and, killed between inserting the tiles and recording the demo, it could not
        # start again (sqlite3.IntegrityError)
        pytest.param("after", id="killed-before-recording-it"),
    ],
)
def test_a_service_killed_while_seeding_its_demo_has_one_demo_collection_after_restart(
    tmp_path: Path, when: str
) -> None:
    db = tmp_path / "byoc.sqlite"
    _killed_at(db, "insert_tiles", when)
    with byocframe.local_service(db=db, demo=True, demo_tiles=40) as again:
        found = _demo_collections(again)
        # today: the collection of the killed start-up (empty, or 40 tiles) and a new one
        assert found == [(again.demo_collection, 40)]


# ------------------------------------------------- kill -9 of a service mid-write

#: A child process: the local service on the database argv[1] and the port argv[2], its
#: demo seeded; it prints its base URL, then serves. With argv[3] a `Store` method, that
#: method is held once it has committed (before its answer is sent): the child prints
#: "held" and waits there to be killed.
_SERVE = """
import sys
from byocframe.emulator import store
from byocframe.emulator.service import create_service

if sys.argv[3] != "-":
    real = getattr(store.Store, sys.argv[3])

    def held(self, *args, **kwargs):
        real(self, *args, **kwargs)
        sys.stdout.write("held\\n")  # one write: two held threads never mix their lines
        sys.stdout.flush()
        sys.stdin.read()

    setattr(store.Store, sys.argv[3], held)
service = create_service(db=sys.argv[1], port=int(sys.argv[2]), demo=True, demo_tiles=40)
service.start()
print(service.base_url, flush=True)
sys.stdin.read()
"""


def _serve(db: Path, port: int, held: str = "-") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(db), str(port), held],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(byocframe.__file__).parent.parent,
    )


def _kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()
    for pipe in (child.stdin, child.stdout):
        if pipe is not None:
            pipe.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _client_of(base_url: str) -> byocframe.Client:
    # one quick retry: the service is dead until the test starts it again
    return byocframe.Client(
        base_url=base_url,
        token_url=base_url + TOKEN_PATHS[0],
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        retries=1,
        backoff=0.01,
        max_backoff=0.01,
    )


def _edit(gdf: gpd.GeoDataFrame, write: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """``gdf`` edited so that its push calls the `Store` method ``write``; the ids it names."""
    tiles = [str(t) for t in gdf.index[gdf["status"] == "INGESTED"][:2]]
    if write == "delete_tile":
        return gdf.drop(index=tiles), tiles
    if write == "update_tile":
        mine = gdf.copy()
        mine.loc[tiles, "sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
        return mine, tiles
    return _new_row(gdf, "mine/(BAND).tif", pd.Timestamp("2030-01-01T00:00:00Z")), []


@pytest.mark.parametrize("write", ["delete_tile", "update_tile", "create_tile"])
def test_a_service_killed_after_a_write_and_restarted_gives_the_rerun_the_right_plan(
    tmp_path: Path, write: str
) -> None:
    db, port = tmp_path / "byoc.sqlite", _free_port()
    child = _serve(db, port, held=write)
    try:
        assert child.stdout is not None
        client = _client_of(child.stdout.readline().strip())
        cid = next(c["id"] for c in client.iter_collections() if c["name"] == DEMO_NAME)
        gdf = byocframe.read_tiles(client, cid, progress=False)
        mine, named = _edit(gdf, write)
        results: list[Any] = []
        pushing = threading.Thread(
            target=lambda: results.append(
                byocframe.push(mine, client, delete_missing=True, progress=False)
            )
        )
        with warnings.catch_warnings():  # the push says what it could not do
            warnings.simplefilter("ignore", byocframe.ByocframeWarning)
            pushing.start()
            assert child.stdout.readline().strip() == "held"  # committed, not answered
            _kill(child)
            pushing.join()
        assert "failed" in set(results[0]["outcome"])  # the push saw the service go
        child = _serve(db, port)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == client.base_url
        again = byocframe.push(mine, client, delete_missing=True, progress=False)
        # the rerun plans what is left, and finds done what the killed service did
        assert set(again["outcome"]) <= {"ok", "unchanged"}
        now = {t["id"]: t for t in client.iter_tiles(cid)}
        others = set(map(str, gdf.index)) - set(named)
        assert others <= set(now)  # no other tile deleted
        if write == "delete_tile":
            assert not set(named) & set(now)
            assert len(now) == 38
        elif write == "update_tile":
            assert {now[t]["sensingTime"][:19] for t in named} == {"2030-01-01T00:00:00"}
        else:
            assert [t["path"] for t in now.values()].count("mine/(BAND).tif") == 1
            assert len(now) == 41
        assert byocframe.changes(mine, deleted=True).empty  # written back: nothing left
    finally:
        _kill(child)


# ------------------------------------------- a listing of another collection, or an older one


def _cli(*args: str) -> tuple[int, str]:
    """Run ``byocframe ARGS`` in this process: its exit code and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(list(args))
        except SystemExit as err:  # argparse's own refusals
            code = int(err.code or 0)
    return code, out.getvalue()


def _account(service: Any) -> list[str]:
    return [
        *("--base-url", service.base_url, "--token-url", service.token_url),
        *("--client-id", service.client_id, "--client-secret", service.client_secret),
    ]


@pytest.mark.parametrize("kept", ["whole", "table"], ids=["tokens", "without-tokens"])
def test_a_listing_of_another_collection_saved_under_this_ones_name_deletes_nothing(
    service: Any, tmp_path: Path, kept: str
) -> None:
    client, mine = service.client(), service.demo_collection
    theirs = client.create_collection({"name": "another", "s3Bucket": "another"})["id"]
    service.seed(theirs, [{"path": f"another/{k}/(BAND).tif"} for k in range(10)])
    before = _ids(service)
    # the other collection's listing, saved under this one's name, one row dropped
    listed = byocframe.read_tiles(client, theirs, progress=False)
    listed = listed.drop(index=listed.index[0])
    path = tmp_path / f"{mine}.parquet"
    byocframe.write_file(
        listed if kept == "whole" else listed[["path", "sensing_time", "geometry"]], path
    )
    code, said = _cli("push", mine, str(path), "--delete-missing", *_account(service))
    assert code != 0, said  # refused, one line
    assert "Traceback" not in said
    assert _ids(service) == before  # nothing of this collection deleted
    assert len(list(client.iter_tiles(theirs))) == len(listed) + 1  # nor of the other


def test_a_frame_pushed_with_a_newer_listing_as_original_deletes_no_tile_created_since(
    service: Any,
) -> None:
    client, cid = service.client(), service.demo_collection
    old = byocframe.read_tiles(client, cid, progress=False)
    new = client.create_tile(cid, {"path": "theirs/(BAND).tif"})["id"]  # another editor
    mine = old.drop(index=old.index[3])
    mine.attrs = {}  # lost (a join): the refusal says to pass original=
    fresh = byocframe.read_tiles(client, cid, progress=False)  # not the frame as loaded
    with pytest.raises(byocframe.ValidationError, match="do not match their seal"):
        byocframe.push(mine, client, original=fresh, delete_missing=True, progress=False)
    assert {new, str(old.index[3])} <= _ids(service)


# ------------------------------------------------------------- two clients writing at once


def test_two_editors_deleting_one_tile_and_creating_one_path_at_once_make_one_change(
    service: Any,
) -> None:
    cid = service.demo_collection
    clients = [service.client(), service.client()]
    # each call waits for the other editor's: both checks are made before either write
    meet = {
        "create_tile": threading.Barrier(2, timeout=60),
        "delete_tile": threading.Barrier(2, timeout=60),
    }
    for client in clients:
        for name, barrier in meet.items():
            real = getattr(client, name)

            def at_once(*args: Any, _real: Any = real, _barrier: Any = barrier) -> Any:
                _barrier.wait()
                return _real(*args)

            setattr(client, name, at_once)
    loads = [byocframe.read_tiles(c, cid, progress=False) for c in clients]
    gone = str(loads[0].index[loads[0]["status"] == "INGESTED"][0])
    when = pd.Timestamp("2030-01-01T00:00:00Z")
    frames = [_new_row(gdf.drop(index=[gone]), "both/(BAND).tif", when) for gdf in loads]
    results: list[Any] = [None, None]

    def push(k: int) -> None:
        results[k] = byocframe.push(frames[k], clients[k], delete_missing=True, progress=False)

    threads = [threading.Thread(target=push, args=(k,)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = sorted(
        r.loc[r["action"] == a, "outcome"].iloc[0] for r in results for a in ("create", "delete")
    )
    assert outcomes == ["ok", "ok", "unchanged", "unchanged"]
    now = {t["id"]: t for t in service.client().iter_tiles(cid)}
    assert gone not in now
    assert [t["path"] for t in now.values()].count("both/(BAND).tif") == 1
    assert len(now) == 40
    created = [str(f.index[f["path"] == "both/(BAND).tif"][0]) for f in frames]
    assert created[0] == created[1]  # both frames hold the one tile
    assert created[0] in now


# --------------------------------------------------------------------------- 234


def _edited(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, str]:
    """A tile dropped, another's time edited, a new row added; the dropped tile's id."""
    ingested = gdf.index[gdf["status"] == "INGESTED"]
    mine = gdf.drop(index=[ingested[0]])
    mine.loc[ingested[1], "sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
    return _new_row(mine, "new/(BAND).tif", pd.Timestamp("2030-01-01T00:00:00Z")), ingested[0]


def test_a_push_interrupted_in_its_write_back_leaves_a_frame_that_can_be_pushed_again(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, cid = service.client(), service.demo_collection
    mine, gone = _edited(byocframe.read_tiles(client, cid, progress=False))

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt  # Ctrl-C in the notebook, while the rows are stamped

    was = mine.copy()
    monkeypatch.setattr(writeback, "stamp", interrupted)
    with pytest.raises(KeyboardInterrupt):
        byocframe.push(mine, client, delete_missing=True, progress=False)
    monkeypatch.undo()
    # the frame as it was before the push, not half written back
    pd.testing.assert_frame_equal(mine, was)
    assert mine.attrs == was.attrs
    # the cell run again: today "1 row(s) have a tile id but no 'loaded' value"
    again = byocframe.push(mine, client, delete_missing=True, progress=False)
    assert set(again["outcome"]) <= {"ok", "unchanged"}
    now = {t["id"]: t for t in client.iter_tiles(cid)}
    assert gone not in now
    assert [t["path"] for t in now.values()].count("new/(BAND).tif") == 1


def test_a_push_interrupted_after_its_rows_are_stamped_can_be_pushed_again(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, cid = service.client(), service.demo_collection
    mine, gone = _edited(byocframe.read_tiles(client, cid, progress=False))
    real = writeback.with_loaded_ids

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt  # Ctrl-C once the rows are stamped, before the attrs

    monkeypatch.setattr(writeback, "with_loaded_ids", interrupted)
    with pytest.raises(KeyboardInterrupt):
        byocframe.push(mine, client, delete_missing=True, progress=False)
    monkeypatch.setattr(writeback, "with_loaded_ids", real)
    again = byocframe.push(mine, client, delete_missing=True, progress=False)
    # the write-back undone whole (finding 234's fix): the rerun finds each change done
    assert set(again["outcome"]) == {"unchanged"}
    assert len(again) == 3  # the update, the create and the deletion
    assert byocframe.changes(mine, deleted=True).empty
    now = {t["id"]: t for t in client.iter_tiles(cid)}
    assert gone not in now
    assert len(now) == 40


# ------------------------------------------------------------- kill -9 of a service mid-seed

#: A child process: the local service on the database argv[1] with its demo; it prints
#: the id of a new collection (on the demo's bucket), then seeds the demo's 40 tiles into
#: it in chunks of 10 and is held once the second chunk's rows are written, before its
#: transaction commits (the first's did): it prints "held" and waits there to be killed.
_SEED = """
import sys
import byocframe
from byocframe.emulator import store
from byocframe.emulator.service import create_service

service = create_service(db=sys.argv[1], demo=True, demo_tiles=40).start()
client = service.client()
bucket = client.get_collection(service.demo_collection)["s3Bucket"]
cid = client.create_collection({"name": "seeded", "s3Bucket": bucket})["id"]
tiles = byocframe.read_tiles(client, service.demo_collection, progress=False)
real, calls = store.Store.add_tiles, []

def held(self, *args, **kwargs):
    calls.append(1)
    real(self, *args, **kwargs)
    if len(calls) == 2:  # the chunk's rows written, its transaction not committed
        sys.stdout.write("held\\n")  # one write: two held threads never mix their lines
        sys.stdout.flush()
        sys.stdin.read()

store.Store.add_tiles = held
print(cid, flush=True)
service.seed(cid, tiles, chunk_size=10)
"""


def test_a_service_killed_while_seeding_lists_and_finds_each_committed_chunk_whole(
    tmp_path: Path,
) -> None:
    db = tmp_path / "byoc.sqlite"
    [cid] = _until_held(_SEED, str(db))
    with byocframe.local_service(db=db, demo=True, demo_tiles=40) as again:
        client = again.client()
        demo = byocframe.read_tiles(client, again.demo_collection, progress=False)
        listed = list(client.iter_tiles(cid))
        # the first chunk, whole: the demo's first 10 tiles (by path), nothing of the second
        assert sorted(t["path"] for t in listed) == sorted(demo["path"].iloc[:10])
        found = byocframe.read_tiles(client, cid, bbox=[-180, -90, 180, 90], progress=False)
        # the Catalog's index committed with the tiles: it finds every INGESTED one
        ingested = {t["id"] for t in listed if t["status"] == "INGESTED"}
        assert set(map(str, found.index)) == ingested
        assert len(ingested) >= 9
        # the rest seeds on top of it; the whole again is refused by path, as documented
        again.seed(cid, demo.iloc[10:], chunk_size=10)
        assert len(list(client.iter_tiles(cid))) == 40
        with pytest.raises(byocframe.ValidationError, match="already exists"):
            again.seed(cid, demo, chunk_size=10)

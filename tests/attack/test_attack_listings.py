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

import warnings
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

import byocframe
from byocframe.emulator import validate


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


def _ids(service: Any) -> set[str]:
    return {t["id"] for t in service.client().iter_tiles(service.demo_collection)}


# --------------------------------------------------------------------------- 230


@pytest.fixture
def service_450() -> Iterator[Any]:
    """A fresh local service with 450 demo tiles: five pages of 100."""
    with byocframe.local_service(demo=True, demo_tiles=450) as running:
        yield running


@pytest.mark.xfail(
    strict=True,
    reason="finding 230: a peer that ignores sort=created:desc gives a listing of 2 "
    "pages marked whole",
)
def test_a_peer_ignoring_the_sort_gives_no_partial_listing_marked_whole(
    service_450: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = _ids(service_450)
    _ignoring(monkeypatch, "sort")
    client = service_450.client()
    try:
        gdf = byocframe.read_tiles(client, service_450.demo_collection, progress=False)
    except byocframe.ByocframeError:
        return  # refused: the listing cannot be trusted
    # either every tile, or a frame that does not claim to be the collection
    assert set(map(str, gdf.index)) == everything or not gdf.attrs["byocframe"]["whole"]


def test_an_honest_peer_listed_from_both_ends_gives_every_tile(service_450: Any) -> None:
    everything = _ids(service_450)
    gdf = byocframe.read_tiles(service_450.client(), service_450.demo_collection, progress=False)
    assert gdf.attrs["byocframe"]["whole"] is True
    assert set(map(str, gdf.index)) == everything
    assert len(gdf) == 450


# --------------------------------------------------------------------------- 231


@pytest.mark.xfail(
    strict=True,
    reason="finding 231: a peer that ignores status= makes 'delete the FAILED tiles' "
    "delete INGESTED ones",
)
def test_deleting_the_failed_tiles_of_a_peer_ignoring_status_deletes_no_other(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, cid = service.client(), service.demo_collection
    ingested = {t["id"] for t in client.iter_tiles(cid) if t["status"] == "INGESTED"}
    _ignoring(monkeypatch, "status")
    try:
        failed = byocframe.read_tiles(client, cid, status="FAILED", progress=False)
        # the everyday "delete every FAILED tile": all of the load, so max_deletes
        byocframe.push(
            failed.iloc[:0], client, delete_missing=True, max_deletes=len(failed), progress=False
        )
    except byocframe.ByocframeError:
        pass  # refused: fine
    monkeypatch.undo()
    assert ingested <= _ids(service)  # today: all 39 INGESTED tiles deleted


def test_deleting_the_failed_tiles_of_an_honest_peer_deletes_them_only(service: Any) -> None:
    client, cid = service.client(), service.demo_collection
    before = {t["id"]: t["status"] for t in client.iter_tiles(cid)}
    failed = byocframe.read_tiles(client, cid, status="FAILED", progress=False)
    assert set(failed["status"]) == {"FAILED"}
    assert len(failed) >= 1
    out = byocframe.push(failed.iloc[:0], client, delete_missing=True, progress=False)
    assert out["outcome"].tolist() == ["ok"] * len(failed)
    assert _ids(service) == {t for t, s in before.items() if s != "FAILED"}


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


@pytest.mark.xfail(
    strict=True,
    reason="finding 232: a create meeting its path taken adopts the first tile a peer "
    "ignoring path= lists",
)
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

"""Nothing unseen, nothing deleted by mistake: a Catalog or listing peer that does not play fair.

Branch ``attack16``, findings 270 on (``tests/attack/FINDINGS.md``). A filtered load is
often the first half of "delete / reingest what I loaded". Here the peer answering the
search is the real local service over loopback, made to ignore a parameter of the
search the way a real peer can (a proxy or a STAC API that does not know it answers 200
with what it would give without it: patched in the service's own request parsing, so
the client meets it on the wire). Each ``xfail(strict=True)`` pins a defect left open;
the unmarked tests pin what was fixed here or what holds, each seen failing with the
product broken on purpose (FINDINGS.md says how).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.emulator import search


@pytest.fixture
def service() -> Iterator[Any]:
    """A fresh local service with 40 demo tiles (39 INGESTED, 1 FAILED)."""
    with byocframe.local_service(demo=True, demo_tiles=40) as running:
        yield running


def _ids(service: Any) -> set[str]:
    return {t["id"] for t in service.client().iter_tiles(service.demo_collection)}


def _catalog_ignoring(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """The Catalog from now on reads a search and does not apply ``names`` of it.

    ``area`` (``bbox`` / ``intersects``), ``interval`` (``datetime``), ``filter``: what a
    STAC API, or a proxy before it, that does not know the parameter answers (200, the
    search without it). A filter it does not read at all is not even parsed.
    """
    real = search.SearchQuery.parse.__func__  # type: ignore[attr-defined]
    if "filter" in names:
        monkeypatch.setattr(search, "_filter", lambda *args, **kwargs: None)

    def parse(cls: Any, params: Any, **options: Any) -> Any:
        query = real(cls, params, **options)
        for name in names:
            setattr(query, name, None)
        return query

    monkeypatch.setattr(search.SearchQuery, "parse", classmethod(parse))


def _delete_what_was_loaded(client: Any, cid: str, options: dict[str, Any]) -> None:
    """The everyday "delete the tiles I loaded": all of the load, so max_deletes."""
    loaded = byocframe.read_tiles(client, cid, progress=False, **options)
    byocframe.push(
        loaded.iloc[:0], client, delete_missing=True, max_deletes=len(loaded), progress=False
    )


def _against_it(monkeypatch: pytest.MonkeyPatch, act: Any) -> None:
    """Run ``act`` against the misbehaving peer (a refusal is fine), then make it honest."""
    try:
        act()
    except byocframe.ByocframeError:
        pass
    finally:
        monkeypatch.undo()


def _tile_box(client: Any, cid: str) -> tuple[float, float, float, float]:
    """A box around the one demo tile that lies away from the antimeridian."""
    gdf = byocframe.read_tiles(client, cid, progress=False)
    bounds = gdf.geometry.bounds
    alone = bounds[(bounds["maxx"] - bounds["minx"]) < 10].iloc[0]
    return (alone["minx"] - 0.5, alone["miny"] - 0.5, alone["maxx"] + 0.5, alone["maxy"] + 0.5)


def _by(how: str, client: Any, cid: str) -> dict[str, Any]:
    if how == "bbox":
        return {"bbox": _tile_box(client, cid)}
    if how == "intersects":
        return {"intersects": shapely.box(*_tile_box(client, cid))}
    return {"datetime": "2024-07"}  # 10 of the 39 INGESTED demo tiles


# --------------------------------------------------------------------------- 270


@pytest.mark.parametrize("how", ["bbox", "intersects", "datetime"])
def test_270_deleting_a_load_by_area_or_period_of_a_peer_ignoring_it_deletes_no_other_tile(
    service: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    client, cid = service.client(), service.demo_collection
    options = _by(how, client, cid)
    chosen = set(map(str, byocframe.read_tiles(client, cid, progress=False, **options).index))
    others = _ids(service) - chosen
    assert chosen
    assert len(others) >= 10
    _catalog_ignoring(monkeypatch, "interval" if how == "datetime" else "area")
    _against_it(monkeypatch, lambda: _delete_what_was_loaded(client, cid, options))
    # before the fix: every INGESTED tile deleted (38 others by area, 29 by period)
    assert others <= _ids(service)


@pytest.mark.parametrize("how", ["bbox", "intersects", "datetime"])
def test_270_a_load_by_area_or_period_of_a_peer_ignoring_it_is_refused_by_name(
    service: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    client, cid = service.client(), service.demo_collection
    options = _by(how, client, cid)
    name = next(iter(options))
    _catalog_ignoring(monkeypatch, "interval" if how == "datetime" else "area")
    with pytest.raises(byocframe.TransportError, match=rf"outside the {name} searched"):
        byocframe.read_tiles(client, cid, progress=False, **options)


def _in_lon_lat(gdf: Any, area: Any) -> set[str]:
    """The ids of ``gdf``'s tiles whose lon/lat cover meets ``area`` (shapely, not the service)."""
    return {
        str(i) for i, geom in gdf.geometry.items() if geom is not None and geom.intersects(area)
    }


@pytest.mark.parametrize(
    "options",
    [
        {"bbox": (179.0, 60.0, -179.0, 70.0)},  # across the antimeridian: west > east
        {"bbox": (170.0, 66.0, 180.0, 67.0)},  # up to it
        {"intersects": shapely.box(-180.0, 64.0, -179.5, 65.0)},
        {"datetime": ("2024-07-01", None)},  # open end
        {"datetime": ("2024-06-01", "2024-06-30")},
    ],
    ids=["bbox-across", "bbox-to-180", "intersects-west-of-180", "open", "june"],
)
def test_270_held_an_honest_catalog_answer_is_loaded_whole(service: Any, options: Any) -> None:
    client, cid = service.client(), service.demo_collection
    everything = byocframe.read_tiles(client, cid, progress=False)
    everything = everything[everything["status"] == "INGESTED"]
    loaded = set(map(str, byocframe.read_tiles(client, cid, progress=False, **options).index))
    if "bbox" in options:
        west, south, east, north = options["bbox"]
        area = (
            shapely.union(
                shapely.box(west, south, 180, north), shapely.box(-180, south, east, north)
            )
            if west > east
            else shapely.box(west, south, east, north)
        )
        expected = _in_lon_lat(everything, area)
    elif "intersects" in options:
        expected = _in_lon_lat(everything, options["intersects"])
    else:
        start, end = options["datetime"]
        times = everything["sensing_time"]
        keep = times >= pd.Timestamp(start, tz="UTC")
        if end is not None:
            keep &= times < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
        expected = set(map(str, everything.index[keep]))
    assert expected
    assert loaded == expected


def test_270_held_an_item_given_exactly_at_the_instant_searched_is_loaded(service: Any) -> None:
    client, cid = service.client(), service.demo_collection
    everything = byocframe.read_tiles(client, cid, progress=False)
    one = everything[everything["status"] == "INGESTED"].iloc[0]
    instant = one["sensing_time"].strftime("%Y-%m-%dT%H:%M:%SZ")
    loaded = byocframe.read_tiles(client, cid, progress=False, datetime=instant)
    same = everything[(everything["sensing_time"] == one["sensing_time"])]
    assert set(map(str, loaded.index)) == set(map(str, same[same["status"] == "INGESTED"].index))


# --------------------------------------------------------------------------- 271, 272


def test_271_a_filter_the_client_cannot_read_sent_to_a_peer_ignoring_filters_deletes_nothing(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, cid = service.client(), service.demo_collection
    everything = _ids(service)
    _catalog_ignoring(monkeypatch, "filter")
    # a Python habit: '==' is no CQL2; a peer that reads no filter answers every item
    options = {"filter": "proj:epsg == 32601"}
    with pytest.raises(byocframe.TransportError, match="cannot be read here to check it"):
        byocframe.read_tiles(client, cid, progress=False, **options)
    _against_it(monkeypatch, lambda: _delete_what_was_loaded(client, cid, options))
    # before the fix: the filter went unchecked and 39 of 40 tiles were deleted
    assert _ids(service) == everything


def test_272_an_item_the_filter_cannot_be_evaluated_on_is_refused_by_name(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, cid = service.client(), service.demo_collection
    _catalog_ignoring(monkeypatch, "filter")
    # the items hold no eo:cloud_cover: cql2 raises a bare Exception ("Could not reduce
    # expression to boolean"), which escaped read_tiles as a traceback before the fix
    with pytest.raises(byocframe.TransportError, match="cannot be evaluated on"):
        byocframe.read_tiles(client, cid, progress=False, filter="eo:cloud_cover < 10")


def test_271_held_an_honest_filtered_load_is_loaded_whole(service: Any) -> None:
    client, cid = service.client(), service.demo_collection
    everything = byocframe.read_tiles(client, cid, progress=False)
    ingested = everything[everything["status"] == "INGESTED"]
    crs = ingested["native_crs"].iloc[0]
    code = int(crs.rsplit(":", 1)[-1])
    loaded = byocframe.read_tiles(
        client,
        cid,
        progress=False,
        filter=f"proj:epsg = {code} AND datetime >= TIMESTAMP('2024-01-01T00:00:00Z')",
    )
    assert set(map(str, loaded.index)) == set(
        map(str, ingested.index[ingested["native_crs"] == crs])
    )


# --------------------------------------------------------------------------- 273, 274


@pytest.mark.parametrize(
    "options", [{"datetime": ""}, {"datetime": "  "}, {"filter": ""}, {"filter": {}}], ids=repr
)
def test_273_an_empty_datetime_or_filter_is_refused_before_anything_is_sent(
    service: Any, options: dict[str, Any]
) -> None:
    client, cid = service.client(), service.demo_collection
    name = next(iter(options))
    # before the fix: the service read it as no period / no filter, and the load held
    # all 39 INGESTED tiles, a load "of a period" a delete of what was loaded then emptied
    with pytest.raises(ValueError, match=rf"^{name} is empty"):
        byocframe.read_tiles(client, cid, progress=False, **options)


@pytest.mark.parametrize("ends", [("", None), (None, ""), ("2024-06-01", "NaT")], ids=repr)
def test_273_an_empty_end_of_a_period_is_refused_naming_it(service: Any, ends: Any) -> None:
    client, cid = service.client(), service.demo_collection
    # before the fix: "Unknown format code 'd' for object of type 'float'"
    with pytest.raises(ValueError, match="is no time; give None for an open end"):
        byocframe.read_tiles(client, cid, progress=False, datetime=ends)


def test_274_an_empty_status_is_refused_as_the_callers_not_blamed_on_the_service(
    service: Any,
) -> None:
    client, cid = service.client(), service.demo_collection
    # before the fix: a TransportError saying the service "does not apply that filter"
    with pytest.raises(ValueError, match="status is empty"):
        byocframe.read_tiles(client, cid, progress=False, status="")


@pytest.mark.parametrize("status", ["FAILD", " failed"])
def test_274_held_a_misspelt_status_loads_nothing_and_deletes_nothing(
    service: Any, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    client, cid = service.client(), service.demo_collection
    everything = _ids(service)
    with pytest.raises(byocframe.APIError, match="status must be one of"):
        byocframe.read_tiles(client, cid, progress=False, status=status)
    # a peer that does not check the value and ignores it: refused, nothing deleted
    from byocframe.emulator import validate

    real = validate.tile_listing
    monkeypatch.setattr(validate, "tile_listing", lambda q: {**real({}), "path": q.get("path")})
    options = {"status": status}
    with pytest.raises(byocframe.TransportError, match="does not apply that filter"):
        byocframe.read_tiles(client, cid, progress=False, **options)
    _against_it(monkeypatch, lambda: _delete_what_was_loaded(client, cid, options))
    assert _ids(service) == everything


# --------------------------------------------------------------------------- 275


def _away_from_the_antimeridian(gdf: Any) -> Any:
    """The id of the demo's one tile whose cover is drawn in one piece."""
    return gdf.index[gdf.geometry.apply(lambda g: g.geom_type == "Polygon" or len(g.geoms) == 1)][0]


def test_275_a_cover_edited_in_a_frame_that_lost_its_crs_is_refused_naming_the_crs(
    service: Any,
) -> None:
    client, cid = service.client(), service.demo_collection
    # loaded in metres (for a web map), then the CRS lost (a CSV, a GeoDataFrame rebuilt)
    gdf = byocframe.read_tiles(client, cid, progress=False, crs="EPSG:3857")
    lost = gdf.set_crs(None, allow_override=True)
    lost.attrs = gdf.attrs
    tid = _away_from_the_antimeridian(gdf)
    before = client.get_tile(cid, tid).get("coverGeometry")
    lost.loc[tid, "geometry"] = gdf.geometry.loc[tid].buffer(-5000)
    # before the fix: "... cannot be sent in EPSG:32644: its coordinates are not finite ...",
    # nothing about the CRS the frame lost
    with pytest.raises(byocframe.ValidationError, match=r"frame has no CRS.*gdf\.set_crs"):
        byocframe.push(lost, client, progress=False)
    assert client.get_tile(cid, tid).get("coverGeometry") == before


def test_275_held_the_same_edit_with_its_crs_is_pushed_as_written(service: Any) -> None:
    client, cid = service.client(), service.demo_collection
    gdf = byocframe.read_tiles(client, cid, progress=False, crs="EPSG:3857")
    tid = _away_from_the_antimeridian(gdf)
    wanted = gdf.geometry.loc[tid].buffer(-5000)
    gdf.loc[tid, "geometry"] = wanted
    out = byocframe.push(gdf, client, progress=False)
    assert out["outcome"].tolist() == ["ok"]
    back = byocframe.read_tiles(client, cid, progress=False, crs="EPSG:3857").geometry.loc[tid]
    # the service keeps straight edges in the tile's own CRS: within a metre of 5 km in
    assert back.symmetric_difference(wanted).area < 1e-3 * wanted.area


# --------------------------------------------------------------------------- 276


def test_276_a_scratch_like_name_with_no_possible_process_id_neither_blocks_nor_is_removed(
    tmp_path: Any,
) -> None:
    from byocframe.atomic import Scratch, stale_scratch

    target = tmp_path / "tiles.csv"
    # as Scratch names its files, with a process id no system gives (over 64 bits)
    with Scratch(tmp_path / "probe.csv") as probe:  # .probe.csv.HOST.PID.RANDOM.partial.csv
        host = probe.path.name.split(".")[3]
    planted = tmp_path / f".tiles.csv.{host}.99999999999999999999.abcdef01.partial.csv"
    planted.write_text("not byocframe's")
    # before the fix: OverflowError from os.kill, every write of tiles.csv refused so
    assert stale_scratch(target) == []
    with Scratch(target) as scratch:
        scratch.path.write_text("a,b")
        scratch.commit()
    assert target.read_text() == "a,b"
    assert planted.read_text() == "not byocframe's"


# --------------------------------------------------------------------------- 277


def _gets_answering(monkeypatch: pytest.MonkeyPatch, service: Any, other: str) -> None:
    """The service from now on answers a GET of any tile with tile ``other``.

    What a caching proxy keyed on the collection alone (or a peer's bug) gives: 200, a
    tile, not the one asked for. Listings and searches stay honest.
    """
    from byocframe.emulator import store

    real = store.Store.tile

    def tile(self: Any, cid: str, tid: str) -> str:
        return real(self, cid, other)

    monkeypatch.setattr(store.Store, "tile", tile)


def test_277_a_get_answering_another_tile_never_puts_it_in_a_catalog_load(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, cid = service.client(), service.demo_collection
    options = _by("bbox", client, cid)
    chosen = set(map(str, byocframe.read_tiles(client, cid, progress=False, **options).index))
    other = sorted(_ids(service) - chosen)[0]
    _gets_answering(monkeypatch, service, other)
    with pytest.raises(byocframe.TransportError, match=f"answered tile '{other}'"):
        byocframe.read_tiles(client, cid, progress=False, **options)
    # before the fix: the load held the other tile (a warning of duplicate ids when the
    # search found several), and deleting what was loaded deleted it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", byocframe.ByocframeWarning)
        _against_it(monkeypatch, lambda: _delete_what_was_loaded(client, cid, options))
    assert other in _ids(service)

"""A deletion needs evidence: ids remembered as loaded must carry the seal stamped with them."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

import byocframe
from byocframe import ValidationError


@pytest.fixture
def demo():
    with byocframe.local_service(demo=True, demo_tiles=40) as service:
        yield service


def _server_ids(client, cid) -> set[str]:
    return {t["id"] for t in client.iter_tiles(cid)}


def _add_to_gpkg_metadata(path, extra_ids):
    """Edit the byocframe metadata of a GeoPackage by hand, as a user or a tool might."""
    with sqlite3.connect(path) as db:
        (row_id, xml) = db.execute("SELECT id, metadata FROM gpkg_metadata").fetchone()
        start = xml.index('<MDI key="byocframe">') + len('<MDI key="byocframe">')
        end = xml.index("</MDI>", start)
        meta = json.loads(xml[start:end].replace("&quot;", '"'))
        meta["attrs"]["loaded_ids"] += "".join(f"\n{i}" for i in extra_ids)
        text = json.dumps(meta).replace('"', "&quot;")
        db.execute(
            "UPDATE gpkg_metadata SET metadata = ? WHERE id = ?",
            (xml[:start] + text + xml[end:], row_id),
        )


def test_ids_added_to_a_files_metadata_delete_nothing(demo, tmp_path):
    """Today: 3 foreign ids added to a GeoPackage's metadata deleted 3 tiles."""
    client = demo.client()
    cid = demo.demo_collection
    whole = byocframe.read_tiles(client, cid)
    ingested = whole[whole["status"] == "INGESTED"]
    box = list(ingested.geometry.iloc[0].bounds)
    part = byocframe.read_tiles(client, cid, bbox=box)  # a search: a few tiles
    outside = whole.index.difference(part.index)
    assert len(outside) >= 3
    foreign = list(outside[:3])
    byocframe.write_file(part, tmp_path / "part.gpkg")
    _add_to_gpkg_metadata(tmp_path / "part.gpkg", foreign)
    edited = byocframe.read_file(tmp_path / "part.gpkg")
    assert set(foreign) <= set(edited.attrs["byocframe"]["loaded_ids"].split("\n"))
    before = _server_ids(client, cid)
    with pytest.raises(ValidationError, match="do not match their seal"):
        byocframe.push(edited, client, delete_missing=True)
    assert _server_ids(client, cid) == before


def test_a_dropped_row_of_a_sealed_frame_is_deleted(demo, tmp_path):
    client = demo.client()
    cid = demo.demo_collection
    gdf = byocframe.read_tiles(client, cid)
    byocframe.write_file(gdf, tmp_path / "t.gpkg")
    back = byocframe.read_file(tmp_path / "t.gpkg")
    gone = back.index[0]
    pushed = back.drop(index=gone)
    result = byocframe.push(pushed, client, delete_missing=True)
    assert result.loc[result["action"] == "delete", "outcome"].tolist() == ["ok"]
    assert gone not in _server_ids(client, cid)
    # the pushed frame's ids stay sealed: a second drop plans exactly that deletion
    found = byocframe.changes(pushed.drop(index=pushed.index[0]), deleted=True)
    assert found["action"].tolist() == ["delete"]


def test_attrs_of_another_load_of_the_same_collection_delete_nothing(demo):
    """The seal names the load: attrs of a load of other tiles (a search) do not pass."""
    client = demo.client()
    cid = demo.demo_collection
    gdf = byocframe.read_tiles(client, cid)
    other = byocframe.read_tiles(client, cid, bbox=[-180, -90, 0, 90])
    assert 0 < len(other) < len(gdf)
    small = gdf.iloc[:10].copy()
    small.attrs = other.attrs
    before = _server_ids(client, cid)
    with pytest.raises(ValidationError, match="do not match their seal"):
        byocframe.push(small, client, delete_missing=True, dry_run=True)
    assert _server_ids(client, cid) == before


def test_rows_of_two_loads_joined_delete_nothing(demo):
    import pandas as pd

    client = demo.client()
    cid = demo.demo_collection
    first = byocframe.read_tiles(client, cid)
    second = byocframe.read_tiles(client, cid, bbox=[-180, -90, 0, 90])
    joined = pd.concat([first[~first.index.isin(second.index)].iloc[:5], second.iloc[:5]])
    joined.attrs = first.attrs
    with pytest.raises(ValidationError, match="do not match their seal"):
        byocframe.changes(joined, deleted=True)


def test_the_same_listing_loaded_twice_gives_the_same_frame(demo):
    client = demo.client()
    a = byocframe.read_tiles(client, demo.demo_collection)
    b = byocframe.read_tiles(client, demo.demo_collection)
    assert a["loaded"].equals(b["loaded"])
    # the same but for when each listing ended (reconcile compares it with a bucket's)
    times = [frame.attrs["byocframe"].pop("listed_at") for frame in (a, b)]
    assert a.attrs == b.attrs
    assert times[0] < times[1]


def test_a_tile_changed_since_it_was_loaded_is_not_deleted_with_original(demo):
    """push(..., original=) reads each tile before deleting it: changed ones are conflicts."""
    client = demo.client()
    cid = demo.demo_collection
    loaded = byocframe.read_tiles(client, cid)
    changed, same = loaded.index[0], loaded.index[1]
    client.reingest_tile(cid, changed)  # another editor: a new ingestion since the load
    assert client.get_tile(cid, changed)["ingestionStart"] != loaded.loc[changed, "ingestion_start"]
    kept = loaded.drop(index=[changed, same])
    result = byocframe.push(kept, client, delete_missing=True, original=loaded)
    assert result.loc[changed, "outcome"] == "conflict"
    assert "ingestion start" in result.loc[changed, "message"]
    assert result.loc[same, "outcome"] == "ok"
    assert _server_ids(client, cid) == set(loaded.index) - {same}


@pytest.mark.parametrize("route", ["frame", "gpkg", "parquet", "listing"])
def test_a_tile_changed_since_it_was_loaded_is_not_deleted_without_original(demo, tmp_path, route):
    """A dropped row's loaded state lives on in attrs (and a file's metadata): no original=.

    Before, a tile reingested by another editor after the load was deleted (outcome
    ``ok``) by ``push(frame.drop(...), delete_missing=True)`` and by the command line's
    ``push --delete-missing`` of a saved file: the dropped row took its token with it.
    """
    client = demo.client()
    cid = demo.demo_collection
    if route == "listing":
        byocframe.write_listing(client, cid, tmp_path / "l.parquet")
        loaded = byocframe.read_file(tmp_path / "l.parquet")
    else:
        loaded = byocframe.read_tiles(client, cid)
    changed, same, edited = loaded.index[:3]
    client.reingest_tile(cid, changed)  # another editor: a new ingestion since the load
    if route in ("gpkg", "parquet"):
        byocframe.write_file(loaded, tmp_path / f"t.{route}")
        loaded = byocframe.read_file(tmp_path / f"t.{route}")
    kept = loaded.drop(index=[changed, same])
    kept.loc[edited, "sensing_time"] += pd.Timedelta(hours=1)
    result = byocframe.push(kept, client, delete_missing=True)
    assert result.loc[changed, "outcome"] == "conflict"
    assert "ingestion start" in result.loc[changed, "message"]
    assert result.loc[same, "outcome"] == "ok"
    assert result.loc[edited, "outcome"] == "ok"
    assert _server_ids(client, cid) == set(loaded.index) - {same}
    # the frame pushed records the tiles as they are now: a tile it did not change is
    # deleted when dropped next, and the refused one is still refused
    again = byocframe.push(kept.drop(index=[edited]), client, delete_missing=True)
    assert again.loc[edited, "outcome"] == "ok"
    assert again.loc[changed, "outcome"] == "conflict"
    assert edited not in _server_ids(client, cid)


def test_a_status_changed_since_the_load_keeps_a_dropped_tile(demo):
    """The other fields recorded for a dropped row: status (32-bit digests of the rest)."""
    client = demo.client()
    cid = demo.demo_collection
    loaded = byocframe.read_tiles(client, cid)
    failed = loaded.index[loaded["status"] == "FAILED"]
    assert len(failed)
    tid = failed[0]
    client.reingest_tile(cid, tid)  # FAILED -> a new ingestion
    result = byocframe.push(loaded.drop(index=[tid]), client, delete_missing=True)
    assert result.loc[tid, "outcome"] == "conflict"
    assert tid in _server_ids(client, cid)


@pytest.mark.parametrize("with_original", [False, True])
@pytest.mark.parametrize("edit", ["sensing time", "cover"])
def test_a_tile_another_editor_edited_since_the_load_is_not_deleted(demo, edit, with_original):
    """Another editor re-timed or redrew the tile (a PUT: no reingestion, no new status).

    Before, only path, status, ingestion start and files were compared, so the other
    editor's edit was deleted with the tile.
    """
    client = demo.client()
    cid = demo.demo_collection
    loaded = byocframe.read_tiles(client, cid)
    ingested = loaded.index[loaded["status"] == "INGESTED"]
    tid, same = ingested[:2]
    record = client.get_tile(cid, tid)
    change = {"sensingTime": record["sensingTime"], "coverGeometry": record["coverGeometry"]}
    if edit == "sensing time":
        change["sensingTime"] = "2001-02-03T04:05:06Z"
    else:

        def moved(coords):  # 5 m east, whatever the nesting (Polygon or MultiPolygon)
            if isinstance(coords[0], int | float):
                return [coords[0] + 5.0, *coords[1:]]
            return [moved(c) for c in coords]

        cover = change["coverGeometry"]
        change["coverGeometry"] = {**cover, "coordinates": moved(cover["coordinates"])}
    client.update_tile(cid, tid, change)
    after = client.get_tile(cid, tid)
    assert (after["status"], after.get("ingestionStart")) == (
        record["status"],
        record.get("ingestionStart"),
    )
    result = byocframe.push(
        loaded.drop(index=[tid, same]),
        client,
        delete_missing=True,
        original=loaded if with_original else None,
    )
    assert result.loc[tid, "outcome"] == "conflict"
    assert edit in result.loc[tid, "message"]
    assert result.loc[same, "outcome"] == "ok"
    assert tid in _server_ids(client, cid)

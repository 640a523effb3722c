"""Regression tests from an attack on the edit workflow: each case once broke a promise
(a tile deleted, an edit invented or lost, a crash), and must now be refused in one line
or behave like the loaded frame. The server's state is read back on its own."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe import ValidationError


@pytest.fixture(scope="module")
def service():
    with byocframe.local_service(demo=True, demo_tiles=300) as running:
        yield running


@pytest.fixture
def client(service):
    return service.client(backoff=0.01, max_backoff=0.05)


@pytest.fixture
def gdf(service, client):
    frame = byocframe.read_tiles(client, service.demo_collection)
    return frame[frame["status"] == "INGESTED"].copy()


def tiles(client, service) -> dict[str, dict]:
    return {t["id"]: t for t in client.iter_tiles(service.demo_collection)}


def test_reset_index_is_refused_before_any_delete(gdf, client, service):
    before = tiles(client, service)
    with pytest.raises(ValidationError, match=r"set_index\('id'\)"):
        byocframe.push(gdf.reset_index(), client, delete_missing=True)
    assert tiles(client, service) == before


def test_concat_then_a_file_keeps_the_ids(gdf, tmp_path):
    new = gpd.GeoDataFrame({"path": ["x/new/(BAND).tif"]}, geometry=[None], crs=4326)
    frame = pd.concat([gdf.iloc[:5], new])  # concat drops the index name
    for suffix in (".gpkg", ".geojson", ".fgb", ".csv"):
        path = tmp_path / f"t{suffix}"
        byocframe.write_file(frame, path)
        back = byocframe.read_file(path)
        assert list(back.index[:5]) == list(gdf.index[:5]), suffix
        assert pd.isna(back.index[5])
        found = byocframe.changes(back)
        assert found["action"].tolist() == ["create"], suffix


@pytest.mark.parametrize("crs", ["EPSG:3413", "EPSG:3035", "EPSG:32633", "EPSG:3857"])
def test_another_display_crs_is_not_an_edit(gdf, crs):
    with np.errstate(all="ignore"):
        shown = gdf.to_crs(crs)
    assert byocframe.changes(shown).empty


def test_an_empty_display_geometry_that_was_empty_stays_unedited(gdf, tmp_path):
    shown = gdf.copy()
    shown.loc[shown.index[0], "geometry"] = shapely.GeometryCollection()  # a cap in 3857
    from byocframe.frame.snapshot import stamp

    settings = gdf.attrs["byocframe"]
    stamp(shown, collection=settings["collection"], service=settings["service"], rows=[0])
    path = tmp_path / "t.geojson"
    byocframe.write_file(shown, path)
    back = byocframe.read_file(path)
    assert back.geometry.iloc[0] is None
    assert "geometry" not in set(byocframe.changes(back)["field"])


@pytest.mark.parametrize(
    "bad",
    [None, shapely.Polygon(), shapely.Point(10, 45), shapely.LineString([(0, 0), (1, 1)])],
    ids=["none", "empty", "point", "line"],
)
def test_a_cover_that_is_not_a_polygon_is_refused(gdf, client, service, bad):
    frame = gdf.copy()
    tid = frame.index[0]
    frame.loc[tid, "geometry"] = bad
    with pytest.raises(ValidationError, match=f"tile '{tid}': geometry"):
        byocframe.push(frame, client)
    assert byocframe.changes(frame).loc[0, "action"] == "invalid"


def test_a_new_row_on_a_taken_path_with_another_cover_is_a_conflict(gdf, client, service):
    path = "taken/one/(BAND).tif"
    first = gpd.GeoDataFrame({"path": [path]}, geometry=[shapely.box(10, 45, 11, 46)], crs=4326)
    assert byocframe.push(pd.concat([gdf, first]), client).loc[:, "outcome"].tolist() == ["ok"]
    other = gpd.GeoDataFrame({"path": [path]}, geometry=[shapely.box(12, 45, 13, 46)], crs=4326)
    result = byocframe.push(pd.concat([gdf, other]), client)
    assert result["outcome"].tolist() == ["conflict"]
    held = [t for t in tiles(client, service).values() if t["path"] == path]
    assert len(held) == 1
    twice = gpd.GeoDataFrame({"path": ["twice/(BAND).tif"] * 2}, geometry=[None] * 2, crs=4326)
    with pytest.raises(ValidationError, match="another row has the path"):
        byocframe.push(pd.concat([gdf, twice]), client)


def test_duplicate_rows_and_missing_columns_and_bad_times_are_one_line(gdf):
    with pytest.raises(ValidationError, match="appears more than once"):
        byocframe.changes(pd.concat([gdf, gdf.iloc[:1]]))
    with pytest.raises(ValidationError, match="lacks the column"):
        byocframe.changes(gdf[["path", "status", "sensing_time", "loaded", "geometry"]])
    typo = gdf.copy()
    typo["sensing_time"] = typo["sensing_time"].astype(object)
    typo.loc[typo.index[2], "sensing_time"] = "2024-13-45"
    with pytest.raises(ValidationError, match="not a time"):
        byocframe.changes(typo)


def test_millisecond_files_do_not_invent_read_only_edits(gdf, client, service, tmp_path):
    created = client.create_tile(service.demo_collection, {"path": "micro/(BAND).tif"})
    assert "." in created["created"]  # the service gives microseconds
    frame = byocframe.read_tiles(client, service.demo_collection)
    for suffix in (".gpkg", ".fgb"):
        byocframe.write_file(frame, tmp_path / f"t{suffix}")
        assert byocframe.changes(byocframe.read_file(tmp_path / f"t{suffix}")).empty, suffix


def test_a_csv_with_tiles_without_geometry_reads_back(gdf, tmp_path):
    frame = gdf.iloc[:3].copy()
    new = gpd.GeoDataFrame({"path": ["n/(BAND).tif"]}, geometry=[None], crs=4326)
    byocframe.write_file(pd.concat([frame, new]), tmp_path / "t.csv")
    back = byocframe.read_file(tmp_path / "t.csv")
    assert back.geometry.iloc[3] is None


def test_others_editing_another_field_after_our_write_is_not_overwritten(gdf, client, service):
    cid = service.demo_collection
    tid = gdf.index[0]

    class Colleague:
        """Right after our PUT of the time, someone edits the cover (another field)."""

        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            attr = getattr(self._inner, name)
            if name != "update_tile":
                return attr

            def then_edit_cover(collection, tile, body, **turns):
                attr(collection, tile, body, **turns)
                record = self._inner.get_tile(collection, tile)
                ring = record["coverGeometry"]["coordinates"]
                shrunk = shapely.geometry.shape(
                    {"type": record["coverGeometry"]["type"], "coordinates": ring}
                ).buffer(-100)
                cover = {**shapely.geometry.mapping(shrunk), "crs": record["coverGeometry"]["crs"]}
                self._inner.update_tile(collection, tile, {**body, "coverGeometry": cover})

            return then_edit_cover

    gdf.loc[tid, "sensing_time"] += pd.Timedelta(hours=4)
    result = byocframe.push(gdf.loc[[tid]], Colleague(client))
    assert result.loc[tid, "outcome"] == "ok"
    held = client.get_tile(cid, tid)
    assert pd.Timestamp(held["sensingTime"]) == gdf.loc[tid, "sensing_time"].floor("ms")


def test_a_half_metre_shift_is_an_edit(gdf):
    bounds = gdf.geometry.bounds
    tid = (bounds["maxx"] - bounds["minx"]).idxmin()  # crosses no antimeridian
    shifted = gdf.copy()
    shifted.loc[tid, "geometry"] = shapely.affinity.translate(gdf.geometry[tid], 5e-6)  # ~0.5 m
    assert byocframe.changes(shifted)["field"].tolist() == ["geometry"]


def test_tiles_from_two_services_are_refused(gdf):
    from byocframe.frame.snapshot import stamp

    other = gdf.iloc[:2].copy()
    stamp(other, collection=gdf.attrs["byocframe"]["collection"], service="http://127.0.0.1:9")
    with pytest.raises(ValidationError, match="2 services"):
        byocframe.changes(pd.concat([gdf.iloc[2:5], other]))


def test_a_tile_id_without_its_token_is_refused_even_without_attrs(gdf):
    new = gpd.GeoDataFrame({"path": ["n/(BAND).tif"]}, geometry=[None], crs=4326)
    frame = pd.concat([gdf.iloc[:3], new])
    frame.loc[frame.index[1], "loaded"] = None  # and concat dropped the attrs
    with pytest.raises(ValidationError, match="no 'loaded' value"):
        byocframe.changes(frame)


def test_reingest_finds_the_collection_in_the_tokens(gdf, client, service):
    frame = gdf.iloc[:2].copy()
    frame.attrs = {}
    assert set(byocframe.reingest(frame, client)["outcome"]) == {"ok"}
    new = pd.concat(
        [frame, gpd.GeoDataFrame({"path": ["n/(BAND).tif"]}, geometry=[None], crs=4326)]
    )
    with pytest.raises(ValidationError, match="no tile id"):
        byocframe.reingest(new, client)


def test_a_filtered_load_is_verified_tile_by_tile(client, service):
    failed_or_not = byocframe.read_tiles(client, service.demo_collection, status="INGESTED")
    failed_or_not.loc[failed_or_not.index[:10], "sensing_time"] += pd.Timedelta(days=1)
    summary = byocframe.push(failed_or_not, client, dry_run=True).attrs["byocframe"]["summary"]
    assert ": 30 requests" in summary  # 10 checks, 10 writes, 10 reads (no full listing)


def test_many_refused_edits_name_twenty_and_list_all(gdf, client, service):
    frame = gdf.iloc[:25].copy()
    frame["path"] = "moved/(BAND).tif"
    served = service.requests_served
    with pytest.raises(ValidationError, match=r"(?s)25 edit\(s\).*\.\.\. and 5 more") as err:
        byocframe.push(frame, client)
    assert len(err.value.problems) == 25
    assert all("_pos" not in p for p in err.value.problems)
    assert service.requests_served == served

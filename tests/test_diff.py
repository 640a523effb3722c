"""The offline diff (byocframe.diff) and the loaded-state tokens, with no service."""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe import ValidationError
from byocframe.diff import covers_equal, plan
from byocframe.snapshot import ATTRS_KEY, geometry_digest, loaded_state, stamp
from byocframe.synthetic import synthetic_tiles


@pytest.fixture(scope="module")
def records():
    return synthetic_tiles(300, seed=7)


@pytest.fixture
def gdf(records):
    frame = byocframe.tiles_from_records(copy.deepcopy(records))
    stamp(frame, collection="c1", service="http://127.0.0.1:1")
    return frame


def test_digest_tells_every_coordinate_and_order():
    square = shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    variants = [
        square,
        shapely.Polygon([(1, 0), (0, 0), (1, 1), (0, 1)]),  # two points swapped
        shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, np.nextafter(1, 2))]),  # one ulp
        shapely.MultiPolygon([square]),
        shapely.MultiPolygon([square, shapely.box(5, 5, 6, 6)]),
        shapely.MultiPolygon([shapely.box(5, 5, 6, 6), square]),
    ]
    digests = geometry_digest([*variants, None])
    assert len(set(digests[:-1].tolist())) == len(variants)
    assert digests[-1] == 0
    again = shapely.from_wkb(shapely.to_wkb(np.array(variants, dtype=object)))
    assert (geometry_digest(again) == digests[:-1]).all()  # stable across a WKB trip


def test_every_edit_is_found_with_old_and_new(gdf):
    ids = gdf.index
    gdf.loc[ids[0], "sensing_time"] += pd.Timedelta(hours=2)
    gdf.loc[ids[1], "sensing_time"] = pd.NaT
    gdf.loc[ids[2], "geometry"] = shapely.affinity.translate(gdf.geometry[ids[2]], 0.01)
    gdf.loc[ids[3], "path"] = "elsewhere/(BAND).tif"
    found = byocframe.changes(gdf)
    assert found[["id", "field", "action"]].values.tolist() == [
        [ids[0], "sensing_time", "update"],
        [ids[1], "sensing_time", "update"],
        [ids[2], "geometry", "update"],
        [ids[3], "path", "read-only"],
    ]
    first = found.iloc[0]
    assert first["new"] - first["old"] == pd.Timedelta(hours=2)
    assert found.iloc[1]["new"] is None
    assert found.iloc[2]["old"].equals_exact(gdf.geometry[ids[2]], 0.011)
    assert found.iloc[3]["new"] == "elsewhere/(BAND).tif"


def test_sub_millisecond_edits_are_not_edits(gdf):
    """The service keeps sensing times to the millisecond."""
    gdf.loc[gdf.index[0], "sensing_time"] += pd.Timedelta(microseconds=400)
    assert byocframe.changes(gdf).empty
    gdf.loc[gdf.index[0], "sensing_time"] += pd.Timedelta(milliseconds=1)
    assert len(byocframe.changes(gdf)) == 1


def test_edited_cover_goes_to_the_native_crs_only_for_edited_rows(gdf):
    bounds = gdf.geometry.bounds
    tid = (bounds["maxx"] - bounds["minx"]).idxmin()  # one that crosses no antimeridian
    box = shapely.box(*gdf.geometry[tid].centroid.buffer(0.2).bounds)
    gdf.loc[tid, "geometry"] = box
    result = plan(gdf)
    (update,) = result.updates
    assert update.id == tid
    assert update.crs == gdf.loc[tid, "native_crs"]
    back = gpd.GeoSeries([update.wanted_cover], crs=update.crs).to_crs(4326)[0]
    assert back.symmetric_difference(box).area < 1e-9
    assert covers_equal(update.base_cover, gdf.loc[tid, "native_cover"], update.crs)


def test_concat_drop_and_filter(gdf):
    new = gpd.GeoDataFrame(
        {"path": ["n/1/(BAND).tif", None]},
        geometry=[shapely.box(1, 1, 2, 2), None],
        crs=4326,
    )
    frame = pd.concat([gdf.iloc[10:], new])
    result = plan(frame)
    assert [c.path for c in result.creates] == ["n/1/(BAND).tif", None]
    assert result.problems == [
        {"id": None, "field": "path", "value": None, "problem": "new row 291 has no path"}
    ]
    assert not result.updates
    with pytest.raises(ValidationError, match="original="):
        plan(frame, deleted=True)  # concat dropped the attrs that list the loaded ids
    assert plan(frame, deleted=True, original=gdf).deletes == list(gdf.index[:10])
    filtered = gdf[gdf["sensing_time"] > gdf["sensing_time"].median()]
    gone = plan(filtered, deleted=True).deletes
    assert sorted(gone) == sorted(gdf.index.difference(filtered.index))
    assert byocframe.changes(filtered).empty


def test_attrs_are_a_few_scalars_and_cheap_to_copy(gdf):
    settings = gdf.attrs[ATTRS_KEY]
    assert set(settings) == {"kind", "densify", "collection", "service", "loaded_ids"}
    assert all(isinstance(v, str | float | int | type(None)) for v in settings.values())
    copied = gdf[gdf.index.isin(gdf.index[:3])]
    assert copied.attrs[ATTRS_KEY]["loaded_ids"] is settings["loaded_ids"]  # not copied


def test_tokens_hold_what_was_loaded(gdf):
    state = loaded_state(gdf)
    assert state.present.all()
    assert set(state.collection) == {"c1"}
    edited = gdf.copy()
    edited["loaded"] = edited["loaded"].str[:-3] + "!!!"
    with pytest.raises(ValidationError, match="loaded"):
        byocframe.changes(edited)


def test_no_loaded_column_names_the_fix(gdf):
    with pytest.raises(ValidationError, match=r"byocframe\.read_file"):
        byocframe.changes(gdf.drop(columns="loaded"))

"""The frame's geometries are read in chunks: the chunking must not show in the frame."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.frame import footprints
from byocframe.frame.native import native_geometries
from byocframe.frame.synthetic import synthetic_tiles

DATES = ("2024-01-01", "2024-02-01", "2024-03-01")


@pytest.fixture(scope="module")
def records():
    recs = synthetic_tiles(600, dates=DATES, seed=5, polar=True)
    spoiled = copy.deepcopy(recs[437])
    spoiled["coverGeometry"]["coordinates"][0][0][2] = [1.0, "x"]
    recs[437] = spoiled
    return recs


def _build(records, chunk, monkeypatch):
    monkeypatch.setattr(footprints, "CHUNK_SIZE", chunk)
    with pytest.warns(byocframe.ByocframeWarning, match="coverGeometry") as caught:
        frame = byocframe.tiles_from_records(records)
    return frame, str(caught[0].message)


def test_a_frame_read_in_chunks_equals_one_read_at_once(records, monkeypatch):
    whole, said_whole = _build(records, 10_000, monkeypatch)
    chunked, said_chunked = _build(records, 7, monkeypatch)
    assert said_chunked == said_whole
    assert records[437]["id"] in said_chunked  # the bad cover is named by its own tile
    for column in ("geometry", "tile_geometry"):
        a, b = np.asarray(whole[column].array), np.asarray(chunked[column].array)
        same = shapely.equals_exact(a, b, tolerance=0) | (
            shapely.is_missing(a) & shapely.is_missing(b)
        )
        assert same.all(), column
    plain = [c for c in whole.columns if c not in ("geometry", "tile_geometry")]
    pd.testing.assert_frame_equal(
        pd.DataFrame(whole[plain]), pd.DataFrame(chunked[plain]), check_exact=True
    )
    assert byocframe.changes(chunked).empty


def test_a_repeated_tile_geometry_is_one_object_across_chunks(records, monkeypatch):
    frame, _ = _build(records, 7, monkeypatch)
    has = frame["native_tile"].notna()
    keys = pd.Series(
        list(zip(frame.loc[has, "native_crs"], frame.loc[has, "native_tile"], strict=True)),
        index=frame.index[has],
    )
    repeated = keys[keys.duplicated(keep=False)]
    assert len(repeated) > 100  # the same grid cell on several dates, in other chunks
    objects: dict[object, set[int]] = {}
    for tid, key in repeated.items():
        objects.setdefault(key, set()).add(id(frame.at[tid, "tile_geometry"]))
    assert all(len(ids) == 1 for ids in objects.values())
    # the same box in two polar CRSs is two footprints
    assert len({k[1] for k in objects}) < len(objects)
    natives = native_geometries(frame, "native_tile")
    assert shapely.equals_exact(
        shapely.from_wkb(frame["native_tile"].dropna().to_numpy()),
        natives[frame["native_tile"].notna().to_numpy()],
        tolerance=0,
    ).all()


def test_building_leaves_the_warning_filters_as_they_were(records, monkeypatch):
    # reprojecting on two threads at once once left every warning of the process ignored
    # (shapely.is_valid's catch_warnings is not thread-safe)
    before = list(warnings.filters)
    for chunk in (7, 10_000, 7):
        _build(records, chunk, monkeypatch)
        assert warnings.filters == before


def test_a_chunk_size_below_one_is_refused():
    with pytest.raises(ValueError, match="chunk_size"):
        footprints.read_footprints([], "EPSG:4326", densify=None, chunk_size=0)

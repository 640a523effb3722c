"""The .byoc accessor: validation, delegation, summary, maps and timelines."""

from __future__ import annotations

import threading
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

import byocframe
from byocframe import ByocframeWarning
from byocframe.frame.synthetic import synthetic_tiles


@pytest.fixture(scope="module")
def gdf():
    return byocframe.tiles_from_records(synthetic_tiles(600, seed=5))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_only_tile_frames(gdf):
    with pytest.raises(AttributeError, match="works on BYOC tile frames"):
        _ = pd.DataFrame({"a": [1]}).byoc
    assert gdf.byoc.coverage().iloc[0]["tiles"] == 600
    collections = byocframe.collections_from_records([{"id": "c", "name": "n", "s3Bucket": "b"}])
    with pytest.raises(TypeError, match="works on tile frames, not on collection frames"):
        collections.byoc.plot()


def test_summary(gdf):
    summary = gdf.byoc.summary()
    statuses = gdf["status"].value_counts()
    assert summary.tiles == 600
    assert summary.statuses == {k: int(v) for k, v in statuses.items() if v}
    assert summary.dates == 4
    assert summary.without_geometry == int(gdf.geometry.isna().sum())
    # an independent truth: pyproj's geodesic area of a shapely union in lon/lat
    union = shapely.union_all(gdf.geometry.dropna().array)
    truth = abs(pyproj.Geod(ellps="WGS84").geometry_area_perimeter(union)[0]) / 1e6
    assert summary.covered_km2 == pytest.approx(truth, rel=1e-3)
    assert sum(summary.failures.values()) == statuses["FAILED"]
    html = summary._repr_html_()
    assert "<table>" in html
    assert "Failures" in html
    assert "600 tiles" in str(summary)
    assert len(repr(summary)) < 300  # the top entries, not every cause
    kinds = summary.failures
    assert all("tiles/" not in kind for kind in kinds)  # grouped: one line per kind


class TestPlot:
    def test_status_map(self, gdf):
        ax = gdf.byoc.plot(basemap=False)
        drawn = gdf.geometry.notna().sum()
        polygons = sum(len(c.get_paths()) for c in ax.collections)
        assert polygons >= drawn  # MultiPolygon parts may add paths
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        counts = gdf.loc[gdf.geometry.notna(), "status"].value_counts()
        assert labels == [
            f"{status} ({counts[status]:,})"
            for status in ("WAITING", "QUEUED", "INGESTING", "INGESTED", "FAILED")
            if counts[status]
        ]
        assert len(labels) == 3
        assert "600 tiles on 4 dates" in ax.get_title()
        xmin, xmax = ax.get_xlim()
        assert -180 <= xmin < xmax <= 180

    def test_no_band_across_the_map(self, gdf):
        ax = gdf.byoc.plot(basemap=False)
        rings = [
            ring
            for collection in ax.collections
            for path in collection.get_paths()
            for ring in path.to_polygons()
        ]
        assert len(rings) >= gdf.geometry.notna().sum()
        # a crosser drawn unwrapped would be a band ~360 degrees wide; only polar caps
        # (which hold the pole) may be that wide
        wide = [ring for ring in rings if ring[:, 0].max() - ring[:, 0].min() > 180]
        assert wide
        assert all(np.abs(ring[:, 1]).max() == 90 for ring in wide)

    def test_datetime_colorbar(self, gdf):
        spread = gdf.assign(sensing_time=pd.date_range("2024-06-01", periods=len(gdf), tz="UTC"))
        ax = spread.byoc.plot("sensing_time", basemap=False)  # many dates: a colour bar
        colorbar_axes = [a for a in ax.figure.axes if a is not ax]
        assert len(colorbar_axes) == 1
        assert "2024-" in colorbar_axes[0].get_yticklabels()[0].get_text()

    def test_offline_fallback_draws_land_and_warns(self, gdf, monkeypatch):
        unreachable = "http://127.0.0.1:9/{z}/{x}/{y}.png"
        monkeypatch.setattr("byocframe.maps.basemap._fallback_said", threading.Event())
        with pytest.warns(ByocframeWarning, match="land layer shipped with byocframe"):
            ax = gdf.byoc.plot(basemap=unreachable)
        land = ax.collections[0]
        assert len(land.get_paths()[0].vertices) > 5000  # the shipped 1:110m land layer

    def test_offline_setting_draws_land_without_warning(self, gdf):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ax = gdf.byoc.plot()
        assert len(ax.collections[0].get_paths()[0].vertices) > 5000


def test_timeline(gdf):
    ax = gdf.byoc.timeline()
    statuses = (gdf["status"].value_counts() > 0).sum()
    assert len(ax.patches) == 4 * statuses
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "2024-06-01",
        "2024-06-11",
        "2024-06-21",
        "2024-07-01",
    ]


def test_a_files_frame_is_told_apart_from_a_collections_frame(tmp_path):
    """A read_bucket frame was refused as a 'collection frame', and push went to collections."""
    files = pd.DataFrame({"key": ["t/2024/B01.tif"], "header_size": [1328]})
    for call in (files.byoc.plot, files.byoc.summary, files.byoc.timeline):
        with pytest.raises(TypeError, match=r"works on tile frames, not on files frames") as caught:
            call()
        assert "byocframe.read_bucket()" in str(caught.value)
        assert ".byoc.check()" in str(caught.value)  # what does work on it
    with pytest.raises(TypeError, match=r"\.byoc\.push\(\) works on tile frames"):
        files.byoc.push(None)
    collections = byocframe.collections_from_records([{"id": "c", "name": "n", "s3Bucket": "b"}])
    with pytest.raises(TypeError, match="not on collection frames") as caught:
        collections.byoc.plot()
    assert ".byoc.push()" in str(caught.value)  # what does work on it

"""Static coverage maps: categories for few values, a layout that keeps the text, the AOI
view, tiles without geometry in the legend, and the offline fallback said once."""

from __future__ import annotations

import io
import threading
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.colors import to_hex

import byocframe
from byocframe.exceptions import ByocframeWarning
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.tools.stats import coverage


@pytest.fixture(scope="module")
def gdf():
    return byocframe.tiles_from_records(synthetic_tiles(400, seed=2))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def legend_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_few_dates_get_a_colour_each_and_a_legend(gdf):
    ax = gdf.byoc.plot("sensing_time", basemap=False)
    days = gdf["sensing_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d")
    counts = days.value_counts()
    assert sorted(counts.index) == ["2024-06-01", "2024-06-11", "2024-06-21", "2024-07-01"]
    assert legend_labels(ax) == [f"{d} ({counts[d]:,})" for d in sorted(counts.index)]
    assert ax.get_legend().get_title().get_text() == "sensing_time (UTC date)"
    assert [a for a in ax.figure.axes if a is not ax] == []  # no colour bar
    swatches = [to_hex(h.get_facecolor()) for h in ax.get_legend().legend_handles]
    assert len(set(swatches)) == 4
    # each tile is painted in its date's colour
    tiles = ax.collections[-1]
    painted = {to_hex(c) for c in tiles.get_facecolor()}
    assert painted == set(swatches)


def test_many_dates_keep_a_colour_bar(gdf):
    spread = gdf.assign(sensing_time=pd.date_range("2024-01-01", periods=len(gdf), tz="UTC"))
    ax = spread.byoc.plot("sensing_time", basemap=False)
    bars = [a for a in ax.figure.axes if a is not ax]
    assert len(bars) == 1
    assert ax.get_legend() is None


def test_few_numbers_are_categories(gdf):
    ax = gdf.assign(level=np.arange(len(gdf)) % 3).byoc.plot("level", basemap=False)
    assert [label.split(" ")[0] for label in legend_labels(ax)] == ["0", "1", "2"]


def test_a_plain_savefig_keeps_every_text_inside_the_figure(gdf):
    figure, ax = plt.subplots(figsize=(5, 2.6))  # no layout engine: the user's own axes
    gdf.byoc.plot(ax=ax, basemap=False, title="a title\non two lines")
    figure.savefig(io.BytesIO(), format="png")  # no bbox_inches="tight"
    renderer = figure.canvas.get_renderer()
    box = figure.bbox
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, ax.get_legend()]
    texts += [t for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_visible()]
    for text in texts:
        extent = text.get_window_extent(renderer)
        assert extent.x0 >= box.x0 - 1
        assert extent.y0 >= box.y0 - 1, text
        assert extent.x1 <= box.x1 + 1
        assert extent.y1 <= box.y1 + 1, text


def test_aoi_zooms_the_map(gdf):
    aoi = (-60, -30, -45, -15)
    ax = gdf.byoc.plot(aoi=aoi, basemap=False)
    west, east = ax.get_xlim()
    south, north = ax.get_ylim()
    assert -62 <= west <= -60
    assert -45 <= east <= -43
    assert -32 <= south <= -30
    assert -15 <= north <= -13


def test_tiles_without_geometry_stay_in_the_legend(gdf):
    frame = gdf.head(30).copy()
    frame["status"] = frame["status"].astype("string")
    frame.loc[frame.index[:2], "status"] = "FAILED"
    frame.loc[frame.index[:2], "geometry"] = None  # the only FAILED tiles: nothing to draw
    ax = frame.byoc.plot(basemap=False)
    assert legend_labels(ax) == ["INGESTED (28)", "FAILED (0 + 2 without geometry, not drawn)"]
    assert "(2 without geometry not drawn)" in ax.get_title()


def test_tiles_too_small_to_see_are_marked(gdf):
    frame = gdf.head(6).copy()
    tiny = [shapely.box(x, 10, x + 0.01, 10.01) for x in (-150, -50, 50, 150)]
    frame.loc[frame.index[:4], "geometry"] = tiny  # 1 km tiles on a world map
    ax = frame.byoc.plot(basemap=False)
    dots = [c for c in ax.collections if c.get_label() == "_small tiles"]
    assert len(dots) == 1
    assert sorted(np.round(dots[0].get_offsets()[:, 0]).tolist()) == [-150, -50, 50, 150]


def test_tiles_a_few_pixels_wide_are_drawn_without_a_dot(gdf):
    """The demo's ~1 degree tiles on a world map: each several pixels wide, none dotted."""
    frame = gdf.head(40).copy()
    xs, ys = np.meshgrid(np.linspace(-170, 169, 8), np.linspace(-70, 69, 5))
    frame["geometry"] = [
        shapely.box(x, y, x + 1, y + 1) for x, y in zip(xs.flat, ys.flat, strict=True)
    ]
    frame.loc[frame.index[:2], "geometry"] = [shapely.box(x, 0, x + 0.1, 0.1) for x in (0, 20)]
    ax = frame.byoc.plot(basemap=False)
    ax.figure.canvas.draw()  # the layout as saved
    # an independent truth: the drawn width of a 1 degree tile in pixels
    (x0, _), (x1, _) = ax.transData.transform([(0, 0), (1, 0)])
    assert x1 - x0 > 2
    dots = [c for c in ax.collections if c.get_label() == "_small tiles"]
    assert len(dots) == 1
    assert sorted(np.round(dots[0].get_offsets()[:, 0]).tolist()) == [0.0, 20.0]


def test_basemap_fallback_is_one_line_said_once_per_process(gdf, monkeypatch):
    monkeypatch.setattr("byocframe.maps.basemap._fallback_said", threading.Event())
    unreachable = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    small = gdf.head(20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        small.byoc.plot(basemap=unreachable)
        small.byoc.plot(basemap=unreachable)
    said = [w for w in caught if issubclass(w.category, ByocframeWarning)]
    assert len(said) == 1
    text = str(said[0].message)
    assert "\n" not in text
    assert len(text) < 200
    assert "BYOCFRAME_OFFLINE=1" in text
    assert "urllib3" not in text
    assert "HTTPConnectionPool" not in text
    assert said[0].filename == __file__  # it points at the user's plot call


@pytest.mark.parametrize("column", ["nope", "native_cover", "tile_geometry"])
def test_a_column_that_cannot_colour_a_map_is_one_line_naming_those_that_can(gdf, column):
    # a missing column was a bare KeyError; the WKB column a UnicodeDecodeError
    for draw in (gdf.byoc.plot, gdf.byoc.explore):
        with pytest.raises(ValueError, match="so it cannot colour the map; pick one of") as caught:
            draw(column, basemap=False) if draw == gdf.byoc.plot else draw(column, tiles=None)
        message = str(caught.value)
        assert message.startswith(f"column={column!r} ")
        assert "\n" not in message
        assert "status, sensing_time" in message
        assert "native_cover" not in message.split("pick one of")[1]
        assert "tile_geometry" not in message.split("pick one of")[1]
    assert plt.get_fignums() == []  # refused before a figure is made


def test_an_empty_frame_draws_without_warnings(gdf):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = gdf.iloc[:0].byoc.plot(basemap=False)
        assert ax.get_title().startswith("0 tiles")
        gdf.iloc[:0].byoc.timeline()


def test_the_timeline_area_line_stays_inside_its_axis(gdf):
    """The covered-area markers sat on (or above) the top edge, under the title."""
    one_date = gdf[gdf["sensing_time"].dt.strftime("%m-%d") == "06-01"]
    same_mosaic = pd.concat(  # one mosaic on four dates: a flat line, as in the demo
        one_date.assign(sensing_time=one_date["sensing_time"] + pd.Timedelta(days=10 * k))
        for k in range(4)
    )
    for frame in (gdf, same_mosaic):
        ax = frame.byoc.timeline()
        twin = next(a for a in ax.figure.axes if a is not ax)
        heights = twin.lines[0].get_ydata()
        expected = coverage(frame, by="sensing_time")["covered_km2"] / 1e6
        np.testing.assert_allclose(heights, expected.to_numpy())  # the line is the coverage
        bottom, top = twin.get_ylim()
        assert bottom == 0
        assert heights.max() <= 0.92 * top  # headroom below the title
        plt.close("all")


def test_an_aoi_map_counts_the_tiles_that_meet_the_aoi(gdf):
    """Zoomed to an AOI, the legend counted every tile of the frame, seen or not."""
    aoi = (170, 60, 179, 70)
    meeting = gdf[gdf.intersects(shapely.box(*aoi))]
    assert 0 < len(meeting) < len(gdf)
    days = meeting["sensing_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d")
    counts = days.value_counts()
    every_day = sorted(gdf["sensing_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d").unique())
    ax = gdf.byoc.plot("sensing_time", aoi=aoi, basemap=False)
    assert legend_labels(ax) == [f"{d} ({counts.get(d, 0):,})" for d in every_day]
    assert ax.get_title() == (
        f"{len(meeting):,} of {len(gdf):,} tiles meet the AOI, on {days.nunique()} dates"
    )
    statuses = meeting["status"].astype("string").value_counts()
    ax = gdf.byoc.plot(aoi=aoi, basemap=False)  # by status: drawn in another order
    assert {label.split(" (")[0]: label for label in legend_labels(ax)} == {
        s: f"{s} ({statuses.get(s, 0):,})" for s in gdf["status"].astype("string").unique()
    }


def test_geopandas_figure_and_legend_keywords_are_honoured(gdf):
    """figsize, legend=False and legend_kwds mean what they mean in GeoDataFrame.plot."""
    ax = gdf.byoc.plot(figsize=(5, 3), basemap=False)
    assert tuple(ax.figure.get_size_inches()) == (5, 3)
    assert gdf.byoc.plot(legend=False, basemap=False).get_legend() is None
    assert gdf.byoc.plot("sensing_time", legend=False, basemap=False).get_legend() is None
    ax = gdf.byoc.plot(legend_kwds={"loc": "upper right", "title": "tile status"}, basemap=False)
    assert ax.get_legend()._loc == 1  # matplotlib's code for "upper right"
    assert ax.get_legend().get_title().get_text() == "tile status"
    spread = gdf.assign(sensing_time=pd.date_range("2024-01-01", periods=len(gdf), tz="UTC"))
    ax = spread.byoc.plot("sensing_time", legend=False, basemap=False)
    assert [a for a in ax.figure.axes if a is not ax] == []  # no colour bar either


def test_a_cmap_colours_the_classes(gdf):
    magma = plt.get_cmap("magma")(np.linspace(0, 1, 256))[:, :3]
    viridis = plt.get_cmap("viridis")(np.linspace(0, 1, 256))[:, :3]
    ax = gdf.byoc.plot("sensing_time", cmap="magma", basemap=False)
    swatches = [np.asarray(h.get_facecolor())[:3] for h in ax.get_legend().legend_handles]
    assert len(swatches) == 4
    for swatch in swatches:  # a magma colour, and not the default viridis one
        assert np.abs(magma - swatch).sum(axis=1).min() < 0.02
        assert np.abs(viridis - swatch).sum(axis=1).min() > 0.02


def test_color_draws_every_tile_in_one_colour(gdf):
    ax = gdf.byoc.plot(color="red", basemap=False)
    painted = {to_hex(c) for c in ax.collections[-1].get_facecolor()}
    assert painted == {"#ff0000"}
    assert ax.get_legend() is None
    with pytest.warns(ByocframeWarning, match="Using 'color'"):  # geopandas' warning
        ax = gdf.byoc.plot("sensing_time", color="red", basemap=False)
    assert {to_hex(c) for c in ax.collections[-1].get_facecolor()} == {"#ff0000"}


def test_categorical_gives_many_numbers_a_class_each(gdf):
    levels = gdf.assign(level=np.arange(len(gdf)) % 9)  # more than MAX_CATEGORIES // 2
    assert levels.byoc.plot("level", basemap=False).get_legend() is None  # a colour bar
    ax = levels.byoc.plot("level", categorical=True, basemap=False)
    assert [label.split(" ")[0] for label in legend_labels(ax)] == [str(v) for v in range(9)]


def test_empty_geometries_draw_without_geopandas_notna_warning(gdf):
    """A frame in a CRS that leaves far tiles empty (EPSG:3035) warned from GeoSeries.notna."""
    frame = gdf.head(30).copy()
    frame.loc[frame.index[:5], "geometry"] = shapely.Polygon()  # empty, as to_crs leaves them
    frame.loc[frame.index[5:7], "geometry"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = frame.byoc.plot(basemap=False)
    assert "(7 without geometry not drawn)" in ax.get_title()
    assert len(ax.collections[-1].get_paths()) >= 23

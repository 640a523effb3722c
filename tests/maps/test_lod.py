"""Levels of detail in `explore`: merged cells at low zoom, tiles once zoomed in.

The browser test drives chromium as ``test_explore.py`` does (its `Browser`).
"""

from __future__ import annotations

import base64
import gzip
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import shapely
from test_explore import browser, decode_tiles, load, page_data, remote_loads  # noqa: F401  (a fixture)

import byocframe
from byocframe.exceptions import ByocframeWarning
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.maps import webmap
from byocframe.maps.webmap import DEFAULT_LOD, LevelOfDetail, explore

SMALL = LevelOfDetail(threshold=500, view_tiles=400)


@pytest.fixture(scope="module")
def tiles():
    gdf = byocframe.tiles_from_records(synthetic_tiles(3000, seed=1))
    gdf["status"] = gdf["status"].astype("string")
    return gdf


def groups(layer: dict) -> list[dict]:
    """Each group inflated, as the page script reads it."""
    return [json.loads(gzip.decompress(base64.b64decode(g["z"]))) for g in layer["lod"]["groups"]]


def outlines(group: dict, scale: int) -> list[shapely.Geometry]:
    """A group's tiles rebuilt from its deltas and counts (one outline per tile)."""
    xy = np.cumsum(np.asarray(group["x"]).reshape(-1, 2), axis=0) / scale
    rings = np.r_[0, np.cumsum(group["r"])]
    parts = np.r_[0, np.cumsum(group["p"])]
    shapes_at = np.r_[0, np.cumsum(group["g"])]
    shapes = []
    for s in range(len(group["g"])):
        polygons = []
        for p in range(shapes_at[s], shapes_at[s + 1]):
            shell, *holes = (xy[rings[r] : rings[r + 1]] for r in range(parts[p], parts[p + 1]))
            polygons.append(shapely.Polygon(shell, holes))
        shapes.append(shapely.MultiPolygon(polygons))
    which = group.get("i", range(len(group["c"])))
    return [shapes[i] for i in which]


def field_texts(field: dict) -> list[str | None]:
    if "k" in field:
        return [None if k < 0 else field["v"][k] for k in field["k"]]
    seconds = np.cumsum(field["d"])
    out = [pd.Timestamp(int(s), unit="s").strftime("%Y-%m-%d %H:%M:%S UTC") for s in seconds]
    return [None if t in field["z"] else text for t, text in enumerate(out)]


# --- the page, read in Python ------------------------------------------------------------


def test_small_frames_draw_every_tile_as_before(tiles):
    plain = explore(tiles, tiles=None, lod=None).html
    assert explore(tiles, tiles=None).html == plain  # 3,000 tiles: under the threshold
    assert "lod" not in page_data(plain)["layers"][0]


def test_groups_carry_every_tile_once_with_its_outline_and_popup(tiles):
    m = explore(tiles, tiles=None, lod=SMALL)
    layer = page_data(m.html)["layers"][0]
    assert "tiles" not in layer  # the tiles travel only in the compressed groups
    drawn = tiles[tiles.geometry.notna() & ~tiles.geometry.is_empty]
    truth = drawn.set_index("path")
    scale = 10 ** layer["decimals"]
    names = layer["fieldnames"]
    assert "id" not in names  # random ids do not compress: out of the default popup
    seen = []
    for group in groups(layer):
        texts = {f["n"]: field_texts(f) for f in group["f"]}
        assert list(texts) == names
        for t, outline in enumerate(outlines(group, scale)):
            row = truth.loc[texts["path"][t]]
            seen.append(texts["path"][t])
            assert texts["status"][t] == row["status"]
            stamp = row["sensing_time"].tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S UTC")
            assert texts["sensing_time"][t] == stamp
            assert layer["classes"]["labels"][group["c"][t]] == row["status"]
            # as on the plain page (test_explore): Douglas-Peucker to 0.01, then rounding
            assert shapely.hausdorff_distance(outline, row.geometry) <= 0.0125 + 1 / scale
            assert abs(outline.area / row.geometry.area - 1) <= 0.02
    assert sorted(seen) == sorted(drawn["path"])
    assert sum(g["n"] for g in layer["lod"]["groups"]) == len(drawn)
    assert layer["classes"]["totals"] == [
        int((drawn["status"] == label).sum()) for label in layer["classes"]["labels"]
    ]


def test_each_tile_counts_in_the_cell_of_a_point_inside_it(tiles):
    layer = page_data(explore(tiles, tiles=None, lod=SMALL).html)["layers"][0]
    ov = layer["lod"]["overview"]
    labels = layer["classes"]["labels"]
    cells = np.frombuffer(base64.b64decode(ov["cells"]), "<i4")
    counts = np.frombuffer(base64.b64decode(ov["counts"]), "<i4").reshape(len(cells), -1)
    drawn = tiles[tiles.geometry.notna()]
    inside = drawn.geometry.representative_point()
    col = np.floor((inside.x + 180) / ov["cell"]).astype(int)
    row = np.floor((inside.y + 90) / ov["cell"]).astype(int)
    expected = pd.Series(1, index=[row * ov["cols"] + col, drawn["status"]]).groupby(level=[0, 1])
    for (cell, status), n in expected.sum().items():
        where = np.searchsorted(cells, cell)
        assert cells[where] == cell, f"cell {cell} holds a tile but is not drawn"
        assert counts[where, labels.index(status)] >= n
    # and a cell counts exactly the tiles with a part whose box overlaps it (an STRtree)
    parts, owner = shapely.get_parts(drawn.geometry.to_numpy(), return_index=True)
    tree = shapely.STRtree(shapely.envelope(parts))
    size = ov["cell"]
    for where in range(0, len(cells), max(1, len(cells) // 200)):
        x, y = cells[where] % ov["cols"], cells[where] // ov["cols"]
        inner = shapely.box(
            x * size - 180, y * size - 90, (x + 1) * size - 180, (y + 1) * size - 90
        )
        hits = tree.query(inner.buffer(-1e-9, join_style="mitre"), predicate="intersects")
        assert counts[where].sum() == len(set(owner[hits].tolist()))


def test_lod_none_on_a_large_frame_warns_naming_the_setting(tiles, monkeypatch):
    monkeypatch.setattr(webmap, "DEFAULT_LOD", LevelOfDetail(threshold=100))
    with pytest.warns(ByocframeWarning, match=r"LevelOfDetail\.threshold=100 tiles"):
        explore(tiles, tiles=None, lod=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explore(tiles, tiles=None)  # the default levels of detail: no warning


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: LevelOfDetail(threshold=-1), r"LevelOfDetail\.threshold must be an int >= 0"),
        (lambda: LevelOfDetail(view_tiles=1.5), r"LevelOfDetail\.view_tiles must be an int"),
        (lambda: LevelOfDetail(bucket=0), r"LevelOfDetail\.bucket must be a number of degrees"),
        (lambda: LevelOfDetail(cell=180), r"pass e\.g\. cell=1\.0"),
    ],
)
def test_bad_settings_name_the_setting(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_lod_must_be_a_level_of_detail(tiles):
    with pytest.raises(ValueError, match=r"lod must be a byocframe\.maps\.LevelOfDetail"):
        explore(tiles, lod=5000)  # type: ignore[arg-type]
    assert DEFAULT_LOD.threshold == 50_000


def test_the_caption_names_the_settings(tiles):
    info = page_data(explore(tiles, tiles=None, lod=SMALL).html)["layers"][0]["info"]
    assert any("LevelOfDetail.threshold" in line for line in info)
    assert any("at most 400 tiles are in view" in line for line in info)


# --- the page, in a real browser ---------------------------------------------------------


def settled(mode: str) -> str:
    """Resolves once the level-of-detail layers show ``mode`` and nothing is pending.

    Also once a closed popup has faded out of the page (Leaflet removes it 200 ms
    later): until then a click at its anchor lands on it, not on the map.
    """
    return f"""new Promise(resolve => {{
  const check = () => document.body.dataset.lodPending === "0" &&
      document.body.dataset.lod === "{mode}" && !document.querySelector(".leaflet-popup")
    ? requestAnimationFrame(() => resolve(Number(document.body.dataset.lodTiles)))
    : setTimeout(check, 50);
  check();
}})"""


#: Rings drawn in each class's cell and tile layers, and whether each is on the map.
LAYERS = """(() => {
  const out = [];
  byocframeMap.eachLayer(l => {
    if (l instanceof L.Polygon && l.options.pane === "overlayPane") {
      out.push([l.options.stroke === false ? "cells" : "tiles", l.getLatLngs().length]);
    }
  });
  return out;
})()"""


def test_lod_page_shows_cells_at_low_zoom_and_tiles_zoomed_in(browser, tiles, tmp_path):  # noqa: F811
    from test_explore import click

    page = explore(tiles, tiles=None, lod=SMALL)
    assert remote_loads(page.html) == []
    assert load(browser, page.save(tmp_path / "lod.html")) == page.drawn
    # the world view: every class as merged cells, no tile drawn one by one
    assert browser.evaluate(settled("overview")) == 0
    shown = browser.evaluate(LAYERS)
    assert {kind for kind, _ in shown} == {"cells"}
    assert sum(n for _, n in shown) > 300  # cells, for the ~2,900 drawn tiles

    drawn = tiles[tiles.geometry.notna()]
    target = drawn.iloc[len(drawn) // 2]
    point = target.geometry.representative_point()
    text = click(browser, point)
    assert text is not None
    assert "zoom in to see the tiles" in text
    assert target["status"] in text

    browser.evaluate(
        f"byocframeMap.closePopup(), byocframeMap.setView([{point.y}, {point.x}], 8), 0"
    )
    in_view = browser.evaluate(settled("tiles"))
    assert 0 < in_view <= SMALL.view_tiles
    shown = browser.evaluate(LAYERS)
    assert {kind for kind, _ in shown} == {"tiles"}
    assert sum(n for _, n in shown) >= 1
    text = click(browser, point)
    holding = drawn[drawn.geometry.contains(point)]
    assert text is not None
    assert any(path in text for path in holding["path"]), text  # a tile's own popup

    browser.evaluate("byocframeMap.closePopup(), byocframeMap.setView([0, 0], 1), 0")
    assert browser.evaluate(settled("overview")) == 0

    assert browser.problems() == []

    # a view in the address (#zoom/lat/lon) opens on the tiles themselves
    browser.events.clear()
    again = page.save(tmp_path / "again.html").as_uri()
    browser.send("Page.navigate", url=f"{again}#8/{point.y:.5f}/{point.x:.5f}")
    browser.wait_for("Page.loadEventFired")
    assert 0 < browser.evaluate(settled("tiles")) <= SMALL.view_tiles
    assert browser.problems() == []
    assert [u for u in browser.requested() if not u.startswith(("file:", "data:"))] == []


def test_a_lod_layer_and_a_plain_one_share_a_map(tiles):
    m = explore(tiles, tiles=None, lod=SMALL)
    failed = tiles[tiles["status"] == "FAILED"]
    m = explore(failed, m=m, name="failed", lod=SMALL)  # under the threshold: tile by tile
    first, second = page_data(m.html)["layers"]
    assert "lod" in first
    assert "lod" not in second
    assert m.drawn == first["drawn"] + second["drawn"]


def test_the_accessor_passes_lod_through(tiles):
    layer = page_data(tiles.byoc.explore(tiles=None, lod=SMALL).html)["layers"][0]
    assert layer["lod"]["view_tiles"] == SMALL.view_tiles
    assert "lod" not in page_data(tiles.byoc.explore(tiles=None).html)["layers"][0]
    with pytest.raises(ValueError, match=r'lod must be a LevelOfDetail, None or "default"'):
        tiles.byoc.explore(lod="auto")


@pytest.mark.parametrize("crs", [None, "EPSG:3832"], ids=["lonlat", "pacific"])
def test_antimeridian_and_polar_tiles_show_at_both_levels(browser, tiles, tmp_path, crs):  # noqa: F811
    """A tile cut at the antimeridian shows on both sides and nowhere else, a polar one
    below 85 degrees (the web map's edge): as cells at the world view, as itself zoomed
    in; also from a frame in a CRS centred on the antimeridian (EPSG:3832), which
    geopandas' to_crs took back to lon/lat as bands around the globe."""
    from test_explore import click

    bounds = tiles.geometry.bounds
    crossing = tiles[(bounds.minx <= -180) & (bounds.maxx >= 180)].iloc[:2]
    polar = tiles[(bounds.miny < -80) & (bounds.maxy > -85)].iloc[:2]
    assert len(crossing) == len(polar) == 2
    page = explore(tiles if crs is None else tiles.to_crs(crs), tiles=None, lod=SMALL)
    load(browser, page.save(tmp_path / "edges.html"))
    assert browser.evaluate(settled("overview")) == 0
    # views set at once: Leaflet ignores a new zoom while it animates one
    browser.evaluate("window.NOW = {animate: false}")
    places = []
    for path, geom in zip(
        [*crossing["path"], *polar["path"]], [*crossing.geometry, *polar.geometry], strict=True
    ):
        for part in shapely.get_parts(geom):
            visible = shapely.clip_by_rect(part, -180, -85, 180, 85)
            if not visible.is_empty and visible.area > 0.05:
                places.append((path, visible.representative_point()))
    assert len(places) >= 6  # both sides of each crossing tile, each polar tile
    for path, point in places:
        view = f"[{point.y}, {point.x}]"
        browser.evaluate(f"byocframeMap.closePopup(), byocframeMap.setView({view}, 2, NOW), 0")
        browser.evaluate(settled("overview"))
        text = click(browser, point)
        assert text is not None, (path, point)
        assert "zoom in to see the tiles" in text
        browser.evaluate(f"byocframeMap.closePopup(), byocframeMap.setView({view}, 7, NOW), 0")
        assert 0 < browser.evaluate(settled("tiles")) <= SMALL.view_tiles
        text = click(browser, point)
        holding = tiles[tiles.geometry.contains(point)]["path"]
        assert path in set(holding)
        assert text is not None, (path, point)
        assert any(p in text for p in holding), (path, point, text)
    for path, point in places[:4]:  # nor a few degrees past its other side
        beyond = shapely.Point((point.x + np.sign(point.x) * 4.5 + 180) % 360 - 180, point.y)
        view = f"[{beyond.y}, {beyond.x}]"
        browser.evaluate(f"byocframeMap.closePopup(), byocframeMap.setView({view}, 7, NOW), 0")
        browser.evaluate(settled("tiles"))
        text = click(browser, beyond)
        assert text is None or path not in text, (path, beyond, text)
    assert browser.problems() == []


def test_a_frame_in_another_crs_is_drawn_as_in_lon_lat(tiles):
    """Both pages of a frame in EPSG:3832 (centred on the antimeridian) hold the cells and
    outlines of the frame in lon/lat: crossing tiles cut at +/-180, not around the globe."""
    pacific = tiles.to_crs("EPSG:3832")
    cells = {}
    for name, frame in (("lonlat", tiles), ("pacific", pacific)):
        ov = page_data(explore(frame, tiles=None, lod=SMALL).html)["layers"][0]["lod"]["overview"]
        cells[name] = set(np.frombuffer(base64.b64decode(ov["cells"]), "<i4").tolist())
    assert len(cells["pacific"] ^ cells["lonlat"]) <= 0.01 * len(cells["lonlat"])
    layer = page_data(explore(pacific, tiles=None, lod=SMALL).html)["layers"][0]
    scale = 10 ** layer["decimals"]
    truth = tiles[tiles.geometry.notna()].set_index("path")
    for group in groups(layer):
        paths = {f["n"]: field_texts(f) for f in group["f"]}["path"]
        for path, outline in zip(paths, outlines(group, scale), strict=True):
            assert (
                shapely.hausdorff_distance(outline, truth.loc[path, "geometry"])
                <= 0.0125 + 1 / scale
            )
    plain = page_data(explore(pacific, tiles=None, lod=None).html)["layers"][0]["tiles"]
    drawn = decode_tiles(plain)
    assert (
        max(shapely.hausdorff_distance(a, b) for a, b in zip(drawn, truth.geometry, strict=True))
        <= 0.0125 + 1 / plain["scale"]
    )

"""Every edit to a cover is reported and pushed, or refused per tile (issue: nothing unseen).

The truth each test holds the diff to is computed here, independently: an edit is a
cover whose normalised coordinates differ from the loaded one's (shapely), and a
refusal names the tile.
"""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

import byocframe
from byocframe import ValidationError
from byocframe.edits.diff import plan
from byocframe.frame.digests import geometry_digest
from byocframe.frame.synthetic import synthetic_tiles

N = 1500
_RECORDS = synthetic_tiles(N, seed=11)


@pytest.fixture(scope="module")
def records():
    return _RECORDS


@pytest.fixture
def gdf(records):
    return byocframe.tiles_from_records(copy.deepcopy(records))


def _same(a, b) -> bool:
    """The same cover up to vertex order, ring start and part order (displayed)."""
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=1e-7))


def _in_native(geom, crs):
    """Independent of byocframe: pyproj vertex by vertex, parts cut at the antimeridian
    joined again (a 1 m closing)."""
    mover = Transformer.from_crs("OGC:CRS84", crs, always_xy=True)
    moved = shapely.transform(geom, lambda xy: np.column_stack(mover.transform(*xy.T)))
    if shapely.get_num_geometries(moved) > 1:
        moved = shapely.union_all(shapely.buffer(shapely.get_parts(moved), 1.0)).buffer(-1.0)
    return moved


def _verdict(frame, tid, new) -> str:
    """'edited', 'same' or 'unclear' for a new displayed cover of tile ``tid``."""
    crs, loaded = frame.loc[tid, "native_crs"], frame.byoc.native_covers()[tid]
    mine = _in_native(new, crs)
    xy = shapely.get_coordinates(mine)
    cut = shapely.get_num_geometries(frame.geometry[tid]) > 1 or (
        abs(frame.geometry[tid].bounds[1]) == 90 or abs(frame.geometry[tid].bounds[3]) == 90
    )
    if not np.isfinite(xy).all() or not (cut or shapely.is_valid(mine)):
        return "edited"  # refused, or sent: either way it must be seen
    mine = shapely.make_valid(mine)
    far = shapely.hausdorff_distance(shapely.boundary(mine), shapely.boundary(loaded), densify=0.02)
    lost = shapely.area(shapely.symmetric_difference(mine, loaded)) / shapely.area(loaded)
    # the diff's tolerance is 2 cm (0.5 m shown cut or at a pole); this truth joins cut
    # parts roughly (tens of metres off near a pole), so it only judges big moves there
    if far > (200.0 if cut else 0.025) or lost > 1e-3:
        return "edited"
    return "same" if far < 0.015 and not cut else "unclear"


def _apply(frame, ids, edit):
    """Edit the displayed covers of ``ids``: the ids edited, and those surely the same."""
    changed, same = [], []
    for tid in ids:
        new = edit(frame.geometry[tid])
        verdict = _verdict(frame, tid, new)
        frame.loc[tid, "geometry"] = new
        if verdict == "edited":
            changed.append(tid)
        elif verdict == "same":
            same.append(tid)
    return changed, same


def _nowhere():
    """A client of a port nothing listens on: a refusal must come before any request."""
    return byocframe.Client(base_url="http://127.0.0.1:9", client_id="i", client_secret="s")


def _seen(frame) -> set:
    """Ids the diff reports as a geometry update or refuses as an invalid geometry."""
    found = byocframe.changes(frame)
    geometry = found[found["field"] == "geometry"]
    assert set(geometry["action"]) <= {"update", "invalid"}
    return set(geometry["id"])


def _flip_y(geom):
    return shapely.transform(geom, lambda xy: xy * [1.0, -1.0])


def _flip_x(geom):
    return shapely.transform(geom, lambda xy: xy * [-1.0, 1.0])


def _swap_two(geom):
    """Swap the 2nd and 3rd vertices of the first ring."""
    poly = shapely.get_geometry(geom, 0) if geom.geom_type == "MultiPolygon" else geom
    ring = np.array(poly.exterior.coords)
    ring[[1, 2]] = ring[[2, 1]]
    return shapely.Polygon(ring)


def _flip_one_lon(geom):
    """One vertex (not the closing one) gets the opposite longitude."""
    poly = shapely.get_geometry(geom, 0) if geom.geom_type == "MultiPolygon" else geom
    ring = np.array(poly.exterior.coords)
    ring[2, 0] = -ring[2, 0]
    return shapely.Polygon(ring)


@pytest.mark.parametrize(
    "edit", [_flip_y, _flip_x, _swap_two, _flip_one_lon], ids=["lat", "lon", "swap", "one-lon"]
)
def test_every_structured_edit_is_reported_or_refused(gdf, edit):
    ids = gdf.index[::5][:300]
    changed, same = _apply(gdf, ids, edit)
    assert len(changed) > 100  # the edits are real
    seen = _seen(gdf)
    assert set(changed) <= seen
    assert not seen & set(same)


def test_a_latitude_fix_survives_a_geoparquet_round_trip(gdf, tmp_path):
    pytest.importorskip("pyarrow")
    changed, same = _apply(gdf, gdf.index[:300], _flip_y)
    byocframe.write_file(gdf, tmp_path / "t.parquet")
    back = byocframe.read_file(tmp_path / "t.parquet")
    seen = _seen(back)
    assert set(changed) <= seen
    assert not seen & set(same)


def test_covers_swapped_between_tiles_are_both_reported(gdf):
    a, b = gdf.index[10:60:2], gdf.index[11:61:2]
    swapped = gdf.geometry[a].to_numpy(), gdf.geometry[b].to_numpy()
    gdf.loc[a, "geometry"] = swapped[1]
    gdf.loc[b, "geometry"] = swapped[0]
    the_plan = plan(gdf)
    updated = {u.id for u in the_plan.updates}
    refused = {p["id"] for p in the_plan.problems}
    assert set(a) | set(b) == updated | refused
    assert not updated & refused


def test_a_cover_that_cannot_be_sent_is_a_problem_of_its_tile_only(gdf):
    """A bow-tie and a cover far outside its CRS are named; other edits still plan."""
    bowtie, far, fine = gdf.index[:3]
    west, south, east, north = gdf.geometry[bowtie].bounds
    crossed = shapely.Polygon([(west, south), (east, north), (east, south), (west, north)])
    gdf.loc[[bowtie], "geometry"] = gpd.GeoSeries([crossed], index=[bowtie], crs=gdf.crs)
    gdf.loc[far, "geometry"] = shapely.affinity.translate(gdf.geometry[far], xoff=90)
    gdf.loc[fine, "geometry"] = shapely.affinity.translate(gdf.geometry[fine], xoff=0.01)
    the_plan = plan(gdf)
    problems = {p["id"]: p["problem"] for p in the_plan.problems}
    assert "not a valid polygon" in problems[bowtie]
    assert "area of use" in problems[far]
    assert [u.id for u in the_plan.updates] == [fine]
    with pytest.raises(ValidationError, match=f"{bowtie}.*\n.*{far}"):
        byocframe.push(gdf, _nowhere(), dry_run=True)


def test_a_whole_longitude_sign_fix_never_stops_the_diff(gdf):
    """Today: GEOSException 'Shell empty after removing invalid points' for all rows."""
    ids = gdf.index[:200]
    changed, _ = _apply(gdf, ids, _flip_x)
    gdf.loc[gdf.index[300], "sensing_time"] += pd.Timedelta(hours=1)
    found = byocframe.changes(gdf)
    assert set(changed) <= set(found.loc[found["field"] == "geometry", "id"])
    assert gdf.index[300] in set(found.loc[found["field"] == "sensing_time", "id"])


def test_native_cover_edits_are_refused_by_name(gdf):
    ids = gdf.index[:40]
    for tid in ids:
        gdf.loc[tid, "native_cover"] = shapely.to_wkb(
            shapely.affinity.translate(gdf.byoc.native_covers()[tid], 100.0)
        )
    found = byocframe.changes(gdf)
    refused = found[(found["field"] == "native_cover") & (found["action"] == "read-only")]
    assert set(refused["id"]) == set(ids)
    with pytest.raises(ValidationError, match=rf"{ids[0]}.*native_cover.*set_native_covers"):
        byocframe.push(gdf, _nowhere(), dry_run=True)


def test_set_native_covers_is_the_way_to_edit_in_the_tiles_crs(gdf):
    """Exact to 5 cm for footprints shown whole (a cut one comes back through its cut,
    which is interpolated: metres)."""
    whole = gdf.geometry.apply(lambda g: len(g.geoms) == 1) & (gdf.bounds["maxy"] < 89)
    ids = gdf.index[whole][:30]
    moved = gpd.GeoSeries(
        [shapely.affinity.translate(gdf.byoc.native_covers()[t], 250.0) for t in ids], index=ids
    )
    gdf.byoc.set_native_covers(moved)
    the_plan = plan(gdf)
    assert not the_plan.problems
    assert [u.id for u in the_plan.updates] == list(ids)
    for update, want in zip(the_plan.updates, moved, strict=True):
        assert shapely.hausdorff_distance(update.wanted_cover, want) < 0.05


@pytest.mark.parametrize("ext", ["parquet", "gpkg", "geojson", "fgb", "csv"])
def test_a_file_round_trip_reports_nothing(gdf, tmp_path, ext):
    if ext == "parquet":
        pytest.importorskip("pyarrow")
    path = tmp_path / f"t.{ext}"
    byocframe.write_file(gdf, path)
    assert byocframe.changes(byocframe.read_file(path)).empty


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:6933", "OGC:CRS84"])
def test_to_crs_reports_nothing(gdf, crs):
    assert byocframe.changes(gdf.to_crs(crs)).empty
    assert byocframe.changes(gdf.to_crs(crs).to_crs(gdf.crs)).empty


def test_the_old_digest_missed_paired_sign_flips():
    """What version 1 got wrong: flipping the sign of two coordinates cancelled."""
    square = shapely.box(10, 10, 11, 11)
    flipped = shapely.Polygon([(10, 10), (11, -10), (11, 11), (10, -11), (10, 10)])
    assert len(set(geometry_digest([square, flipped, _flip_y(square)]).tolist())) == 3


def _vertex_edits():
    return st.one_of(
        st.tuples(st.just("flip"), st.sampled_from([0, 1]), st.integers(0, 30)),
        st.tuples(st.just("flip-all"), st.sampled_from([0, 1]), st.just(0)),
        st.tuples(st.just("swap"), st.integers(0, 30), st.integers(0, 30)),
        st.tuples(st.just("nudge"), st.sampled_from([0, 1]), st.integers(0, 30)),
        st.tuples(st.just("parts"), st.just(0), st.just(0)),
    )


def _edited(geom, edit, native_step):
    kind, a, b = edit
    polys = list(shapely.get_parts(geom))
    ring = np.array(polys[0].exterior.coords)[:-1]
    if kind == "flip":
        ring[b % len(ring), a] *= -1
    elif kind == "flip-all":
        ring[:, a] *= -1
    elif kind == "swap":
        i, j = a % len(ring), b % len(ring)
        ring[[i, j]] = ring[[j, i]]
    elif kind == "nudge":  # just over the 2 cm tolerance, in degrees
        ring[b % len(ring), a] += native_step
    elif kind == "parts":
        return shapely.MultiPolygon(polys[::-1]) if len(polys) > 1 else geom
    ring = np.vstack([ring, ring[:1]])
    polys[0] = shapely.Polygon(ring, [r.coords for r in polys[0].interiors])
    return shapely.MultiPolygon(polys)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=st.integers(0, N - 1), edits=st.lists(_vertex_edits(), min_size=1, max_size=3))
def test_structured_edits_are_reported_refused_or_the_same_cover(row, edits):
    frame = byocframe.tiles_from_records(copy.deepcopy(_RECORDS[row : row + 1]))
    tid = frame.index[0]
    old = frame.geometry[tid]
    new = old
    lat = abs(old.centroid.y)
    # >= 3 cm on the ground; a footprint shown cut or holding a pole has a 0.5 m tolerance
    cut = len(old.geoms) > 1 or max(abs(old.bounds[1]), abs(old.bounds[3])) == 90
    step = (1e-5 if cut else 3e-7) / max(np.cos(np.radians(min(lat, 89.0))), 1e-3)
    for edit in edits:
        new = _edited(new, edit, step)
    verdict = _verdict(frame, tid, new)
    frame.loc[tid, "geometry"] = new
    the_plan = plan(frame)
    reported = {u.id for u in the_plan.updates} | {p["id"] for p in the_plan.problems}
    if verdict == "edited":
        assert tid in reported, edits
    if verdict == "same":
        assert tid not in {u.id for u in the_plan.updates}, edits
    # a cover that is the same set of points may be reported or not; never a crash


def test_a_csv_with_broken_metadata_is_one_clear_error(gdf, tmp_path):
    path = tmp_path / "t.csv"
    byocframe.write_file(gdf.iloc[:3], path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0][:40] + "\n" + "".join(lines[1:]))
    with pytest.raises(ValidationError, match="not the JSON byocframe wrote"):
        byocframe.read_file(path)


def test_a_csv_time_a_spreadsheet_rewrote_is_one_line_naming_it(gdf, tmp_path):
    """Noted by attack11: the refusal was pandas' own hint, over four lines."""
    import io

    path = tmp_path / "t.csv"
    byocframe.write_file(gdf.iloc[:3], path)
    first, rest = path.read_text().split("\n", 1)
    table = pd.read_csv(io.StringIO(rest))
    table["sensing_time"] = pd.to_datetime(table["sensing_time"]).dt.strftime("%d/%m/%Y %H:%M")
    path.write_text(first + "\n" + table.to_csv(index=False))
    with pytest.raises(ValidationError, match="column 'sensing_time'") as caught:
        byocframe.read_file(path)
    assert "\n" not in str(caught.value)
    assert table["sensing_time"].iloc[0] in str(caught.value)


# ---------------------------------------------------------------- found by the attack review
def _cut_tile(frame):
    return next(i for i in frame.index if len(frame.geometry[i].geoms) > 1)


@pytest.mark.parametrize("axis", [0, 1], ids=["lon", "lat"])
def test_a_nan_in_a_cut_footprint_is_refused_not_lost(gdf, axis):
    """It was unseen (NaN longitude) or a GEOSException for the whole diff (latitude)."""
    tid = _cut_tile(gdf)
    xy = shapely.get_coordinates(gdf.geometry[tid])
    xy[1, axis] = np.nan
    gdf.loc[tid, "geometry"] = shapely.set_coordinates(gdf.geometry[tid], xy)
    gdf.loc[gdf.index[5], "sensing_time"] += pd.Timedelta(hours=1)
    the_plan = plan(gdf)
    assert [p["id"] for p in the_plan.problems] == [tid]
    assert "not finite" in the_plan.problems[0]["problem"]
    assert [u.id for u in the_plan.updates] == [gdf.index[5]]


def test_set_native_covers_refuses_what_cannot_be_sent(gdf):
    """A NaN corner was dropped and the cover pushed at half its area; a cover far
    outside its CRS was a GEOSException."""
    a, b = gdf.index[20], gdf.index[21]
    xy = shapely.get_coordinates(gdf.byoc.native_covers()[a])
    xy[2, 1] = np.nan
    nan_corner = shapely.set_coordinates(gdf.byoc.native_covers()[a], xy)
    far = shapely.affinity.translate(gdf.byoc.native_covers()[b], 1e9, 0)
    before = gdf.geometry.copy()
    with pytest.raises(ValidationError, match=rf"tile '{a}'.*not finite.*2 such") as err:
        gdf.byoc.set_native_covers({a: nan_corner, b: far})
    assert [p["id"] for p in err.value.problems] == [a, b]
    assert gdf.geometry.equals(before)


def test_to_a_zone_far_away_reports_nothing(gdf):
    """Shown in a UTM zone, tiles half a world away have infinite vertices: not edits."""
    for code in range(32601, 32661):
        shown = gdf.to_crs(code)
        if not np.isfinite(shapely.get_coordinates(shown.geometry.array)).all():
            break
    else:
        pytest.fail("no UTM zone shows some footprint with infinite vertices")
    assert byocframe.changes(shown).empty


def test_set_native_covers_names_what_it_refuses(gdf):
    tid = gdf.index[0]
    cover = gdf.byoc.native_covers()[tid]
    with pytest.raises(ValidationError, match=r"not in the frame .*'nope'"):
        gdf.byoc.set_native_covers({"nope": cover})
    with pytest.raises(ValidationError, match=rf"tile '{tid}': a cover must be .*not a Point"):
        gdf.byoc.set_native_covers({tid: shapely.Point(0, 0)})
    other = "EPSG:3857" if gdf.loc[tid, "native_crs"] != "EPSG:3857" else "EPSG:4326"
    with pytest.raises(ValidationError, match=rf"covers are in {other}, but tile '{tid}'"):
        gdf.byoc.set_native_covers(gpd.GeoSeries([cover], index=[tid], crs=other))
    # a GeoSeries in the tile's own CRS is taken
    same = gpd.GeoSeries([cover], index=[tid], crs=gdf.loc[tid, "native_crs"])
    gdf.byoc.set_native_covers(same)
    assert byocframe.changes(gdf).empty


@pytest.mark.parametrize(
    ("column", "value"),
    [("native_crs", "EPSG:32602"), ("additional_data", '{"edited": true}'), ("warnings", "hi")],
)
def test_edits_of_columns_the_service_owns_are_refused_by_name(gdf, column, value):
    """Finding 12 of the attack: these edits were neither sent nor refused."""
    tid = gdf.index[7]
    gdf.loc[tid, column] = value
    gdf.loc[tid, "geometry"] = shapely.affinity.translate(gdf.geometry[tid], 0.01)
    found = byocframe.changes(gdf)
    mine = found.loc[found["id"] == tid, ["field", "action"]].values.tolist()
    assert [column, "read-only"] in mine
    with pytest.raises(ValidationError, match=rf"{tid}.*{column}.*read-only"):
        byocframe.push(gdf, _nowhere(), dry_run=True)


def test_an_edit_of_a_long_digit_run_in_a_json_string_is_refused(records):
    """Finding 332: frame.canonical rounded every run of 16+ digits in a read-only text
    (meant for JSON numbers that GDAL rewrites), inside JSON strings too, so this edit was
    neither sent nor refused. The truth: the two texts differ as JSON (json.loads)."""
    import json

    before, after = '{"scene":"12345678901234567"}', '{"scene":"12345678901234568"}'
    assert json.loads(before) != json.loads(after)
    mine = copy.deepcopy(records[:3])
    for record in mine:
        record["additionalData"] = json.loads(before)
    frame = byocframe.tiles_from_records(mine)
    assert byocframe.changes(frame).empty
    tid = frame.index[1]
    frame.loc[tid, "additional_data"] = after
    found = byocframe.changes(frame)
    edits = found.loc[found["id"] == tid, ["field", "action"]].values.tolist()
    assert ["additional_data", "read-only"] in edits

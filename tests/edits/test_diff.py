"""The offline diff (byocframe.edits.diff) and the loaded-state tokens, with no service."""

from __future__ import annotations

import base64
import copy

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe import ValidationError
from byocframe.edits.diff import covers_equal, plan
from byocframe.frame.digests import geometry_digest, text_digest
from byocframe.frame.records import ATTRS_KEY, times_us
from byocframe.frame.snapshot import stamp
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.frame.tokens import current_fields, loaded_state


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
    assert covers_equal(update.base_cover, gdf.byoc.native_covers()[tid], update.crs)


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
    assert set(settings) == {
        "kind",
        "densify",
        "tolerance",
        "collection",
        "service",
        "load",
        "loaded_ids",
        "loaded_ids_seal",
        "loaded_checks",
        "loaded_checks_seal",
    }
    assert all(isinstance(v, str | float | int | type(None)) for v in settings.values())
    copied = gdf[gdf.index.isin(gdf.index[:3])]
    assert copied.attrs[ATTRS_KEY]["loaded_ids"] is settings["loaded_ids"]  # not copied
    assert copied.attrs[ATTRS_KEY]["loaded_checks"] is settings["loaded_checks"]


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


#: A tile, the geometries byocframe showed for it (WKB, exactly as digested) and the
#: token it wrote for it before tokens were read column-wise (token version 1): files
#: saved then hold such tokens, and must not look edited when read back.
OLD_RECORD = {
    "id": "600bf318-8289-4b79-8000-000000000000",
    "path": "tiles/2024/06/01/01N/269/(BAND).tif",
    "status": "INGESTED",
    "sensingTime": "2024-06-01T22:34:21.123",
    "created": "2024-07-02T08:00:00+00:00",
    "ingestionStart": "2024-07-02T08:00:00+00:00",
    "coverGeometry": {
        "type": "MultiPolygon",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "coordinates": [
            [
                [
                    [500000.0, 0.0],
                    [510000.0, 0.0],
                    [510000.0, 10000.0],
                    [500000.0, 10000.0],
                    [500000.0, 0.0],
                ]
            ]
        ],
    },
    "tileGeometry": {
        "type": "Polygon",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "coordinates": [
            [
                [499990.0, -10.0],
                [510010.0, -10.0],
                [510010.0, 10010.0],
                [499990.0, 10010.0],
                [499990.0, -10.0],
            ]
        ],
    },
}
OLD_GEOMETRY = (
    "01060000000100000001030000000100000005000000F6FFFFFFFFFF2D400000000000000000D3FFD81A03"
    "2E2E4000000000000000001EF5941E032E2E400812F7773D29B73FF6FFFFFFFFFF2D4062792A593F29B73F"
    "F6FFFFFFFFFF2D400000000000000000"
)
OLD_TILE_GEOMETRY = (
    "01060000000100000001030000000100000009000000A3438C38F4FF2D405DB25AA88CB717BFB0FEE38D01"
    "172E401FD92A2D8CB717BF6DC74BE20E2E2E40879B9EBA8AB717BFA4013BE30E2E2E40B54F6F793D29A73F"
    "619B0AE60E2E2E40F0BBAC592B2FB73F3EEEC28F01172E40EC65E6C32C2FB73F6C4E8B38F4FF2D4047F251"
    "3C2D2FB73F74068C38F4FF2D403D04995B3F29A73FA3438C38F4FF2D405DB25AA88CB717BF"
)
OLD_TOKEN = (
    "c1:600bf318-8289-4b79-8000-000000000000:AQQAAH3Wy2xKp5k2q_okmUDr8624dYyz2xkGAADgsxk_"
    "HAYAAOCzGT8cBgALgyTzUpmce5Us4avB8M2g"
)


def test_a_token_of_byocframe_0_1_is_refused_with_reload():
    """Version-1 tokens summed coordinate bits (a sign flip of two vertices cancelled):
    their "unchanged" cannot be trusted, so the frame must be loaded again."""
    frame = byocframe.tiles_from_records([copy.deepcopy(OLD_RECORD)])
    for name, wkb in (("geometry", OLD_GEOMETRY), ("tile_geometry", OLD_TILE_GEOMETRY)):
        frame[name] = gpd.GeoSeries(shapely.from_wkb([wkb]), index=frame.index, crs=4326)
    frame["loaded"] = OLD_TOKEN
    with pytest.raises(ValidationError, match=r"byocframe 0\.1 .*read_tiles\(\).*nothing was sent"):
        byocframe.changes(frame)
    frame["loaded"] = OLD_TOKEN[:-1]  # neither version: edited
    with pytest.raises(ValidationError, match="'loaded' column was edited"):
        byocframe.changes(frame)


def test_digests_are_those_saved_tokens_hold():
    """Changing a digest would make every saved frame look edited (or hide edits): these
    are XXH3-64 values, fixed by its specification and by the byte layout of digests.py."""
    shapes = [
        shapely.box(0, 0, 1, 1),
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)]),
        shapely.Point(1, 2),
        shapely.Polygon(),
    ]
    assert geometry_digest(shapes).tolist() == [
        10774206919973547635,
        11647492011860227323,
        13609988706555010129,
        0,
    ]
    assert text_digest(["x", "tiles/a/(BAND).tif", None, 5, b"x"]).tolist() == [
        16929150178197425425,
        649722402354645205,
        0,
        16058596026395164275,
        16929150178197425425,  # bytes digested as their text
    ]


def test_text_digest_is_xxh3_of_the_utf8_text():
    """An independent truth: the xxhash package itself, on the UTF-8 bytes."""
    import xxhash

    texts = ["tiles/ç/(BAND).tif", "x" * 1000, ""]
    expected = [xxhash.xxh3_64_intdigest(t.encode()) | 1 for t in texts]
    assert text_digest(texts).tolist() == expected


def test_geometry_digest_is_the_same_in_one_call_or_one_geometry_at_a_time():
    rng = np.random.default_rng(3)
    shapes = [shapely.box(x, 0, x + 1, 1).segmentize(rng.uniform(0.01, 0.1)) for x in range(2000)]
    big = shapely.box(0, 0, 1, 1).segmentize(1 / 20_000)  # more points than one pass takes
    geoms = np.array([*shapes[:700], None, big, shapely.Polygon(), *shapes[700:]], dtype=object)
    # passes take about 65,000 points: several of them, one with only the big one
    assert shapely.get_num_coordinates(big) > 70_000
    assert sum(shapely.get_num_coordinates(shapes[:700])) > 70_000
    assert sum(shapely.get_num_coordinates(shapes[700:])) > 2 * 70_000
    whole = geometry_digest(geoms)
    alone = np.concatenate([geometry_digest(geoms[i : i + 1]) for i in range(len(geoms))])
    assert (whole == alone).all()
    assert len(set(whole.tolist())) == len(geoms) - 1  # the missing and the empty give 0


def _stamped(gdf, name, index=None):
    part = gdf.iloc[:3].copy()
    if index is not None:
        part.index = pd.Index(index)
    stamp(part, collection=name, service="http://127.0.0.1:1")
    return part


@pytest.mark.parametrize(
    "names",
    [["c1", "c2"], ["c1", "c10"], ["ç", "c1"], ["c1"]],
    ids=["one length", "two lengths", "not ASCII", "one collection"],
)
def test_tokens_are_split_at_their_first_colon(gdf, names):
    frame = pd.concat([_stamped(gdf, name) for name in names])
    state = loaded_state(frame)
    assert state.collection.tolist() == [n for n in names for _ in range(3)]
    assert state.tile_id.tolist() == list(gdf.index[:3]) * len(names)
    assert (state.sensing_time == times_us(frame["sensing_time"])).all()
    assert (state.geometry == np.tile(loaded_state(gdf).geometry[:3], len(names))).all()


@pytest.mark.parametrize("ids", [["a:b", "c:d", "e:f"], ["a:b", "cd", "e:f:g"]])
def test_tile_ids_may_hold_colons(gdf, ids):
    frame = pd.concat([_stamped(gdf, "c1", ids), _stamped(gdf, "c2", ids)])
    state = loaded_state(frame)
    assert state.collection.tolist() == ["c1"] * 3 + ["c2"] * 3
    assert state.tile_id.tolist() == ids * 2


def test_a_token_of_another_version_is_refused(gdf):
    token = gdf["loaded"].iloc[1]
    payload = bytearray(base64.urlsafe_b64decode(token[-148:]))
    assert payload[0] == 3  # the version
    payload[0] = 4
    frame = gdf.copy()
    frame.loc[frame.index[1], "loaded"] = token[:-148] + base64.urlsafe_b64encode(payload).decode()
    with pytest.raises(ValueError, match="another version"):
        loaded_state(frame)
    frame.loc[frame.index[1], "loaded"] = token[:-40] + "*" + token[-39:]  # not base64
    with pytest.raises(ValidationError, match="'loaded' column was edited"):
        byocframe.changes(frame)


def _as_version_2(token):
    """The token byocframe 0.2 wrote for the same row: the first 69 bytes, version 2."""
    payload = bytearray(base64.urlsafe_b64decode(token[-148:]))[:69]
    payload[0] = 2
    return token[:-148] + base64.urlsafe_b64encode(bytes(payload)).decode()


@pytest.mark.parametrize("rows", [[1], [0, 1, 2, 3, 4]], ids=["one row", "every row"])
def test_tokens_of_version_2_are_read_but_back_no_push(gdf, rows):
    frame = gdf.copy()
    column = frame.columns.get_loc("loaded")
    for i in rows:
        frame.iloc[i, column] = _as_version_2(frame["loaded"].iloc[i])
    state, own = loaded_state(frame), loaded_state(gdf)
    assert state.version[rows].tolist() == [2] * len(rows)
    assert (state.sensing_time == own.sensing_time).all()
    assert (state.native == own.native).all()
    kept = ~np.isin(np.arange(len(gdf)), rows)
    assert not state.others[rows].any()
    assert (state.others[kept] == own.others[kept]).all()
    assert own.others[:, 0].all()  # native_crs: never missing in this frame
    with pytest.raises(ValidationError, match=rf"{len(rows)} rows \(first: row {rows[0]}\).*0\.2"):
        byocframe.changes(frame)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("native_crs", "EPSG:32602"),
        ("additional_data", '{"edited": true}'),
        ("other_data", '{"x": 1}'),
        ("warnings", "a note"),
        ("min_meters_per_pixel", 20.0),
        ("has_added_points", True),
        ("geometry_source", "tile"),
    ],
)
def test_an_edit_of_a_column_the_service_owns_is_refused(gdf, column, value):
    frame = gdf.copy()
    frame.loc[frame.index[2], column] = value
    found = byocframe.changes(frame)
    assert found[["id", "field", "action"]].values.tolist() == [[gdf.index[2], column, "read-only"]]
    found = plan(frame)
    assert [(p["id"], p["field"]) for p in found.problems] == [(gdf.index[2], column)]
    assert not found.updates


def test_an_edited_native_tile_or_crs_holds_back_the_rows_other_edits(gdf):
    frame = gdf.copy()
    frame.loc[frame.index[0], "native_crs"] = "EPSG:32602"
    frame.loc[frame.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    frame.loc[frame.index[1], "sensing_time"] += pd.Timedelta(hours=1)
    found = plan(frame)
    assert [u.id for u in found.updates] == [gdf.index[1]]
    assert [(p["id"], p["field"]) for p in found.problems] == [(gdf.index[0], "native_crs")]


def test_columns_the_service_owns_survive_a_file_in_other_dtypes(gdf, tmp_path):
    """Flags as 0/1, numbers as float64 and categories as text digest as they did."""
    frame = gdf.iloc[:5].copy()
    frame["has_added_points"] = pd.array([True, False, None, True, False], dtype="boolean")
    stamp(frame, collection="c1", service="http://127.0.0.1:1")
    other = frame.copy()
    other["has_added_points"] = [1.0, 0.0, np.nan, 1.0, 0.0]
    other["min_meters_per_pixel"] = other["min_meters_per_pixel"].astype("float64")
    other["geometry_source"] = other["geometry_source"].astype(object)
    assert byocframe.changes(other).empty
    other.loc[other.index[1], "has_added_points"] = 1.0
    assert byocframe.changes(other)["field"].tolist() == ["has_added_points"]


def test_an_index_of_numbers_is_matched_with_its_tokens_as_text(gdf):
    frame = gdf.iloc[:5].reset_index(drop=True)
    stamp(frame, collection="c1", service="http://127.0.0.1:1")
    assert byocframe.changes(frame).empty
    frame.loc[2, "sensing_time"] += pd.Timedelta(hours=1)
    assert byocframe.changes(frame)["id"].tolist() == [2]
    with pytest.raises(ValidationError, match="tile 0 appears more than once"):
        byocframe.changes(pd.concat([frame, frame.iloc[:1]]))
    lost = gdf.iloc[:3].copy()
    lost.index = pd.Index([lost.index[0], None, lost.index[2]], dtype="string")
    with pytest.raises(ValidationError, match="row 1 is <NA> but was loaded as tile"):
        byocframe.changes(lost)


def test_status_reads_the_same_from_categories_and_from_texts(gdf):
    frame = gdf.iloc[:4].copy()
    values = ["INGESTED", None, "NOT A STATUS", "FAILED"]
    frame["status"] = pd.Categorical(values, categories=["NOT A STATUS", "FAILED", "INGESTED"])
    categories = current_fields(frame)["status"].tolist()
    frame["status"] = pd.Series(values, index=frame.index, dtype=object)
    assert categories == current_fields(frame)["status"].tolist() == [4, 0, 0, 5]


def test_digest_tells_where_rings_end():
    """The same coordinate bytes as a shell with a hole, or as one longer ring."""
    seq = [(0, 0), (4, 0), (4, 4), (0, 0), (0, 0), (1, 0.5), (1, 1), (0, 0)]
    with_hole = shapely.Polygon(seq[:4], [seq[4:]])
    one_ring = shapely.Polygon(seq)
    assert (shapely.get_coordinates(with_hole) == shapely.get_coordinates(one_ring)).all()
    a, b = geometry_digest([with_hole, one_ring])
    assert a != b
    # a shell whose first point comes back before its end is not taken for one ring
    assert geometry_digest([shapely.MultiPolygon([with_hole])])[0] != a


def test_a_tile_geometry_drawn_again_by_other_code_is_not_an_edit(tmp_path, monkeypatch):
    """read_file recomputes tile_geometry: another version's densifying is not an edit.

    The loaded tokens hold the digest of the tile geometry as drawn when loading; a file
    read by a byocframe that draws a few vertices differently must still push (no
    read-only refusal), while a tile geometry changed by hand is still refused.
    """
    import pyarrow.parquet as pq

    from byocframe.geo import densify
    from byocframe.io import geoparquet

    gdf = byocframe.tiles_from_records(synthetic_tiles(400, seed=2))
    path = tmp_path / "tiles.parquet"
    byocframe.write_file(gdf, path)
    # without the file's stored drawings (an earlier writer's file): drawn on reading
    source = pq.ParquetFile(path)
    meta = {**source.schema_arrow.metadata, **source.metadata.metadata}
    meta.pop(b"ARROW:schema")
    table = source.read().drop_columns(["tile_drawing"]).replace_schema_metadata(meta)
    pq.write_table(table, path)
    assert geoparquet.is_byocframe_parquet(path)
    monkeypatch.setattr(densify, "_FIRST_CUT", 2)  # another version's first cut
    back = byocframe.read_file(path)
    loaded = np.asarray(gdf["tile_geometry"].array, dtype=object)
    drawn = np.asarray(back["tile_geometry"].array, dtype=object)
    present = ~shapely.is_missing(loaded)
    assert not shapely.equals_exact(drawn[present], loaded[present], tolerance=0).all()
    assert byocframe.changes(back).empty
    tid = back.index[np.flatnonzero(present)[0]]
    back.loc[tid, "tile_geometry"] = shapely.affinity.translate(back.loc[tid, "tile_geometry"], 0.1)
    found = byocframe.changes(back)
    assert found[["id", "field", "action"]].values.tolist() == [[tid, "tile_geometry", "read-only"]]


def test_a_byocframe_file_read_by_geopandas_is_refused_in_one_line(tmp_path):
    """gpd.read_file of a GPKG byocframe wrote leaves tile_geometry as text: changes()
    says so and how to read it (it raised shapely's TypeError)."""
    import geopandas as gpd

    import byocframe
    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    byocframe.write_file(gdf, tmp_path / "t.gpkg")
    plain = gpd.read_file(tmp_path / "t.gpkg").set_index("id")
    with pytest.raises(byocframe.ValidationError, match=r"'tile_geometry' holds str.*read_file"):
        byocframe.changes(plain)
    back = byocframe.read_file(tmp_path / "t.gpkg")
    assert byocframe.changes(back).empty

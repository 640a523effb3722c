"""Records -> frames -> records: shape, dtypes, errors, round trips, GeoParquet."""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import box_ring, geojson
from geopandas.testing import assert_geodataframe_equal

import byocframe
from byocframe import ByocframeWarning, ValidationError

UTM33 = "urn:ogc:def:crs:EPSG::32633"
BOUNDS = (400_000.0, 5_000_000.0, 500_000.0, 5_100_000.0)


class TestTileFrame:
    def test_seed_tile_shape(self, seed_tile):
        gdf = byocframe.tiles_from_records([seed_tile])
        assert gdf.index.name == "id"
        assert gdf.index.tolist() == [seed_tile["id"]]
        row = gdf.iloc[0]
        assert row["path"] == "2019/11/27/28V/(BAND).tif"
        assert row["status"] == "INGESTED"
        assert isinstance(gdf["status"].dtype, pd.CategoricalDtype)
        assert list(gdf["status"].cat.categories) == [
            "WAITING",
            "QUEUED",
            "INGESTING",
            "INGESTED",
            "FAILED",
        ]
        assert row["native_crs"] == "EPSG:32628"
        assert row["geometry_source"] == "cover"
        assert row["min_meters_per_pixel"] == 120.0
        assert row["max_meters_per_pixel"] == 960.0
        assert '"bandHeaderSizes"' in row["additional_data"]
        assert gdf.crs.to_epsg() == 4326
        assert gdf.geometry.name == "geometry"
        assert gdf["tile_geometry"].crs.to_epsg() == 4326
        # the cover lies inside the tile footprint and both are in Iceland's longitudes
        assert row.geometry.is_valid
        outside = row.geometry.difference(row["tile_geometry"]).area
        assert outside < 1e-5 * row.geometry.area
        xmin, ymin, xmax, ymax = row.geometry.bounds
        assert -20 < xmin < xmax < -12
        assert 62 < ymin < ymax < 65

    @pytest.mark.parametrize(
        ("spelling", "expected"),
        [
            ("2019-11-27T00:00:00.000", "2019-11-27 00:00:00+00:00"),
            ("2019-11-27T00:00:00Z", "2019-11-27 00:00:00+00:00"),
            ("2019-11-27T02:00:00+02:00", "2019-11-27 00:00:00+00:00"),
            ("2019-11-26T19:00:00-05:00", "2019-11-27 00:00:00+00:00"),
            ("2023-03-16T12:56:22.205845Z", "2023-03-16 12:56:22.205845+00:00"),
        ],
    )
    def test_datetimes_are_utc_whatever_the_spelling(self, make_tile, spelling, expected):
        gdf = byocframe.tiles_from_records([make_tile(sensingTime=spelling)])
        assert str(gdf["sensing_time"].dtype) == "datetime64[us, UTC]"
        assert str(gdf["sensing_time"].iloc[0]) == expected

    def test_missing_values(self, make_tile):
        record = make_tile(status="WAITING")
        del record["sensingTime"]
        gdf = byocframe.tiles_from_records([record])
        row = gdf.iloc[0]
        assert row.geometry is None
        assert row["tile_geometry"] is None
        assert pd.isna(row["sensing_time"])
        assert pd.isna(row["created"])
        assert pd.isna(row["geometry_source"])
        assert pd.isna(row["native_crs"])

    def test_falls_back_to_tile_geometry(self, make_tile):
        cover = geojson("Polygon", [box_ring(410_000, 5_010_000, 450_000, 5_050_000)], UTM33)
        gdf = byocframe.tiles_from_records(
            [make_tile("a", bounds=BOUNDS, crs=UTM33), make_tile("b", bounds=BOUNDS, cover=cover)]
        )
        assert gdf["geometry_source"].tolist() == ["tile", "cover"]
        assert gdf.geometry["a"].equals(gdf["tile_geometry"]["a"])
        assert gdf.geometry["b"].area < gdf["tile_geometry"]["b"].area

    def test_target_crs(self, make_tile):
        gdf = byocframe.tiles_from_records([make_tile(bounds=BOUNDS)], crs="EPSG:3857")
        assert gdf.crs.to_epsg() == 3857
        assert gdf["tile_geometry"].crs.to_epsg() == 3857
        lonlat = byocframe.tiles_from_records([make_tile(bounds=BOUNDS)])
        back = gdf.geometry.to_crs(4326).iloc[0]
        assert shapely.equals_exact(back, lonlat.geometry.iloc[0], tolerance=1e-7)

    def test_native_crs_target_keeps_coordinates(self, make_tile):
        gdf = byocframe.tiles_from_records([make_tile(bounds=BOUNDS)], crs="EPSG:32633")
        assert gdf.geometry.iloc[0].bounds == BOUNDS

    def test_area_column(self, make_tile):
        gdf = byocframe.tiles_from_records([make_tile(bounds=BOUNDS)], area=True)
        # independent truth: the native square, densified, in a Lambert equal-area
        # projection centred on it (PROJ's projection maths, not a geodesic polygon)
        native = shapely.from_wkb(gdf["native_tile"].iloc[0])
        dense = shapely.segmentize(native, 100)
        centre = gpd.GeoSeries([native.centroid], crs=gdf["native_crs"].iloc[0]).to_crs(4326)[0]
        laea = f"+proj=laea +lat_0={centre.y} +lon_0={centre.x} +ellps=WGS84"
        truth = gpd.GeoSeries([dense], crs=gdf["native_crs"].iloc[0]).to_crs(laea).area[0] / 1e6
        assert gdf["area_km2"].iloc[0] == pytest.approx(truth, rel=1e-5)
        assert 9_950 < truth < 10_050  # a 100 km UTM square, scale factor ~0.9996

    def test_sentinelhub_objects_give_the_same_frame(self, seed_tile):
        sentinelhub = pytest.importorskip("sentinelhub")
        from_dicts = byocframe.tiles_from_records([seed_tile])
        from_objects = byocframe.tiles_from_records([sentinelhub.ByocTile.from_dict(seed_tile)])
        assert_geodataframe_equal(from_objects, from_dicts, check_less_precise=True)

    def test_not_a_record(self):
        with pytest.raises(
            TypeError, match="each tile must be a dict or a sentinelhub-py ByocTile"
        ):
            byocframe.tiles_from_records([42])


class TestBadInput:
    @pytest.mark.parametrize(
        ("edit", "field", "problem"),
        [
            (
                {"coverGeometry": geojson("Polygon", [box_ring(0, 0, 1, 1)], "EPSG:999999")},
                "coverGeometry",
                "unknown EPSG code 999999",
            ),
            (
                {"coverGeometry": geojson("Point", [1.0, 2.0], UTM33)},
                "coverGeometry",
                "Point geometry",
            ),
            (
                {
                    "tileGeometry": geojson(
                        "Polygon", [[[0, 0], [1, float("nan")], [1, 1], [0, 0]]], UTM33
                    )
                },
                "tileGeometry",
                "non-finite coordinate",
            ),
            (
                {"tileGeometry": geojson("Polygon", [[[0, 0], [1, 0], [1, 1], [0, 1]]], UTM33)},
                "tileGeometry",
                "unclosed ring",
            ),
            ({"path": None}, "path", "missing path"),
            ({"sensingTime": "yesterday"}, "sensingTime", "not an ISO-8601 time: 'yesterday'"),
        ],
    )
    def test_raise_names_tile_field_and_problem(self, make_tile, edit, field, problem):
        records = [make_tile("good", bounds=BOUNDS), make_tile("bad-tile", bounds=BOUNDS, **edit)]
        with pytest.raises(ValidationError, match=rf"tile 'bad-tile': {field}: .*{problem}") as err:
            byocframe.tiles_from_records(records, errors="raise")
        assert err.value.problems[0]["id"] == "bad-tile"
        assert err.value.problems[0]["field"] == field

    def test_warn_gives_none_and_keeps_the_rest(self, make_tile):
        bad = make_tile("bad-tile", bounds=BOUNDS)
        bad["tileGeometry"]["coordinates"][0].pop()  # unclosed
        records = [make_tile("good", bounds=BOUNDS), bad]
        with pytest.warns(ByocframeWarning, match="tile 'bad-tile': tileGeometry: unclosed ring"):
            gdf = byocframe.tiles_from_records(records, errors="warn")
        assert gdf.index.tolist() == ["good", "bad-tile"]
        assert gdf.geometry["bad-tile"] is None
        assert gdf.geometry["good"] is not None

    def test_missing_id_is_reported_by_row_and_dropped_on_warn(self, make_tile):
        records = [make_tile("good"), make_tile(id=None)]
        with pytest.raises(ValidationError, match="tile at row 1: id: missing tile id"):
            byocframe.tiles_from_records(records, errors="raise")
        with pytest.warns(ByocframeWarning, match="the row is left out"):
            gdf = byocframe.tiles_from_records(records, errors="warn")
        assert gdf.index.tolist() == ["good"]

    def test_duplicate_ids(self, make_tile):
        with pytest.raises(ValidationError, match=r"tile 'x': id: duplicate id \(also row 0\)"):
            byocframe.tiles_from_records([make_tile("x"), make_tile("x")], errors="raise")

    def test_every_problem_is_listed(self, make_tile):
        records = [make_tile(f"t{i}", path=None) for i in range(12)]
        with pytest.raises(ValidationError, match=r"(?s)12 problem\(s\).*and 2 more") as err:
            byocframe.tiles_from_records(records, errors="raise")
        assert len(err.value.problems) == 12

    def test_bad_arguments(self, make_tile):
        with pytest.raises(ValueError, match="errors must be 'raise' or 'warn'"):
            byocframe.tiles_from_records([], errors="ignore")


class TestRoundTrip:
    def test_seed_tile_round_trips_exactly(self, seed_tile):
        back = byocframe.to_records(byocframe.tiles_from_records([seed_tile]))
        expected = copy.deepcopy(seed_tile)
        # the service's zone-less times come back with their zone spelled out
        expected["created"] = "2021-01-22T09:57:07Z"
        expected["sensingTime"] = "2019-11-27T00:00:00Z"
        assert back == [expected]

    def test_unknown_fields_survive(self, make_tile):
        record = make_tile(
            bounds=BOUNDS,
            futureField={"nested": [1, 2]},
            additionalData={"minMetersPerPixel": 10.0, "somethingNew": "kept"},
        )
        back = byocframe.to_records(byocframe.tiles_from_records([record]))[0]
        assert back["futureField"] == {"nested": [1, 2]}
        assert back["additionalData"] == {"minMetersPerPixel": 10.0, "somethingNew": "kept"}

    def test_geometry_types_and_crs_are_kept(self, seed_tile):
        back = byocframe.to_records(byocframe.tiles_from_records([seed_tile]))[0]
        assert back["coverGeometry"]["type"] == "MultiPolygon"
        assert back["tileGeometry"]["type"] == "Polygon"
        assert back["coverGeometry"]["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32628"

    def test_edited_geometry_goes_back_in_the_native_crs(self, make_tile):
        gdf = byocframe.tiles_from_records([make_tile("t", bounds=BOUNDS)])
        lon_lat_square = shapely.box(14.0, 45.2, 14.5, 45.6)
        gdf.loc["t", "geometry"] = lon_lat_square
        back = byocframe.to_records(gdf)[0]
        cover = back["coverGeometry"]
        assert cover["crs"]["properties"]["name"] == UTM33
        native = shapely.geometry.shape(cover)
        expected = gpd.GeoSeries([lon_lat_square], crs=4326).to_crs(32633).iloc[0]
        assert native.difference(expected).area < 1e-6 * expected.area
        # the tile geometry was not edited and is unchanged
        assert back["tileGeometry"]["coordinates"] == [box_ring(*BOUNDS)]

    def test_unedited_fallback_does_not_invent_a_cover(self, make_tile):
        gdf = byocframe.tiles_from_records([make_tile("t", bounds=BOUNDS)])
        assert "coverGeometry" not in byocframe.to_records(gdf)[0]

    def test_parquet_round_trip(self, tmp_path, seed_tile, make_tile):
        waiting = make_tile("w", status="WAITING")
        gdf = byocframe.tiles_from_records([seed_tile, make_tile("t", bounds=BOUNDS), waiting])
        path = tmp_path / "tiles.parquet"
        gdf.to_parquet(path)
        back = gpd.read_parquet(path)
        assert_geodataframe_equal(back, gdf, check_like=False)
        assert byocframe.to_records(back) == byocframe.to_records(gdf)

    def test_collection_round_trip(self, seed_collection):
        frame = byocframe.collections_from_records([seed_collection])
        assert byocframe.to_records(frame) == [
            {**seed_collection, "created": "2021-01-16T18:44:36.720Z"}
        ]

    def test_to_records_rejects_other_frames(self):
        with pytest.raises(ValueError, match="neither a 'path' column"):
            byocframe.to_records(pd.DataFrame({"a": [1]}))


class TestCollectionFrame:
    def test_seed_collection(self, seed_collection):
        frame = byocframe.collections_from_records([seed_collection])
        row = frame.loc[seed_collection["id"]]
        assert frame.index.name == "id"
        assert row["name"] == "Sentinel S2 L2A Mosaic 120m"
        assert row["s3_bucket"] == "sentinel-s2-l2a-mosaic-120"
        assert row["bands"] == "B02, B03, B04, B08, B11, B12 (UINT16); dataMask (UINT8)"
        assert row["band_count"] == 7
        assert row["max_meters_per_pixel"] == 9600.0
        assert str(row["created"]) == "2021-01-16 18:44:36.720000+00:00"
        assert row["user_id"] == "1b639ce6-eb3e-494c-9cb4-2eab3569b121"

    def test_sentinelhub_collection(self, seed_collection):
        sentinelhub = pytest.importorskip("sentinelhub")
        obj = sentinelhub.ByocCollection.from_dict(seed_collection)
        frame = byocframe.collections_from_records([obj])
        expected = byocframe.collections_from_records([seed_collection])
        # sentinelhub-py fills in its default sampleFormat ("UINT") for every band
        pd.testing.assert_frame_equal(
            frame.drop(columns="additional_data"), expected.drop(columns="additional_data")
        )
        assert '"sampleFormat":"UINT"' in frame["additional_data"].iloc[0]

    @pytest.mark.parametrize("missing", ["name", "s3Bucket"])
    def test_missing_required_field(self, seed_collection, missing):
        del seed_collection[missing]
        with pytest.raises(ValidationError, match=f"collection '0074520d.*': {missing}: missing"):
            byocframe.collections_from_records([seed_collection])

    def test_empty_listing(self):
        frame = byocframe.collections_from_records([])
        assert len(frame) == 0
        assert "name" in frame.columns
        tiles = byocframe.tiles_from_records([])
        assert len(tiles) == 0
        assert tiles.crs.to_epsg() == 4326


def test_frame_values_are_numpy_free_in_records(seed_tile):
    """Records must be JSON-serialisable: no numpy scalars sneak out."""
    import json

    back = byocframe.to_records(byocframe.tiles_from_records([seed_tile]))
    assert json.loads(json.dumps(back)) == back
    coords = back[0]["coverGeometry"]["coordinates"][0][0][0]
    assert all(type(c) is float for c in coords)
    assert not isinstance(back[0]["id"], np.generic)


# ---------------------------------------------------------------------- hostile files
_DEEP = "[" * 100_000 + "]" * 100_000
_BROKEN_META = {
    "nested-100000-deep": (_DEEP, "nested too deep"),
    "integer-of-5000-digits": ('{"crs": ' + "9" * 5000 + "}", "numbers too long"),
    "crs-a-number": ('{"crs": 5}', "must be texts"),
    "crs-unknown": ('{"crs": "EPSG:' + "9" * 60 + '"}', "is unknown"),
    "index-a-list": ('{"index": []}', "must be texts"),
    "attrs-a-text": ('{"attrs": "x"}', "attrs must be an object"),
    "a-list": ("[1]", "not a JSON object"),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A tile table written as CSV, its lines."""
    from byocframe.frame.synthetic import synthetic_tiles

    path = tmp_path_factory.mktemp("io") / "t.csv"
    byocframe.write_file(byocframe.tiles_from_records(synthetic_tiles(3, seed=1)), path)
    return path.read_text().splitlines(keepends=True)


@pytest.mark.parametrize("case", list(_BROKEN_META))
def test_a_csv_with_hostile_metadata_is_a_validation_error(written, tmp_path, case):
    """Today: RecursionError, ValueError, CRSError or TypeError from deep inside."""
    line, words = _BROKEN_META[case]
    path = tmp_path / "t.csv"
    path.write_text("#byocframe " + line + "\n" + "".join(written[1:]))
    with pytest.raises(ValidationError, match=words):
        byocframe.read_file(path)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[1]", "not a GeoJSON FeatureCollection"),
        (_DEEP, "nested too deep"),
        ('{"type": "FeatureCollection", "features": [], "byocframe": "x"}', "not a JSON object"),
    ],
    ids=["a-list", "nested-100000-deep", "metadata-a-text"],
)
def test_a_hostile_geojson_file_is_a_validation_error(tmp_path, text, words):
    path = tmp_path / "t.geojson"
    path.write_text(text)
    with pytest.raises(ValidationError, match=words):
        byocframe.read_file(path)


@pytest.mark.parametrize(
    "bands",
    [[1], "B02", {"B02": "x"}, {"B02": [16]}],
    ids=["list", "text", "band-text", "band-list"],
)
def test_a_collection_whose_bands_are_not_a_band_map_is_a_validation_error(bands):
    """Today: AttributeError ('list' object has no attribute 'items') from the summary."""
    record = {"id": "c1", "name": "x", "s3Bucket": "b", "additionalData": {"bands": bands}}
    with pytest.raises(ValidationError, match=r"additionalData\.bands: not an object of band"):
        byocframe.collections_from_records([record])


# ------------------------------------------------------------- to_records, cheaply
def test_to_records_sends_unedited_covers_back_without_reprojecting(monkeypatch):
    """The rows' tokens say geometry and native cover are as loaded: nothing is redrawn,
    and the covers are the received ones, exactly."""
    from byocframe.frame import convert
    from byocframe.frame.synthetic import synthetic_tiles

    records = synthetic_tiles(200, seed=4)
    gdf = byocframe.tiles_from_records(records)
    drawn = []
    original = convert.reproject

    def counting(geoms, *args, **kwargs):
        drawn.append(len(geoms))
        return original(geoms, *args, **kwargs)

    monkeypatch.setattr(convert, "reproject", counting)
    back = byocframe.to_records(gdf)
    assert sum(drawn) == 0
    assert [r.get("coverGeometry") for r in back] == [r.get("coverGeometry") for r in records]
    # an edited row is still found, and only the rows that need it are drawn
    edited = gdf.copy()
    column = edited.columns.get_loc("geometry")
    edited.iloc[3, column] = shapely.affinity.translate(edited.geometry.iloc[3], 0.01, 0)
    back = byocframe.to_records(edited)
    assert 0 < sum(drawn) < len(gdf)
    assert back[3]["coverGeometry"] != records[3].get("coverGeometry")
    assert [r.get("coverGeometry") for i, r in enumerate(back) if i != 3] == [
        r.get("coverGeometry") for i, r in enumerate(records) if i != 3
    ]


def test_to_records_with_a_changed_native_cover_sends_the_shown_geometry():
    """native_cover changed by hand (its token digest differs): the displayed geometry
    decides, as before tokens were read here."""
    from byocframe.frame.native import native_geometries, put_native
    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=2))
    before = byocframe.to_records(gdf)[1]["coverGeometry"]
    moved = shapely.affinity.translate(native_geometries(gdf, "native_cover")[1], 500.0, 0)
    put_native(gdf, [1], "native_cover", [moved])
    after = byocframe.to_records(gdf)[1]["coverGeometry"]
    shown, sent = shapely.geometry.shape(before), shapely.geometry.shape(after)
    assert after != before  # reprojected back from the display, not the bytes loaded
    assert shapely.hausdorff_distance(shown, sent) < 10.0  # metres: the same outline
    assert shapely.hausdorff_distance(moved, sent) > 400.0

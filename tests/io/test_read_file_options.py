"""`read_file` takes geopandas' reading options, with geopandas' meaning, safely.

The truths are geopandas' own: ``geopandas.read_file`` (pyogrio, GDAL's spatial filter)
on the same GeoPackage, and ``geopandas.read_parquet`` with pyarrow's ``filters``. A
frame that keeps part of a file's rows never plans a deletion of the rows left out.
"""

from __future__ import annotations

import io

import geopandas as gpd
import pandas as pd
import pyarrow.compute as pc
import pytest
import shapely

import byocframe
from byocframe import ValidationError
from byocframe.frame.synthetic import synthetic_tiles

FORMATS = ["parquet", "gpkg", "geojson", "fgb", "csv"]


@pytest.fixture(scope="module")
def tiles() -> gpd.GeoDataFrame:
    return byocframe.tiles_from_records(synthetic_tiles(300, seed=3))


@pytest.fixture(scope="module")
def files(tiles, tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("options")
    out = {}
    for ext in FORMATS:
        out[ext] = str(folder / f"tiles.{ext}")
        byocframe.write_file(tiles, out[ext])
    return out


def _box(tiles: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """A box around some tiles (not all): a tenth of the frame's tiles' bounds."""
    minx, miny, maxx, maxy = tiles.geometry.iloc[40:70].total_bounds
    return (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)


def _gdal_ids(path: str, **options) -> set[str]:
    return set(gpd.read_file(path, **options)["id"])


@pytest.mark.parametrize("ext", FORMATS)
def test_bbox_keeps_the_rows_gdal_keeps(tiles, files, ext):
    box = _box(tiles)
    want = _gdal_ids(files["gpkg"], bbox=box)
    assert 0 < len(want) < len(tiles)
    got = byocframe.read_file(files[ext], bbox=box)
    assert set(got.index) == want
    assert list(got.index) == [i for i in tiles.index if i in want]  # the file's order


def test_bbox_of_a_geoseries_in_another_crs_is_reprojected(tiles, files):
    box = shapely.box(*_box(tiles))
    mercator = gpd.GeoSeries([box], crs="EPSG:4326").to_crs("EPSG:3857")
    got = byocframe.read_file(files["parquet"], bbox=mercator)
    want = byocframe.read_file(files["parquet"], bbox=tuple(mercator.to_crs(4326).total_bounds))
    assert len(got)
    assert got.index.equals(want.index)


@pytest.mark.parametrize("ext", ["parquet", "csv"])
def test_mask_keeps_the_rows_gdal_keeps(tiles, files, ext):
    minx, miny, maxx, maxy = _box(tiles)
    triangle = shapely.Polygon([(minx, miny), (maxx, miny), (minx, maxy)])
    want = _gdal_ids(files["gpkg"], mask=triangle)
    assert 0 < len(want) < len(_gdal_ids(files["gpkg"], bbox=triangle.bounds))
    assert set(byocframe.read_file(files[ext], mask=triangle).index) == want
    as_geojson = shapely.geometry.mapping(triangle)
    assert set(byocframe.read_file(files[ext], mask=as_geojson).index) == want


@pytest.mark.parametrize("rows", [7, slice(10, 25), slice(None, None, 50), 0])
def test_rows_are_those_of_geopandas(tiles, files, rows):
    got = byocframe.read_file(files["parquet"], rows=rows)
    if isinstance(rows, slice) and rows.step:  # pyogrio takes no step: pandas' meaning
        want = tiles.index[rows].tolist()
    else:
        want = gpd.read_file(files["gpkg"], rows=rows)["id"].tolist() if rows else []
    assert got.index.tolist() == want
    assert got.dtypes.equals(tiles.dtypes)


def test_columns_keep_the_index_and_geometry(tiles, files):
    got = byocframe.read_file(files["gpkg"], columns=["sensing_time", "status"])
    assert list(got.columns) == ["status", "sensing_time", "geometry"]  # the file's order
    assert got.index.equals(tiles.index)
    assert got["status"].dtype == tiles["status"].dtype
    assert list(byocframe.read_file(files["parquet"], columns=[]).columns) == ["geometry"]
    with pytest.raises(ValidationError, match=r"columns= names 'stauts', not in the file"):
        byocframe.read_file(files["parquet"], columns=["stauts"])


@pytest.mark.parametrize(
    "filters",
    [
        [("status", "==", "WAITING")],
        [
            [("status", "==", "WAITING")],
            [("sensing_time", "<", pd.Timestamp("2024-06-02", tz="UTC"))],
        ],
        pc.field("status") != "INGESTED",
    ],
    ids=["and", "or", "expression"],
)
def test_filters_keep_the_rows_pyarrow_keeps(tiles, files, filters):
    want = gpd.read_parquet(files["parquet"], filters=filters).index.tolist()
    assert 0 < len(want) < len(tiles)
    assert byocframe.read_file(files["parquet"], filters=filters).index.tolist() == want


def test_filters_with_rows_apply_rows_after_the_filter(files):
    filters = [("sensing_time", ">=", pd.Timestamp("2024-06-20", tz="UTC"))]
    every = byocframe.read_file(files["parquet"], filters=filters)
    assert byocframe.read_file(files["parquet"], filters=filters, rows=5).index.equals(
        every.index[:5]
    )


def test_a_part_plans_its_edits_and_no_deletion(tiles, files):
    """Before the reading options existed the keywords were a TypeError; with the part
    not marked (its file's loaded ids kept) 290 tiles left out were planned deleted."""
    part = byocframe.read_file(files["parquet"], rows=10)
    assert part.attrs["byocframe"]["whole"] is False
    moved = part.index[3]
    part.loc[moved, "sensing_time"] += pd.Timedelta(hours=1)
    found = byocframe.changes(part)
    assert found["id"].tolist() == [moved]
    with pytest.raises(ValidationError, match=r"a part of a file .* no deletion is planned"):
        byocframe.changes(part, deleted=True)
    # every row kept: the file's frame, deletions as the file plans them
    whole = byocframe.read_file(files["parquet"], rows=len(tiles))
    assert byocframe.changes(whole.drop(index=whole.index[0]), deleted=True)["id"].tolist() == [
        whole.index[0]
    ]


def test_a_part_pushed_with_delete_missing_deletes_nothing(tmp_path):
    with byocframe.local_service(demo=True, demo_tiles=40) as service:
        client = service.client()
        cid = service.demo_collection
        byocframe.write_file(byocframe.read_tiles(client, cid), tmp_path / "t.gpkg")
        before = {t["id"] for t in client.iter_tiles(cid)}
        box = tuple(byocframe.read_file(tmp_path / "t.gpkg").geometry.iloc[0].bounds)
        for part in (
            byocframe.read_file(tmp_path / "t.gpkg", bbox=box),
            byocframe.read_file(tmp_path / "t.gpkg", rows=slice(5, 9)),
        ):
            assert 0 < len(part) < len(before)
            with pytest.raises(ValidationError, match="no deletion is planned"):
                byocframe.push(part, client, delete_missing=True)
        assert {t["id"] for t in client.iter_tiles(cid)} == before


def test_a_subset_of_columns_plans_only_the_edits_it_holds(tiles, files):
    needed = ["loaded", "path", "status", "sensing_time", "native_cover", "native_crs"]
    some = byocframe.read_file(files["parquet"], columns=[*needed, "native_tile"])
    assert byocframe.changes(some).empty  # the columns left out are not edits
    some.loc[some.index[0], "sensing_time"] += pd.Timedelta(days=1)
    assert byocframe.changes(some)["field"].tolist() == ["sensing_time"]
    bare = byocframe.read_file(files["parquet"], columns=["status"])
    with pytest.raises(ValidationError, match="no 'loaded' column"):
        byocframe.changes(bare)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"bbox": (0, 0, 1, 1), "mask": shapely.box(0, 0, 1, 1)}, ValueError, "cannot be used"),
        ({"rows": -1}, ValueError, "rows= must be 0 or more"),
        ({"rows": "10"}, TypeError, "rows= takes an int .* got str"),
        ({"rows": True}, TypeError, "rows= takes an int"),
        ({"columns": "status"}, TypeError, "columns= takes a list"),
        ({"bbox": "0,0,1,1"}, TypeError, r"bbox= takes \(minx"),
        ({"mask": {"type": "Nope"}}, ValueError, "mask= is not a GeoJSON geometry"),
        ({"engine": "fiona"}, ValueError, "with pyogrio only; drop engine="),
    ],
)
def test_options_of_the_wrong_shape_are_refused(files, options, error, match):
    with pytest.raises(error, match=match):
        byocframe.read_file(files["parquet"], **options)


def test_filters_are_for_geoparquet_and_name_columns(files):
    with pytest.raises(ValueError, match="filters= works on GeoParquet files only"):
        byocframe.read_file(files["gpkg"], filters=[("status", "==", "FAILED")])
    with pytest.raises(ValueError, match=r"names 'state', not a column of tiles\.parquet"):
        byocframe.read_file(files["parquet"], filters=[("state", "==", "FAILED")])
    with pytest.raises(ValueError, match="compare each column with a value of its type"):
        byocframe.read_file(files["parquet"], filters=[("status", "==", 1)])


def test_paths_urls_and_open_files(files, tmp_path):
    from pathlib import Path

    assert len(byocframe.read_file(Path(files["fgb"]), rows=3, engine="pyogrio")) == 3
    with pytest.raises(ValidationError, match="files of this machine only; download it first"):
        byocframe.read_file("https://example.com/tiles.parquet")
    with open(files["csv"], "rb") as opened, pytest.raises(TypeError, match="got BufferedReader"):
        byocframe.read_file(opened)
    with pytest.raises(TypeError, match="got BytesIO"):
        byocframe.read_file(io.BytesIO(b""))


def test_a_path_under_the_home_folder(tiles, tmp_path, monkeypatch):
    """geopandas expands "~"; byocframe said "folder not found" for "~/tiles.gpkg"."""
    monkeypatch.setenv("HOME", str(tmp_path))
    byocframe.write_file(tiles.head(3), "~/tiles.gpkg")
    tiles.head(2).byoc.to_file("~/two.parquet")
    assert (tmp_path / "tiles.gpkg").is_file()
    assert byocframe.read_file("~/tiles.gpkg").index.equals(tiles.index[:3])
    assert byocframe.read_file("~/two.parquet", rows=1).index.equals(tiles.index[:1])


def test_write_file_takes_geopandas_driver_names(tiles, tmp_path):
    """``to_file(path, driver="GPKG")``, as geopandas users write it, was a TypeError."""
    tiles.head(3).byoc.to_file(tmp_path / "t.gpkg", driver="GPKG")
    byocframe.write_file(tiles.head(3), tmp_path / "t.parquet", "Parquet")
    for name in ("t.gpkg", "t.parquet"):
        assert byocframe.read_file(tmp_path / name).index.equals(tiles.index[:3])
    with pytest.raises(ValueError, match=r"driver='GPKG' but t\.geojson .* name it t\.gpkg"):
        byocframe.write_file(tiles.head(3), tmp_path / "t.geojson", driver="GPKG")
    with pytest.raises(ValueError, match="not a format byocframe writes; use Parquet, GPKG"):
        byocframe.write_file(tiles.head(3), tmp_path / "t.shp.gpkg", driver="ESRI Shapefile")
    assert not (tmp_path / "t.geojson").exists()


@pytest.mark.parametrize(
    ("rows", "groups"),
    [(10, [0]), (slice(100, 200), [1, 2, 3]), (slice(-5, None), [4]), (300, None)],
    ids=["first", "middle", "last", "all"],
)
def test_rows_of_a_large_parquet_file_read_only_their_row_groups(
    tiles, tmp_path, monkeypatch, rows, groups
):
    import byocframe.io.files as files
    import byocframe.io.geoparquet as geoparquet
    import byocframe.io.geoparquet_write as geoparquet_write

    monkeypatch.setattr(geoparquet_write, "ROW_GROUP_SIZE", 64)  # 300 rows: 5 groups
    path = tmp_path / "t.parquet"
    byocframe.write_file(tiles, path)
    read = []
    monkeypatch.setattr(
        files, "read_row_groups", lambda p, g: read.append(g) or geoparquet.read_row_groups(p, g)
    )
    got = byocframe.read_file(path, rows=rows)
    want = tiles.iloc[rows] if isinstance(rows, slice) else tiles.iloc[:rows]
    assert got.index.equals(want.index)
    assert got.geometry.geom_equals_exact(want.geometry, 0).all()
    assert got["tile_geometry"].to_wkb().tolist() == want["tile_geometry"].to_wkb().tolist()
    assert byocframe.changes(got).empty
    assert read == ([] if groups is None else [groups])
    if groups is None:  # every row: the file's frame, its deletions planned
        assert byocframe.changes(got.iloc[1:], deleted=True)["id"].tolist() == [tiles.index[0]]
    else:
        with pytest.raises(ValidationError, match="no deletion is planned"):
            byocframe.changes(got.iloc[1:], deleted=True)


def _assert_the_columns_of(got, whole, columns):
    """``got`` is ``whole`` with only ``columns`` and the geometry: values, dtypes, attrs."""
    want = whole[[c for c in whole.columns if c in columns or c == "geometry"]]
    assert list(got.columns) == list(want.columns)
    assert got.dtypes.equals(want.dtypes)
    assert got.index.equals(want.index)
    assert got.crs.equals(want.crs)
    assert got.attrs == whole.attrs
    for column in got.columns:
        if column in ("geometry", "tile_geometry"):
            assert got[column].to_wkb().tolist() == want[column].to_wkb().tolist()
        else:
            assert got[column].equals(want[column]), column


@pytest.mark.parametrize(
    "columns",
    [["status", "sensing_time"], ["loaded", "path", "native_crs"], [], ["tile_geometry"]],
    ids=["two", "tokens", "none", "drawn"],
)
def test_columns_of_a_parquet_file_read_only_those(tiles, files, monkeypatch, columns):
    import byocframe.io.files as files_module

    whole = byocframe.read_file(files["parquet"])
    read_whole = []
    original = files_module._read_whole
    monkeypatch.setattr(
        files_module, "_read_whole", lambda *a: read_whole.append(a) or original(*a)
    )
    got = byocframe.read_file(files["parquet"], columns=columns)
    _assert_the_columns_of(got, whole, columns)
    assert bool(read_whole) == ("tile_geometry" in columns)  # drawn: the whole file


def test_columns_of_another_writers_geoparquet(tiles, tmp_path):
    path = tmp_path / "plain.parquet"
    tiles.drop(columns=["native_cover", "native_tile", "tile_geometry"]).to_parquet(path)
    got = byocframe.read_file(path, columns=["path", "status"])
    assert list(got.columns) == ["path", "status", "geometry"]
    assert got.index.equals(tiles.index)


def test_a_stac_geoparquet_file_reads_as_tiles(tiles, tmp_path):
    """What ``byocframe tiles --stac`` writes used to come back as a frame of STAC
    columns (type, stac_version, assets, ...), silently not a tile table."""
    pytest.importorskip("stac_geoparquet")
    from byocframe.frame.synthetic import SYNTHETIC_BANDS

    record = {"id": "c1", "s3Bucket": "b", "additionalData": {"bands": SYNTHETIC_BANDS}}
    path = tmp_path / "items.parquet"
    tiles.byoc.to_stac_geoparquet(path, record)
    back = byocframe.read_file(path)
    assert back.index.equals(tiles.index)
    for column in ("path", "status", "sensing_time", "native_crs"):
        assert back[column].equals(tiles[column]), column
    assert back.geometry.geom_equals_exact(tiles.geometry, 1e-9).all()
    part = byocframe.read_file(path, bbox=_box(tiles), columns=["path"])
    assert set(part.index) == set(byocframe.read_file(path, bbox=_box(tiles)).index)
    assert list(part.columns) == ["path", "geometry"]


def test_a_stac_item_collection_saved_as_json_reads_as_tiles(tiles, tmp_path):
    """``to_stac(...).save_object(...)`` writes a FeatureCollection of STAC Items; it
    was refused as "no 'path' column; is it a tile table?"."""
    pytest.importorskip("pystac")
    from byocframe.frame.synthetic import SYNTHETIC_BANDS

    record = {"id": "c1", "s3Bucket": "b", "additionalData": {"bands": SYNTHETIC_BANDS}}
    items = tiles.byoc.to_stac(record)
    path = tmp_path / "items.json"
    items.save_object(dest_href=str(path))
    back = byocframe.read_file(path, rows=slice(10, 20))
    assert back.index.equals(tiles.index[10:20])
    assert back["path"].equals(tiles["path"].iloc[10:20])
    assert back.geometry.geom_equals_exact(tiles.geometry.iloc[10:20], 1e-9).all()


@pytest.mark.parametrize("ext", ["gpkg", "fgb"])
@pytest.mark.parametrize(
    "options",
    [
        {"bbox": "box"},
        {"mask": "triangle"},
        {"rows": slice(20, 45)},
        {"bbox": "box", "rows": 3},
        {"bbox": (170.0, -90.0, -170.0, 90.0)},  # across the antimeridian: a mask
        {"rows": slice(-4, None)},  # counted from the end: not GDAL's
    ],
    ids=["bbox", "mask", "rows", "bbox+rows", "antimeridian", "from-the-end"],
)
def test_gdal_filters_a_geopackage_while_reading(tiles, files, monkeypatch, ext, options):
    """GDAL applies bbox, mask and rows while it reads (pyogrio's bbox, mask,
    skip_features/max_features): the rows are those of the GeoParquet file read whole
    and filtered in Python, and the frame is a part."""
    minx, miny, maxx, maxy = _box(tiles)
    shapes = {
        "box": (minx, miny, maxx, maxy),
        "triangle": shapely.Polygon([(minx, miny), (maxx, miny), (minx, maxy)]),
    }
    options = {k: shapes.get(v, v) if isinstance(v, str) else v for k, v in options.items()}
    gdal = []
    real = gpd.read_file
    monkeypatch.setattr(gpd, "read_file", lambda p, **kw: gdal.append(kw) or real(p, **kw))
    got = byocframe.read_file(files[ext], **options)
    want = byocframe.read_file(files["parquet"], **options)
    assert 0 < len(got) < len(tiles)
    assert got.index.tolist() == want.index.tolist()
    assert got.attrs["byocframe"]["whole"] is False
    assert "loaded_ids" not in got.attrs["byocframe"]
    pushed = gdal[0]
    from_start = "rows" in options and options["rows"] != slice(-4, None)
    assert ("rows" in pushed) == (from_start and "bbox" not in options)
    assert bool({"bbox", "mask"} & set(pushed)) == bool({"bbox", "mask"} & set(options))


@pytest.mark.parametrize("ext", ["gpkg", "fgb"])
@pytest.mark.parametrize(
    "columns", [["status", "sensing_time"], ["loaded", "native_crs", "tile_geometry"], []]
)
def test_gdal_reads_only_the_columns_asked(tiles, files, monkeypatch, ext, columns):
    whole = byocframe.read_file(files[ext])
    gdal = []
    real = gpd.read_file
    monkeypatch.setattr(gpd, "read_file", lambda p, **kw: gdal.append(kw) or real(p, **kw))
    got = byocframe.read_file(files[ext], columns=columns)
    assert gdal[0]["columns"] == ["id", "path", *columns]
    _assert_the_columns_of(got, whole, columns)


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("rows", [0, slice(5, 5), slice(290, 400), 1000, slice(None, 3)], ids=str)
def test_rows_at_the_edges(tiles, files, ext, rows):
    """pyogrio reads every feature for max_features=0: rows=0 gave all 300 rows of a
    GeoPackage, rows=slice(5, 5) 295."""
    want = tiles.index[rows] if isinstance(rows, slice) else tiles.index[:rows]
    assert byocframe.read_file(files[ext], rows=rows).index.equals(want)

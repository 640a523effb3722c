"""Attacks on tile frames and their GeoParquet files: edits that vanish, crafted files.

Each test documents one defect found by the attack (branch ``attack``), now fixed.
"""

from __future__ import annotations

import json
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

import byocframe
from byocframe.frame.synthetic import synthetic_tiles


@pytest.fixture
def gdf():
    return byocframe.tiles_from_records(synthetic_tiles(6, seed=1))


def test_an_edited_native_crs_is_refused(gdf):
    edited = gdf.copy()
    edited.loc[edited.index[0], "native_crs"] = "EPSG:32602"
    found = byocframe.changes(edited)
    assert found[["field", "action"]].values.tolist() == [["native_crs", "read-only"]]


def test_an_edited_read_only_column_is_refused(gdf):
    edited = gdf.copy()
    edited.loc[edited.index[0], "additional_data"] = '{"edited": true}'
    assert not byocframe.changes(edited).empty


def _crafted(gdf, tmp_path, *, meta=None, column=None, values=None, geo_encoding=None):
    """The file write_file writes, with some metadata or one column replaced."""
    path = tmp_path / "tiles.parquet"
    byocframe.write_file(gdf, path)
    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), **(pq.read_metadata(path).metadata or {})}
    metadata.pop(b"ARROW:schema", None)
    metadata.update(meta or {})
    if geo_encoding is not None:
        geo = json.loads(metadata[b"geo"])
        geo["columns"]["geometry"]["encoding"] = geo_encoding
        metadata[b"geo"] = json.dumps(geo).encode()
    if column is not None:
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, pa.array(values, pa.binary()))
    out = tmp_path / "crafted.parquet"
    pq.write_table(table.replace_schema_metadata(metadata), out)
    return out


def _own(gdf, tmp_path):
    path = tmp_path / "own.parquet"
    byocframe.write_file(gdf, path)
    return json.loads(pq.read_metadata(path).metadata[b"byocframe"])


NOT_WKB = b"not wkb"


# a polygon header announcing 2**31 - 1 rings, and nothing after it
HUGE_COUNT = b"\x01\x03\x00\x00\x00\xff\xff\xff\x7f"


@pytest.mark.parametrize(
    "craft",
    [
        pytest.param(lambda own: {"meta": {b"byocframe": b"[]"}}, id="byocframe-meta-a-list"),
        pytest.param(
            lambda own: {"meta": {b"byocframe": json.dumps({**own, "columns": 5}).encode()}},
            id="columns-a-number",
        ),
        pytest.param(
            lambda own: {
                "meta": {b"byocframe": json.dumps({**own, "crs": "EPSG:999999"}).encode()}
            },
            id="unknown-crs",
        ),
        pytest.param(lambda own: {"meta": {b"geo": b"[]"}}, id="geo-meta-a-list"),
        pytest.param(lambda own: {"geo_encoding": "WKB"}, id="geoarrow-column-said-wkb"),
        pytest.param(
            lambda own: {"column": "native_tile", "values": [HUGE_COUNT] * 6},
            id="native-tile-huge-ring-count",
        ),
        pytest.param(
            lambda own: {"column": "tile_geometry", "values": [NOT_WKB] + [None] * 5},
            id="tile-geometry-not-wkb",
        ),
        pytest.param(
            lambda own: {"column": "native_cover", "values": [NOT_WKB] * 6},
            id="native-cover-not-wkb",
        ),
    ],
)
def test_a_crafted_file_is_refused_with_a_validation_error(gdf, tmp_path, craft):
    path = _crafted(gdf, tmp_path, **craft(_own(gdf, tmp_path)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # only the exception is judged here
        try:
            byocframe.changes(byocframe.read_file(path))
        except byocframe.ValidationError:
            return
    pytest.fail("the crafted file was read and compared as if it were sound")


def test_nan_coordinates_in_a_crafted_native_cover_are_refused(gdf, tmp_path):
    """Held: a native_cover with a NaN vertex is refused as an edit of a read-only field."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # shapely: NaN in a ring
        nan = shapely.to_wkb(shapely.Polygon([(0, 0), (1, float("nan")), (1, 1), (0, 0)]))
        values = [nan, *gdf["native_cover"].tolist()[1:]]
        path = _crafted(gdf, tmp_path, column="native_cover", values=values)
        found = byocframe.changes(byocframe.read_file(path))
    assert found[["field", "action"]].values.tolist() == [["native_cover", "read-only"]]


def test_reading_some_row_groups_plans_no_deletion(tmp_path, monkeypatch):
    from byocframe.io import geoparquet, geoparquet_write

    gdf = byocframe.tiles_from_records(synthetic_tiles(8, seed=1))
    monkeypatch.setattr(geoparquet_write, "ROW_GROUP_SIZE", 2)  # 4 row groups, as in a big file
    path = tmp_path / "tiles.parquet"
    byocframe.write_file(gdf, path)
    assert pq.ParquetFile(path).num_row_groups == 4
    part = geoparquet.read_row_groups(path, [0])  # "read a part of a file without the rest"
    try:
        found = byocframe.changes(part, deleted=True)
    except byocframe.ValidationError:
        return  # refused: fine
    assert found.empty  # today: 6 deletions, the tiles of the 3 groups not read


def test_a_failed_write_file_leaves_the_previous_file_as_it_was(gdf, tmp_path):
    path = tmp_path / "tiles.parquet"
    byocframe.write_file(gdf, path)
    before = path.read_bytes()
    broken = gdf.copy()
    broken.attrs["byocframe"]["note"] = float("nan")
    with pytest.raises(byocframe.ValidationError):  # today: ValueError
        byocframe.write_file(broken, path)
    assert path.read_bytes() == before


def test_a_file_whose_geo_metadata_names_a_missing_column_says_so(gdf, tmp_path):
    path = tmp_path / "tiles.parquet"
    byocframe.write_file(gdf, path)
    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), **(pq.read_metadata(path).metadata or {})}
    metadata.pop(b"ARROW:schema", None)
    geo = json.loads(metadata[b"geo"])
    geo["primary_column"] = "footprint"
    geo["columns"]["footprint"] = geo["columns"].pop("geometry")
    metadata[b"geo"] = json.dumps(geo).encode()
    out = tmp_path / "renamed.parquet"
    pq.write_table(table.replace_schema_metadata(metadata), out)
    with pytest.raises(byocframe.ValidationError, match=r"no column 'footprint'.*write it again"):
        byocframe.read_file(out)

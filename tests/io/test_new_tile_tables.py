"""A table of new tiles made with geopandas (no tile ids at all): every row is created.

The first hour of a user who has tiles to add: a GeoPackage, GeoJSON, CSV or GeoParquet
of ``path``, ``sensing_time`` and a geometry, made with geopandas (or QGIS). Its row
numbers (a GeoPackage's fids, a GeoParquet's range index) are not tile ids; before, they
were read as such, and the push refused every row as "a tile that is not in collection".
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.cli import main
from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

PATHS = ["new/a_(BAND).tif", "new/b_(BAND).tif"]


def _table() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"path": PATHS, "sensing_time": ["2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"]},
        geometry=[shapely.box(14, 45, 14.1, 45.1), shapely.box(14.1, 45, 14.2, 45.1)],
        crs="EPSG:4326",
    )


def _save(table: gpd.GeoDataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        plain = pd.DataFrame(table.drop(columns="geometry"))
        plain.assign(geometry=table.geometry.to_wkt()).to_csv(path, index=False)
    elif path.suffix == ".parquet":
        table.to_parquet(path)
    else:
        table.to_file(path)


@pytest.mark.parametrize("name", ["new.gpkg", "new.geojson", "new.csv", "new.parquet"])
def test_a_table_without_ids_reads_as_new_rows_and_is_created(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    _save(_table(), path)
    read = byocframe.read_file(path)
    assert read.index.isna().all()
    assert list(read["path"]) == PATHS
    with byocframe.local_service(demo=True, demo_tiles=3) as service:
        account = [
            "--base-url",
            service.base_url,
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--client-secret",
            DEFAULT_CLIENT_SECRET,
        ]
        cid = service.demo_collection
        assert main(["push", cid, str(path), "--no-write-back", *account]) == 0
        client = service.client()
        for tile_path in PATHS:
            made = client.find_tile(cid, tile_path)
            assert made is not None, tile_path
            assert made["sensingTime"].startswith("2024-05-0")


def test_a_geoparquet_whose_index_is_not_row_numbers_keeps_it_as_ids(tmp_path: Path) -> None:
    """Only an unnamed range index is row numbers; an ``id`` column or index is the ids."""
    table = _table()
    table.index = pd.Index(["t1", "t2"], name="id")
    table.to_parquet(tmp_path / "named.parquet")
    assert list(byocframe.read_file(tmp_path / "named.parquet").index) == ["t1", "t2"]
    table.reset_index().to_parquet(tmp_path / "column.parquet")
    assert list(byocframe.read_file(tmp_path / "column.parquet").index) == ["t1", "t2"]

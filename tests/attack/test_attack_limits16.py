"""Bounded against every peer, round four: files whose tables are mostly empty cells.

Branch ``limits16`` (tests/attack/FINDINGS.md, findings 290 on). The peer is a file
handed to byocframe (`read_file`, ``--aoi``). CSV, GeoJSON and FlatGeobuf let a table
name many columns and many rows while holding almost nothing, and pandas or GDAL fill
each missing value: the table grows as rows times columns from a file that grows as rows
plus columns. What a read costs is measured as the peak of Python's traced allocations
(numpy's arrays included), never as a time. A GeoPackage can also say it holds fewer
rows than it does; pyogrio then reads only as many.
"""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

import byocframe
from byocframe.exceptions import ValidationError
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.io import files

#: Columns and rows of the crafted tables: 4 million cells (32 MB of float64 at least)
#: from files of tens of kilobytes.
COLUMNS, ROWS = 2_000, 2_000


def peak_bytes(read: Callable[[], Any]) -> tuple[Any, int]:
    """What ``read()`` gives (or raises) and the peak of Python's traced allocations."""
    tracemalloc.start()
    try:
        try:
            got: Any = read()
        except Exception as err:  # the refusal is the result looked at
            got = err
        return got, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def short_rows_csv(path: Path) -> Path:
    """A CSV naming ``COLUMNS`` columns whose ``ROWS`` rows give only a path (finding 290)."""
    header = "path,geometry," + ",".join(f"c{i}" for i in range(COLUMNS))
    path.write_text(header + "\n" + "".join(f"p{i}\n" for i in range(ROWS)))
    return path


def sparse_geojson(path: Path, features: int = ROWS) -> Path:
    """Features each naming a property of their own (finding 291, 294)."""
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [i % 90, 0]},
                "properties": {"path": f"p{i}", f"k{i}": 1},
            }
            for i in range(features)
        ],
    }
    path.write_text(json.dumps(document))
    return path


def empty_flatgeobuf(path: Path) -> Path:
    """A FlatGeobuf of ``COLUMNS`` text columns whose features hold none (finding 292)."""
    import pandas as pd

    rows = ROWS // 4  # GDAL writes it slowly; still 1 million cells
    data: dict[str, Any] = {"path": [f"p{i}" for i in range(rows)]}
    data.update({f"c{i}": pd.Series([None] * rows, dtype="string") for i in range(COLUMNS)})
    gdf = gpd.GeoDataFrame(data, geometry=[shapely.Point(0, 0)] * rows, crs=4326)
    gdf.to_file(path)
    return path


# ------------------------------------------------------------------ 290-292: the cells
@pytest.mark.parametrize(
    ("make", "name", "cells"),
    [
        (short_rows_csv, "t.csv", ROWS * (COLUMNS + 2)),
        (sparse_geojson, "t.geojson", ROWS * (ROWS + 2)),
        (empty_flatgeobuf, "t.fgb", ROWS // 4 * (COLUMNS + 2)),
    ],
    ids=["290-csv", "291-geojson", "292-flatgeobuf"],
)
def test_a_file_of_mostly_empty_cells_is_refused_before_its_table_is_built(
    tmp_path: Path, make: Callable[[Path], Path], name: str, cells: int
) -> None:
    """Before the fix each was read whole: 4 million cells from 10-190 KB (the CSV took
    at least 64 MB of traced memory, the GeoJSON more; at 20,000 x 5,000 the CSV took
    2.5 GB and 168 s, the GeoJSON at 5,000 x 5,000 0.7 GB and 15 s)."""
    path = make(tmp_path / name)
    assert path.stat().st_size * 5 < cells  # the bomb: far more cells than bytes
    got, peak = peak_bytes(lambda: byocframe.read_file(path))
    assert isinstance(got, ValidationError), got
    message = str(got)
    assert "\n" not in message
    assert "byocframe.io.files.MIN_FILE_BYTES_PER_CELL" in message
    assert f"{cells:,} cells" in message
    assert peak < 16 * 2**20, peak  # the table's cells (8 bytes each) were never made


@pytest.mark.parametrize(
    ("make", "name"),
    [(short_rows_csv, "t.csv"), (sparse_geojson, "t.geojson")],
    ids=["290-csv", "291-geojson"],
)
def test_the_cells_bound_can_be_lifted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], Path], name: str
) -> None:
    path = make(tmp_path / name)
    monkeypatch.setattr(files, "MIN_FILE_BYTES_PER_CELL", 0)
    frame = byocframe.read_file(path)
    assert len(frame) == ROWS
    assert frame["path"].iloc[-1] == f"p{ROWS - 1}"


def test_a_csv_of_quoted_line_breaks_is_counted_by_its_records(tmp_path: Path) -> None:
    """Lines overcount the rows of a CSV whose texts hold line breaks: a file whose
    lines times columns pass the bound but whose records do not is read."""
    gdf = byocframe.tiles_from_records(synthetic_tiles(20, seed=3))
    gdf["failed_ingestion_cause"] = "a\n" * 5000  # 5,000 line breaks a row
    path = tmp_path / "t.csv"
    byocframe.write_file(gdf, path)
    text = path.read_bytes()
    assert text.count(b"\n") * len(gdf.columns) > len(text)  # lines alone would refuse
    back = byocframe.read_file(path)
    assert back.index.equals(gdf.index)
    assert (back["failed_ingestion_cause"] == gdf["failed_ingestion_cause"]).all()


@pytest.mark.parametrize("suffix", [".csv", ".geojson", ".fgb", ".gpkg", ".parquet"])
def test_honest_tables_with_empty_columns_are_read(tmp_path: Path, suffix: str) -> None:
    """What byocframe and geopandas write, with columns mostly empty, passes the bound."""
    import pandas as pd

    gdf = byocframe.tiles_from_records(synthetic_tiles(50, seed=2))
    for i in range(30):  # a user's columns, all empty
        gdf[f"note{i}"] = None
    path = tmp_path / f"t{suffix}"
    byocframe.write_file(gdf, path)
    assert byocframe.read_file(path).index.equals(gdf.index)
    other = tmp_path / f"g{suffix}"
    plain = gpd.GeoDataFrame(gdf.drop(columns=["loaded"]).reset_index()[["id", "path"]])
    plain = plain.set_geometry(gdf.geometry.to_numpy(), crs=gdf.crs)
    for i in range(30):
        plain[f"note{i}"] = None
    if suffix == ".parquet":
        plain.to_parquet(other)
    elif suffix == ".csv":
        table = pd.DataFrame(plain.drop(columns="geometry"))
        table.assign(geometry=plain.geometry.to_wkt().to_numpy()).to_csv(other, index=False)
    else:
        plain.to_file(other)
    assert len(byocframe.read_file(other)) == 50


# ------------------------------------------------------------ 293: the stale count
def stale_count(path: Path, count: int) -> None:
    """Set a GeoPackage's stored feature count, as a writer that does not keep it may."""
    with sqlite3.connect(path) as database:
        database.execute("UPDATE gpkg_ogr_contents SET feature_count = ?", (count,))
    database.close()


def test_293_a_geopackage_whose_count_says_fewer_rows_is_refused_not_read_short(
    tmp_path: Path,
) -> None:
    """pyogrio reads as many features as the layer's count says (GDAL answers it from
    ``gpkg_ogr_contents``): before the fix a table of 10 tiles whose count said 4 was
    read as 4 tiles, its attrs whole, and ``push(..., delete_missing=True)`` planned to
    delete the 6 it did not see (checked against a local service)."""
    gdf = byocframe.tiles_from_records(synthetic_tiles(10, seed=1))
    path = tmp_path / "t.gpkg"
    byocframe.write_file(gdf, path)
    stale_count(path, 4)
    with pytest.raises(ValidationError, match=r"gpkg_ogr_contents\) says 4 rows.*holds 10") as err:
        byocframe.read_file(path)
    assert "\n" not in str(err.value)
    assert "ogr2ogr" in str(err.value)
    with pytest.raises(ValidationError, match="says 4 rows"):  # GDAL's options too
        byocframe.read_file(path, rows=8)


def test_a_geopackage_whose_count_says_more_rows_is_read_whole(tmp_path: Path) -> None:
    """A count above the table's rows loses nothing (pyogrio stops at the last row)."""
    gdf = byocframe.tiles_from_records(synthetic_tiles(10, seed=1))
    path = tmp_path / "t.gpkg"
    byocframe.write_file(gdf, path)
    stale_count(path, 12)
    assert byocframe.read_file(path).index.equals(gdf.index)


def test_293_an_aoi_geopackage_whose_count_says_fewer_rows_is_refused(tmp_path: Path) -> None:
    """The same for ``--aoi``: before the fix 2 of 5 areas were read, silently."""
    from byocframe.cli.coverage import read_aoi

    path = tmp_path / "aoi.gpkg"
    boxes = [shapely.box(i, 0, i + 0.5, 1) for i in range(5)]
    gpd.GeoDataFrame(geometry=boxes, crs=4326).to_file(path, layer="aoi")
    assert len(read_aoi(str(path))) == 5
    stale_count(path, 2)
    with pytest.raises(ValidationError, match="says 2 rows but its table holds 5"):
        read_aoi(str(path))


# ------------------------------------------------------------------- 294: --aoi
def test_294_an_aoi_file_is_read_for_its_area_only(tmp_path: Path) -> None:
    """GDAL gives a column to each property any feature names: an AOI of 2,000 features
    naming one each made 4 million cells (5,000: 0.8 GB and 30 s) before the fix, to
    use its geometries only."""
    from byocframe.cli.coverage import read_aoi

    path = sparse_geojson(tmp_path / "aoi.geojson")
    got, peak = peak_bytes(lambda: read_aoi(str(path)))
    assert list(got.columns) == ["geometry"]
    assert len(got) == ROWS
    assert peak < 16 * 2**20, peak


# --------------------------------------------------------------------- the docs
def test_the_cells_setting_is_in_the_limits_table_with_its_default() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "guide" / "credentials.md"
    rows = [
        line
        for line in page.read_text().splitlines()
        if "`byocframe.io.files.MIN_FILE_BYTES_PER_CELL`" in line
    ]
    assert len(rows) == 1
    default = rows[0].strip("|").split("|")[1].strip()
    assert default == str(files.MIN_FILE_BYTES_PER_CELL) == "1"


# --------------------------------------------------- 295: the local service's searches
def test_295_the_service_keeps_no_search_query_whole_for_its_next_pages() -> None:
    """The local Catalog keeps each search's result list for its next pages (64 lists at
    most), under the query as text: 350,000 ids in a 15 MiB body kept 15 MiB a search,
    64 searches 1 GB, whatever they found (here nothing). Measured as Python's traced
    memory still held after four searches of 2 MiB each."""
    import gc

    from byocframe.stac.catalog import CATALOG_PATH

    with byocframe.local_service(demo=True, demo_tiles=3) as service:
        client = service.client()
        url = client.base_url + CATALOG_PATH + "/search"
        collections = [f"byoc-{service.demo_collection}"]
        client.request("POST", url, json={"collections": collections})  # warmed up
        gc.collect()
        tracemalloc.start()
        try:
            held = tracemalloc.get_traced_memory()[0]
            for search in range(4):
                ids = [f"{search}-{i:06d}-{'x' * 40}" for i in range(40_000)]  # 2 MiB
                page = client.request("POST", url, json={"collections": collections, "ids": ids})
                assert page["features"] == []
                del ids, page
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - held
        finally:
            tracemalloc.stop()
    assert grown < 2 * 2**20, grown  # before the fix: 4 queries of 2 MiB kept whole


def test_295_searches_of_areas_a_micro_degree_apart_are_not_one_result_list() -> None:
    """The kept list's key held the area as WKT rounded to 6 decimals: two searches
    whose areas differ by less had one key, so the next pages of one, paged while the
    other was searched, came from the other's list."""
    from byocframe.emulator.search import SearchQuery

    near = shapely.box(0, 0, 1, 1)
    nearer = shapely.box(0, 0, 1.0000004, 1)
    keys = {SearchQuery(collection="c", area=a).key for a in (near, nearer)}
    assert len(keys) == 2


# ------------------------------------------------- 296: the tiles a Catalog search finds
def test_296_the_tiles_a_search_finds_are_fetched_a_window_at_a_time() -> None:
    """`search_records` handed every id found to ``pool.map`` at once, which makes all
    the futures before the first answer: 1.7 KB an id, 1.7 GB for a million tiles found
    (17 GB within ``MAX_ITEMS``). 10,000 ids from a Catalog (a mock transport, no
    socket) peaked at 20 MB of traced memory before the fix, 6 MB after."""
    from byocframe.stac.catalog import search_records
    from byocframe.testing import MockTransport

    found = 10_000

    def tid(i: int) -> str:
        return f"00000000-0000-4000-8000-{i:012d}"

    def handler(request: Any) -> Any:
        mock.requests.clear()  # the mock's own record is not what is measured
        if request.url.endswith("token"):
            return (200, {"access_token": "t", "expires_in": 3600})
        if request.method == "POST":
            start = int(json.loads(request.body).get("next", 0))
            stop = min(start + 100, found)
            # each inside the area asked for (an item without a box is refused in a search
            # by area: byocframe.stac.answers)
            box = [0.1, 0.1, 0.2, 0.2]
            features = [{"type": "Feature", "id": tid(i), "bbox": box} for i in range(start, stop)]
            context = {"next": stop} if stop < found else {}
            return (200, {"type": "FeatureCollection", "features": features, "context": context})
        return (200, {"data": {"id": request.url.rsplit("/", 1)[-1], "created": "2024-01-01"}})

    mock = MockTransport(handler)
    client = byocframe.Client(
        base_url="http://127.0.0.1:1",
        client_id="id",
        client_secret="secret",
        transport=mock,
        backoff=0.0,
    )
    cid = "0b5c5e1b-6f8e-4d0c-9a53-3c7b2b1c3a11"
    records, peak = peak_bytes(lambda: search_records(client, cid, bbox=(0, 0, 1, 1)))
    assert sorted(r["id"] for r in records) == [tid(i) for i in range(found)]
    assert peak < 12 * 2**20, peak


# ------------------------------------------- 297: write_partitions' stale-scratch scans
@pytest.mark.slow
def test_297_writing_p_partitions_scans_the_folder_linearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder of 100,000 entries took 0.3-0.4 s to scan (this machine, overlay file
    system); `write_partitions` of 10,000 partitions into one folder scans 50 million
    entries, about 3 minutes of scanning. Counted here: entries yielded by the folder
    listings while 30 partitions are written (435 today)."""
    from byocframe.scale.dataset import write_partitions

    seen = [0]
    listing = Path.iterdir

    def counted(self: Path) -> Any:
        for entry in listing(self):
            seen[0] += 1
            yield entry

    gdf = byocframe.tiles_from_records(synthetic_tiles(60, seed=5))
    monkeypatch.setattr(Path, "iterdir", counted)
    write_partitions(gdf, tmp_path, by="id", partitions=30)
    assert seen[0] <= 4 * 30, seen[0]


# -------------------------------------------- 298: the local Catalog's 400 messages
@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("ids", [f"{i:08d}" for i in range(300_000)] + [1]),
        ("collections", ["byoc-x"] * 300_000),
        ("datetime", "2024-06-01T00:00:00Z" * 100_000),
        ("limit", "9" * 2_000_000),
        ("fields", ["properties.a"] * 300_000),
    ],
    ids=["ids", "collections", "datetime", "limit", "fields"],
)
def test_298_a_refused_search_member_is_not_echoed_whole(member: str, value: Any) -> None:
    """The local Catalog's 400 repeated the refused value whole: a 3.6 MB answer for
    300,000 ids with one number among them (byocframe's client cuts what it shows, so
    the answer is read here as sent). Now cut as the BYOC API's messages are
    (`byocframe.emulator.problems.shown`)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from byocframe.stac.catalog import CATALOG_PATH

    with byocframe.local_service(demo=True, demo_tiles=3) as service:
        form = {
            "grant_type": "client_credentials",
            "client_id": service.client_id,
            "client_secret": service.client_secret,
        }
        with urllib.request.urlopen(
            service.token_url, data=urllib.parse.urlencode(form).encode()
        ) as answer:
            token = json.load(answer)["access_token"]
        body = {"collections": [f"byoc-{service.demo_collection}"], member: value}
        request = urllib.request.Request(
            service.base_url + CATALOG_PATH + "/search",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request)
        sent = err.value.read()
    assert err.value.code == 400
    assert member.encode() in sent
    assert len(sent) < 1000, len(sent)


# -------------------------------------------- 299: the query string's parameters
def _get(service: Any, query: str) -> tuple[int, bytes]:
    """A GET of the demo collection's tiles with ``query``, as sent: status and body."""
    import urllib.error
    import urllib.parse
    import urllib.request

    form = {
        "grant_type": "client_credentials",
        "client_id": service.client_id,
        "client_secret": service.client_secret,
    }
    with urllib.request.urlopen(
        service.token_url, data=urllib.parse.urlencode(form).encode()
    ) as answer:
        token = json.load(answer)["access_token"]
    url = f"{service.base_url}/api/v1/byoc/collections/{service.demo_collection}/tiles?{query}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_299_too_many_query_parameters_name_the_setting_that_raises_them() -> None:
    """The service refused a query string of more than 50 parameters as "malformed (Max
    number of fields exceeded)": a fixed number, no setting named, none to raise."""
    from byocframe.emulator.limits import Limits

    query = "&".join(f"a{i}=1" for i in range(60)) + "&count=5"
    with byocframe.local_service(demo=True, demo_tiles=3) as service:
        status, body = _get(service, query)
    assert status == 400
    assert b"max_query_fields=50" in body
    with byocframe.local_service(
        demo=True, demo_tiles=3, limits=Limits(max_query_fields=64)
    ) as service:
        status, body = _get(service, query)
    assert status == 200
    assert len(json.loads(body)["data"]) == 3

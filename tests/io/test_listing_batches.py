"""read_tiles converts the listing in batches: the same frame as one conversion."""

from __future__ import annotations

import unittest.mock

import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

import byocframe
from byocframe.io import listing, pages


@pytest.fixture
def batch_sizes(monkeypatch):
    """The number of records in each conversion read_tiles makes (a seam on tile_frame)."""
    sizes: list[int] = []
    convert = pages.tile_frame

    def counting(records, **options):
        records = list(records)
        sizes.append(len(records))
        return convert(records, **options)

    monkeypatch.setattr(pages, "tile_frame", counting)
    return sizes


@pytest.mark.parametrize("both_ends", [True, False], ids=["both-ends", "one-cursor"])
@pytest.mark.parametrize("batch_size", [1, 37, 100, 1000])
def test_batches_give_the_frame_of_one_conversion(demo_service, batch_sizes, both_ends, batch_size):
    client = demo_service.client()
    cid = demo_service.demo_collection
    gdf = byocframe.read_tiles(
        client, cid, progress=False, both_ends=both_ends, batch_size=batch_size
    )
    # the independent truth: every record in creation order, converted at once
    records = list(client.iter_tiles(cid, sort="created:asc"))
    expected = byocframe.tiles_from_records(records)
    byocframe.frame.snapshot.stamp(expected, collection=cid, service=demo_service.base_url)
    expected.attrs["byocframe"]["whole"] = True
    assert_geodataframe_equal(gdf, expected)
    listed_at = pd.Timestamp(gdf.attrs["byocframe"].pop("listed_at"))  # when it ended
    assert pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=1) < listed_at
    assert gdf.attrs == expected.attrs
    # never more records at once than a batch (the last call converts no records)
    conversions = [n for n in batch_sizes if n]
    assert max(conversions) <= batch_size
    assert sum(conversions) == 400


def test_a_batch_holds_at_most_batch_size_records(demo_service, batch_sizes):
    byocframe.read_tiles(
        demo_service.client(), demo_service.demo_collection, progress=False, batch_size=150
    )
    # 400 tiles from two cursors: whole batches of 150 and what is left of each stream
    assert max(batch_sizes) == 150
    assert sum(batch_sizes) == 400


def test_the_batch_size_is_a_setting_with_a_default(demo_service):
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        byocframe.read_tiles(demo_service.client(), demo_service.demo_collection, batch_size=0)
    assert listing.read_tiles.__kwdefaults__["batch_size"] == listing.BATCH_SIZE == 10_000


def fake_pages(monkeypatch, client, listed):
    def tile_pages(*args, **kwargs):
        yield from listed

    monkeypatch.setattr(client, "tile_pages", tile_pages)


def test_duplicates_across_batches_are_found(service, make_tile, monkeypatch):
    client = service.client()
    first = [make_tile(f"t{i}", bounds=(400_000, 5_000_000, 500_000, 5_100_000)) for i in range(5)]
    again = make_tile("t1", bounds=(400_000, 5_000_000, 500_000, 5_100_000))
    bad = make_tile(bounds=(400_000, 5_000_000, 500_000, 5_100_000), id="a/b")
    fake_pages(monkeypatch, client, [first[:3], [*first[3:], again, bad]])
    with pytest.raises(byocframe.ValidationError) as raised:
        byocframe.read_tiles(client, "c", both_ends=False, errors="raise", batch_size=2)
    # the rows are those of the whole listing, not of a batch
    assert [(p["row"], p["id"]) for p in raised.value.problems] == [(5, "t1"), (6, None)]
    assert "duplicate id (also row 1)" in str(raised.value)
    with pytest.warns(byocframe.ByocframeWarning, match="2 tiles have values") as caught:
        gdf = byocframe.read_tiles(client, "c", both_ends=False, batch_size=2)
    assert len(caught) == 1
    assert list(gdf.index) == ["t0", "t1", "t2", "t3", "t4"]
    assert gdf.loc["t1", "path"] == first[1]["path"]  # the first of the two is kept
    # a listing that met a tile twice may have missed another (pages shifted under it):
    # it does not say it is the whole collection
    assert gdf.attrs["byocframe"]["whole"] is False
    with pytest.warns(byocframe.ByocframeWarning, match="2 tiles have values"):
        one = byocframe.read_tiles(client, "c", both_ends=False, batch_size=100)
    assert_geodataframe_equal(gdf, one)


@pytest.mark.parametrize("both_ends", [True, False], ids=["both-ends", "one-cursor"])
def test_write_listing_writes_the_file_of_read_tiles(demo_service, tmp_path, both_ends):
    client = demo_service.client()
    cid = demo_service.demo_collection
    path = tmp_path / "tiles.parquet"
    n = byocframe.write_listing(client, cid, path, batch_size=70, both_ends=both_ends)
    gdf = byocframe.read_tiles(client, cid, progress=False)
    assert n == len(gdf) == 400
    back = byocframe.read_file(path)
    assert_geodataframe_equal(back, gdf)  # every column, the loaded tokens included
    # the same load, the same sealed ids; each listing's own end (read_tiles listed later)
    assert back.attrs["byocframe"].pop("listed_at") < gdf.attrs["byocframe"].pop("listed_at")
    assert back.attrs == gdf.attrs
    # nothing left next to the file
    assert [p.name for p in tmp_path.iterdir()] == ["tiles.parquet"]


def test_write_listing_converts_and_writes_batch_by_batch(demo_service, tmp_path, batch_sizes):
    from byocframe.io import geoparquet

    written = []
    write = geoparquet.ParquetSink.write

    def counting(self, gdf):
        written.append(len(gdf))
        return write(self, gdf)

    with unittest.mock.patch.object(geoparquet.ParquetSink, "write", counting):
        byocframe.write_listing(
            demo_service.client(),
            demo_service.demo_collection,
            tmp_path / "t.parquet",
            batch_size=64,
        )
    assert max(batch_sizes) <= 64
    # each batch twice (the scratch file, then stamped into the file), never more at once
    assert max(written) <= 64
    assert sum(written) == 800


def test_write_listing_finds_duplicates_across_batches(service, make_tile, monkeypatch, tmp_path):
    client = service.client()
    first = [make_tile(f"t{i}", bounds=(400_000, 5_000_000, 500_000, 5_100_000)) for i in range(5)]
    again = make_tile("t1", bounds=(400_000, 5_000_000, 500_000, 5_100_000))
    fake_pages(monkeypatch, client, [first[:3], [*first[3:], again]])
    path = tmp_path / "t.parquet"
    with pytest.raises(byocframe.ValidationError, match="duplicate id"):
        byocframe.write_listing(client, "c", path, both_ends=False, errors="raise", batch_size=2)
    with pytest.warns(byocframe.ByocframeWarning, match="1 tile has values"):
        n = byocframe.write_listing(client, "c", path, both_ends=False, batch_size=2)
    assert n == 5
    assert list(byocframe.read_file(path).index) == ["t0", "t1", "t2", "t3", "t4"]


def test_write_listing_refuses_other_files(demo_service, tmp_path):
    with pytest.raises(byocframe.ValidationError, match=r"name it \*\.parquet"):
        byocframe.write_listing(demo_service.client(), "c", tmp_path / "t.csv")
    with pytest.raises(byocframe.ValidationError, match="folder not found"):
        byocframe.write_listing(demo_service.client(), "c", tmp_path / "no" / "t.parquet")


def test_cursors_stop_when_the_caller_stops_early(demo_service, monkeypatch):
    # a queue of one page: both cursors soon wait on it; closing the listing must
    # release them rather than leave them blocked (this test would hang otherwise)
    monkeypatch.setattr(pages, "PAGES_AHEAD", 1)
    client = demo_service.client()
    listed = pages.from_both_ends(client, demo_service.demo_collection, None)
    direction, page = next(listed)
    assert direction in ("asc", "desc")
    assert len(page) == 100
    listed.close()
    # and a listing with that small a queue is still whole
    gdf = byocframe.read_tiles(client, demo_service.demo_collection, progress=False)
    assert len(gdf) == 400

"""A listing streamed to a file: stac-geoparquet, and nothing half written.

Independent truths: the frame `read_tiles` gives written by `write_stac_geoparquet` (the
frame path), read back by the reference stac-geoparquet reader; the STAC JSON schemas
stored in ``tests/data/stac-schemas``; the bytes of a file that was there before.
"""

from __future__ import annotations

import copy
import pathlib
import unittest.mock

import pytest
from stac_schemas import offline_validation, validate

import byocframe
from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
from byocframe.io import listing, stac_parquet, write_stac_geoparquet

pystac = pytest.importorskip("pystac")
pq = pytest.importorskip("pyarrow.parquet")
stac_arrow = pytest.importorskip("stac_geoparquet.arrow")


def _items(path):
    return list(stac_arrow.stac_table_to_items(pq.read_table(path)))


def _frame_path(client, cid, path, **options):
    """The items of the frame path: read_tiles, then write_stac_geoparquet."""
    frame = byocframe.read_tiles(client, cid, progress=False, **options)
    write_stac_geoparquet(frame, path, client=client)
    return _items(path)


@pytest.mark.parametrize("both_ends", [True, False], ids=["both-ends", "one-cursor"])
def test_a_stac_listing_holds_the_items_of_the_frame_path(demo_service, tmp_path, both_ends):
    client = demo_service.client()
    cid = demo_service.demo_collection
    path = tmp_path / "items.parquet"
    n = byocframe.write_listing(
        client, cid, path, batch_size=70, both_ends=both_ends, format="stac-geoparquet"
    )
    (tmp_path / "frame").mkdir()
    expected = _frame_path(client, cid, tmp_path / "frame" / "items.parquet")
    items = _items(path)
    assert n == len(items) == len(expected) == 400
    assert items == expected
    # one row group a batch of at most 70: the listing was written batch by batch
    meta = pq.ParquetFile(path).metadata
    groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert max(groups) <= 70
    assert sum(groups) == 400
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["items.parquet"]
    with offline_validation():
        for item in items[::50]:
            item = {**item, "properties": {k: v for k, v in item["properties"].items() if v}}
            validate(item)
            pystac.Item.from_dict(item).validate()


def _multi(record):
    """``record`` with its tile geometry as a one-part MultiPolygon."""
    tile = record["tileGeometry"]
    coordinates = [tile["coordinates"]]
    return {**record, "tileGeometry": {**tile, "type": "MultiPolygon", "coordinates": coordinates}}


def _varied_records():
    """40 tiles, one of them timeless in the last batches (start/end_datetime)."""
    records = synthetic_tiles(40, seed=5)
    for record in records:
        record.pop("additionalData", None)
    records[33].pop("sensingTime")
    records[35]["additionalData"] = {"note": "late"}
    return records


@pytest.fixture
def varied(service, monkeypatch):
    """A collection with bands whose listing is ``_varied_records`` (one cursor)."""
    client = service.client()
    spec = {"name": "varied", "s3Bucket": "bucket", "additionalData": {"bands": SYNTHETIC_BANDS}}
    cid = client.create_collection(spec)["id"]
    records = _varied_records()
    # the first tile again at the end, with a MultiPolygon tile geometry: the copy is
    # left out (a duplicate), so its batch must not make every tile geometry nest deeper
    listed = [*records, _multi(records[0])]

    def tile_pages(*args, **kwargs):
        for start in range(0, len(listed), 10):
            yield copy.deepcopy(listed[start : start + 10])

    monkeypatch.setattr(client, "tile_pages", tile_pages)
    return client, cid


def test_the_columns_are_those_of_every_kept_tile(varied, tmp_path):
    client, cid = varied
    path = tmp_path / "items.parquet"
    with pytest.warns(byocframe.ByocframeWarning, match="duplicate id"):
        n = byocframe.write_listing(
            client, cid, path, batch_size=8, both_ends=False, format="stac-geoparquet"
        )
    (tmp_path / "frame").mkdir()
    with pytest.warns(byocframe.ByocframeWarning, match="duplicate id"):
        expected = _frame_path(client, cid, tmp_path / "frame" / "i.parquet", both_ends=False)
    items = _items(path)
    assert n == len(items) == 40
    assert items == expected
    schema = pq.read_schema(path)
    assert "start_datetime" in schema.names  # first needed in the fifth batch
    coordinates = schema.field("byoc:tile_geometry").type.field("coordinates")
    assert str(coordinates.type).count("list<") == 3  # Polygons, as the kept tiles
    found = {item["id"]: item["properties"] for item in items}
    records = _varied_records()
    assert found[records[33]["id"]]["start_datetime"] is not None
    assert found[records[35]["id"]]["byoc:additional_data"] == '{"note":"late"}'
    assert found[records[0]["id"]]["byoc:tile_geometry"]["type"] == "Polygon"


def test_a_late_multipolygon_nests_every_tile_geometry(service, tmp_path, monkeypatch):
    client = service.client()
    spec = {"name": "multi", "s3Bucket": "bucket", "additionalData": {"bands": SYNTHETIC_BANDS}}
    cid = client.create_collection(spec)["id"]
    records = _varied_records()
    records[37] = _multi(records[37])
    monkeypatch.setattr(client, "tile_pages", lambda *a, **k: iter([copy.deepcopy(records)]))
    path = tmp_path / "items.parquet"
    byocframe.write_listing(
        client, cid, path, batch_size=8, both_ends=False, format="stac-geoparquet"
    )
    (tmp_path / "frame").mkdir()
    expected = _frame_path(client, cid, tmp_path / "frame" / "i.parquet", both_ends=False)
    items = _items(path)
    assert items == expected
    tiles = [item["properties"]["byoc:tile_geometry"] for item in items]
    assert {tile["type"] for tile in tiles if tile} == {"MultiPolygon"}


def test_without_the_late_tiles_the_columns_are_left_out(service, tmp_path, monkeypatch):
    """The flags are what the tiles need: the first batches alone need none of them."""
    client = service.client()
    spec = {"name": "plain", "s3Bucket": "bucket", "additionalData": {"bands": SYNTHETIC_BANDS}}
    cid = client.create_collection(spec)["id"]
    records = _varied_records()[:30]
    monkeypatch.setattr(client, "tile_pages", lambda *a, **k: iter([copy.deepcopy(records)]))
    path = tmp_path / "items.parquet"
    byocframe.write_listing(
        client, cid, path, batch_size=8, both_ends=False, format="stac-geoparquet"
    )
    names = set(pq.read_schema(path).names)
    assert "start_datetime" not in names
    # Polygons: coordinates nest three deep (rings, positions, numbers), not four
    coordinates = pq.read_schema(path).field("byoc:tile_geometry").type.field("coordinates")
    assert str(coordinates.type).count("list<") == 3


def test_format_and_collection_are_checked_before_the_listing(service, tmp_path):
    client = service.client()
    cid = client.create_collection({"name": "no bucket", "s3Bucket": "b"})["id"]
    served = service.requests_served
    with pytest.raises(ValueError, match="format must be one of 'geoparquet', 'stac-geoparquet'"):
        byocframe.write_listing(client, cid, tmp_path / "t.parquet", format="stac")
    with pytest.raises(byocframe.ValidationError, match=r"name it \*\.parquet"):
        byocframe.write_listing(client, cid, tmp_path / "t.json", format="stac-geoparquet")
    assert service.requests_served == served
    assert listing.LISTING_FORMATS == ("geoparquet", "stac-geoparquet")
    assert listing.write_listing.__kwdefaults__["format"] == "geoparquet"


def test_both_passes_show_progress(demo_service, tmp_path, capsys):
    pytest.importorskip("tqdm")
    client = demo_service.client()
    for form in listing.LISTING_FORMATS:
        path = tmp_path / f"{form}.parquet"
        byocframe.write_listing(
            client, demo_service.demo_collection, path, progress=True, format=form
        )
        err = capsys.readouterr().err
        assert "listing tiles" in err
        assert "writing the file: 100%" in err
        assert "400/400" in err


class Interrupted(BaseException):
    """Stands for Ctrl-C (KeyboardInterrupt would stop pytest itself)."""


@pytest.mark.parametrize("form", ["geoparquet", "stac-geoparquet"])
def test_an_interrupted_write_leaves_the_file_as_it_was(demo_service, tmp_path, form):
    path = tmp_path / "tiles.parquet"
    path.write_bytes(b"what was there before")
    sink = listing.ParquetSink if form == "geoparquet" else stac_parquet.StacSink
    write = sink.write
    calls = []

    def failing(self, frame):
        # the last pass (not the scratch files of each stream): stop at its second batch
        if form == "stac-geoparquet" or self.path.name not in ("asc.parquet", "desc.parquet"):
            calls.append(len(frame))
            if len(calls) == 2:
                raise Interrupted
        return write(self, frame)

    with unittest.mock.patch.object(sink, "write", failing), pytest.raises(Interrupted):
        byocframe.write_listing(
            demo_service.client(), demo_service.demo_collection, path, batch_size=64, format=form
        )
    assert path.read_bytes() == b"what was there before"
    assert [p.name for p in tmp_path.iterdir()] == ["tiles.parquet"]


def test_an_error_while_listing_leaves_nothing(demo_service, tmp_path, monkeypatch):
    client = demo_service.client()

    def broken(*args, **kwargs):
        yield [{"id": "t1", "path": "a/(BAND).tif"}]
        raise byocframe.TransportError("connection reset")

    monkeypatch.setattr(client, "tile_pages", broken)
    for form in listing.LISTING_FORMATS:
        with pytest.raises(byocframe.TransportError):
            byocframe.write_listing(
                client, demo_service.demo_collection, tmp_path / "t.parquet", format=form
            )
    assert list(tmp_path.iterdir()) == []


def test_write_listing_takes_the_home_folder_as_write_file_does(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with byocframe.local_service(demo=True, demo_tiles=5) as service:
        byocframe.write_listing(service.client(), service.demo_collection, "~/l.parquet")
    assert len(byocframe.read_file(tmp_path / "l.parquet")) == 5

"""The bucket as a frame: header reading from ranged requests, grouping into tiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer

from byocframe.bucket.files import (
    FILE_COLUMNS,
    assign_tiles,
    files_from_headers,
    group_tiles,
    open_bucket,
    read_bucket,
)
from byocframe.bucket.headers import RangeReader, TiffHeaderError, read_header
from byocframe.emulator.cogs import SAMPLE_PATTERN, write_cog

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")


def _reader(path: Path, block: int = 65_536) -> RangeReader:
    data = path.read_bytes()
    return RangeReader(lambda start, size: data[start : start + size], block=block)


def _truth(path: Path) -> dict[str, Any]:
    """What GDAL (through rasterio) says about the file: the independent truth."""
    with rasterio.open(path) as src:
        blocks = [src.block_shapes[0]]
        overviews = src.overviews(1)
        for factor in overviews:
            with rasterio.open(path, overview_level=overviews.index(factor)) as ovr:
                blocks.append(ovr.block_shapes[0])
        return {
            "epsg": src.crs.to_epsg(),
            "bounds": tuple(src.bounds),
            "size": (src.width, src.height),
            "dtype": src.dtypes[0],
            "blocks": [(w, h) for h, w in blocks],
            "overviews": len(overviews),
            "compression": (src.compression.name.upper() if src.compression else "NONE"),
            "nodata": src.nodata,
            "tiled": src.profile.get("tiled", False),
        }


CASES = {
    "cog-utm": {},
    "cog-4326": {"crs": "EPSG:4326", "origin": (10.0, 50.0), "resolution": 0.0001},
    "cog-3035-int16": {"crs": "EPSG:3035", "origin": (4e6, 3e6), "dtype": "int16"},
    "cog-float32-zstd": {"dtype": "float32", "compress": "ZSTD", "nodata": None},
    "cog-1024": {"size": 1024, "blocksize": 512},
    "jpeg": {"compress": "JPEG"},
    "striped": {"tiled": False},
    "overview-128": {"overview_blocksize": 128},
    "lzw-no-overviews": {"compress": "LZW", "overviews": False},
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_header_matches_gdal(tmp_path: Path, case: str) -> None:
    path = write_cog(tmp_path / "f.tif", **CASES[case])
    truth = _truth(path)
    header = read_header(_reader(path))
    main = header.images[0]
    assert header.epsg == truth["epsg"]
    assert header.bounds == pytest.approx(truth["bounds"])
    assert (main.width, main.height) == truth["size"]
    assert main.dtype == truth["dtype"]
    assert sum(im.is_overview for im in header.images) == truth["overviews"]
    if truth["tiled"]:
        assert [(im.block_width, im.block_height) for im in header.images] == truth["blocks"]
    else:
        assert main.block_width is None
    assert main.compression_name == truth["compression"]
    assert (None if header.nodata is None else float(header.nodata)) == truth["nodata"]


@pytest.mark.parametrize("option", [{"BIGTIFF": "YES"}, {"ENDIANNESS": "BIG"}])
def test_bigtiff_and_big_endian(tmp_path: Path, option: dict[str, str]) -> None:
    path = tmp_path / "f.tif"
    profile = {
        "driver": "GTiff", "width": 512, "height": 512, "count": 1, "dtype": "uint16",
        "crs": "EPSG:32633", "transform": Affine(10.0, 0.0, 5e5, 0.0, -10.0, 5e6),
        "tiled": True, "blockxsize": 256, "blockysize": 256, **option,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((1, 512, 512), dtype="uint16"))
    header = read_header(_reader(path))
    assert header.bigtiff == (option.get("BIGTIFF") == "YES")
    assert (header.epsg, header.images[0].dtype, header.images[0].block_width) == (
        32633,
        "uint16",
        256,
    )
    assert header.bounds == pytest.approx(_truth(path)["bounds"])


def test_header_size_stops_before_pixels(tmp_path: Path) -> None:
    path = write_cog(tmp_path / "f.tif")
    header = read_header(_reader(path, block=512))
    first_pixel = min(im.data_offset for im in header.images if im.data_offset)
    assert header.header_size < first_pixel
    # the reader asked for whole blocks up to the header, nothing after it
    assert header.bytes_read <= -(-header.header_size // 512) * 512
    assert not header.metadata_after_data


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"PK\x03\x04 not a tiff", "not a TIFF"),
        (b"II\x2b\x00\x08\x00\x00\x00" + b"\xff" * 8, "beyond the end"),
        (b"II*\x00\x08\x00\x00\x00\x05\x00", "cut short"),
        (b"II\x63\x00\x08\x00\x00\x00", "version 99"),
    ],
    ids=["zip", "bigtiff-bad-offset", "truncated-ifd", "bad-version"],
)
def test_damaged_headers(data: bytes, match: str) -> None:
    with pytest.raises(TiffHeaderError, match=match):
        read_header(RangeReader(lambda start, size: data[start : start + size]))


def test_folder_frame_and_tiles(sample_folder: tuple[Path, dict[str, str]]) -> None:
    folder, paths = sample_folder
    files = read_bucket(folder, progress=False)
    assert tuple(files.columns) == FILE_COLUMNS
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.*"))
    assert files["key"].tolist() == on_disk
    tiles = read_bucket(folder, pattern=SAMPLE_PATTERN, progress=False)
    # the mixed-extension tile is one tile although B02 is .TIF
    assert sorted(tiles["path"]) == sorted(paths.values())
    assert (tiles["sensing_time"] == pd.Timestamp("2024-06-01", tz="UTC")).all()
    row = tiles.set_index("path").loc[paths["missing-band"]]
    assert (row["bands"], row["files"]) == ("B01", 1)


def test_footprints_match_an_independent_transform(
    sample_folder: tuple[Path, dict[str, str]],
) -> None:
    folder, paths = sample_folder
    tiles = read_bucket(folder, pattern=SAMPLE_PATTERN, progress=False).set_index("path")
    # across the antimeridian: two parts, one each side of 180 degrees
    crossing = tiles.loc[paths["valid-antimeridian"], "geometry"]
    parts = list(crossing.geoms)
    assert len(parts) == 2
    assert sorted(round(p.centroid.x) for p in parts) == [-180, 180]
    # a plain UTM tile: its corners, transformed by pyproj here, lie on the footprint
    with rasterio.open(folder / paths["valid"].replace("(BAND)", "B01")) as src:
        box = src.bounds
    to_lonlat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    corners = [to_lonlat.transform(x, y) for x in (box[0], box[2]) for y in (box[1], box[3])]
    footprint = tiles.loc[paths["valid"], "geometry"]
    for lon, lat in corners:
        assert footprint.boundary.distance(shapely.Point(lon, lat)) < 1e-6
    # the pole tile becomes a polar cap reaching 90 degrees
    assert tiles.loc[paths["pole"], "geometry"].bounds[3] == pytest.approx(90)


def test_s3_header_only_ranged_reads(
    local_s3: Any, sample_bucket: str, sample_folder: tuple[Path, dict[str, str]]
) -> None:
    client = local_s3.client()
    asked: list[str] = []
    received: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        asked.append(params.get("Range", "whole object"))

    def measure(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        received.append(int(parsed.get("ContentLength", 0)))

    client.meta.events.register("provide-client-params.s3.GetObject", count)
    client.meta.events.register("after-call.s3.GetObject", measure)
    try:
        files = read_bucket(f"s3://{sample_bucket}/tiles/valid/", s3=client, progress=False)
    finally:
        client.meta.events.unregister("provide-client-params.s3.GetObject", count)
        client.meta.events.unregister("after-call.s3.GetObject", measure)
    assert len(files) == 2
    assert all(r.startswith("bytes=0-") for r in asked)  # only ranges from the start
    assert sum(received) < files["size"].sum() / 2  # the header, not the file
    folder, _ = sample_folder
    etags = files.set_index("key")["etag"].str.strip('"')
    import hashlib

    for key, etag in etags.items():
        assert hashlib.md5((folder / key).read_bytes()).hexdigest() == etag


def test_s3_listing_of_a_prefix(local_s3: Any, sample_bucket: str) -> None:
    bucket = open_bucket(f"s3://{sample_bucket}/tiles/jpeg/", client=local_s3.client())
    keys = [item.key for item in bucket.list()]
    assert keys == [
        "tiles/jpeg/2024-06-01/B01.tif",
        "tiles/jpeg/2024-06-01/B02.tif",
    ]
    assert bucket.head("tiles/jpeg/2024-06-01/B03.tif") is None


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"(?P<year>\d{4})/(?P<month>\d\d)/(?P<day>\d\d)/(BAND)\.tif", "2024-06-01T00:00"),
        (r"(?P<sensing_time>\d{4}/\d\d/\d\d)/(BAND)\.tif", "2024-06-01T00:00"),
        (r"(?P<year>\d{4})/\d\d/\d\d/(BAND)\.tif", "2024-01-01T00:00"),
        (r"\d{4}/\d\d/\d\d/(BAND)\.tif", None),
    ],
    ids=["parts", "one-group", "year-only", "no-time"],
)
def test_sensing_time_groups(pattern: str, expected: str | None) -> None:
    files = files_from_headers([{"key": "2024/06/01/B02.tif"}])
    assigned = assign_tiles(files, pattern)
    value = assigned["sensing_time"].iloc[0]
    assert (None if pd.isna(value) else f"{value:%Y-%m-%dT%H:%M}") == expected
    assert assigned["tile"].iloc[0] == "2024/06/01/(BAND).tif"


def test_pattern_errors() -> None:
    files = files_from_headers([{"key": "a/B02.tif"}])
    with pytest.raises(ValueError, match=r"no \(BAND\) placeholder"):
        group_tiles(files, r"a/B02\.tif")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        group_tiles(files, r"a/(BAND)\.tif(")


def test_bad_url() -> None:
    with pytest.raises(ValueError, match="neither s3://"):
        read_bucket("/no/such/folder", progress=False)
    with pytest.raises(ValueError, match="names no bucket"):
        read_bucket("s3://", progress=False)


def test_unreadable_file_is_a_row_with_its_error(tmp_path: Path) -> None:
    (tmp_path / "broken.tif").write_bytes(b"not a tiff at all")
    files = read_bucket(tmp_path, progress=False)
    assert files.loc[0, "error"] == "not a TIFF file (no II/MM byte-order mark)"
    assert pd.isna(files.loc[0, "crs"])


def test_import_does_not_load_the_extras() -> None:
    import subprocess
    import sys

    code = (
        "import sys, byocframe\n"
        "print(','.join(m for m in ('boto3', 'rasterio', 'moto') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_accessor_checks_files_frames(sample_folder: tuple[Path, dict[str, str]]) -> None:
    files = read_bucket(sample_folder[0] / "tiles" / "jpeg", progress=False)
    findings = files.byoc.check(r"[^/]+/(BAND)\.tif")
    assert findings["rule"].tolist() == ["compression"]
    with pytest.raises(TypeError, match="files frames"):
        read_bucket(sample_folder[0], pattern=SAMPLE_PATTERN, progress=False).byoc.check("x")

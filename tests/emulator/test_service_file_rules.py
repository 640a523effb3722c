"""The local service's ingestion, pinned to COG_RULES.md and BYOC_API.md (not to the client).

Each test writes files with rasterio (GDAL) or tifffile directly, never with byocframe's
own writers or readers, uploads them to the local S3 (moto on loopback), creates a tile
through the service's HTTP API and reads back what the documents say the service does:
the tile's status, its ``failedIngestionCause``, or what it derived from the files.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import tifffile
from affine import Affine
from pyproj import Transformer

import byocframe

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

ONE_MB = 1_048_576  # COG_RULES 2: the header limit
BLOCKS = "Ensure tiles of image at index {} have width and height between 256 and 2048"
UNEXPECTED = "Unexpected error occurred while ingesting the tile"
UTM33 = "EPSG:32633"
_names = (f"rules-{n}" for n in itertools.count())


@pytest.fixture(scope="module")
def service(local_s3: Any) -> Iterator[Any]:
    with byocframe.local_service(s3=local_s3) as running:
        yield running


# --- writers: GDAL through rasterio, or tifffile with GeoTIFF tags written by hand ---


def gdal_file(
    path: Path,
    *,
    driver: str = "COG",
    size: int = 512,
    count: int = 1,
    dtype: str = "uint8",
    crs: str | None = UTM33,
    origin: tuple[float, float] = (500_000.0, 5_000_000.0),
    res: float = 10.0,
    transform: Affine | None = None,
    overviews: bool = True,
    overview_blocksize: int = 256,
    tags: dict[str, str] | None = None,
    **options: Any,
) -> Path:
    """A GeoTIFF written by GDAL: a COG by default, a plain GTiff with ``driver``."""
    profile: dict[str, Any] = {
        "driver": driver,
        "width": size,
        "height": size,
        "count": count,
        "dtype": dtype,
        "crs": crs,
        "transform": transform or Affine(res, 0.0, origin[0], 0.0, -res, origin[1]),
        **options,
    }
    if driver == "COG":
        profile.setdefault("blocksize", 256)
        profile.setdefault("compress", "DEFLATE")
        profile["overviews"] = "AUTO" if overviews else "NONE"
    data = np.full((count, size, size), 7, dtype=dtype)
    with (
        rasterio.Env(GDAL_TIFF_OVR_BLOCKSIZE=overview_blocksize),
        rasterio.open(path, "w", **profile) as dst,
    ):
        dst.write(data)
        if tags:
            dst.update_tags(**tags)
        if driver == "GTiff" and overviews:
            dst.build_overviews([2, 4], rasterio.enums.Resampling.nearest)
    return path


def geotiff_tags(epsg: int, origin: tuple[float, float], res: float) -> list[Any]:
    """ModelPixelScale, ModelTiepoint and a GeoKeyDirectory naming a projected EPSG CRS."""
    keys = [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, epsg]
    return [
        (33550, "d", 3, (res, res, 0.0), False),
        (33922, "d", 6, (0.0, 0.0, 0.0, origin[0], origin[1], 0.0), False),
        (34735, "H", len(keys), keys, False),
    ]


def tifffile_file(
    path: Path,
    *,
    compression: int = 8,
    photometric: str = "minisblack",
    size: int = 512,
    description: str | None = None,
    epsg: int = 32633,
) -> Path:
    """A tiled GeoTIFF with one overview, written by tifffile."""
    data = np.full((size, size), 7, dtype="uint8")
    tags = geotiff_tags(epsg, (500_000.0, 5_000_000.0), 10.0)
    with tifffile.TiffWriter(path) as tif:
        for level, subfile in ((data, 0), (data[::2, ::2], 1)):
            tif.write(
                level,
                tile=(256, 256),
                compression=compression,
                photometric=photometric,
                subfiletype=subfile,
                description=description if subfile == 0 else None,
                metadata=None,
                extratags=tags if subfile == 0 else [],
            )
    return path


# --- the service, driven through its HTTP API ---


def ingest(
    service: Any,
    files: dict[str, Path | bytes],
    *,
    path: str = "tile/(BAND).tif",
    bands: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Upload ``files`` (key -> file) to a new bucket, create a tile there, return it."""
    name = next(_names)
    s3 = service.s3.client()
    s3.create_bucket(Bucket=name)
    for key, file in files.items():
        body = file if isinstance(file, bytes) else file.read_bytes()
        s3.put_object(Bucket=name, Key=key, Body=body)
    client = service.client()
    body: dict[str, Any] = {"name": name, "s3Bucket": name}
    if bands:
        body["additionalData"] = {"bands": bands}
    cid = client.create_collection(body)["id"]
    tid = client.create_tile(cid, {"path": path})["id"]
    tile = client.get_tile(cid, tid)
    tile["collection"] = client.get_collection(cid)
    return tile


def cause(tile: dict[str, Any]) -> str | None:
    assert tile["status"] in ("FAILED", "INGESTED"), tile["status"]
    return (tile.get("additionalData") or {}).get("failedIngestionCause")


def uint8_band(*names: str) -> dict[str, Any]:
    return {n: {"source": n, "bitDepth": 8, "sampleFormat": "UINT"} for n in names}


# --- valid files: INGESTED with what the service derives (COG_RULES 4) ---


def test_a_valid_cog_ingests_with_its_box_as_tile_geometry(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", size=4096, origin=(600_000.0, 5_100_000.0))
    tile = ingest(service, {"tile/B01.tif": file})
    assert tile["status"] == "INGESTED"
    assert tile["tileGeometry"]["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32633"
    with rasterio.open(file) as src:
        left, bottom, right, top = src.bounds
    ring = np.array(tile["tileGeometry"]["coordinates"][0])
    assert (ring[:, 0].min(), ring[:, 0].max()) == pytest.approx((left, right))
    assert (ring[:, 1].min(), ring[:, 1].max()) == pytest.approx((bottom, top))
    extra = tile["additionalData"]
    assert extra["minMetersPerPixel"] == 10
    # overviews 2048 .. 256 px: the coarsest of at least 256 px is 16x coarser: 5 x 160 m
    assert extra["maxMetersPerPixel"] == 800
    etag = service.s3.client().head_object(
        Bucket=tile["collection"]["s3Bucket"], Key="tile/B01.tif"
    )
    assert extra["filesMetadata"]["B01"]["etag"] == etag["ETag"]


def _header_end(path: Path) -> int:
    """Where the IFDs and their tag values end (tifffile's own view of the file)."""
    with tifffile.TiffFile(path) as tif:
        fmt, end = tif.tiff, 0
        for page in tif.pages:
            tags = list(page.tags.values())
            end = max(end, page.offset + fmt.tagnosize + len(tags) * fmt.tagsize + fmt.offsetsize)
            end = max([end] + [t.valueoffset + t.valuebytecount for t in tags])
    return end


def test_header_size_is_the_bytes_before_the_pixels(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif")
    tile = ingest(service, {"tile/B01.tif": file})
    size = tile["additionalData"]["filesMetadata"]["B01"]["headerSize"]
    assert size == _header_end(file)
    with tifffile.TiffFile(file) as tif:
        assert size <= min(min(p.dataoffsets) for p in tif.pages)


def test_degrees_become_meters_at_the_equator(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", crs="EPSG:4326", origin=(10.0, 45.0), res=0.0001)
    tile = ingest(service, {"tile/B01.tif": file})
    assert tile["status"] == "INGESTED"
    assert tile["additionalData"]["minMetersPerPixel"] == pytest.approx(0.0001 * 111_320)


@pytest.mark.parametrize("compress", ["NONE", "DEFLATE", "LZW", "PACKBITS", "ZSTD"])
def test_documented_compressions_ingest(service: Any, tmp_path: Path, compress: str) -> None:
    tile = ingest(service, {"tile/B01.tif": gdal_file(tmp_path / "B01.tif", compress=compress)})
    assert (tile["status"], cause(tile)) == ("INGESTED", None)


@pytest.mark.parametrize("code", [32946, 50013], ids=["legacy-deflate", "pixtiff-zip"])
def test_the_other_deflate_codes_ingest(service: Any, tmp_path: Path, code: int) -> None:
    tile = ingest(service, {"tile/B01.tif": tifffile_file(tmp_path / "B01.tif", compression=code)})
    assert (tile["status"], cause(tile)) == ("INGESTED", None)


@pytest.mark.parametrize(
    "dtype", ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32"]
)
def test_documented_sample_types_configure_the_band(
    service: Any, tmp_path: Path, dtype: str
) -> None:
    tile = ingest(service, {"tile/B01.tif": gdal_file(tmp_path / "B01.tif", dtype=dtype)})
    assert tile["status"] == "INGESTED"
    kind = {"u": "UINT", "i": "INT", "f": "FLOAT"}[dtype[0]]
    bits = int("".join(c for c in dtype if c.isdigit()))
    assert tile["collection"]["additionalData"]["bands"] == {
        "B01": {"source": "B01", "bandIndex": 1, "bitDepth": bits, "sampleFormat": kind}
    }


def test_a_multiband_file_configures_numbered_bands(service: Any, tmp_path: Path) -> None:
    # BYOC_API 6.2: RGB.tiff -> RGB_1, RGB_2, RGB_3 with source RGB and bandIndex i
    file = gdal_file(tmp_path / "RGB.tif", count=3)
    tile = ingest(service, {"tile/RGB.tiff": file}, path="tile/(BAND).tiff")
    bands = tile["collection"]["additionalData"]["bands"]
    assert {name: (b["source"], b["bandIndex"]) for name, b in bands.items()} == {
        "RGB_1": ("RGB", 1),
        "RGB_2": ("RGB", 2),
        "RGB_3": ("RGB", 3),
    }
    # the next tile's one file serves the three configured bands
    collection = tile["collection"]
    service.s3.client().upload_file(str(file), collection["s3Bucket"], "next/RGB.tiff")
    client = service.client()
    second = client.create_tile(collection["id"], {"path": "next/(BAND).tiff"})
    second = client.get_tile(collection["id"], second["id"])
    assert (second["status"], sorted(second["additionalData"]["filesMetadata"])) == (
        "INGESTED",
        ["RGB_1", "RGB_2", "RGB_3"],
    )


def test_band_files_may_differ_by_up_to_one_pixel(service: Any, tmp_path: Path) -> None:
    files = {
        "tile/B01.tif": gdal_file(tmp_path / "B01.tif"),
        "tile/B02.tif": gdal_file(tmp_path / "B02.tif", origin=(500_005.0, 5_000_000.0)),
    }
    tile = ingest(service, files, bands=uint8_band("B01", "B02"))
    assert (tile["status"], cause(tile)) == ("INGESTED", None)


# --- one rule broken per file (COG_RULES 2 and 3) ---


def test_blocks_under_256_in_the_full_image(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", blocksize=128)
    assert cause(ingest(service, {"tile/B01.tif": file})) == BLOCKS.format(0)


def test_blocks_over_2048(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", size=8192, blocksize=4096)
    assert cause(ingest(service, {"tile/B01.tif": file})) == BLOCKS.format(0)


def test_overview_blocks_are_checked_too(service: Any, tmp_path: Path) -> None:
    # eodash issue 1313: the overview (image 1) has 128 px blocks, the full image 256
    file = gdal_file(tmp_path / "B01.tif", driver="GTiff", tiled=True, blockxsize=256,
                     blockysize=256, overview_blocksize=128)  # fmt: skip
    assert cause(ingest(service, {"tile/B01.tif": file})) == BLOCKS.format(1)


def test_a_striped_file(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", driver="GTiff", tiled=False)
    assert cause(ingest(service, {"tile/B01.tif": file})) == (
        "Ensure image at index 0 is tiled, not striped"
    )


def test_a_file_without_overviews(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", overviews=False)
    assert cause(ingest(service, {"tile/B01.tif": file})) == (
        "Ensure the file has overviews (image is 512x512 px, block 256 px)"
    )


def test_one_block_needs_no_overviews(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", size=256, overviews=False)
    assert cause(ingest(service, {"tile/B01.tif": file})) is None


def test_a_header_over_one_megabyte(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", tags={"NOTE": "x" * 1_200_000})
    size = _header_end(file)
    assert size > ONE_MB
    assert cause(ingest(service, {"tile/B01.tif": file})) == (
        f"Header of the file is {size} bytes, more than {ONE_MB}"
    )


def test_a_header_beyond_what_the_service_reads(service: Any, tmp_path: Path) -> None:
    file = tifffile_file(tmp_path / "B01.tif", description="y" * 3_000_000)
    text = cause(ingest(service, {"tile/B01.tif": file}))
    assert text is not None
    assert text.startswith("Header of the file is at least ")
    assert text.endswith(f" bytes, more than {ONE_MB}")


def test_jpeg_is_rejected(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", compress="JPEG")
    assert cause(ingest(service, {"tile/B01.tif": file})) == "Unsupported compression JPEG"


def test_lzw_with_a_photometric_other_than_1_or_2(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", driver="GTiff", tiled=True, compress="LZW",
                     photometric="MINISWHITE", blockxsize=256, blockysize=256)  # fmt: skip
    assert cause(ingest(service, {"tile/B01.tif": file})) == (
        "Compression LZW is not supported with photometric interpretation 0"
    )


def test_deflate_with_a_photometric_other_than_1_or_2(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", driver="GTiff", tiled=True, compress="DEFLATE",
                     photometric="MINISWHITE", blockxsize=256, blockysize=256)  # fmt: skip
    assert cause(ingest(service, {"tile/B01.tif": file})) is None


@pytest.mark.parametrize("dtype", ["float64", "uint64"])
def test_an_unsupported_sample_type(service: Any, tmp_path: Path, dtype: str) -> None:
    file = gdal_file(tmp_path / "B01.tif", dtype=dtype)
    assert cause(ingest(service, {"tile/B01.tif": file})) == f"Unsupported sample type {dtype}"


def test_eleven_pixel_interleaved_bands(service: Any, tmp_path: Path) -> None:
    # one block needs no overviews (GDAL would append them after the pixels)
    file = gdal_file(tmp_path / "B01.tif", driver="GTiff", count=11, interleave="PIXEL", size=256,
                     tiled=True, blockxsize=256, blockysize=256, overviews=False)  # fmt: skip
    assert cause(ingest(service, {"tile/B01.tif": file})) == (
        "Pixel-interleaved file has 11 bands, more than 10"
    )


def test_eleven_planar_bands_are_fine(service: Any, tmp_path: Path) -> None:
    # one block needs no overviews (GDAL would append them after the pixels)
    file = gdal_file(tmp_path / "B01.tif", driver="GTiff", count=11, interleave="BAND", size=256,
                     tiled=True, blockxsize=256, blockysize=256, overviews=False)  # fmt: skip
    assert cause(ingest(service, {"tile/B01.tif": file})) is None


def test_an_unsupported_crs(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", crs="EPSG:2056", origin=(2_600_000.0, 1_200_000.0))
    assert cause(ingest(service, {"tile/B01.tif": file})) == "Unsupported CRS EPSG:2056"


def test_a_file_without_crs(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif", crs=None)
    assert cause(ingest(service, {"tile/B01.tif": file})) == "Unsupported CRS (none)"


def test_rotated_georeferencing(service: Any, tmp_path: Path) -> None:
    rotated = Affine(10.0, 1.0, 500_000.0, 1.0, -10.0, 5_000_000.0)
    file = gdal_file(tmp_path / "B01.tif", driver="GTiff", transform=rotated, tiled=True)
    assert cause(ingest(service, {"tile/B01.tif": file})) == (
        "Rotated or sheared georeferencing is not supported"
    )


def test_a_file_over_the_pole(service: Any, tmp_path: Path) -> None:
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True).transform(0.0, 90.0)
    file = gdal_file(tmp_path / "B01.tif", crs="EPSG:3035", origin=(x - 2560.0, y + 2560.0))
    assert cause(ingest(service, {"tile/B01.tif": file})) == "The file crosses a pole"


@pytest.mark.parametrize(
    "body",
    [b"", b"not a tiff at all", b"II*\x00\xff\xff\xff\x7f" + bytes(100)],
    ids=["empty", "text", "ifd-beyond-the-end"],
)
def test_an_unreadable_file(service: Any, body: bytes) -> None:
    assert cause(ingest(service, {"tile/B01.tif": body})) == UNEXPECTED


# --- rules across a tile's files (COG_RULES 1 and 3) ---


def test_a_missing_band_file(service: Any, tmp_path: Path) -> None:
    tile = ingest(
        service, {"tile/B01.tif": gdal_file(tmp_path / "B01.tif")}, bands=uint8_band("B01", "B02")
    )
    name = tile["collection"]["s3Bucket"]
    assert cause(tile) == f"File s3://{name}/tile/B02.tif not found."


def test_mixed_extensions(service: Any, tmp_path: Path) -> None:
    file = gdal_file(tmp_path / "B01.tif")
    tile = ingest(service, {"tile/B01.tif": file, "tile/B02.TIF": file}, path="tile")
    assert cause(tile) == "Files of one tile must share one extension, found ['.TIF', '.tif']"


def test_files_in_two_crs(service: Any, tmp_path: Path) -> None:
    files = {
        "tile/B01.tif": gdal_file(tmp_path / "B01.tif"),
        "tile/B02.tif": gdal_file(tmp_path / "B02.tif", crs="EPSG:32634"),
    }
    assert cause(ingest(service, files, bands=uint8_band("B01", "B02"))) == (
        "Files of the tile are in different CRSs: ['EPSG:32633', 'EPSG:32634']"
    )


def test_files_more_than_a_pixel_apart(service: Any, tmp_path: Path) -> None:
    files = {
        "tile/B01.tif": gdal_file(tmp_path / "B01.tif"),
        "tile/B02.tif": gdal_file(tmp_path / "B02.tif", origin=(500_030.0, 5_000_000.0)),
    }
    assert cause(ingest(service, files, bands=uint8_band("B01", "B02"))) == (
        "Bounding boxes of the files of the tile differ by more than one pixel"
    )


def test_a_file_of_another_sample_type_than_its_band(service: Any, tmp_path: Path) -> None:
    files = {
        "tile/B01.tif": gdal_file(tmp_path / "B01.tif"),
        "tile/B02.tif": gdal_file(tmp_path / "B02.tif", dtype="uint16"),
    }
    assert cause(ingest(service, files, bands=uint8_band("B01", "B02"))) == (
        "File tile/B02.tif is UINT16, band B02 is UINT8"
    )


def test_the_tile_geometry_is_the_union_of_the_files(service: Any, tmp_path: Path) -> None:
    # BYOC_API 7.1: tileGeometry is the union of the file boxes (here 5 m apart)
    files = {
        "tile/B01.tif": gdal_file(tmp_path / "B01.tif"),
        "tile/B02.tif": gdal_file(tmp_path / "B02.tif", origin=(500_005.0, 5_000_000.0)),
    }
    tile = ingest(service, files, bands=uint8_band("B01", "B02"))
    ring = np.array(tile["tileGeometry"]["coordinates"][0])
    assert (ring[:, 0].min(), ring[:, 0].max()) == pytest.approx((500_000.0, 505_125.0))


# --- the service's own limits are settings ---


def _bucket(local_s3: Any, files: dict[str, Path]) -> str:
    name = next(_names)
    s3 = local_s3.client()
    s3.create_bucket(Bucket=name)
    for key, file in files.items():
        s3.upload_file(str(file), name, key)
    return name


def test_a_crowded_folder_fails_naming_the_limit(local_s3: Any, tmp_path: Path) -> None:
    from byocframe.emulator.files_source import FilesSource, IngestionFailure

    file = gdal_file(tmp_path / "B01.tif", size=256)
    name = _bucket(local_s3, {f"tile/B0{i}.tif": file for i in range(1, 6)})
    collection = {"s3Bucket": name}
    FilesSource(local_s3.client(), max_listed=5).ingest(collection, {"path": "tile"})
    with pytest.raises(IngestionFailure, match=r"More than 4 objects .*\(FilesSource max_listed, "):
        FilesSource(local_s3.client(), max_listed=4).ingest(collection, {"path": "tile"})


def test_a_larger_read_budget_measures_a_larger_header(local_s3: Any, tmp_path: Path) -> None:
    from byocframe.emulator.files_source import FilesSource, IngestionFailure
    from byocframe.emulator.headers import ReadLimits

    file = tifffile_file(tmp_path / "B01.tif", description="y" * 3_000_000)
    name = _bucket(local_s3, {"tile/B01.tif": file})
    source = FilesSource(local_s3.client(), limits=ReadLimits(max_bytes=8 * 2**20))
    with pytest.raises(IngestionFailure) as caught:
        source.ingest({"s3Bucket": name}, {"path": "tile/(BAND).tif"})
    assert (
        str(caught.value) == f"Header of the file is {_header_end(file)} bytes, more than {ONE_MB}"
    )


# --- crafted georeferencing: a documented failure, never a tile placed at NaN ---


def _scaled_file(path: Path, res: float) -> Path:
    data = np.full((512, 512), 7, dtype="uint8")
    with tifffile.TiffWriter(path) as tif:
        for level, subfile in ((data, 0), (data[::2, ::2], 1)):
            tif.write(
                level,
                tile=(256, 256),
                compression=8,
                photometric="minisblack",
                subfiletype=subfile,
                metadata=None,
                extratags=geotiff_tags(32633, (500_000.0, 5_000_000.0), res) if not subfile else [],
            )
    return path


@pytest.mark.parametrize("res", [float("nan"), float("inf"), 0.0, 1e308], ids=str)
def test_a_pixel_size_that_places_nothing_is_unreadable(
    service: Any, tmp_path: Path, res: float
) -> None:
    """A ModelPixelScale of NaN, infinity, zero or one that overflows gave an INGESTED
    tile with a NaN, infinite or empty tileGeometry."""
    tile = ingest(service, {"tile/B01.tif": _scaled_file(tmp_path / "B01.tif", res)})
    assert cause(tile) == UNEXPECTED
    assert tile["status"] == "FAILED"


def test_an_image_of_zero_width_is_unreadable(service: Any, tmp_path: Path) -> None:
    """ImageWidth 0 (bytes changed by hand): the judge divided by it (a logged crash)."""
    data = bytearray(_scaled_file(tmp_path / "B01.tif", 10.0).read_bytes())
    with tifffile.TiffFile(tmp_path / "B01.tif") as tif:
        tag = tif.pages[0].tags[256]
        at, size = tag.valueoffset, tag.valuebytecount
    data[at : at + size] = bytes(size)
    assert cause(ingest(service, {"tile/B01.tif": bytes(data)})) == UNEXPECTED


CUSTOM_LAEA_ON_WGS84 = (
    'PROJCS["Custom LAEA",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,'
    '298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0],'
    'UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]],'
    'PROJECTION["Lambert_Azimuthal_Equal_Area"],PARAMETER["latitude_of_center",52],'
    'PARAMETER["longitude_of_center",10],PARAMETER["false_easting",0],'
    'PARAMETER["false_northing",0],UNIT["metre",1]]'
)


def test_a_user_defined_projection_on_wgs84_is_not_epsg_4326(service: Any, tmp_path: Path) -> None:
    """GDAL writes such a file with ProjectedCSTypeGeoKey 32767 (user-defined) and
    GeographicTypeGeoKey 4326 (its datum): the service took the metres for degrees and
    ingested the tile as EPSG:4326."""
    crs = rasterio.crs.CRS.from_wkt(CUSTOM_LAEA_ON_WGS84)
    file = gdal_file(tmp_path / "B01.tif", crs=crs, origin=(10.0, 50.0), res=0.001)
    tile = ingest(service, {"tile/B01.tif": file})
    assert tile["status"] == "FAILED"
    assert cause(tile) == "Unsupported CRS (none)"


def _planar(path: Path, bands: int) -> Path:
    """A band-interleaved GeoTIFF of one 256 px block (it needs no overviews)."""
    options = {"tiled": True, "blockxsize": 256, "blockysize": 256, "interleave": "band"}
    return gdal_file(path, driver="GTiff", size=256, count=bands, overviews=False, **options)


def test_a_planar_file_of_101_bands_is_more_than_a_collection_holds(
    service: Any, tmp_path: Path
) -> None:
    """BYOC_API: a collection has at most 100 bands. The judge counted files, so one
    band-interleaved file configured a collection of 101 bands."""
    file = _planar(tmp_path / "HS.tif", 101)
    tile = ingest(service, {"tile/HS.tif": file})
    assert tile["status"] == "FAILED"
    assert cause(tile) == "A collection has at most 100 bands, the tile's files hold 101"
    assert not tile["collection"].get("additionalData", {}).get("bands")


def test_a_planar_file_of_100_bands_configures_100(service: Any, tmp_path: Path) -> None:
    file = _planar(tmp_path / "HS.tif", 100)
    tile = ingest(service, {"tile/HS.tif": file})
    assert cause(tile) is None
    assert len(tile["collection"]["additionalData"]["bands"]) == 100


@pytest.mark.parametrize("origin", [(5e5, 1e12), (1e15, 5e6)], ids=["y-1e12", "x-1e15"])
def test_a_file_far_outside_what_its_crs_can_place_is_unreadable(
    service: Any, tmp_path: Path, origin: tuple[float, float], caplog: Any
) -> None:
    """UTM northings of 10**12 m went to latitude 32 and back to 3.5e6 m: the tile was
    INGESTED with a cover 10**12 m away from its tileGeometry. Eastings of 10**15 m gave
    infinite longitudes, and the ingestion crashed (a logged traceback)."""
    file = gdal_file(tmp_path / "B01.tif", origin=origin)
    tile = ingest(service, {"tile/B01.tif": file})
    assert tile["status"] == "FAILED"
    assert cause(tile) == UNEXPECTED
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


class _CountingS3:
    """An S3 client that counts the objects read."""

    def __init__(self, client: Any):
        self.client, self.reads = client, 0

    def get_object(self, **options: Any) -> Any:
        self.reads += 1
        return self.client.get_object(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_folder_of_more_files_than_bands_fails_before_reading_them(
    local_s3: Any, tmp_path: Path
) -> None:
    """An unconfigured collection's tile with 101 files cannot be ingested whatever they
    hold: every header was read first (up to 6 GETs and 2 MiB each, max_listed files)."""
    from byocframe.emulator.files_source import FilesSource, IngestionFailure

    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00" + bytes(100))
    name = _bucket(local_s3, {f"tile/B{i:03}.tif": junk for i in range(101)})
    s3 = _CountingS3(local_s3.client())
    with pytest.raises(IngestionFailure) as caught:
        FilesSource(s3).ingest({"s3Bucket": name}, {"path": "tile/(BAND).tif"})
    assert str(caught.value) == (
        "A collection has at most 100 bands, the tile's files hold at least 101"
    )
    assert s3.reads == 0

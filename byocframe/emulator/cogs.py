"""Small real GeoTIFFs for demos and tests: valid COGs and one of each rule violation.

Needs rasterio (the ``bucket`` extra). `write_cog` writes one file; `write_samples`
writes a folder of tiles (``tiles/<case>/<date>/<band>.tif``) where each case breaks
exactly one rule of the shared table (`byocframe.file_rules`, by rule id), plus valid
tiles, one of them crossing the antimeridian and one with a no-data corner (a traced
cover is smaller than its box).

These samples serve the client's tests and demos (the client's checks against the
service). The service's own rule tests write their files with rasterio and tifffile
directly (``tests/test_service_file_rules.py``), so a mistake here cannot hide one there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer

__all__ = ["SAMPLE_BANDS", "SAMPLE_CASES", "SAMPLE_PATTERN", "write_cog", "write_samples"]

#: The band files of every sample tile.
SAMPLE_BANDS = ("B01", "B02")
#: The pattern that groups the sample files into tiles.
SAMPLE_PATTERN = r"tiles/(?P<case>[^/]+)/(?P<sensing_time>\d{4}-\d\d-\d\d)/(BAND)\.(?i:tiff?)"
#: Sample case -> the rule it breaks (None: a valid tile).
SAMPLE_CASES: Mapping[str, str | None] = {
    "valid": None,
    "valid-nodata-corner": None,
    "valid-antimeridian": None,
    "jpeg": "compression",
    "striped": "striped",
    "blocks-128": "block-size",
    "overview-blocks": "block-size",
    "no-overviews": "overviews",
    "crs-2056": "crs",
    "pole": "pole",
    "mixed-extension": "extension",
    "missing-band": "missing-band",
    "bounds-off": "band-bounds",
    "mixed-bit-depth": "bit-depth",
}


def write_cog(
    path: str | os.PathLike[str],
    *,
    crs: str = "EPSG:32633",
    origin: tuple[float, float] = (500_000.0, 5_000_000.0),
    resolution: float = 10.0,
    size: int = 512,
    dtype: str = "uint8",
    blocksize: int = 256,
    compress: str = "DEFLATE",
    overviews: bool = True,
    tiled: bool = True,
    overview_blocksize: int | None = None,
    nodata: float | None = 0,
    nodata_corner: bool = False,
    seed: int = 0,
) -> Path:
    """Write a small single-band GeoTIFF; a valid COG with the defaults.

    ``origin`` is the upper-left corner. ``tiled=False`` writes strips,
    ``overview_blocksize`` gives overviews a block size of their own (both with the GTiff
    driver, as a non-COG tool would); otherwise GDAL's COG driver writes the file.
    ``nodata_corner`` leaves the upper-right triangle as no-data.
    """
    import rasterio
    from affine import Affine

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = (rng.integers(1, 200, (size, size)) // 16 * 16 + 1).astype(dtype)
    if nodata_corner:
        rows, cols = np.indices((size, size))
        data[cols > rows + size // 4] = 0
    profile: dict[str, Any] = {
        "width": size,
        "height": size,
        "count": 1,
        "dtype": dtype,
        "crs": crs,
        "transform": Affine(resolution, 0.0, origin[0], 0.0, -resolution, origin[1]),
        "nodata": nodata,
        "compress": compress,
    }
    if tiled and overview_blocksize is None:
        profile.update(driver="COG", blocksize=blocksize, overviews="AUTO" if overviews else "NONE")
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)
        return path
    profile.update(driver="GTiff", tiled=tiled)
    if tiled:
        profile.update(blockxsize=blocksize, blockysize=blocksize)
    with (
        rasterio.Env(GDAL_TIFF_OVR_BLOCKSIZE=overview_blocksize or blocksize),
        rasterio.open(path, "w", **profile) as dst,
    ):
        dst.write(data, 1)
        if overviews and tiled:
            dst.build_overviews([2], rasterio.enums.Resampling.average)
    return path


def write_samples(folder: str | os.PathLike[str], *, date: str = "2024-06-01") -> dict[str, str]:
    """Write one tile per `SAMPLE_CASES` entry under ``folder``; return case -> tile path.

    The tile paths are relative to ``folder`` (object keys once uploaded), with ``(BAND)``.
    """
    folder = Path(folder)
    pole = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True).transform(0.0, 90.0)
    paths = {}
    for case in SAMPLE_CASES:
        base = f"tiles/{case}/{date}"
        paths[case] = f"{base}/(BAND).tif"
        for index, band in enumerate(SAMPLE_BANDS):
            options = _case_options(case, band, pole)
            if options is None:
                continue
            name = f"{band}.TIF" if case == "mixed-extension" and band == "B02" else f"{band}.tif"
            write_cog(folder / base / name, seed=index, **options)
    return paths


def _case_options(case: str, band: str, pole: tuple[float, float]) -> dict[str, Any] | None:
    second = band == SAMPLE_BANDS[1]
    table: dict[str, dict[str, Any]] = {
        "valid-nodata-corner": {"nodata_corner": True, "origin": (600_000.0, 5_000_000.0)},
        # zone 1 near the equator, west of its edge: the footprint crosses 180 degrees
        "valid-antimeridian": {"crs": "EPSG:32601", "origin": (163_000.0, 2_560.0)},
        "jpeg": {"compress": "JPEG"},
        "striped": {"tiled": False},
        "blocks-128": {"blocksize": 128},
        "overview-blocks": {"overview_blocksize": 128},
        "no-overviews": {"overviews": False},
        "crs-2056": {"crs": "EPSG:2056", "origin": (2_600_000.0, 1_200_000.0)},
        "pole": {"crs": "EPSG:3035", "origin": (pole[0] - 2_560.0, pole[1] + 2_560.0)},
        "bounds-off": {"origin": (500_030.0, 5_000_000.0)} if second else {},
        "mixed-bit-depth": {"dtype": "uint16"} if second else {},
    }
    options = table.get(case, {})
    if case == "missing-band" and second:
        return None
    if case in ("jpeg", "striped", "blocks-128", "overview-blocks", "no-overviews") and second:
        return {}  # one bad file per tile is enough; the other band stays valid
    return options

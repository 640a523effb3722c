"""The BYOC file rules as data: limits, allowed values and the service's failure messages.

What `COG_RULES.md` and `BYOC_API.md` document about the files behind a tile, written
down once and judged twice: by the client's pre-flight checks (`byocframe.bucket.checks`) and,
with its own code, by the local service's ingestion (`byocframe.emulator.judge`). This
module holds no logic that judges a file: plain constants, one frozen dataclass of
limits (`FileRules`) and mappings from rule ids to texts. A deployment that ingests
more CRSs is one ``FileRules.replace(...)`` away.

Examples
--------
>>> "EPSG:32633" in DEFAULT_FILE_RULES.supported_crs, DEFAULT_FILE_RULES.max_block
(True, 2048)
>>> SERVICE_MESSAGES["block-size"].format(image=1, min=256, max=2048)
'Ensure tiles of image at index 1 have width and height between 256 and 2048'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_FILE_RULES",
    "FAILING_RULES",
    "REQUIREMENTS",
    "SERVICE_MESSAGES",
    "TIFF_COMPRESSIONS",
    "UNEXPECTED_FAILURE",
    "FileRules",
]

_R = TypeVar("_R", bound="FileRules")

#: TIFF compression codes (tag 259) and the names messages give them (GDAL's names).
#: Adobe deflate (8, what GDAL writes for DEFLATE) and the legacy deflate code (32946)
#: are both "DEFLATE"; 50013 is PixTIFF's zip, "PIXTIFF_ZIP" in the service's list
#: (COG_RULES 2; the code is an inference from the TIFF registry).
TIFF_COMPRESSIONS: Mapping[int, str] = MappingProxyType(
    {
        1: "NONE",
        2: "CCITTRLE",
        5: "LZW",
        6: "OJPEG",
        7: "JPEG",
        8: "DEFLATE",
        32773: "PACKBITS",
        32946: "DEFLATE",
        34887: "LERC",
        34925: "LZMA",
        50000: "ZSTD",
        50001: "WEBP",
        50002: "JXL",
        50013: "PIXTIFF_ZIP",
    }
)

#: The cause the service gives for a file it cannot read, or any failure it does not name
#: (eodash issue 528).
UNEXPECTED_FAILURE = "Unexpected error occurred while ingesting the tile"


def _supported_crs() -> frozenset[str]:
    utm = {f"EPSG:{base + zone}" for base in (32600, 32700) for zone in range(1, 61)}
    return frozenset({"EPSG:4326", "EPSG:3857", "EPSG:3035"} | utm)


@dataclass(frozen=True)
class FileRules:
    """The limits and allowed values of COG_RULES.md (a deployment's table).

    Parameters
    ----------
    supported_crs : frozenset of str
        ``EPSG:<code>`` the deployment ingests (section 3; deployments add more).
    min_block, max_block : int
        Block (internal tile) width and height, in every image (section 2).
    max_header : int
        Bytes of IFDs and tag data (section 2: 1 MB).
    compressions : frozenset of str
        Allowed compressions, as named in `TIFF_COMPRESSIONS`.
    other_photometric : frozenset of str
        Compressions allowed when the photometric interpretation is neither 1 nor 2.
    dtypes : frozenset of str
        Sample types, ``uint16``-style (8/16/32-bit, and 1/2/4-bit unsigned).
    max_chunky_bands : int
        Bands of a pixel-interleaved file.
    max_bands : int
        Bands of a collection, hence files of one tile (section 1).
    max_meters_factor, min_overview_px, max_meters_floor : float, int, float
        ``maxMetersPerPixel`` is ``max_meters_factor`` x the median resolution of the
        coarsest overview of at least ``min_overview_px`` pixels, raised to
        ``max_meters_floor`` (section 4, best knowledge).
    meters_per_degree : float
        For resolutions in degrees (EPSG:4326): meters per degree at the equator.

    Examples
    --------
    >>> wider = DEFAULT_FILE_RULES.replace(supported_crs={"EPSG:6933"})
    >>> sorted(wider.supported_crs), DEFAULT_FILE_RULES.min_block
    (['EPSG:6933'], 256)
    """

    supported_crs: frozenset[str] = field(default_factory=_supported_crs)
    min_block: int = 256
    max_block: int = 2048
    max_header: int = 1_048_576
    compressions: frozenset[str] = frozenset(
        {"NONE", "DEFLATE", "ZSTD", "LZW", "PACKBITS", "PIXTIFF_ZIP"}
    )
    other_photometric: frozenset[str] = frozenset({"NONE", "DEFLATE", "ZSTD"})
    dtypes: frozenset[str] = frozenset(
        {f"{kind}{bits}" for kind in ("uint", "int") for bits in (8, 16, 32)}
        | {"float32", "uint1", "uint2", "uint4"}
    )
    max_chunky_bands: int = 10
    max_bands: int = 100
    max_meters_factor: float = 5.0
    min_overview_px: int = 256
    max_meters_floor: float = 500.0
    meters_per_degree: float = 111_320.0

    def replace(self: _R, **changes: Any) -> _R:
        """A copy with some limits changed (sets given as any iterable)."""
        for name, value in changes.items():
            if isinstance(getattr(self, name, None), frozenset):
                changes[name] = frozenset(value)
        return dataclasses.replace(self, **changes)


#: The documented table's defaults.
DEFAULT_FILE_RULES = FileRules()

#: What each rule requires, in COG_RULES.md's words (rule id -> requirement).
REQUIREMENTS: Mapping[str, str] = MappingProxyType(
    {
        "header": "the file is a readable TIFF",
        "striped": "images are internally tiled (not striped)",
        "block-size": "block width and height in [256, 2048] in every image",
        "overviews": "overviews down to one block (cloud-optimised)",
        "header-size": "header (IFDs and tag data) at most 1 MB",
        "compression": "compression none, DEFLATE, ZSTD, LZW, PACKBITS",
        "compression-photometric": "photometric other than 1/2 only with none, DEFLATE or ZSTD",
        "sample-type": "8, 16 or 32-bit UINT/INT/FLOAT (or 1/2/4-bit uint)",
        "interleave-bands": "pixel-interleaved files hold at most 10 bands",
        "crs": "an EPSG CRS the deployment supports",
        "rotated": "north-up georeferencing (no rotation or shear)",
        "pole": "the file does not cross a pole",
        "nodata-nan": "NaN is always no-data; it cannot be set as no-data",
        "unmatched": "every file belongs to a tile",
        "missing-band": "every band's file exists in every tile",
        "extension": "all tiles use one file extension (.tif/.tiff/.TIF)",
        "band-crs": "all files of a tile share one CRS",
        "band-bounds": "the intersection of the files' boxes is within one pixel of each box",
        "bit-depth": "all files of a band share the collection's sample type",
        "too-many-bands": "a collection has at most 100 bands",
    }
)

#: The service's failure message per rule (``str.format`` fields filled in per file).
#: Quoted from the docs and bug reports where they give one ("block-size",
#: "missing-band", "header"); the others are in the same short style.
SERVICE_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "header": UNEXPECTED_FAILURE,
        "striped": "Ensure image at index {image} is tiled, not striped",
        "block-size": (
            "Ensure tiles of image at index {image} have width and height between {min} and {max}"
        ),
        "overviews": (
            "Ensure the file has overviews (image is {width}x{height} px, block {block} px)"
        ),
        "header-size": "Header of the file is {size} bytes, more than {max}",
        "compression": "Unsupported compression {compression}",
        "compression-photometric": (
            "Compression {compression} is not supported with photometric interpretation "
            "{photometric}"
        ),
        "sample-type": "Unsupported sample type {dtype}",
        "interleave-bands": "Pixel-interleaved file has {bands} bands, more than {max}",
        "crs": "Unsupported CRS {crs}",
        "rotated": "Rotated or sheared georeferencing is not supported",
        "pole": "The file crosses a pole",
        "missing-band": "File {key} not found.",
        "extension": "Files of one tile must share one extension, found {found}",
        "band-crs": "Files of the tile are in different CRSs: {found}",
        "band-bounds": "Bounding boxes of the files of the tile differ by more than one pixel",
        "bit-depth": "File {key} is {dtype}, band {band} is {want}",
        "too-many-bands": "A collection has at most {max} bands, the tile's files hold {bands}",
    }
)

#: Rules whose breach fails ingestion (the others are advice: no service message).
FAILING_RULES = frozenset(SERVICE_MESSAGES)

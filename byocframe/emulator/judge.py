"""The service's own judge of a tile's files: the rule table applied to the headers it read.

The limits and the failure messages are the shared data-only table
(`byocframe.file_rules`); the code that applies them is the service's own, so that the
client's checks (`byocframe.bucket.checks`) can be tested against it rather than against
themselves. The first rule a tile breaks, file by file in band order and then across its
files, is its ``failedIngestionCause``; a tile that breaks none gets what the service
derives from its files (COG_RULES 4).

Examples
--------
>>> from byocframe.emulator.headers import FileHeader, ImageInfo
>>> image = ImageInfo(width=512, height=512, block=(128, 128), bits=8, sample_format=1,
...                   samples=1, planar=1, compression=8, photometric=1, subfile_type=0)
>>> header = FileHeader(images=(image,), header_size=400, epsg=32633,
...                     transform=(5e5, 10.0, 0.0, 5e6, 0.0, -10.0))
>>> print(file_failure(header))
Ensure tiles of image at index 0 have width and height between 256 and 2048
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from byocframe.emulator.headers import FileHeader, ImageInfo
from byocframe.file_rules import DEFAULT_FILE_RULES, SERVICE_MESSAGES, TIFF_COMPRESSIONS, FileRules

__all__ = [
    "IngestionFailure",
    "TileFile",
    "band_config",
    "derive",
    "file_failure",
    "tile_failure",
]

# TIFF SampleFormat (tag 339) -> the kind in ``uint16``-style names and the API's names
_KINDS = {1: "uint", 2: "int", 3: "float", 4: "void", 5: "complexint", 6: "complexfloat"}
_API_FORMATS = {"uint": "UINT", "int": "INT", "float": "FLOAT"}


class IngestionFailure(Exception):
    """Why a tile cannot be ingested (becomes its ``failedIngestionCause``)."""


@dataclass(frozen=True)
class TileFile:
    """One file of a tile: the band it serves, its object key and ETag, and its header."""

    band: str
    key: str
    etag: str
    header: FileHeader


def _say(rule: str, **values: Any) -> str:
    return SERVICE_MESSAGES[rule].format(**values)


def _dtype(header: FileHeader) -> str:
    image = header.images[0]
    return f"{_KINDS.get(image.sample_format, 'unknown')}{image.bits}"


def _box(header: FileHeader) -> tuple[float, float, float, float]:
    x0, dx, _, y0, _, dy = header.transform or (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    image = header.images[0]
    xs, ys = (x0, x0 + image.width * dx), (y0, y0 + image.height * dy)
    return (min(xs), min(ys), max(xs), max(ys))


def file_failure(header: FileHeader, rules: FileRules = DEFAULT_FILE_RULES) -> str | None:
    """The service's message for the first rule one file breaks, or None.

    Parameters
    ----------
    header : FileHeader
        As `byocframe.emulator.headers.read_file_header` read it.
    rules : FileRules
        The deployment's table.

    Returns
    -------
    str or None
    """
    return _layout(header, rules) or _encoding(header, rules) or _georeference(header, rules)


def _layout(header: FileHeader, rules: FileRules) -> str | None:
    lo, hi = rules.min_block, rules.max_block
    for index, image in enumerate(header.images):
        if image.block is None:
            return _say("striped", image=index)
    for index, image in enumerate(header.images):
        width, height = image.block or (0, 0)
        if not (lo <= width <= hi and lo <= height <= hi):
            return _say("block-size", image=index, min=lo, max=hi)
    full = header.images[0]
    overviews = [i for i in header.images[1:] if i.subfile_type & 1 and not i.subfile_type & 4]
    block = full.block or (0, 0)
    if not overviews and (full.width > block[0] or full.height > block[1]):
        return _say("overviews", width=full.width, height=full.height, block=block[0])
    if header.header_size > rules.max_header:
        return _say("header-size", size=header.header_size, max=rules.max_header)
    return None


def _encoding(header: FileHeader, rules: FileRules) -> str | None:
    for image in header.images:
        name = TIFF_COMPRESSIONS.get(image.compression, f"CODE{image.compression}")
        if name not in rules.compressions:
            return _say("compression", compression=name)
        if image.photometric not in (1, 2) and name not in rules.other_photometric:
            return _say("compression-photometric", compression=name, photometric=image.photometric)
    dtype = _dtype(header)
    if dtype not in rules.dtypes:
        return _say("sample-type", dtype=dtype)
    full = header.images[0]
    if full.planar == 1 and full.samples > rules.max_chunky_bands:
        return _say("interleave-bands", bands=full.samples, max=rules.max_chunky_bands)
    return None


def _georeference(header: FileHeader, rules: FileRules) -> str | None:
    crs = f"EPSG:{header.epsg}" if header.epsg is not None else None
    if crs is None or crs not in rules.supported_crs:
        return _say("crs", crs=crs or "(none)")
    if header.transform is None:
        return _say("header")  # a CRS but no pixel-to-map transform: nothing to place
    if header.transform[2] or header.transform[4]:
        return _say("rotated")
    xmin, ymin, xmax, ymax = _box(header)
    dy = header.transform[5]
    if not all(map(math.isfinite, (xmin, ymin, xmax, ymax))) or xmin >= xmax or ymin >= ymax:
        # a pixel size of NaN, infinity or zero, an overflow, or an image of no pixels:
        # the file covers no area to place
        return _say("header")
    if not _placeable(crs, (xmin, ymin, xmax, ymax), max(abs(header.transform[1]), abs(dy))):
        return _say("header")  # where the CRS cannot place it (its maths break down)
    if crs == "EPSG:4326":
        crosses = ymin < -90 or ymax > 90
    else:
        crosses = any(xmin < x < xmax and ymin < y < ymax for x, y in _poles(crs))
    return _say("pole") if crosses else None


@functools.lru_cache(maxsize=256)
def _to_degrees(crs: str) -> tuple[Any, Any]:
    from pyproj import Transformer

    return (
        Transformer.from_crs(crs, "EPSG:4326", always_xy=True),
        Transformer.from_crs("EPSG:4326", crs, always_xy=True),
    )


def _placeable(crs: str, box: tuple[float, float, float, float], pixel: float) -> bool:
    """Whether the box's corners go to longitude/latitude and back to within a pixel.

    Far outside a projection's domain its formulas give infinities, or wrap (UTM
    northings of 10**12 m come back as 3.5e6 m): the file cannot be placed.
    """
    if crs == "EPSG:4326":
        return True
    forward, back = _to_degrees(crs)
    xs = [box[0], box[2], box[2], box[0]]
    ys = [box[1], box[1], box[3], box[3]]
    lons, lats = forward.transform(xs, ys)
    again = back.transform(lons, lats)
    return all(
        math.isfinite(a) and abs(a - b) <= pixel
        for found, given in ((again[0], xs), (again[1], ys))
        for a, b in zip(found, given, strict=True)
    )


@functools.lru_cache(maxsize=256)
def _poles(crs: str) -> tuple[tuple[float, float], ...]:
    """Where the poles fall in ``crs`` (the ones it can show)."""
    from pyproj import Transformer

    to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    out = []
    for latitude in (90.0, -90.0):
        x, y = to_crs.transform(0.0, latitude)
        if math.isfinite(x) and math.isfinite(y):
            out.append((float(x), float(y)))
    return tuple(out)


def tile_failure(
    files: Sequence[TileFile],
    bands: Mapping[str, Mapping[str, Any]] | None = None,
    rules: FileRules = DEFAULT_FILE_RULES,
) -> str | None:
    """The service's message for the first rule a tile's files break, or None.

    Each file is judged on its own first (`file_failure`), then the files together:
    one CRS, boxes within a pixel of their intersection, the configured sample types.

    Parameters
    ----------
    files : sequence of TileFile
    bands : dict, optional
        The collection's ``additionalData.bands`` (None or empty: not configured yet).
    rules : FileRules

    Returns
    -------
    str or None

    Examples
    --------
    >>> b01 = TileFile("B01", "t/B01.tif", '"e1"', _example(epsg=32633))
    >>> b02 = TileFile("B02", "t/B02.tif", '"e2"', _example(epsg=32634))
    >>> print(tile_failure([b01, b02]))
    Files of the tile are in different CRSs: ['EPSG:32633', 'EPSG:32634']
    """
    if not bands:  # the bands this tile would configure: a multi-band file gives several
        held = sum(max(1, item.header.images[0].samples) for item in files)
        if held > rules.max_bands:
            return _say("too-many-bands", max=rules.max_bands, bands=held)
    for item in files:
        cause = file_failure(item.header, rules)
        if cause:
            return cause
    found = sorted({f"EPSG:{item.header.epsg}" for item in files})
    if len(found) > 1:
        return _say("band-crs", found=found)
    boxes = [_box(item.header) for item in files]
    common = (
        max(b[0] for b in boxes),
        max(b[1] for b in boxes),
        min(b[2] for b in boxes),
        min(b[3] for b in boxes),
    )
    for item, box in zip(files, boxes, strict=True):
        _, dx, _, _, _, dy = item.header.transform or (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        off_x = max(abs(common[0] - box[0]), abs(box[2] - common[2]))
        off_y = max(abs(common[1] - box[1]), abs(box[3] - common[3]))
        if off_x > abs(dx) or off_y > abs(dy):
            return _say("band-bounds")
    for item in files:
        spec = (bands or {}).get(item.band) or {}
        kind = _dtype(item.header)
        have = f"{_API_FORMATS.get(kind.rstrip('0123456789'), kind)}{_depth(item.header)}"
        want = f"{spec.get('sampleFormat', '')}{spec.get('bitDepth', '')}".upper()
        if spec.get("sampleFormat") and spec.get("bitDepth") and have != want:
            return _say("bit-depth", key=item.key, dtype=have, band=item.band, want=want)
    return None


def _depth(header: FileHeader) -> int:
    return max(8, header.images[0].bits)  # 1, 2 and 4-bit files are read as 8-bit bands


def derive(files: Sequence[TileFile], rules: FileRules = DEFAULT_FILE_RULES) -> dict[str, Any]:
    """What ingestion derives from a tile's files (COG_RULES 4).

    Returns
    -------
    dict
        ``crs`` (``EPSG:<code>``), ``tileBox`` (the union of the files' boxes, in it),
        ``minMetersPerPixel`` (the finest resolution) and ``maxMetersPerPixel``
        (``max_meters_factor`` x the median resolution of each file's coarsest overview
        of at least ``min_overview_px``, at least ``max_meters_floor``).

    Examples
    --------
    >>> tile = derive([TileFile("B01", "t/B01.tif", '"e"', _example(epsg=32633))])
    >>> tile["crs"], tile["tileBox"], tile["minMetersPerPixel"], tile["maxMetersPerPixel"]
    ('EPSG:32633', [500000.0, 4994880.0, 505120.0, 5000000.0], 10.0, 500.0)
    """
    crs = f"EPSG:{files[0].header.epsg}"
    boxes = [_box(item.header) for item in files]
    unit = rules.meters_per_degree if crs == "EPSG:4326" else 1.0
    finest = []
    coarsest = []
    for item in files:
        _, dx, _, _, _, dy = item.header.transform or (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
        finest.append(min(abs(dx), abs(dy)) * unit)
        full = item.header.images[0]
        levels = [
            image.width
            for image in item.header.images
            if not image.subfile_type & 4
            and min(image.width, image.height) >= rules.min_overview_px
        ]
        narrowest = min(levels) if levels else full.width
        coarsest.append(abs(dx) * full.width / narrowest * unit)
    return {
        "crs": crs,
        "tileBox": [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ],
        "minMetersPerPixel": min(finest),
        "maxMetersPerPixel": max(
            rules.max_meters_floor, rules.max_meters_factor * statistics.median(coarsest)
        ),
    }


def band_config(files: Sequence[TileFile]) -> dict[str, dict[str, Any]]:
    """The bands the first ingested tile configures: one per file, ``_1``.. for several.

    A multi-band file ``RGB`` gives ``RGB_1``, ``RGB_2``, ... with ``source`` ``RGB`` and
    ``bandIndex`` 1, 2, ... (BYOC_API 6.2).

    Examples
    --------
    >>> band_config([TileFile("RGB", "t/RGB.tif", '"e"', _example(samples=2))])["RGB_2"]
    {'bitDepth': 8, 'sampleFormat': 'UINT', 'source': 'RGB', 'bandIndex': 2}
    """
    out: dict[str, dict[str, Any]] = {}
    for item in files:
        kind = _KINDS.get(item.header.images[0].sample_format, "uint")
        spec = {
            "bitDepth": _depth(item.header),
            "sampleFormat": _API_FORMATS.get(kind, "UINT"),
            "source": item.band,
        }
        samples = item.header.images[0].samples
        if samples == 1:
            out[item.band] = {**spec, "bandIndex": 1}
        else:
            for index in range(1, samples + 1):
                out[f"{item.band}_{index}"] = {**spec, "bandIndex": index}
    return out


def _example(*, epsg: int = 32633, samples: int = 1) -> FileHeader:
    """A valid 512 px, 10 m header at (500000, 5000000), for the examples."""
    full = ImageInfo(512, 512, (256, 256), 8, 1, samples, 2, 8, 1, 0)
    overview = ImageInfo(256, 256, (256, 256), 8, 1, samples, 2, 8, 1, 1)
    return FileHeader((full, overview), 800, epsg, (5e5, 10.0, 0.0, 5e6, 0.0, -10.0))

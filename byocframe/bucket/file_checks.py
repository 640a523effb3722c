"""The rules of one file: its header against the rule table's file rules.

`check_file` appends the findings of one files-frame row (`byocframe.bucket.files`) to
a `byocframe.bucket.rules.Findings`: the header is readable, tiled with blocks in range,
has overviews and a small header, a lossless compression and a supported sample type,
and is georeferenced in a CRS the deployment ingests, north-up, clear of the poles.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
from pyproj import Transformer

from byocframe.bucket.rules import Findings, is_missing

__all__ = ["check_file"]


def check_file(row: Mapping[str, Any], out: Findings, tile: Any = None) -> None:
    """Append the findings of one file (a files-frame row) to ``out``."""
    key, rules = row["key"], out.rules
    if not is_missing(row.get("error")) and row.get("error"):
        out.add("header", key, tile, f"{key}: cannot read the TIFF header ({row['error']})")
        return
    blocks = list(row.get("image_blocks") or [])
    sizes = list(row.get("image_sizes") or [])
    lo, hi = rules.min_block, rules.max_block
    striped = [i for i, (bw, _) in enumerate(blocks) if not bw]
    wrong = [
        i for i, (bw, bh) in enumerate(blocks) if bw and not (lo <= bw <= hi and lo <= bh <= hi)
    ]
    if striped:
        out.add(
            "striped",
            key,
            tile,
            f"{key}: {_images(striped)} striped, not tiled; the service reads COGs block by block",
            image=striped[0],
            min=lo,
            max=hi,
        )
    elif wrong:
        sizes_text = ", ".join(f"{blocks[i][0]}x{blocks[i][1]}" for i in wrong)
        out.add(
            "block-size",
            key,
            tile,
            f"{key}: {_images(wrong)} blocks of {sizes_text} px; "
            f"every image, overviews included, needs blocks of {lo}-{hi} px",
            image=wrong[0],
            min=lo,
            max=hi,
        )
    if blocks and sizes and blocks[0][0]:
        (w, h), (bw, bh) = sizes[0], blocks[0]
        if not row.get("overviews") and (w > bw or h > bh):
            out.add(
                "overviews",
                key,
                tile,
                f"{key}: {w}x{h} px without overviews; zoomed-out requests would read every block",
                width=w,
                height=h,
                block=bw,
            )
    size = row.get("header_size")
    if size is not None and not is_missing(size) and size > rules.max_header:
        out.add(
            "header-size",
            key,
            tile,
            f"{key}: header is {int(size):,} bytes, over {rules.max_header:,}",
            size=int(size),
            max=rules.max_header,
        )
    _check_encoding(row, out, tile)
    _check_georeference(row, out, tile)


def _images(indices: list[int]) -> str:
    names = ["the full-resolution image (0)" if i == 0 else f"overview {i}" for i in indices]
    return ", ".join(names) + (" has" if len(names) == 1 else " have")


def _check_encoding(row: Mapping[str, Any], out: Findings, tile: Any) -> None:
    key, rules = row["key"], out.rules
    compression = row.get("compression")
    photometric = row.get("photometric")
    if compression and not is_missing(compression):
        if compression not in rules.compressions:
            out.add(
                "compression",
                key,
                tile,
                f"{key}: {compression} compression is not "
                "supported (lossy or unknown); use DEFLATE or ZSTD",
                compression=compression,
            )
        elif (
            not is_missing(photometric)
            and photometric not in (1, 2)
            and compression not in rules.other_photometric
        ):
            out.add(
                "compression-photometric",
                key,
                tile,
                f"{key}: {compression} with "
                f"photometric {photometric}; only none, DEFLATE or ZSTD are read",
                compression=compression,
                photometric=photometric,
            )
    dtype = row.get("dtype")
    if dtype and not is_missing(dtype) and dtype not in rules.dtypes:
        out.add(
            "sample-type",
            key,
            tile,
            f"{key}: {dtype} samples are not supported; use 8/16/32-bit integers or float32",
            dtype=dtype,
        )
    bands = row.get("bands")
    chunky = row.get("interleave") == "PIXEL"
    if chunky and bands is not None and not is_missing(bands) and bands > rules.max_chunky_bands:
        out.add(
            "interleave-bands",
            key,
            tile,
            f"{key}: {bands} pixel-interleaved bands, over {rules.max_chunky_bands}",
            bands=bands,
            max=rules.max_chunky_bands,
        )
    nodata = row.get("nodata")
    if isinstance(nodata, str) and nodata.strip().lower() == "nan":
        out.add(
            "nodata-nan",
            key,
            tile,
            f"{key}: NaN is set as no-data; NaN is always no-data and the tag is ignored",
        )


def _check_georeference(row: Mapping[str, Any], out: Findings, tile: Any) -> None:
    key, rules = row["key"], out.rules
    crs = row.get("crs")
    if crs is None or is_missing(crs):
        note = row.get("crs_note") if not is_missing(row.get("crs_note")) else "no CRS"
        out.add(
            "crs",
            key,
            tile,
            f"{key}: {note}; the service needs an EPSG code",
            crs="(none)",
            suggest="EPSG:4326",
        )
    elif crs not in rules.supported_crs:
        suggest = _utm_for(row)
        out.add(
            "crs",
            key,
            tile,
            f"{key}: {crs} is not a CRS this deployment ingests "
            f"(UTM, EPSG:4326, 3857, 3035); reproject, e.g. to {suggest}",
            crs=crs,
            suggest=suggest,
        )
    if row.get("rotated") is True:
        out.add("rotated", key, tile, f"{key}: the georeferencing is rotated or sheared")
    if crs and not is_missing(crs) and _crosses_pole(row):
        out.add(
            "pole",
            key,
            tile,
            f"{key}: the file's extent contains a pole; the service cannot ingest it",
        )


@functools.lru_cache(maxsize=64)
def _pole_points(crs: str) -> tuple[tuple[float, float], ...]:
    forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    points = []
    for lat in (90.0, -90.0):
        x, y = forward.transform(0.0, lat)
        if np.isfinite(x) and np.isfinite(y):
            points.append((float(x), float(y)))
    return tuple(points)


def _box(row: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    box = tuple(row.get(k) for k in ("xmin", "ymin", "xmax", "ymax"))
    if any(v is None or is_missing(v) for v in box):
        return None
    return box  # type: ignore[return-value]


def _crosses_pole(row: Mapping[str, Any]) -> bool:
    box = _box(row)
    if box is None:
        return False
    if row["crs"] == "EPSG:4326":
        return box[1] < -90 or box[3] > 90
    try:
        poles = _pole_points(str(row["crs"]))
    except Exception:  # an unknown CRS is the crs rule's finding, not this one's
        return False
    return any(box[0] < x < box[2] and box[1] < y < box[3] for x, y in poles)


def _utm_for(row: Mapping[str, Any]) -> str:
    box = _box(row)
    try:
        to_lonlat = Transformer.from_crs(str(row["crs"]), "EPSG:4326", always_xy=True)
        lon, lat = to_lonlat.transform((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)  # type: ignore[index]
    except Exception:
        return "EPSG:4326"
    if not (np.isfinite(lon) and np.isfinite(lat)) or abs(lat) > 84:
        return "EPSG:4326"
    zone = int((lon + 180) // 6) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"

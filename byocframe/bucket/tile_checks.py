"""The rules of one tile: its files each, and their agreement with each other.

`check_tile_files` checks every file of a tile (`byocframe.bucket.file_checks`) and then
what the files must share: every band present, one extension, one CRS, one box within a
pixel, and each band's sample type. `band_dtypes` reads those types from a collection;
`exact_number` and `key_extension` write and read the values the fixes name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from byocframe.bucket.file_checks import check_file
from byocframe.bucket.rules import Findings, is_missing

__all__ = ["band_dtypes", "check_tile_files", "exact_number", "key_extension"]


_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
}
_SAMPLE = {"UINT": "uint", "INT": "int", "FLOAT": "float"}


def band_dtypes(bands: Mapping[str, Mapping[str, Any]] | None) -> dict[str, str]:
    """``{source: "uint16"}`` from a collection's ``additionalData.bands``."""
    out = {}
    for name, spec in (bands or {}).items():
        fmt, depth = spec.get("sampleFormat"), spec.get("bitDepth")
        if fmt and depth:
            out[str(spec.get("source") or name)] = f"{_SAMPLE.get(str(fmt).upper(), fmt)}{depth}"
    return out


def check_tile_files(
    tile: str,
    files: pd.DataFrame,
    out: Findings,
    *,
    sources: Iterable[str] = (),
    dtypes: Mapping[str, str] | None = None,
    extension: str | None = None,
    bucket: str = "",
) -> None:
    """Append the findings of one tile: its files (rows with ``band``) and their agreement.

    ``sources`` are the band file names every tile must have, ``dtypes`` the sample type
    of each (the collection's, or the most common in the bucket), ``extension`` the one
    the collection uses.
    """
    for row in files.to_dict("records"):
        check_file(row, out, tile)
    have = dict(zip(files["band"], files["key"], strict=True))
    ext = key_extension(next(iter(have.values()), ""))
    for source in sources:
        if source not in have:
            key = tile.replace("(BAND)", source)
            if not key_extension(key):
                key += extension or ext or ".tif"
            shown = f"s3://{bucket}/{key}" if bucket else key
            out.add(
                "missing-band",
                None,
                tile,
                f"tile {tile}: band {source} has no file ({key})",
                key=shown,
            )
    found = sorted({key_extension(k) for k in have.values()})
    want = extension or (found[0] if found else ".tif")
    for key in have.values():
        if key_extension(key) != want:
            out.add(
                "extension",
                key,
                tile,
                f"{key}: extension {key_extension(key) or '(none)'} "
                f"differs from {want} used by the other files; the service needs one",
                found=sorted({*found, want}),
                want=want,
            )
    crs = files["crs"].dropna().unique()
    if len(crs) > 1:
        first = str(crs[0])
        for row in files[files["crs"] != first].to_dict("records"):
            out.add(
                "band-crs",
                row["key"],
                tile,
                f"{row['key']}: in {row['crs']}, the tile's other files are in {first}",
                found=sorted(map(str, crs)),
                crs=first,
            )
    else:
        _check_bounds(tile, files, out)
    for row in files.to_dict("records"):
        want_type = (dtypes or {}).get(str(row["band"]))
        if (
            want_type
            and row.get("dtype")
            and not is_missing(row["dtype"])
            and row["dtype"] != want_type
        ):
            out.add(
                "bit-depth",
                row["key"],
                tile,
                f"{row['key']}: {row['dtype']} while band "
                f"{row['band']} is {want_type} in the other tiles (or the collection)",
                key=row["key"],
                dtype=row["dtype"].upper(),
                band=row["band"],
                want=want_type.upper(),
                gdal_type=_GDAL_TYPES.get(want_type, want_type),
            )


def _check_bounds(tile: str, files: pd.DataFrame, out: Findings) -> None:
    boxes = files[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float)
    if len(boxes) < 2 or np.isnan(boxes).any():
        return
    inter = (boxes[:, 0].max(), boxes[:, 1].max(), boxes[:, 2].min(), boxes[:, 3].min())
    res = files[["res_x", "res_y"]].to_numpy(dtype=float)
    for pos, row in enumerate(files.to_dict("records")):
        off_x = max(abs(inter[0] - boxes[pos, 0]), abs(boxes[pos, 2] - inter[2]))
        off_y = max(abs(inter[1] - boxes[pos, 1]), abs(boxes[pos, 3] - inter[3]))
        if off_x > res[pos, 0] or off_y > res[pos, 1]:
            box = " ".join(exact_number(v) for v in inter)
            out.add(
                "band-bounds",
                row["key"],
                tile,
                f"{row['key']}: its box is {exact_number(off_x)} x "
                f"{exact_number(off_y)} CRS units off the common box of the tile's files, "
                f"more than one pixel ({exact_number(res[pos, 0])})",
                box=box,
            )


def exact_number(value: float) -> str:
    """A coordinate for a command line, exactly: whole numbers without ``.0``, never ``%g``.

    ``%g`` keeps 6 significant digits, so a northing of 4,994,885 would print as
    ``4.99488e+06`` and a fix command would cut 5 m off the box.

    Examples
    --------
    >>> exact_number(4994885.0), exact_number(4994885.25), exact_number(0.1 + 0.2)
    ('4994885', '4994885.25', '0.30000000000000004')
    """
    value = float(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def key_extension(key: str) -> str:
    """The extension of an object key's file name, with its dot (``""`` when it has none).

    Examples
    --------
    >>> key_extension("t1/B01.TIF"), key_extension("a.b/README")
    ('.TIF', '')
    """
    name = str(key).rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[1] if "." in name else ""

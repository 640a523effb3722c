"""Read what a (Geo)TIFF header says from byte ranges, never the pixel data.

A cloud-optimised GeoTIFF keeps every image file directory (IFD) and its tag data at the
start of the file. `read_header` walks the IFD chain through a `RangeReader`, which
fetches aligned blocks on demand (64 KiB by default: one request for the header of a
typical COG) and counts the bytes it asked for. Only the tags BYOC cares about are
decoded; the others are only measured (their data counts towards the header size).
Classic TIFF and BigTIFF, little and big endian. stdlib only.

Examples
--------
>>> import io, struct
>>> ifd = [(256, 3, 1, 512), (257, 3, 1, 512), (258, 3, 1, 16), (259, 3, 1, 8),
...        (322, 3, 1, 256), (323, 3, 1, 256), (339, 3, 1, 1)]
>>> body = struct.pack("<2sHI", b"II", 42, 8) + struct.pack("<H", len(ifd))
>>> body += b"".join(struct.pack("<HHIHH", t, k, n, v, 0) for t, k, n, v in ifd)
>>> body += struct.pack("<I", 0)
>>> header = read_header(RangeReader(lambda start, size: body[start:start + size]))
>>> im = header.images[0]
>>> (im.width, im.block_width, im.dtype, im.compression_name, header.header_size)
(512, 256, 'uint16', 'DEFLATE', 98)
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["COMPRESSIONS", "Image", "RangeReader", "TiffHeader", "TiffHeaderError", "read_header"]

#: TIFF compression codes (tag 259) and their names as GDAL prints them.
COMPRESSIONS = {
    1: "NONE",
    2: "CCITTRLE",
    5: "LZW",
    6: "OJPEG",
    7: "JPEG",
    8: "DEFLATE",  # Adobe deflate (GDAL writes this code for DEFLATE and ZLIB)
    32773: "PACKBITS",
    32946: "DEFLATE",  # the old PKZIP code (PIXTIFF_ZIP)
    34887: "LERC",
    34925: "LZMA",
    50000: "ZSTD",
    50001: "WEBP",
    50002: "JXL",
}
_SAMPLE_FORMATS = {1: "uint", 2: "int", 3: "float"}
# tag type -> (struct code, size)
_TYPES = {
    1: ("B", 1),
    2: ("s", 1),
    3: ("H", 2),
    4: ("I", 4),
    5: ("II", 8),
    6: ("b", 1),
    7: ("B", 1),
    8: ("h", 2),
    9: ("i", 4),
    10: ("ii", 8),
    11: ("f", 4),
    12: ("d", 8),
    13: ("I", 4),
    16: ("Q", 8),
    17: ("q", 8),
    18: ("Q", 8),
}
# tags whose values are decoded; the rest are only measured
_DECODED = {
    254, 256, 257, 258, 259, 262, 277, 278, 284, 317, 322, 323, 339,
    33550, 33922, 34264, 34735, 34736, 42113,
}  # fmt: skip
_OFFSET_TAGS = {273: "strip", 324: "tile"}  # offsets of pixel data: their first value only
_MAX_IFDS = 64


class TiffHeaderError(ValueError):
    """The bytes are not a TIFF, or its header is damaged; the message says where."""


class RangeReader:
    """Bytes of a file fetched in aligned blocks, with a count of what was requested.

    Parameters
    ----------
    fetch : callable
        ``fetch(start, size) -> bytes``: a ranged read (an HTTP Range GET, a file read);
        it may return fewer bytes at the end of the file.
    block : int, default 65 536
        Bytes per request.
    """

    def __init__(self, fetch: Callable[[int, int], bytes], *, block: int = 65_536):
        self._fetch = fetch
        self._block = block
        self._blocks: dict[int, bytes] = {}
        self.requests = 0
        self.bytes_read = 0

    def read(self, start: int, size: int) -> bytes:
        """``size`` bytes from ``start`` (fewer at the end of the file)."""
        first, last = start // self._block, (start + size - 1) // self._block
        missing = [b for b in range(first, last + 1) if b not in self._blocks]
        if missing:
            # one request for the whole missing run (tag arrays can span blocks)
            lo, hi = missing[0], missing[-1]
            data = self._fetch(lo * self._block, (hi - lo + 1) * self._block)
            self.requests += 1
            self.bytes_read += len(data)
            for b in range(lo, hi + 1):
                off = (b - lo) * self._block
                self._blocks[b] = data[off : off + self._block]
        joined = b"".join(self._blocks.get(b, b"") for b in range(first, last + 1))
        skip = start - first * self._block
        return joined[skip : skip + size]


@dataclass
class Image:
    """One image (IFD) of a TIFF: the full resolution, an overview or a mask."""

    width: int
    height: int
    block_width: int | None  # None: striped, not tiled
    block_height: int | None
    bits: int
    sample_format: str  # "uint", "int" or "float"
    samples: int
    planar: int  # 1: pixel-interleaved (chunky), 2: band-interleaved (planar)
    compression: int
    photometric: int | None
    predictor: int
    subfile_type: int
    data_offset: int | None  # the first pixel data byte of this image

    @property
    def dtype(self) -> str:
        """``uint16``-style name of the sample type."""
        return f"{self.sample_format}{self.bits}"

    @property
    def compression_name(self) -> str:
        """GDAL's name for the compression (``CODE<n>`` for unknown codes)."""
        return COMPRESSIONS.get(self.compression, f"CODE{self.compression}")

    @property
    def is_overview(self) -> bool:
        """A reduced-resolution copy (NewSubfileType bit 0) that is not a mask."""
        return bool(self.subfile_type & 1) and not self.subfile_type & 4

    @property
    def is_mask(self) -> bool:
        """A transparency mask (NewSubfileType bit 2)."""
        return bool(self.subfile_type & 4)


@dataclass
class TiffHeader:
    """What the header of a GeoTIFF says (see `read_header`)."""

    images: list[Image]
    header_size: int
    bigtiff: bool
    epsg: int | None = None  # None: no CRS, or a user-defined one
    crs_note: str = ""  # why ``epsg`` is None
    geo_transform: tuple[float, float, float, float, float, float] | None = None
    rotated: bool = False
    nodata: str | None = None  # the GDAL_NODATA tag's text: "0", "nan", "-9999"
    requests: int = 0
    bytes_read: int = 0
    metadata_after_data: bool = False

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """``(xmin, ymin, xmax, ymax)`` of the full-resolution image, in its CRS."""
        if self.geo_transform is None or not self.images:
            return None
        x0, sx, _, y0, _, sy = self.geo_transform
        w, h = self.images[0].width, self.images[0].height
        xs, ys = (x0, x0 + w * sx), (y0, y0 + h * sy)
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def resolution(self) -> tuple[float, float] | None:
        """Pixel width and height, in CRS units."""
        if self.geo_transform is None:
            return None
        return (abs(self.geo_transform[1]), abs(self.geo_transform[5]))


def read_header(reader: RangeReader) -> TiffHeader:
    """Walk the IFD chain of a TIFF through ``reader``; pixel data is never read.

    Parameters
    ----------
    reader : RangeReader

    Returns
    -------
    TiffHeader
        With ``header_size``: the bytes from the start of the file to the end of the
        last IFD or tag value (what a reader must fetch before any pixel).

    Raises
    ------
    TiffHeaderError
        Not a TIFF, or an IFD points outside the file.
    """
    head = reader.read(0, 16)
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        raise TiffHeaderError("not a TIFF file (no II/MM byte-order mark)")
    order = "<" if head[:2] == b"II" else ">"
    (magic,) = struct.unpack(order + "H", head[2:4])
    if magic == 42:
        big, (offset,) = False, struct.unpack(order + "I", head[4:8])
        end = 8
    elif magic == 43:
        big, (offset,) = True, struct.unpack(order + "Q", head[8:16])
        end = 16
    else:
        raise TiffHeaderError(f"not a TIFF file (version {magic}, expected 42 or 43)")
    images: list[Image] = []
    tags0: dict[int, tuple[object, ...]] = {}
    first_data: int | None = None
    last_meta = end
    seen: set[int] = set()
    while offset and len(images) < _MAX_IFDS:
        if offset in seen:
            raise TiffHeaderError(f"IFD chain loops back to byte {offset}")
        seen.add(offset)
        tags, offset, meta_end = _read_ifd(reader, order, big, offset)
        last_meta = max(last_meta, meta_end)
        image = _image(tags)
        images.append(image)
        if not tags0:
            tags0 = tags
        if image.data_offset is not None:
            first_data = (
                image.data_offset if first_data is None else min(first_data, image.data_offset)
            )
    if not images:
        raise TiffHeaderError("the TIFF has no image")
    out = TiffHeader(images=images, header_size=last_meta, bigtiff=big)
    out.metadata_after_data = first_data is not None and last_meta > first_data
    _georeference(out, tags0)
    out.requests, out.bytes_read = reader.requests, reader.bytes_read
    return out


def _read_ifd(
    reader: RangeReader, order: str, big: bool, offset: int
) -> tuple[dict[int, tuple[object, ...]], int, int]:
    count_fmt, entry_size, off_fmt = ("Q", 20, "Q") if big else ("H", 12, "I")
    count_size = 8 if big else 2
    raw = reader.read(offset, count_size)
    if len(raw) < count_size:
        raise TiffHeaderError(f"IFD at byte {offset} lies beyond the end of the file")
    (count,) = struct.unpack(order + count_fmt, raw)
    body = reader.read(offset + count_size, count * entry_size + struct.calcsize(off_fmt))
    if len(body) < count * entry_size + struct.calcsize(off_fmt):
        raise TiffHeaderError(f"IFD at byte {offset} is cut short")
    meta_end = offset + count_size + len(body)
    tags: dict[int, tuple[object, ...]] = {}
    inline = 8 if big else 4
    for i in range(count):
        entry = body[i * entry_size : (i + 1) * entry_size]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        (n,) = struct.unpack(order + ("Q" if big else "I"), entry[4 : 4 + (8 if big else 4)])
        value_field = entry[4 + (8 if big else 4) :]
        code, size = _TYPES.get(kind, ("B", 1))
        nbytes = n * size
        if nbytes <= inline:
            data = value_field[:nbytes]
        else:
            (where,) = struct.unpack(order + off_fmt, value_field)
            meta_end = max(meta_end, where + nbytes)
            if tag not in _DECODED and tag not in _OFFSET_TAGS:
                continue  # measured, not read
            # of the pixel offsets, the first value is enough: GDAL writes them in order
            data = reader.read(where, size if tag in _OFFSET_TAGS else nbytes)
            n = 1 if tag in _OFFSET_TAGS else n
        if tag in _DECODED or tag in _OFFSET_TAGS:
            tags[tag] = _unpack(order, kind, code, n, data)
    (next_offset,) = struct.unpack(order + off_fmt, body[count * entry_size :])
    return tags, next_offset, meta_end


def _unpack(order: str, kind: int, code: str, n: int, data: bytes) -> tuple[object, ...]:
    if kind == 2:
        return (data.split(b"\0", 1)[0].decode("latin-1"),)
    if kind in (5, 10):
        pairs = struct.unpack(order + code[0] * (2 * n), data[: 8 * n])
        return tuple(pairs[i] / pairs[i + 1] if pairs[i + 1] else 0.0 for i in range(0, 2 * n, 2))
    return struct.unpack(order + code * n, data[: n * struct.calcsize(code)])


def _first(tags: dict[int, tuple[object, ...]], tag: int, default: int | None) -> int | None:
    value = tags.get(tag)
    return int(value[0]) if value else default  # type: ignore[call-overload]


def _image(tags: dict[int, tuple[object, ...]]) -> Image:
    tiled = 322 in tags
    offsets = tags.get(324 if tiled else 273)
    return Image(
        width=_first(tags, 256, 0) or 0,
        height=_first(tags, 257, 0) or 0,
        block_width=_first(tags, 322, None),
        block_height=_first(tags, 323, None),
        bits=_first(tags, 258, 1) or 1,
        sample_format=_SAMPLE_FORMATS.get(_first(tags, 339, 1) or 1, "uint"),
        samples=_first(tags, 277, 1) or 1,
        planar=_first(tags, 284, 1) or 1,
        compression=_first(tags, 259, 1) or 1,
        photometric=_first(tags, 262, None),
        predictor=_first(tags, 317, 1) or 1,
        subfile_type=_first(tags, 254, 0) or 0,
        data_offset=int(offsets[0]) if offsets else None,  # type: ignore[call-overload]
    )


def _georeference(out: TiffHeader, tags: dict[int, tuple[object, ...]]) -> None:
    keys = _geokeys(tags)
    point = keys.get(1025) == 2  # RasterPixelIsPoint: the tie point is a pixel centre
    scale, tie, matrix = tags.get(33550), tags.get(33922), tags.get(34264)
    if scale and tie and len(scale) >= 2 and len(tie) >= 6:
        sx, sy = float(scale[0]), float(scale[1])  # type: ignore[arg-type]
        i, j, x, y = (float(v) for v in (tie[0], tie[1], tie[3], tie[4]))  # type: ignore[arg-type]
        x0, y0 = x - i * sx, y + j * sy
        if point:
            x0, y0 = x0 - sx / 2, y0 + sy / 2
        out.geo_transform = (x0, sx, 0.0, y0, 0.0, -sy)
    elif matrix and len(matrix) >= 8:
        a, b, _, c, d, e, _, f = (float(v) for v in matrix[:8])  # type: ignore[arg-type]
        out.geo_transform = (c, a, b, f, d, e)
        out.rotated = b != 0 or d != 0
    gtype = keys.get(1024)
    code = keys.get(3072) if gtype == 1 else keys.get(2048)
    if code is None:
        code = keys.get(3072) or keys.get(2048)
    if code is None:
        out.crs_note = "the file has no CRS (no GeoKeys)"
    elif code == 32767:
        out.crs_note = "the file's CRS is user-defined, not an EPSG code"
    else:
        out.epsg = int(code)
    nodata = tags.get(42113)
    if nodata and str(nodata[0]).strip():
        out.nodata = str(nodata[0]).strip()


def _geokeys(tags: dict[int, tuple[object, ...]]) -> dict[int, int]:
    raw = tags.get(34735)
    if not raw or len(raw) < 4:
        return {}
    values = [int(v) for v in raw]  # type: ignore[call-overload]
    keys: dict[int, int] = {}
    for k in range(values[3]):
        key, location, _, value = values[4 + 4 * k : 8 + 4 * k]
        if location == 0:  # short values only: the keys BYOC needs are codes
            keys[key] = value
    return keys

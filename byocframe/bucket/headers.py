"""Read what a (Geo)TIFF header says from byte ranges, never the pixel data.

A cloud-optimised GeoTIFF keeps every image file directory (IFD) and its tag data at the
start of the file. `read_header` hands tifffile (``tifffile.TiffFile``) a read-only file
object over a `RangeReader`, which fetches aligned blocks on demand (64 KiB by default:
one request for the header of a typical COG) and counts the bytes it asked for. Every
read goes through a budget (`HeaderLimits`): a file that needs more bytes, requests,
reads or images than the budget allows, or that tifffile refuses, raises
`TiffHeaderError` with a one-line reason, so a crafted file is a problem of that file
only. See ``docs/design/bucket.md`` for why tifffile and what the limits cost.

Examples
--------
>>> import io, struct
>>> ifd = [(256, 3, 1, 512), (257, 3, 1, 512), (258, 3, 1, 16), (259, 3, 1, 8),
...        (322, 3, 1, 256), (323, 3, 1, 256), (324, 4, 1, 200), (325, 4, 1, 10),
...        (339, 3, 1, 1)]
>>> body = struct.pack("<2sHI", b"II", 42, 8) + struct.pack("<H", len(ifd))
>>> body += b"".join(struct.pack("<HHIHH", t, k, n, v, 0) for t, k, n, v in ifd)
>>> body += struct.pack("<I", 0) + bytes(100)
>>> header = read_header(RangeReader(lambda start, size: body[start:start + size]))
>>> im = header.images[0]
>>> (im.width, im.block_width, im.dtype, im.compression_name, header.header_size)
(512, 256, 'uint16', 'DEFLATE', 122)
>>> try:  # the same file, cut after 60 bytes
...     read_header(RangeReader(lambda start, size: body[:60][start:start + size]))
... except TiffHeaderError as err:
...     print(err)
the TIFF header is cut short at byte 60 (corrupted IFD structure)
"""

from __future__ import annotations

import dataclasses
import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, cast

from byocframe.file_rules import TIFF_COMPRESSIONS
from byocframe.log_capture import collect_errors
from byocframe.ranges import PositionedFile

if TYPE_CHECKING:
    import tifffile

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_LIMITS",
    "HeaderLimits",
    "Image",
    "RangeReader",
    "TiffHeader",
    "TiffHeaderError",
    "read_header",
]

#: TIFF compression codes (tag 259) and their names as GDAL prints them (the shared table).
COMPRESSIONS = TIFF_COMPRESSIONS
_SAMPLE_FORMATS = {1: "uint", 2: "int", 3: "float"}
_UNKNOWN_SIZE = 2**62  # a file size to give tifffile when the caller does not know it


@dataclass(frozen=True)
class HeaderLimits:
    """How much of one file `read_header` may read: past any of these, it gives up.

    The defaults read any header the service accepts (at most 1 MB, COG_RULES 2) with
    room to measure a larger one, and bound a crafted file to a few MiB and a few
    thousand reads. tifffile adds its own fixed bound: at most 4096 tags per IFD.

    Parameters
    ----------
    max_bytes : int, default 4 MiB
        Bytes asked for per file (whole blocks, counted before they are fetched).
    max_requests : int, default 32
        Ranged requests per file (the first block is one).
    max_images : int, default 64
        IFDs (full image, overviews, masks) followed along the chain.
    max_reads : int, default 20 000
        Reads tifffile may make of the file (bounds the time spent on one file).

    Examples
    --------
    >>> HeaderLimits().replace(max_bytes=16 * 2**20).max_bytes
    16777216
    """

    max_bytes: int = 4 * 2**20
    max_requests: int = 32
    max_images: int = 64
    max_reads: int = 20_000

    def replace(self, **changes: int) -> HeaderLimits:
        """A copy with some limits changed."""
        return dataclasses.replace(self, **changes)


#: The limits `read_header` applies when given none, read at each call: assign a raised
#: `HeaderLimits` here to raise them for `read_bucket`, `check` and the local service.
DEFAULT_LIMITS = HeaderLimits()


class TiffHeaderError(ValueError):
    """The bytes are not a TIFF, its header is damaged, or reading it broke a limit."""


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

    def pending(self, start: int, size: int) -> int:
        """Bytes a `read` of this range would ask for (0: all of it is held already)."""
        if size <= 0:
            return 0
        first, last = start // self._block, (start + size - 1) // self._block
        missing = [b for b in range(first, last + 1) if b not in self._blocks]
        return (missing[-1] - missing[0] + 1) * self._block if missing else 0

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


class _Stop(Exception):
    """A limit was reached; raised at every read from then on (tifffile may catch one)."""


class _Window(PositionedFile):
    """A read-only file over a `RangeReader` that charges every read to `HeaderLimits`.

    tifffile catches some exceptions and goes on, so the first breach and the first
    failed fetch are kept and `read_header` reports them after tifffile returns.
    """

    def __init__(self, reader: RangeReader, size: int | None, limits: HeaderLimits):
        super().__init__(_UNKNOWN_SIZE if size is None else size)
        self.reader, self.limits = reader, limits
        self.known = size is not None
        self.reads = self.charged = 0
        self.short = False  # a read ended at the end of the file
        self.breach: str | None = None
        self.failure: BaseException | None = None

    def read(self, size: int | None = -1) -> bytes:
        want = self.size - self.pos if size is None or size < 0 else size
        data = self.take(self.pos, max(0, min(want, self.size - self.pos)))
        self.short = self.short or len(data) < want
        self.pos += len(data)
        return data

    def take(self, start: int, size: int) -> bytes:
        """``size`` bytes from ``start``, if the limits allow them."""
        limits = self.limits
        if self.breach is None:
            self.reads += 1
            cost = self.reader.pending(start, size) if size <= limits.max_bytes else size
            if self.reads > limits.max_reads:
                self.breach = f"more than {limits.max_reads} reads (max_reads)"
            elif self.charged + cost > limits.max_bytes:
                self.breach = f"more than {limits.max_bytes} bytes (max_bytes)"
            elif cost and self.reader.requests >= limits.max_requests:
                self.breach = f"more than {limits.max_requests} requests (max_requests)"
            else:
                self.charged += cost
        if self.breach is not None:
            raise _Stop(self.breach)
        try:
            data = self.reader.read(start, size) if size else b""
        except Exception as err:  # the fetch failed: reported as it is, after tifffile
            self.failure = self.failure or err
            raise
        if not self.known and len(data) < size:
            self.size, self.known = start + len(data), True  # the end of the file, found
        return data


def read_header(
    reader: RangeReader, *, size: int | None = None, limits: HeaderLimits | None = None
) -> TiffHeader:
    """Parse the IFD chain of a TIFF with tifffile, through ``reader``, within ``limits``.

    Parameters
    ----------
    reader : RangeReader
    size : int, optional
        The file's size in bytes, when known (a listing gives it); tifffile checks
        offsets against it. Unknown, the end of the file is found by reading.
    limits : HeaderLimits, optional
        `DEFAULT_LIMITS` when not given.

    Returns
    -------
    TiffHeader
        With ``header_size``: the bytes from the start of the file to the end of the
        last IFD or tag value (what a reader must fetch before any pixel).

    Raises
    ------
    TiffHeaderError
        Not a TIFF, a damaged header, or a limit reached; the message is one line.
    OSError
        Fetching a range failed (as ``reader`` raised it).
    """
    import tifffile

    window = _Window(reader, size, DEFAULT_LIMITS if limits is None else limits)
    header: TiffHeader | None = None
    error: Exception | None = None
    with collect_errors("tifffile") as complaints:
        try:
            big, first = _preamble(window)
            with tifffile.TiffFile(
                cast(IO[bytes], window),  # a read-only binary file, as tifffile asks
                name="header",
                size=window.size,
                # these flags make tifffile read whole page chains up front
                is_lsm=False,
                is_ndpi=False,
                is_scanimage=False,
            ) as tif:
                header = _walk(tif, window, big, first)
        except Exception as err:  # a limit, our refusal, or tifffile's (of any type)
            error = err
    if window.failure is not None:
        raise window.failure
    if window.breach is not None:
        raise TiffHeaderError(
            f"header not read: the file needs {window.breach}; if it is trusted, "
            "raise byocframe.bucket.headers.DEFAULT_LIMITS"
        ) from error
    if isinstance(error, TiffHeaderError):
        raise error
    if error is not None or complaints or header is None:
        reason = str(error) if error is not None else complaints[0] if complaints else "?"
        reason = " ".join(reason.split())[:200] or type(error).__name__
        where = f"cut short at byte {window.size}" if window.short else "damaged"
        raise TiffHeaderError(f"the TIFF header is {where} ({reason})") from error
    header.requests, header.bytes_read = reader.requests, reader.bytes_read
    return header


def _preamble(window: _Window) -> tuple[bool, int]:
    """BigTIFF or not, and the first IFD's offset (tifffile also takes other formats)."""
    head = window.take(0, 16)
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        raise TiffHeaderError("not a TIFF file (no II/MM byte-order mark)")
    order = "<" if head[:2] == b"II" else ">"
    (magic,) = struct.unpack(order + "H", head[2:4])
    if magic not in (42, 43):
        raise TiffHeaderError(f"not a TIFF file (version {magic}, expected 42 or 43)")
    big = magic == 43
    if big and len(head) < 16:
        raise TiffHeaderError(f"the TIFF header is cut short at byte {len(head)}")
    (first,) = (
        struct.unpack(order + "Q", head[8:16]) if big else struct.unpack(order + "I", head[4:8])
    )
    if first == 0:
        raise TiffHeaderError("the TIFF has no image")
    if first >= window.size:
        raise TiffHeaderError(f"IFD at byte {first} lies beyond the end of the file")
    return big, first


def _walk(tif: tifffile.TiffFile, window: _Window, big: bool, first: int) -> TiffHeader:
    """The images of the IFD chain, up to ``max_images``, and where the header ends."""
    import tifffile

    fmt = tif.tiff
    images: list[Image] = []
    tags0: dict[int, tuple[Any, ...]] = {}
    seen: set[int] = set()
    header_end = 16 if big else 8
    first_data: int | None = None
    for index in itertools.count():
        try:
            page = tif.pages[index]
        except IndexError:
            break
        if index >= window.limits.max_images:
            window.breach = f"more than {window.limits.max_images} images (max_images)"
            raise _Stop(window.breach)
        if not isinstance(page, tifffile.TiffPage):
            raise TiffHeaderError(f"IFD {index} could not be read as an image")
        if page.offset in seen:
            raise TiffHeaderError(f"IFD chain loops back to byte {page.offset}")
        seen.add(page.offset)
        entries = page.tags.values()
        if not entries:
            raise TiffHeaderError(f"IFD at byte {page.offset} has no tags")
        last_entry = max(tag.offset for tag in entries) + fmt.tagsize
        values_end = max(tag.valueoffset + tag.valuebytecount for tag in entries)
        header_end = max(header_end, last_entry + fmt.offsetsize, values_end)
        tags = {code: _values(page.tags.get(code)) for code in _DECODED if code in page.tags}
        offsets = page.dataoffsets
        image = _image(tags, int(offsets[0]) if len(offsets) else None)
        images.append(image)
        if index == 0:
            tags0 = tags
        if image.data_offset is not None:
            first_data = (
                image.data_offset if first_data is None else min(first_data, image.data_offset)
            )
    if not images:
        raise TiffHeaderError(f"IFD at byte {first} could not be read")
    out = TiffHeader(images=images, header_size=header_end, bigtiff=big)
    out.metadata_after_data = first_data is not None and header_end > first_data
    _georeference(out, tags0)
    return out


# tags whose values are decoded (the others are only measured)
_DECODED = {
    254, 256, 257, 258, 259, 262, 277, 284, 317, 322, 323, 339,
    33550, 33922, 34264, 34735, 42113,
}  # fmt: skip


def _values(tag: Any) -> tuple[Any, ...]:
    """A tag's value as a tuple of numbers or one string (tifffile gives many shapes)."""
    value = tag.value
    if isinstance(value, bytes):
        return (value.split(b"\0", 1)[0].decode("latin-1"),)
    if isinstance(value, str):
        return (value,)
    if hasattr(value, "tolist"):  # a numpy array (more than 1024 values) or scalar
        value = value.tolist()
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _first(tags: dict[int, tuple[Any, ...]], tag: int, default: int | None) -> int | None:
    value = tags.get(tag)
    return int(value[0]) if value else default


def _image(tags: dict[int, tuple[Any, ...]], data_offset: int | None) -> Image:
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
        data_offset=data_offset,
    )


def _georeference(out: TiffHeader, tags: dict[int, tuple[Any, ...]]) -> None:
    keys = _geokeys(tags)
    point = keys.get(1025) == 2  # RasterPixelIsPoint: the tie point is a pixel centre
    scale, tie, matrix = tags.get(33550), tags.get(33922), tags.get(34264)
    if scale and tie and len(scale) >= 2 and len(tie) >= 6:
        sx, sy = float(scale[0]), float(scale[1])
        i, j, x, y = (float(v) for v in (tie[0], tie[1], tie[3], tie[4]))
        x0, y0 = x - i * sx, y + j * sy
        if point:
            x0, y0 = x0 - sx / 2, y0 + sy / 2
        out.geo_transform = (x0, sx, 0.0, y0, 0.0, -sy)
    elif matrix and len(matrix) >= 8:
        a, b, _, c, d, e, _, f = (float(v) for v in matrix[:8])
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


def _geokeys(tags: dict[int, tuple[Any, ...]]) -> dict[int, int]:
    raw = tags.get(34735)
    if not raw or len(raw) < 4:
        return {}
    values = [int(v) for v in raw]
    held = (len(values) - 4) // 4
    if values[3] > held:
        raise TiffHeaderError(f"the GeoKeyDirectory lists {values[3]} keys but holds {held}")
    keys: dict[int, int] = {}
    for k in range(values[3]):
        key, location, _, value = values[4 + 4 * k : 8 + 4 * k]
        if location == 0:  # short values only: the keys BYOC needs are codes
            keys[key] = value
    return keys

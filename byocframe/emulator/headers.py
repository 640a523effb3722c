"""The service's own reading of a GeoTIFF header, from ranged GETs, within fixed bounds.

Ingestion needs only what a file's image file directories (IFDs) say. `read_file_header`
fetches a prefix of the file (64 KiB, then twice as much as needed, up to
`ReadLimits.max_bytes`) into one buffer and lets tifffile parse the IFDs out of it.
Nothing beyond the prefix is ever fetched: an IFD or tag value that lies past it means a
header larger than the service reads, which `HeaderTooLarge` reports with the bytes it
would have needed (at least). Every read tifffile makes is counted (`max_reads`) and at
most `max_images` IFDs are followed; the bytes those reads hand out are counted too
(`max_read_bytes`: tifffile decodes what it reads, about 3 ms a MiB). So a crafted header
costs at most ``max_bytes`` of memory and a bounded amount of work. Any other refusal is
`UnreadableHeader`.

Independent of the client's `byocframe.bucket.headers` on purpose: the service is the
reference the client's checks are tested against.

Examples
--------
>>> import struct
>>> entries = [(256, 3, 1, 512), (257, 3, 1, 512), (258, 3, 1, 8), (322, 3, 1, 256),
...            (323, 3, 1, 256), (324, 4, 1, 300), (325, 4, 1, 10)]
>>> data = b"II*" + bytes(1) + struct.pack("<I", 8) + struct.pack("<H", len(entries))
>>> data += b"".join(struct.pack("<HHIHH", t, k, n, v, 0) for t, k, n, v in entries)
>>> data += bytes(4) + bytes(300)
>>> head = read_file_header(lambda start, stop: data[start:stop], size=len(data))
>>> (head.images[0].width, head.images[0].block, head.header_size, head.requests)
(512, (256, 256), 98, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast

import numpy as np

from byocframe.log_capture import collect_errors
from byocframe.ranges import PositionedFile

__all__ = [
    "DEFAULT_READ_LIMITS",
    "FileHeader",
    "HeaderTooLarge",
    "ImageInfo",
    "ReadLimits",
    "UnreadableHeader",
    "read_file_header",
]


@dataclass(frozen=True)
class ReadLimits:
    """How much of one file the service reads to judge it.

    Parameters
    ----------
    max_bytes : int, default 2 MiB
        The longest prefix fetched: twice the documented header limit (1 MB), so the
        size of a header up to 2 MiB is reported exactly.
    first_bytes : int, default 64 KiB
        The first ranged GET (the whole header of a typical COG).
    max_images : int, default 64
        IFDs followed along the chain (full image, overviews, masks).
    max_reads : int, default 100 000
        Reads tifffile may make of the buffer (bounds the time per file).
    max_read_bytes : int, default 64 MiB
        Bytes those reads may hand out in all: one tag value can be read many times (a
        thousand entries pointing at the same megabyte), and tifffile decodes each.
        A COG's header is read about once (1.0-1.2 times its size).

    Examples
    --------
    >>> ReadLimits().replace(max_bytes=8 * 2**20).max_bytes
    8388608
    """

    max_bytes: int = 2 * 2**20
    first_bytes: int = 65_536
    max_images: int = 64
    max_reads: int = 100_000
    max_read_bytes: int = 64 * 2**20

    def replace(self, **changes: int) -> ReadLimits:
        """A copy with some limits changed."""
        return replace(self, **changes)


#: What `read_file_header` reads within when given no limits.
DEFAULT_READ_LIMITS = ReadLimits()


class UnreadableHeader(ValueError):
    """Not a TIFF, a damaged header, or one that needs more reads or IFDs than allowed."""


class HeaderTooLarge(ValueError):
    """The IFDs and tag values reach past the prefix the service reads.

    Attributes
    ----------
    needed : int
        Bytes from the start of the file the header needs, at least.
    """

    def __init__(self, needed: int):
        super().__init__(f"the header needs at least {needed} bytes")
        self.needed = needed


@dataclass(frozen=True)
class ImageInfo:
    """One IFD: sizes, blocks and encoding."""

    width: int
    height: int
    block: tuple[int, int] | None  # None: striped
    bits: int
    sample_format: int  # TIFF SampleFormat: 1 uint, 2 int, 3 float
    samples: int
    planar: int  # 1 pixel-interleaved, 2 band-interleaved
    compression: int
    photometric: int
    subfile_type: int


@dataclass(frozen=True)
class FileHeader:
    """What ingestion reads from a file: its images, georeferencing and header size."""

    images: tuple[ImageInfo, ...]
    header_size: int
    epsg: int | None  # None: no GeoKeys, or a user-defined CRS
    transform: tuple[float, float, float, float, float, float] | None  # GDAL order
    requests: int = 0
    bytes_fetched: int = 0
    geokeys: dict[int, int] = field(default_factory=dict, repr=False)


class _Beyond(Exception):
    """A read past the prefix the service may fetch."""


class _Budget(Exception):
    """More reads than allowed."""


class _Prefix(PositionedFile):
    """The first bytes of a file in one growing buffer; reads past ``max_bytes`` refused."""

    def __init__(self, fetch: Callable[[int, int], bytes], size: int, limits: ReadLimits):
        super().__init__(size)
        self.fetch, self.limits = fetch, limits
        self.buffer = b""
        self.reads = self.requests = self.handed = 0
        self.beyond = 0  # the furthest end of a refused read (0: none)
        self.over_budget = ""  # the limit a read breached

    def read(self, size: int | None = -1) -> bytes:
        stop = self.size if size is None or size < 0 else min(self.size, self.pos + size)
        data = self.take(self.pos, max(stop, self.pos))
        self.pos += len(data)
        return data

    def take(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)``, fetching a longer prefix if needed and allowed."""
        self.reads += 1
        if self.reads > self.limits.max_reads:
            self.over_budget = f"more than {self.limits.max_reads} reads (ReadLimits.max_reads)"
            raise _Budget
        self.handed += max(0, min(stop, self.size) - start)
        if self.handed > self.limits.max_read_bytes:
            self.over_budget = (
                f"more than {self.limits.max_read_bytes} bytes read (ReadLimits.max_read_bytes)"
            )
            raise _Budget
        if stop > self.limits.max_bytes:
            self.beyond = max(self.beyond, stop)
            raise _Beyond
        if stop > len(self.buffer) and len(self.buffer) < self.size:
            want = max(self.limits.first_bytes, 2 * stop, 2 * len(self.buffer))
            want = min(want, self.limits.max_bytes, self.size)
            # always from byte 0: one contiguous buffer, at most log2(max/first) + 1 GETs
            expected = want - len(self.buffer)
            chunk = self.fetch(len(self.buffer), want)[:expected]  # a server may ignore ranges
            self.requests += 1
            self.buffer += chunk
            if len(chunk) < expected:
                self.size = len(self.buffer)  # the file ended early
        return self.buffer[start:stop]


def read_file_header(
    fetch: Callable[[int, int], bytes], *, size: int, limits: ReadLimits | None = None
) -> FileHeader:
    """Read the IFDs of a TIFF of ``size`` bytes through ``fetch(start, stop)``.

    Parameters
    ----------
    fetch : callable
        ``fetch(start, stop) -> bytes``: bytes ``[start, stop)`` of the file (a ranged GET).
    size : int
        The file's size in bytes (from the bucket's listing).
    limits : ReadLimits, optional
        `DEFAULT_READ_LIMITS` when not given.

    Returns
    -------
    FileHeader

    Raises
    ------
    HeaderTooLarge
        An IFD or tag value lies beyond ``limits.max_bytes``.
    UnreadableHeader
        Not a TIFF, a damaged header, or more IFDs or reads than the limits allow.

    Examples
    --------
    >>> ifd_far_away = b"II*" + bytes(1) + (2**24).to_bytes(4, "little") + bytes(2**24)
    >>> try:
    ...     read_file_header(lambda start, stop: ifd_far_away[start:stop], size=2**24 + 8)
    ... except HeaderTooLarge as err:
    ...     print(err)
    the header needs at least 16777218 bytes
    """
    import tifffile

    window = _Prefix(fetch, size, limits or DEFAULT_READ_LIMITS)
    found: FileHeader | None = None
    failure: Exception | None = None
    with collect_errors("tifffile") as complaints:
        try:
            head = window.take(0, 8)
            if head[:4] not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
                raise UnreadableHeader("not a TIFF file")
            with tifffile.TiffFile(
                cast(IO[bytes], window),
                name="file",
                size=window.size,
                # without these, tifffile would walk whole IFD chains up front
                is_lsm=False,
                is_ndpi=False,
                is_scanimage=False,
            ) as tif:
                found = _read(tif, window)
        except Exception as err:  # a limit, our refusal, or tifffile's, of any type
            failure = err
    if window.beyond:
        raise HeaderTooLarge(window.beyond) from failure
    if window.over_budget:
        raise UnreadableHeader(window.over_budget) from failure
    if isinstance(failure, UnreadableHeader):
        raise failure
    if failure is not None or complaints or found is None:
        reason = str(failure) if failure is not None else (complaints or ["no image"])[0]
        raise UnreadableHeader(" ".join(reason.split())[:200]) from failure
    return replace(found, requests=window.requests, bytes_fetched=len(window.buffer))


def _read(tif: Any, window: _Prefix) -> FileHeader:
    import tifffile

    fmt = tif.tiff
    images: list[ImageInfo] = []
    offsets: set[int] = set()
    end = 16 if fmt.version == 43 else 8
    index = 0
    while True:
        try:
            page = tif.pages[index]
        except IndexError:
            break
        if index >= window.limits.max_images:
            raise UnreadableHeader(f"more than {window.limits.max_images} IFDs (max_images)")
        if not isinstance(page, tifffile.TiffPage) or page.offset in offsets:
            raise UnreadableHeader(f"IFD {index} cannot be read, or repeats an earlier one")
        offsets.add(page.offset)
        tags = list(page.tags.values())
        # the IFD: its tag count, its entries and the next IFD's offset
        end = max(end, page.offset + fmt.tagnosize + len(tags) * fmt.tagsize + fmt.offsetsize)
        for tag in tags:
            end = max(end, tag.valueoffset + tag.valuebytecount)
        images.append(
            ImageInfo(
                width=int(page.imagewidth),
                height=int(page.imagelength),
                block=(int(page.tilewidth), int(page.tilelength)) if page.is_tiled else None,
                bits=int(page.bitspersample),
                sample_format=int(page.sampleformat),
                samples=int(page.samplesperpixel),
                planar=int(page.planarconfig),
                compression=int(page.compression),
                photometric=int(page.photometric),
                subfile_type=int(page.subfiletype),
            )
        )
        index += 1
    if not images:
        raise UnreadableHeader("the file has no image")
    if end > window.limits.max_bytes:
        raise HeaderTooLarge(end)
    tags = tif.pages[0].tags
    keys = _geokeys(_numbers(tags, 34735))
    return FileHeader(
        images=tuple(images),
        header_size=end,
        epsg=_epsg(keys),
        transform=_transform(
            keys, _numbers(tags, 33550), _numbers(tags, 33922), _numbers(tags, 34264)
        ),
        geokeys=keys,
    )


def _numbers(tags: Any, code: int) -> list[float]:
    """A numeric tag's values (empty if absent), never more than the tag holds."""
    tag = tags.get(code)
    if tag is None:
        return []
    return [float(v) for v in np.asarray(tag.value, dtype=float).ravel().tolist()]


# GeoKey ids (GeoTIFF 1.1, section 7.1)
_MODEL, _RASTER, _GEOGRAPHIC, _PROJECTED = 1024, 1025, 2048, 3072


def _geokeys(values: list[float]) -> dict[int, int]:
    """The short-valued keys of a GeoKeyDirectory: ``{key id: value}``.

    The directory's own key count is not trusted beyond the entries the tag holds
    (tifffile's reader loops over the stated count, logging each missing key: seconds
    for a crafted count of 65,535).
    """
    if len(values) < 4:
        return {}
    held = min(int(values[3]), (len(values) - 4) // 4)
    keys = {}
    for index in range(held):
        key, location, _, value = values[4 + 4 * index : 8 + 4 * index]
        if location == 0:  # the value is in the entry (all codes the service reads are)
            keys[int(key)] = int(value)
    return keys


def _epsg(keys: dict[int, int]) -> int | None:
    """The EPSG code of the file's CRS, or None (none, or user-defined).

    The model type says which key names the CRS: a projected model's CRS is its
    ProjectedCSTypeGeoKey, never the GeographicTypeGeoKey of its datum (GDAL writes 4326
    there for a user-defined projection on WGS 84). Without a model type, a projected
    code comes first and a user-defined one (32767) means no code.
    """
    model = keys.get(_MODEL)
    if model == 2:
        key = _GEOGRAPHIC
    elif model == 1 or (model is None and _PROJECTED in keys):
        key = _PROJECTED
    elif model is None:
        key = _GEOGRAPHIC
    else:  # geocentric, or a model type GeoTIFF does not define
        return None
    code = keys.get(key)
    return None if code is None or code in (0, 32767) else code  # 32767: user-defined


def _transform(
    keys: dict[int, int], scale: list[float], tie: list[float], matrix: list[float]
) -> tuple[float, float, float, float, float, float] | None:
    """GDAL's geotransform (x0, dx, rx, y0, ry, dy) of the full image's corner."""
    if len(scale) >= 2 and len(tie) >= 6:
        dx, dy = scale[0], scale[1]
        x0, y0 = tie[3] - tie[0] * dx, tie[4] + tie[1] * dy
        if keys.get(_RASTER) == 2:  # PixelIsPoint: the tie point is a pixel's centre
            x0, y0 = x0 - dx / 2, y0 + dy / 2
        return (x0, dx, 0.0, y0, 0.0, -dy)
    if len(matrix) >= 8:  # ModelTransformation, row by row
        return (matrix[3], matrix[0], matrix[1], matrix[7], matrix[4], matrix[5])
    return None

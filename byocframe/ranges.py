"""A seekable, read-only file whose reads are fetched by range: the file object's part.

tifffile, rasterio and pyarrow read a file through a file object (``seek``, ``tell``,
``readinto``). byocframe hands them files whose bytes come from ranged reads with a
budget: a bucket's file for rasterio (`byocframe.bucket.access.RangeFile`), a TIFF
header within the client's limits (`byocframe.bucket.headers`), and the prefix the
local service may fetch (`byocframe.emulator.headers`). `PositionedFile` is what they
share: a position within a size, moved by ``seek``, and ``readinto`` through
``read``. Each of them says in ``read`` how bytes are fetched and what they cost.

Examples
--------
>>> class Letters(PositionedFile):
...     def read(self, size=-1):
...         stop = self.size if size is None or size < 0 else min(self.size, self.pos + size)
...         data = b"abcdefgh"[self.pos : stop]
...         self.pos += len(data)
...         return data
>>> f = Letters(8)
>>> f.seek(-3, 2), f.read(2), f.tell()
(5, b'fg', 7)
>>> buffer = bytearray(4)
>>> f.seek(0), f.readinto(buffer), bytes(buffer)
(0, 4, b'abcd')
"""

from __future__ import annotations

import io
from typing import Any

__all__ = ["PositionedFile"]


class PositionedFile(io.RawIOBase):
    """A read-only, seekable file of ``size`` bytes; subclasses define ``read``.

    Parameters
    ----------
    size : int
        The file's size in bytes (where ``seek(0, 2)`` goes); a subclass may correct it
        once it finds the end.
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.pos = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Always seekable."""
        return True

    def tell(self) -> int:
        """The position."""
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` from the start, the position or the end; nothing is read."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes from the position (all to the end: -1 or None)."""
        raise NotImplementedError

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the position, by `read`; the count of bytes put in it."""
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

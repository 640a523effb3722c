"""What a Parquet file's columns take once read, known before they are (finding 71).

A row count does not bound a file's size in memory: a column's dictionary lets every row
repeat one large value (64 rows of one 1 MiB value fit in under 1 MB of file and read
into 64 MiB), and run-length encoding does the same for fixed-width values in lists.
`read_size` finds, for each column chunk, a bound on what reading it takes:

* fixed-width values (numbers, times, flags): the footer's count of values times their
  width, exactly;
* texts and bytes stored plainly: the footer's uncompressed size of the chunk, plus
  their offsets;
* texts and bytes stored through a dictionary, largest first and only while the file
  does not fit yet: every value as long as the chunk's uncompressed bytes; then as long
  as the longest value of its dictionary page (the page alone read and decompressed
  here, its header checked against the footer first) plus the pages stored plainly;
  then, if still too loose, the chunk is read with its dictionary kept
  (`pyarrow.parquet.ParquetFile` ``read_dictionary=``: the dictionary's values once, and
  an index a row) and the lengths the indices take are summed;
* ``DELTA_BYTE_ARRAY`` texts (each a prefix of the one before and a suffix), which no
  dictionary counts: read in batches small enough to stay under the limit.

No value is expanded before the bound is known. What is not protected: a footer that
lies about a chunk's uncompressed size or count of values (Arrow sizes its buffers from
each page's own header); such a file is refused only by Arrow's own checks. The design
and its costs: ``docs/design/geoparquet.md``.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ReadSize", "read_size"]

#: Bytes a value of each fixed-width Parquet type takes once read (INT96 becomes a time).
_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 8, "FLOAT": 4, "DOUBLE": 8}
_DICTIONARY = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}


@dataclass(frozen=True)
class ReadSize:
    """A bound on the bytes a Parquet file's columns take once read.

    Attributes
    ----------
    total : int
        The bound, in bytes, over every column (as far as it was counted: counting stops
        once ``limit`` is passed).
    largest : str
        The column that takes the most of it.
    """

    total: int
    largest: str


@dataclass
class _Chunk:
    group: int
    column: str
    loose: int  # a bound: first every value as long as the chunk, then as its longest
    top_level: bool  # not inside a list or struct
    meta: Any  # its pyarrow.parquet.ColumnChunkMetaData
    #: its dictionary page alone, decompressed, is over the limit: never read
    over: bool = False


def read_size(path: str | Path, metadata: Any, limit: int | None = None) -> ReadSize:
    """Bound the bytes the columns of the Parquet file at ``path`` take once read.

    Parameters
    ----------
    path : str or Path
    metadata : pyarrow.parquet.FileMetaData
        The file's footer, already read.
    limit : int, optional
        Stop reading dictionaries once the bound is known to pass it (the answer is
        then above ``limit``, not the whole bound).

    Returns
    -------
    ReadSize

    Examples
    --------
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     big = pa.array([b"x" * 2**20] * 64)  # one 1 MiB value, 64 times
    ...     pq.write_table(pa.table({"a": big}), f"{folder}/t.parquet", compression="zstd")
    ...     found = read_size(f"{folder}/t.parquet", pq.read_metadata(f"{folder}/t.parquet"))
    >>> found.total >= 64 * 2**20, found.largest
    (True, 'a')
    """
    by_column: dict[str, int] = {}
    unknown: list[_Chunk] = []
    schema = metadata.schema
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for at in range(row_group.num_columns):
            chunk, column = row_group.column(at), schema.column(at)
            top = column.path.split(".", 1)[0]
            size = _known(chunk, column)
            if size is None:
                loose = chunk.num_values * max(chunk.total_uncompressed_size, 1)
                unknown.append(_Chunk(group, top, loose, column.path == column.name, chunk))
            else:
                by_column[top] = by_column.get(top, 0) + size
    known = sum(by_column.values())
    # the largest bounds first, made tighter until the rest fits or the limit passes:
    # from the longest value of the chunk's dictionary page, then from its indices
    if limit is not None:
        _tighten(path, unknown, limit - known)
    unknown.sort(key=lambda c: c.loose, reverse=True)
    rest = sum(c.loose for c in unknown)
    looker = _Looker(path, schema)
    for at, chunk in enumerate(unknown):
        if limit is not None and known > limit:
            break  # refused already: the rest is not looked at (nor counted)
        if limit is not None and known + rest <= limit:
            for left in unknown[at:]:  # fits even with every value at its longest
                by_column[left.column] = by_column.get(left.column, 0) + left.loose
            break
        size = looker.size(chunk, limit)
        by_column[chunk.column] = by_column.get(chunk.column, 0) + size
        rest -= chunk.loose
        known += size
    total = sum(by_column.values())
    largest = max(by_column, key=by_column.__getitem__) if by_column else ""
    return ReadSize(total, largest)


def _tighten(path: str | Path, unknown: list[_Chunk], room: int) -> None:
    """Bound the largest chunks by their dictionary pages until they fit in ``room``."""
    unknown.sort(key=lambda c: c.loose, reverse=True)
    rest = sum(c.loose for c in unknown)
    if rest <= room or room < 0:  # fits already, or refused already
        return
    with open(path, "rb") as handle:
        for chunk in unknown:
            if rest <= room:
                return
            bound = _from_dictionary_page(handle, chunk.meta, room)
            if bound is None:
                chunk.over = True  # the loose bound stays: past the limit
                continue
            tighter = min(chunk.loose, bound)
            rest -= chunk.loose - tighter
            chunk.loose = tighter


def _known(chunk: Any, column: Any) -> int | None:
    """The chunk's bytes once read, when the footer alone says them (else None)."""
    values = int(chunk.num_values)
    offsets = 4 * values if column.max_repetition_level > 0 else 0  # list offsets
    kind = chunk.physical_type
    if kind in _WIDTHS:
        return values * _WIDTHS[kind] + offsets
    if kind == "FIXED_LEN_BYTE_ARRAY":
        return values * max(int(column.length or 0), 1) + offsets
    encodings = set(chunk.encodings)
    if encodings & _DICTIONARY or chunk.has_dictionary_page or "DELTA_BYTE_ARRAY" in encodings:
        # a value repeated by its index (or by a shared prefix): not known from the footer
        return None
    # plain or DELTA_LENGTH_BYTE_ARRAY: every byte of every value is in the pages
    return int(chunk.total_uncompressed_size) + 8 * values + offsets


def _text_columns(schema: Any) -> set[str]:
    """Top-level columns of texts or bytes, whose dictionary pyarrow can keep on reading."""
    import pyarrow as pa

    def text(kind: Any) -> bool:
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        return bool(
            pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
        )

    return {field.name for field in schema if text(field.type)}


class _Looker:
    """Reads chunks of one file to count them (step 3), its Arrow schema made if needed."""

    def __init__(self, path: str | Path, schema: Any) -> None:
        self.path, self.schema = path, schema
        self.files: dict[str, Any] = {}  # a ParquetFile keeping each column's dictionary

    @functools.cached_property
    def texts(self) -> set[str]:
        return _text_columns(self.schema.to_arrow_schema())  # 10-25 ms: only when needed

    def size(self, chunk: _Chunk, limit: int | None) -> int:
        """The chunk's bytes once read, counted without holding more than ``limit``."""
        if chunk.over or not chunk.top_level or chunk.column not in self.texts:
            # a dictionary over the limit by itself, a text inside a list or struct, or
            # of another Arrow type: its bound as it is
            return chunk.loose
        if "DELTA_BYTE_ARRAY" in chunk.meta.encodings:
            # a value shares a prefix of the one before: no dictionary to count with.
            # Each is at most the chunk's uncompressed bytes long: read in batches that fit
            longest = max(int(chunk.meta.total_uncompressed_size), 1)
            rows = max(1, min(65_536, (limit or 2**30) // longest))
            return _streamed(self.path, chunk, rows, limit)
        if chunk.column not in self.files:
            import pyarrow.parquet as pq

            self.files[chunk.column] = pq.ParquetFile(self.path, read_dictionary=[chunk.column])
        return _indexed(self.files[chunk.column], chunk)


def _streamed(path: str | Path, chunk: _Chunk, rows: int, limit: int | None) -> int:
    """The chunk's bytes once read, summed over batches of ``rows`` (stops past ``limit``)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    total = 0
    source = pq.ParquetFile(path)
    for batch in source.iter_batches(rows, row_groups=[chunk.group], columns=[chunk.column]):
        values = batch.column(0)
        total += 8 * len(values) + int(pc.sum(pc.binary_length(values)).as_py() or 0)
        if limit is not None and total > limit:
            break
    return total


def _indexed(source: Any, chunk: _Chunk) -> int:
    """The bytes the chunk's values take once expanded, from its dictionary and indices."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = source.read_row_group(chunk.group, columns=[chunk.column]).column(0)
    total = 8 * len(values)  # offsets
    for part in values.chunks:
        if not pa.types.is_dictionary(part.type):  # pyarrow kept no dictionary
            return max(total, chunk.loose)
        lengths = pc.binary_length(part.dictionary).to_numpy(zero_copy_only=False)
        indices = part.indices.to_numpy(zero_copy_only=False)
        if part.null_count:
            indices = indices[part.is_valid().to_numpy(zero_copy_only=False)]
        counts = np.bincount(indices.astype(np.int64), minlength=len(lengths))
        total += int(counts @ np.nan_to_num(lengths).astype(np.int64))
    return total


def _from_dictionary_page(handle: Any, chunk: Any, room: int) -> int | None:
    """A bound on the chunk's bytes once read, from its dictionary page.

    Every value indexed as long as the longest in the dictionary page, plus the bytes of
    the pages stored plainly (a dictionary grown too large falls back to plain pages).
    The loose bound when the page cannot be read here (another compression, a header
    this does not know); None when the page alone, decompressed, would take more than
    ``room`` (pyarrow would hold it whole: the file is refused without reading it).
    """
    import pyarrow as pa

    values = int(chunk.num_values)
    loose = values * max(int(chunk.total_uncompressed_size), 1)
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else None
    codec = {"UNCOMPRESSED": None, "LZ4_RAW": "lz4_raw"}.get(chunk.compression, "")
    if codec == "":
        codec = chunk.compression.lower()
    if not start or codec not in (None, "zstd", "snappy", "gzip", "brotli", "lz4_raw"):
        return loose
    handle.seek(start)
    header = _page_header(handle.read(_MAX_HEADER))
    if header is None:
        return loose
    kind, plain, stored, count, length = header
    # the header must agree with the footer: nothing larger is read or decompressed
    if kind != 2 or plain > chunk.total_uncompressed_size or stored > chunk.total_compressed_size:
        return loose
    if plain > room:
        return None
    handle.seek(start + length)
    data = handle.read(stored)
    try:
        if codec is not None:
            data = pa.decompress(data, decompressed_size=plain, codec=codec, asbytes=True)
    except (OSError, ValueError, pa.ArrowException):
        return loose
    longest = _longest_plain(data, count)
    if longest is None:
        return loose
    return values * (longest + 8) + int(chunk.total_uncompressed_size) - plain


#: Bytes read for a page header: its statistics may hold a minimum and a maximum value.
_MAX_HEADER = 4096


def _longest_plain(data: bytes, count: int) -> int | None:
    """The longest of ``count`` plain-encoded byte arrays (a 4-byte length before each)."""
    if count and len(data) >= 4:
        # texts of one length (ids, times as texts): checked at once, not one by one
        first = int.from_bytes(data[:4], "little")
        if len(data) == count * (first + 4):
            rows = np.frombuffer(data, dtype=np.uint8).reshape(count, first + 4)
            if (rows[:, :4].copy().view("<u4") == first).all():
                return first
    unpack = struct.Struct("<I").unpack_from
    at = longest = 0
    try:
        for _ in range(count):
            (size,) = unpack(data, at)
            if size > longest:
                longest = size
            at += 4 + size
    except struct.error:  # the page ends before its values do
        return None
    return longest if at <= len(data) else None


def _page_header(data: bytes) -> tuple[int, int, int, int, int] | None:
    """A Parquet page header, read in Thrift's compact protocol.

    The page's type, uncompressed and compressed sizes, its dictionary's count of values,
    and the header's length; None when it is cut short or holds what this reader does
    not know.
    """
    reader = _Compact(data)
    try:
        fields = reader.struct()
    except (IndexError, ValueError):
        return None
    nested = fields.get(7)  # DictionaryPageHeader
    count = nested.get(1) if isinstance(nested, dict) else None
    kind, plain, stored = fields.get(1), fields.get(2), fields.get(3)
    if not all(isinstance(v, int) and v >= 0 for v in (kind, plain, stored, count)):
        return None
    return int(kind), int(plain), int(stored), int(count), reader.at  # type: ignore[arg-type]


class _Compact:
    """Just enough of Thrift's compact protocol to read a page header."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at, self.depth = data, 0, 0

    def byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def integer(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)  # zigzag

    def value(self, kind: int) -> Any:
        if kind in (1, 2):  # booleans, held in the field's type
            return kind == 1
        if kind == 3:
            return self.byte()
        if kind in (4, 5, 6):
            return self.integer()
        if kind == 7:
            self.at += 8
            return None
        if kind == 8:
            size = self.varint()
            self.at += size
            return None
        if kind == 12:
            return self.struct()
        if kind in (9, 10):  # list, set
            head = self.byte()
            size = head >> 4 if head >> 4 != 15 else self.varint()
            for _ in range(size):
                self.value(head & 0x0F)
            return None
        raise ValueError(f"thrift type {kind}")

    def struct(self) -> dict[int, Any]:
        self.depth += 1
        if self.depth > 8:
            raise ValueError("nested too deep")
        fields: dict[int, Any] = {}
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                self.depth -= 1
                return fields
            delta, kind = head >> 4, head & 0x0F
            last = last + delta if delta else self.integer()
            fields[last] = self.value(kind)

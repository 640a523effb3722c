"""The service reads headers with its own code, within bounds, whatever the bytes say."""

from __future__ import annotations

import ast
import struct
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

import byocframe
from byocframe.emulator.headers import (
    HeaderTooLarge,
    ReadLimits,
    UnreadableHeader,
    read_file_header,
)

PACKAGE = Path(byocframe.__file__).parent
LIMITS = ReadLimits()


class Fetches:
    """A ranged reader over bytes that records every range asked for."""

    def __init__(self, data: bytes, *, ignore_range: bool = False):
        self.data, self.ignore_range = data, ignore_range
        self.ranges: list[tuple[int, int]] = []

    def __call__(self, start: int, stop: int) -> bytes:
        self.ranges.append((start, stop))
        return self.data if self.ignore_range else self.data[start:stop]

    @property
    def furthest(self) -> int:
        return max((stop for _, stop in self.ranges), default=0)


def classic(ifds: list[tuple[int, list[tuple[int, int, int, int]], int]], size: int) -> bytes:
    """A little-endian TIFF of ``size`` bytes: IFDs ``(offset, [(tag, type, count, value)],
    next)`` written where they say."""
    out = bytearray(size)
    out[:8] = b"II*\x00" + struct.pack("<I", ifds[0][0])
    for offset, entries, following in ifds:
        block = struct.pack("<H", len(entries))
        block += b"".join(struct.pack("<HHII", t, k, n, v) for t, k, n, v in entries)
        block += struct.pack("<I", following)
        out[offset : offset + len(block)] = block
    return bytes(out)


BASIC = [(256, 3, 1, 512), (257, 3, 1, 512), (258, 3, 1, 8), (322, 3, 1, 256),
         (323, 3, 1, 256), (324, 4, 1, 4000), (325, 4, 1, 10)]  # fmt: skip


def read(data: bytes, **kwargs: object) -> tuple[Fetches, object]:
    fetch = Fetches(data, **kwargs)  # type: ignore[arg-type]
    try:
        return fetch, read_file_header(fetch, size=len(data), limits=LIMITS)
    except (HeaderTooLarge, UnreadableHeader) as err:
        return fetch, err


def test_a_plain_header_is_one_request() -> None:
    fetch, header = read(classic([(8, BASIC, 0)], 5000))
    assert not isinstance(header, Exception)
    assert fetch.ranges == [(0, 5000)]  # the file is smaller than the first 64 KiB


@pytest.mark.parametrize("tag", [(270, 2), (324, 4), (33550, 12)], ids=["text", "long", "double"])
def test_a_tag_claiming_gigabytes_allocates_nothing(tag: tuple[int, int]) -> None:
    # a tag claims 2**31 values at byte 4000 of a file said to be 3 GiB
    entries = sorted([e for e in BASIC if e[0] != tag[0]] + [(*tag, 2**31, 4000)])
    data = classic([(8, entries, 0)], 5000)
    fetch = Fetches(data)
    with pytest.raises((HeaderTooLarge, UnreadableHeader)):
        read_file_header(fetch, size=3 * 2**30)
    assert fetch.furthest <= LIMITS.first_bytes


def test_an_ifd_beyond_the_prefix_is_a_large_header() -> None:
    data = b"II*\x00" + struct.pack("<I", 3 * 2**20) + bytes(4 * 2**20)
    fetch = Fetches(data)
    with pytest.raises(HeaderTooLarge) as caught:
        read_file_header(fetch, size=len(data))
    assert caught.value.needed > LIMITS.max_bytes
    assert fetch.furthest <= LIMITS.max_bytes


def test_a_bigtiff_offset_of_exabytes_fetches_nothing_more() -> None:
    data = b"II+\x00" + struct.pack("<HHQ", 8, 0, 2**62) + bytes(100)
    fetch = Fetches(data)
    with pytest.raises((HeaderTooLarge, UnreadableHeader)):
        read_file_header(fetch, size=2**63 - 1)
    assert fetch.furthest <= LIMITS.max_bytes


@pytest.mark.parametrize("loop", [[8], [8, 200], [8, 200, 400]], ids=["self", "two", "three"])
def test_a_circular_ifd_chain_ends(loop: list[int]) -> None:
    ifds = [(at, BASIC, loop[(i + 1) % len(loop)]) for i, at in enumerate(loop)]
    fetch, outcome = read(classic(ifds, 5000))
    assert isinstance(outcome, UnreadableHeader)
    assert len(fetch.ranges) == 1


def test_a_chain_of_ten_thousand_ifds_stops_at_the_limit() -> None:
    step = 2 + 12 * len(BASIC) + 4
    offsets = [8 + i * step for i in range(10_000)]
    ifds = [
        (at, BASIC, offsets[i + 1] if i + 1 < len(offsets) else 0) for i, at in enumerate(offsets)
    ]
    fetch, outcome = read(classic(ifds, offsets[-1] + step + 8))
    assert isinstance(outcome, UnreadableHeader)
    assert f"more than {LIMITS.max_images} IFDs" in str(outcome)
    assert fetch.furthest <= LIMITS.max_bytes


def test_too_many_reads_is_unreadable(tmp_path: Path) -> None:
    data = _cog(tmp_path)
    with pytest.raises(UnreadableHeader, match="max_reads"):
        read_file_header(Fetches(data), size=len(data), limits=ReadLimits(max_reads=5))


def test_many_large_tag_values_in_the_prefix_are_refused_by_the_bytes_read() -> None:
    """A thousand TileOffsets entries, each 1 MiB of values at the same place within the
    prefix: tifffile decodes each (3 ms a MiB), and a 65,535-entry IFD took minutes with
    no limit breached. The bytes handed out are counted too."""
    tiles = [(324, 4, 2**18, 2**20)] * 1000
    data = classic([(8, BASIC + tiles, 0)], 2 * 2**20 + 8)
    fetch, outcome = read(data)
    assert isinstance(outcome, UnreadableHeader)
    assert "ReadLimits.max_read_bytes" in str(outcome)
    assert fetch.furthest <= LIMITS.max_bytes


def test_the_bytes_read_are_a_setting(tmp_path: Path) -> None:
    data = _cog(tmp_path)
    with pytest.raises(UnreadableHeader, match=r"more than 100 bytes read"):
        read_file_header(Fetches(data), size=len(data), limits=ReadLimits(max_read_bytes=100))
    assert read_file_header(Fetches(data), size=len(data)).images[0].width == 512


def test_a_server_that_ignores_ranges_fills_no_more_than_asked(tmp_path: Path) -> None:
    data = _cog(tmp_path, size=2048) + bytes(3 * 2**20)
    fetch = Fetches(data, ignore_range=True)
    header = read_file_header(fetch, size=len(data))
    assert header.bytes_fetched <= LIMITS.first_bytes
    assert header.images[0].width == 2048


def test_the_prefix_grows_by_doubling_within_its_limit() -> None:
    # the header (IFD at 1.5 MiB) fits the 2 MiB prefix: 64 KiB, then 3 MiB capped to 2 MiB
    data = classic([(3 * 2**19, BASIC, 0)], 2 * 2**20 + 5000)
    fetch = Fetches(data)
    header = read_file_header(fetch, size=len(data))
    assert header.header_size == 3 * 2**19 + 2 + 12 * len(BASIC) + 4
    assert fetch.ranges == [(0, 65_536), (65_536, 2 * 2**20)]


def _cog(tmp_path: Path, size: int = 512) -> bytes:
    path = tmp_path / "valid.tif"
    profile = {"driver": "COG", "width": size, "height": size, "count": 1, "dtype": "uint8",
               "crs": "EPSG:32633", "transform": Affine(10, 0, 5e5, 0, -10, 5e6),
               "blocksize": 256, "compress": "DEFLATE"}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((1, size, size), 3, "uint8"))
    return path.read_bytes()


def test_mutated_headers_are_judged_within_bounds(tmp_path: Path) -> None:
    """Random bytes changed in a real COG's header: a header or one of the two errors,
    never an allocation or a read past the prefix."""
    original = _cog(tmp_path)
    rng = np.random.default_rng(2026)
    outcomes: dict[str, int] = {}
    for _ in range(300):
        data = bytearray(original)
        for at in rng.integers(0, 1200, size=int(rng.integers(1, 6))):
            data[int(at)] = int(rng.integers(0, 256))
        fetch, outcome = read(bytes(data))
        assert fetch.furthest <= LIMITS.max_bytes
        assert len(fetch.ranges) <= 7  # 64 KiB doubling up to 2 MiB
        outcomes[type(outcome).__name__] = outcomes.get(type(outcome).__name__, 0) + 1
    assert set(outcomes) <= {"FileHeader", "HeaderTooLarge", "UnreadableHeader"}
    assert outcomes.get("UnreadableHeader", 0) > 0
    assert outcomes.get("FileHeader", 0) > 0


# --- the service does not judge with the client's code ---

CLIENT_JUDGES = ("byocframe.bucket.checks", "byocframe.bucket.files", "byocframe.bucket.headers")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "emulator").glob("*.py")), ids=lambda p: p.name)
def test_the_service_imports_none_of_the_clients_checks(path: Path) -> None:
    used = _imports(path)
    assert not {n for n in used if n.startswith(CLIENT_JUDGES)}


def test_the_shared_rule_table_is_data_only() -> None:
    path = PACKAGE / "file_rules.py"
    assert not {n for n in _imports(path) if n.startswith("byocframe")}
    tree = ast.parse(path.read_text())
    functions = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert functions == ["_supported_crs", "replace"]  # a default and a copy, no judging


def test_the_import_check_catches_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from byocframe.bucket.checks import check\n")
    assert "byocframe.bucket.checks" in _imports(sample)

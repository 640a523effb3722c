"""Crafted TIFF headers are a problem of their file: bounded, one line, never the listing's."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import byocframe
from byocframe.bucket.checks import check
from byocframe.bucket.files import read_bucket
from byocframe.bucket.headers import HeaderLimits, RangeReader, TiffHeaderError, read_header
from byocframe.bucket.reconcile import add_tiles
from byocframe.edits.route import push
from byocframe.emulator.cogs import write_cog

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

# (tag, type, count, value or offset): a small tiled image, every value inline
BASE = [
    (256, 3, 1, 512), (257, 3, 1, 512), (258, 3, 1, 8), (259, 3, 1, 8), (322, 3, 1, 256),
    (323, 3, 1, 256), (324, 4, 1, 400), (325, 4, 1, 10), (339, 3, 1, 1),
]  # fmt: skip


def ifd(entries: list[tuple[int, int, int, int]], next_ifd: int = 0, order: str = "<") -> bytes:
    """A classic IFD: entry count, 12-byte entries (value left-aligned), next offset."""
    out = struct.pack(order + "H", len(entries))
    for tag, kind, count, value in entries:
        field = struct.pack(order + ("H" if kind == 3 and count == 1 else "I"), value)
        out += struct.pack(order + "HHI", tag, kind, count) + field.ljust(4, b"\0")
    return out + struct.pack(order + "I", next_ifd)


def classic(
    entries: list[tuple[int, int, int, int]], *, next_ifd: int = 0, pad: int = 600
) -> bytes:
    """A little-endian classic TIFF with one IFD at byte 8, padded with zeros."""
    return b"II*\0" + struct.pack("<I", 8) + ifd(entries, next_ifd) + bytes(pad)


def replaced(tag: int, kind: int, count: int, value: int) -> list[tuple[int, int, int, int]]:
    """BASE with one tag replaced (or added), in tag order."""
    entries = {t: (t, k, n, v) for t, k, n, v in BASE}
    entries[tag] = (tag, kind, count, value)
    return [entries[t] for t in sorted(entries)]


def bigtiff(entries: list[tuple[int, int, int, int]], count: int | None = None) -> bytes:
    """A little-endian BigTIFF with one IFD at byte 16 (``count`` may lie about its size)."""
    body = struct.pack("<Q", len(entries) if count is None else count)
    for tag, kind, n, value in entries:
        body += struct.pack("<HHQQ", tag, kind, n, value)
    return b"II+\0" + struct.pack("<HHQ", 8, 0, 16) + body + struct.pack("<Q", 0) + bytes(600)


def chain(n: int) -> bytes:
    """``n`` valid IFDs, one after the other (122 bytes each)."""
    size = 2 + 12 * len(BASE) + 4
    parts = [ifd(BASE, 8 + (i + 1) * size if i + 1 < n else 0) for i in range(n)]
    return b"II*\0" + struct.pack("<I", 8) + b"".join(parts) + bytes(600)


def loop_of_two() -> bytes:
    size = 2 + 12 * len(BASE) + 4
    return b"II*\0" + struct.pack("<I", 8) + ifd(BASE, 8 + size) + ifd(BASE, 8) + bytes(600)


def geokeys(claimed: int) -> bytes:
    """A GeoKeyDirectory (at byte 200) whose header claims ``claimed`` keys, holding one."""
    keys = struct.pack("<8H", 1, 1, 0, claimed, 1024, 0, 1, 1)
    data = classic(replaced(34735, 3, 8, 200))
    return data[:200] + keys + data[200 + len(keys) :]


CRAFTED: dict[str, bytes] = {
    "empty": b"",
    "one-byte": b"I",
    "zip": b"PK\x03\x04 not a tiff at all",
    "text": b"hello, I am not a TIFF file\n",
    "magic-only": b"II*\0",
    "version-99": b"II\x63\0\x08\0\0\0",
    "dng-profile": b"IIRC\x08\0\0\0" + ifd(BASE) + bytes(600),
    "no-image": b"II*\0\0\0\0\0",
    "first-ifd-past-end": b"II*\0" + struct.pack("<I", 10**6) + bytes(100),
    "big-endian-first-ifd-past-end": b"MM\0*" + struct.pack("<I", 8),
    "bigtiff-offset-size-4": b"II+\0" + struct.pack("<HHQ", 4, 0, 16) + bytes(100),
    "bigtiff-first-ifd-past-end": b"II+\0\x08\0\0\0" + b"\xff" * 8,
    "bigtiff-2^62-entries": b"II+\0" + struct.pack("<HHQQ", 8, 0, 16, 2**62) + bytes(16),
    "classic-65535-entries": b"II*\0\x08\0\0\0\xff\xff" + bytes(120),
    "ifd-cut-short": b"II*\0\x08\0\0\0\x05\0",
    "ifd-loops-to-itself": classic(BASE, next_ifd=8),
    "ifd-loop-of-two": loop_of_two(),
    "next-ifd-past-end": classic(BASE, next_ifd=10**9),
    "next-ifd-in-file-header": classic(BASE, next_ifd=2),
    "empty-ifd": classic([]),
    "5000-tags": b"II*\0\x08\0\0\0" + struct.pack("<H", 5000) + bytes(12 * 5000 + 4),
    "no-pixel-offsets": classic([e for e in BASE if e[0] not in (324, 325)]),
    "unknown-type-99": classic(replaced(256, 99, 1, 512)),
    "type-zero": classic(replaced(258, 0, 1, 8)),
    "width-as-text": classic(replaced(256, 2, 4, int.from_bytes(b"abc\0", "little"))),
    "bits-as-rational": classic(replaced(258, 5, 1, 200)),
    "geokeys-count-2^32": classic(replaced(34735, 3, 2**32 - 1, 200)),
    "tile-offsets-count-2^32": classic(replaced(324, 4, 2**32 - 1, 200)),
    "scale-past-end": classic(replaced(33550, 12, 3, 10**6)),
    "nodata-text-2^31": classic(replaced(42113, 2, 2**31, 200)),
    "geokeys-claim-65535": geokeys(65535),
    "bigtiff-tag-count-2^62": bigtiff([(256, 3, 1, 512), (324, 16, 2**62, 100)]),
    "70-images": chain(70),
}


def _read(data: bytes, **options: Any) -> Any:
    return read_header(RangeReader(lambda start, size: data[start : start + size]), **options)


def test_the_builders_make_a_readable_header() -> None:
    header = _read(classic(BASE), size=len(classic(BASE)))
    assert (header.images[0].width, header.images[0].block_width) == (512, 256)
    assert header.header_size == 8 + 2 + 12 * len(BASE) + 4
    assert len(_read(chain(3)).images) == 3
    assert _read(geokeys(1)).epsg is None  # one key: a model type, no CRS code


@pytest.mark.parametrize("name", CRAFTED, ids=list(CRAFTED))
@pytest.mark.parametrize("known_size", [True, False], ids=["size", "no-size"])
def test_a_crafted_header_is_a_one_line_problem(name: str, known_size: bool) -> None:
    data = CRAFTED[name]
    with pytest.raises(TiffHeaderError) as caught:
        _read(data, size=len(data) if known_size else None)
    message = str(caught.value)
    assert message, name
    assert "\n" not in message, message
    assert len(message) < 300, message


def test_crafted_files_are_rows_of_the_listing_and_findings_of_check(tmp_path: Path) -> None:
    for name, data in CRAFTED.items():
        (tmp_path / f"crafted/{name}.tif").parent.mkdir(exist_ok=True)
        (tmp_path / f"crafted/{name}.tif").write_bytes(data)
    write_cog(tmp_path / "good/B01.tif")
    files = read_bucket(tmp_path, progress=False).set_index("key")
    assert files["error"].isna()["good/B01.tif"]
    crafted = files.drop(index="good/B01.tif")
    assert crafted["error"].notna().all(), crafted[crafted["error"].isna()].index.tolist()
    assert files.loc["crafted/bigtiff-2^62-entries.tif", "bytes_read"] <= 65_536
    findings = check(str(tmp_path), pattern=r"(?P<folder>[^/]+)/(BAND)\.tif", progress=False)
    header = findings[findings["rule"] == "header"]
    assert sorted(header["file"]) == sorted(f"crafted/{name}.tif" for name in CRAFTED)


def _sparse(prefix: bytes) -> RangeReader:
    """A huge file: ``prefix``, then zeros (a header whose arrays lie far away)."""

    def fetch(start: int, size: int) -> bytes:
        data = prefix[start : start + size]
        return data + bytes(size - len(data))

    return RangeReader(fetch)


@pytest.mark.parametrize(
    ("entries", "limits", "named"),
    [
        ([(324, 4, 2**21, 4096)], HeaderLimits(), "max_bytes"),
        (
            [(324, 4, 4, 10**6), (325, 4, 4, 2 * 10**6)],
            HeaderLimits(max_requests=2),
            "max_requests",
        ),
        ([], HeaderLimits(max_reads=3), "max_reads"),
        ([], HeaderLimits(max_images=0), "max_images"),
    ],
    ids=["bytes", "requests", "reads", "images"],
)
def test_a_limit_reached_is_named(entries: list[Any], limits: HeaderLimits, named: str) -> None:
    codes = {entry[0] for entry in entries}
    data = classic(sorted([e for e in BASE if e[0] not in codes] + entries))
    with pytest.raises(
        TiffHeaderError, match=f"{named}.*raise byocframe.bucket.headers.DEFAULT_LIMITS"
    ):
        read_header(_sparse(data), size=2**40, limits=limits)


def test_raised_limits_read_what_the_defaults_refuse() -> None:
    entries = sorted([e for e in BASE if e[0] != 324] + [(324, 4, 2**21, 4096)])
    reader = _sparse(classic(entries))
    header = read_header(reader, size=2**40, limits=HeaderLimits(max_bytes=16 * 2**20))
    assert header.header_size == 4096 + 4 * 2**21
    assert header.bytes_read <= 4096 + 4 * 2**21 + 65_536


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_memory_stays_bounded_under_an_address_space_limit(tmp_path: Path) -> None:
    """The 2^62-entry BigTIFF once grew the listing by 550 MB/s; here the child has 400 MB."""
    for name in ("bigtiff-2^62-entries", "bigtiff-tag-count-2^62", "tile-offsets-count-2^32",
                 "classic-65535-entries", "70-images"):  # fmt: skip
        (tmp_path / f"{name}.tif").write_bytes(CRAFTED[name])
    script = textwrap.dedent(
        f"""
        import resource, sys
        from byocframe.bucket.files import read_bucket
        with open("/proc/self/status") as status:
            used = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize"))
        limit = used + 400 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (120, 120))
        files = read_bucket({str(tmp_path)!r}, workers=4, progress=False)
        print(int(files["error"].notna().sum()), len(files))
        """
    )
    package = str(Path(byocframe.__file__).parents[1])  # this checkout, not an installed one
    env = {"MALLOC_ARENA_MAX": "2", "PATH": "/usr/bin:/bin", "PYTHONPATH": package}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["5", "5"]


def test_the_service_fails_only_the_crafted_tile(local_s3: Any, tmp_path: Path) -> None:
    write_cog(tmp_path / "tiles/good/B01.tif")
    for name in ("bigtiff-2^62-entries", "ifd-loop-of-two", "5000-tags"):
        (tmp_path / f"tiles/{name}/B01.tif").parent.mkdir(parents=True)
        (tmp_path / f"tiles/{name}/B01.tif").write_bytes(CRAFTED[name])
    bucket = "crafted-headers"
    with byocframe.local_service(s3=local_s3) as service:
        service.s3.upload_folder(tmp_path, bucket)
        client = service.client()
        cid = client.create_collection({"name": bucket, "s3Bucket": bucket})["id"]
        candidates = read_bucket(
            f"s3://{bucket}/", pattern=r"tiles/(?P<case>[^/]+)/(BAND)\.tif",
            s3=service.s3.client(), progress=False,
        )  # fmt: skip
        assert candidates["files"].tolist() == [1, 1, 1, 1]
        frame = byocframe.read_tiles(client, cid, progress=False)
        push(add_tiles(frame, candidates), client, progress=False)
        tiles = byocframe.read_tiles(client, cid, progress=False).set_index("path")
    status = tiles["status"].astype(str).to_dict()
    assert status.pop("tiles/good/(BAND).tif") == "INGESTED"
    assert set(status.values()) == {"FAILED"}, status

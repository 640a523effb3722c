"""Attacks on byocframe's bounds by a peer that does not play fair (findings 61 on).

Branch ``limits`` (tests/attack/FINDINGS.md, "Limits against an unfair peer"). Each
peer is a real server on 127.0.0.1: an S3 endpoint answered by a hostile
``http.server`` handler (through `test_attack_reconcile3.s3_client_of`, boto3 talking
to it over loopback). A test marked ``xfail(strict=True)`` pins a defect open today
(its reason names the finding); unmarked tests show what holds. No test times
anything: each hostile server counts what it was asked for and what it managed to send.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import re
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest
from test_attack_reconcile3 import s3_client_of

import byocframe
from byocframe.bucket import access
from byocframe.exceptions import BucketError, ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


def listing_page(keys: list[str], token: str | None, size: int = 1000) -> bytes:
    """A ListObjectsV2 answer holding ``keys``, truncated with ``token`` when given."""
    contents = "".join(
        f"<Contents><Key>{key}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
        f'<ETag>"{hashlib.md5(key.encode()).hexdigest()}"</ETag><Size>{size}</Size>'
        "<StorageClass>STANDARD</StorageClass></Contents>"
        for key in keys
    )
    more = (
        f"<IsTruncated>true</IsTruncated><NextContinuationToken>{token}</NextContinuationToken>"
        if token
        else "<IsTruncated>false</IsTruncated>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{_XMLNS}">'
        f"<Name>b</Name><Prefix></Prefix><KeyCount>{len(keys)}</KeyCount>"
        f"<MaxKeys>1000</MaxKeys>{more}{contents}</ListBucketResult>"
    ).encode()


def answer(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    """Send ``body`` as an XML answer of ``status``."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/xml")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _Listing(_Quiet):
    """An S3 endpoint whose listing is ``pages(n, token)``: (keys, next token) of request n.

    Subclasses set ``pages``; after ``cap`` listing requests the listing ends, so that a
    client without a bound still finishes (and its test fails instead of hanging).
    """

    cap: ClassVar[int] = 60
    lists: ClassVar[int] = 0

    @staticmethod
    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        raise NotImplementedError

    def do_GET(self) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if "list-type" not in query:
            self.send_error(404)
            return
        type(self).lists += 1
        n = type(self).lists
        token = query.get("continuation-token", [None])[0]
        keys, following = self.pages(n, token)
        answer(self, 200, listing_page(keys, None if n >= self.cap else following))


def _handler(pages: Any, cap: int = 60) -> type[_Listing]:
    return type("Hostile", (_Listing,), {"pages": staticmethod(pages), "cap": cap, "lists": 0})


# --- finding 61: a listing whose continuation tokens go round in a cycle --------------


def test_a_listing_cycling_its_tokens_is_refused() -> None:
    """Tokens A, B, A, B, ...: botocore's paginator only refuses a token repeated at once."""

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        following = {None: "A", "A": "B", "B": "A"}[token]
        return [f"k{n:03}.tif"], following

    handler = _handler(pages)
    with s3_client_of(handler) as s3, pytest.raises(BucketError) as caught:
        byocframe.read_bucket("s3://b", s3=s3, progress=False)
    assert "sent the continuation token" in str(caught.value)
    assert handler.lists == 3  # today: 60 pages listed, every key kept
    assert "\n" not in str(caught.value)


def test_a_listing_starting_a_page_again_is_refused() -> None:
    """Fresh tokens every page, the same keys again: memory grows with every page."""

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return ["a.tif", "b.tif"], f"T{n}"

    handler = _handler(pages)
    with s3_client_of(handler) as s3, pytest.raises(BucketError) as caught:
        byocframe.read_bucket("s3://b", s3=s3, progress=False)
    assert "starts at the key 'a.tif' again, as page 1 did" in str(caught.value)
    assert handler.lists == 2


def test_endless_fresh_pages_stop_at_max_list_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh tokens, fresh keys in order, forever: bounded by the documented setting."""
    monkeypatch.setattr(access, "MAX_LIST_PAGES", 5)

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return [f"k{n:05}.tif"], f"T{n}"

    handler = _handler(pages)
    with s3_client_of(handler) as s3, pytest.raises(BucketError) as caught:
        byocframe.read_bucket("s3://b", s3=s3, suffix=None, progress=False)
    message = str(caught.value)
    assert "byocframe.bucket.access.MAX_LIST_PAGES" in message
    assert "raise" in message
    assert handler.lists == 5


def test_an_honest_listing_of_many_pages_is_whole() -> None:
    """Held: three honest pages (fresh tokens, keys in order) are listed whole."""

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return [f"k{n}a", f"k{n}b"], (f"T{n}" if n < 3 else None)

    handler = _handler(pages)
    with s3_client_of(handler) as s3:
        files = byocframe.read_bucket("s3://b", s3=s3, suffix=None, progress=False)
    assert sorted(files["key"]) == ["k1a", "k1b", "k2a", "k2b", "k3a", "k3b"]
    assert handler.lists == 3


def test_the_service_stops_a_cycling_listing_of_a_tile_folder() -> None:
    """The local service's ingestion lists the tile's folder: same cycle, same bound."""
    from byocframe.emulator.files_source import FilesSource, IngestionFailure

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return [], {None: "A", "A": "B", "B": "A"}[token]

    handler = _handler(pages)
    with s3_client_of(handler) as s3, pytest.raises(IngestionFailure):
        FilesSource(s3).ingest({"s3Bucket": "b"}, {"path": "tile/(BAND).tif"})
    assert handler.lists == 3  # today: 60 (the service's ingestion thread, for ever)


def test_the_service_stops_endless_empty_pages() -> None:
    """Fresh tokens and no keys: the service's max_listed bounds the pages as well."""
    from byocframe.emulator.files_source import FilesSource, IngestionFailure

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return [], f"T{n}"

    handler = _handler(pages, cap=200)
    with s3_client_of(handler) as s3, pytest.raises(IngestionFailure, match="max_listed"):
        FilesSource(s3, max_listed=20).ingest({"s3Bucket": "b"}, {"path": "tile/(BAND).tif"})
    assert handler.lists <= 21


# --- finding 62: a ranged read answered with the whole (huge) object ------------------

_HUGE = 256 * 2**20


class _IgnoresRange(_Quiet):
    """An S3 endpoint listing one object, answering every GET with all of it (no 206).

    The object is 256 MiB (``Content-Length`` says so); ``sent`` counts what the client
    took before it closed the connection.
    """

    sent: ClassVar[int] = 0
    done: ClassVar[threading.Event]

    def do_GET(self) -> None:
        if "list-type" in self.path:
            answer(self, 200, listing_page(["a.tif"], None, size=_HUGE))
            return
        self.send_response(200)  # the Range header ignored
        self.send_header("Content-Length", str(_HUGE))
        self.end_headers()
        chunk = b"II*\x00\x08\x00\x00\x00" + bytes(2**20 - 8)
        try:
            for _ in range(_HUGE // len(chunk)):
                self.wfile.write(chunk)
                type(self).sent += len(chunk)
        except OSError:
            pass  # the client closed the connection
        finally:
            type(self).done.set()


def test_a_ranged_read_answered_whole_takes_only_the_range() -> None:
    """A header read asks for 64 KiB; the endpoint sends 256 MiB: the client reads 64 KiB
    and drops the connection (the socket buffers hold a few MiB more at most)."""
    handler = type("Whole", (_IgnoresRange,), {"sent": 0, "done": threading.Event()})
    with s3_client_of(handler) as s3:
        files = byocframe.read_bucket("s3://b", s3=s3, progress=False, workers=1)
        assert handler.done.wait(60)
    assert len(files) == 1
    assert handler.sent < 32 * 2**20  # today: all 256 MiB read into memory


# --- finding 63: a STAC item's byoc:additional_data nested 100,000 deep ---------------


def test_stac_items_with_hostile_additional_data_are_a_validation_error() -> None:
    """``tiles_from_stac`` on items from a STAC API or file: one line naming the item."""
    from byocframe.io.stac import tiles_from_stac

    deep = "[" * 100_000 + "]" * 100_000
    for text in (deep, "1" * 5_000, "{broken"):
        item = {
            "type": "Feature",
            "id": "t1",
            "geometry": None,
            "properties": {"datetime": "2024-01-01T00:00:00Z", "byoc:additional_data": text},
        }
        with pytest.raises(ValidationError, match=r"^item 't1': byoc:additional_data") as caught:
            tiles_from_stac([item])
        assert "\n" not in str(caught.value)
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    odd = [
        ({"type": "Feature", "properties": {}}, r"^STAC item 1 has no text id"),
        ({"id": "t1", "properties": [1]}, r"^STAC item 1 has no text id or its properties"),
        (
            {"id": "t1", "properties": {"proj:geometry": polygon, "proj:epsg": "x"}},
            r"^item 't1': unrecognised CRS 'EPSG:x'",
        ),
    ]
    for item, message in odd:  # a KeyError, an AttributeError, a bare ValueError before
        with pytest.raises(ValidationError, match=message):
            tiles_from_stac([item])


# --- finding 64: a tiny GeoParquet declaring a huge number of rows --------------------


def _one_tile_file(folder: Any) -> Any:
    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(1, seed=1))
    byocframe.write_file(gdf, folder / "one.parquet")
    return folder / "one.parquet"


def _repeated(source: Any, target: Any, rows: int) -> None:
    """``source``'s one row repeated ``rows`` times, dictionary- and run-length encoded:
    a few kilobytes on disk, whatever ``rows`` is (the metadata kept as written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(source)
    repeated = table.take(pa.array([0] * rows, pa.int32()))
    pq.write_table(repeated, target, row_group_size=rows, compression="zstd")


def test_a_tiny_geoparquet_declaring_many_rows_is_refused_before_reading(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 copies of one tile in 20 KB (200,000 in 47 KB took 1.4 GB and 3 s to read):
    refused on the footer's count, before a row is read."""
    import byocframe.io.files as files_module
    import byocframe.io.geoparquet as geoparquet

    _repeated(_one_tile_file(tmp_path), tmp_path / "bomb.parquet", 20_000)
    size = (tmp_path / "bomb.parquet").stat().st_size
    assert size < 2 * 20_000  # about one byte a row
    reads: list[Any] = []
    monkeypatch.setattr(
        geoparquet, "read_row_groups", lambda *a, **k: reads.append(a) or pytest.fail("read")
    )
    with pytest.raises(ValidationError) as caught:
        byocframe.read_file(tmp_path / "bomb.parquet")
    message = str(caught.value)
    assert "20,000 rows" in message
    assert "byocframe.io.files.MIN_PARQUET_BYTES_PER_ROW" in message
    assert "\n" not in message
    assert reads == []
    # the documented way out: the settings lowered (the rows repeated also expand the file
    # 1,500 times: finding 71's bound), the same file reads whole
    monkeypatch.undo()
    monkeypatch.setattr(files_module, "MIN_PARQUET_BYTES_PER_ROW", 0)
    with pytest.raises(ValidationError, match=r"byocframe\.io\.files\.MAX_PARQUET_EXPANSION"):
        byocframe.read_file(tmp_path / "bomb.parquet")
    monkeypatch.setattr(files_module, "MAX_PARQUET_EXPANSION", None)
    assert len(byocframe.read_file(tmp_path / "bomb.parquet")) == 20_000


def test_a_geoparquet_over_max_file_rows_is_refused(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import byocframe.io.files as files_module
    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(30, seed=1))
    for name in ("t.parquet", "t.gpkg"):
        byocframe.write_file(gdf, tmp_path / name)
        monkeypatch.setattr(files_module, "MAX_FILE_ROWS", 29)
        with pytest.raises(ValidationError, match=r"30 rows.*byocframe\.io\.files\.MAX_FILE_ROWS"):
            byocframe.read_file(tmp_path / name)
        monkeypatch.setattr(files_module, "MAX_FILE_ROWS", 30)
        assert len(byocframe.read_file(tmp_path / name)) == 30


def test_a_geoparquet_with_hostile_byocframe_metadata_is_a_validation_error(
    tmp_path: Any,
) -> None:
    """Metadata nested 100,000 deep, or not JSON: one line, as for CSV and GeoJSON."""
    import pyarrow.parquet as pq

    source = _one_tile_file(tmp_path)
    table = pq.read_table(source)
    for text in ("[" * 100_000 + "]" * 100_000, "{broken", "1" * 5_000):
        meta = {**(table.schema.metadata or {}), b"byocframe": text.encode()}
        pq.write_table(table.replace_schema_metadata(meta), tmp_path / "bad.parquet")
        with pytest.raises(ValidationError) as caught:
            byocframe.read_file(tmp_path / "bad.parquet")
        assert "\n" not in str(caught.value)


# --- finding 66: the partitioned dataset's manifest and partitions ---------------------


def test_a_manifest_with_hostile_metadata_is_a_validation_error(tmp_path: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from byocframe.scale.manifest import MANIFEST, MANIFEST_KEY, read_manifest

    table = pa.table({"id": pa.array([f"id-{i:08}" for i in range(10)])})
    meta = {MANIFEST_KEY: ("[" * 100_000 + "]" * 100_000).encode()}
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / MANIFEST)
    with pytest.raises(ValidationError, match="not a partition manifest byocframe wrote"):
        read_manifest(tmp_path)


def test_a_manifest_or_partition_repeating_one_row_is_refused_before_reading(
    tmp_path: Any,
) -> None:
    """A manifest of 200,000 copies of one id (about 1 byte each), a partition of 20,000
    copies of one tile: refused on their footers, as `read_file` refuses such a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from byocframe.scale.dataset import read_partitions
    from byocframe.scale.manifest import MANIFEST, MANIFEST_KEY, read_manifest

    table = pa.table({"id": pa.array(["a" * 36] * 200_000)})
    meta = {MANIFEST_KEY: b'{"files": [], "ids": 200000}'}
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / MANIFEST)
    with pytest.raises(ValidationError, match="MIN_PARQUET_BYTES_PER_ROW"):
        read_manifest(tmp_path)
    folder = tmp_path / "parts"
    folder.mkdir()
    _repeated(_one_tile_file(tmp_path), folder / "part.00000.parquet", 20_000)
    with pytest.raises(ValidationError, match="MIN_PARQUET_BYTES_PER_ROW"):
        read_partitions(folder)


# --- finding 67: a listing page was read whole, however large --------------------


class _HugePage(_Quiet):
    """An S3 endpoint whose listing page declares 2 GiB and streams 24 MiB of keys."""

    sent: ClassVar[int] = 0
    asked: ClassVar[int] = 0
    done: ClassVar[threading.Event]

    def do_GET(self) -> None:
        type(self).asked += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(2**31))
        self.end_headers()
        head = f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{_XMLNS}">'
        item = (
            "<Contents><Key>k</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
            "<Size>1</Size></Contents>"
        )
        try:
            self.wfile.write(head.encode())
            chunk = (item * (2**20 // len(item))).encode()
            for _ in range(24):
                self.wfile.write(chunk)
                type(self).sent += len(chunk)
        except OSError:
            pass  # the client closed the connection
        finally:
            type(self).done.set()


def test_a_listing_page_declaring_2_gib_is_refused_before_reading() -> None:
    handler = type("Huge", (_HugePage,), {"sent": 0, "done": threading.Event(), "asked": 0})
    with s3_client_of(handler) as s3:
        with pytest.raises(BucketError) as caught:
            byocframe.read_bucket("s3://b", s3=s3, progress=False)
        assert handler.done.wait(60)
    message = str(caught.value)
    assert "declares 2,147,483,648 bytes" in message
    assert "byocframe.bucket.bounded.MAX_LIST_PAGE_BYTES" in message
    assert "\n" not in message
    assert handler.sent < 12 * 2**20  # before: 24 MiB read per attempt, each one retried
    assert handler.asked == 1  # the refusal is not retried


class _EndlessPage(_HugePage):
    """The same page with no length: its end would be the connection's (HTTP/1.0)."""

    def send_header(self, keyword: str, value: str) -> None:
        if keyword != "Content-Length":
            super().send_header(keyword, value)


def test_a_listing_page_of_no_declared_length_is_read_only_up_to_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from byocframe.bucket import bounded

    monkeypatch.setattr(bounded, "MAX_LIST_PAGE_BYTES", 2 * 2**20)
    handler = type("Endless", (_EndlessPage,), {"sent": 0, "done": threading.Event(), "asked": 0})
    with s3_client_of(handler) as s3:
        with pytest.raises(BucketError, match=r"is over 2,097,152 bytes.*MAX_LIST_PAGE_BYTES"):
            byocframe.read_bucket("s3://b", s3=s3, progress=False)
        assert handler.done.wait(60)
    # 2 MiB read, then the connection closed: what the socket buffers took beyond it
    assert handler.sent < 12 * 2**20
    assert handler.asked == 1


class _CutOnce(_Quiet):
    """A chunked listing page cut inside its chunk the first time (the connection closed
    half way: urllib3's ProtocolError), whole the second: botocore retries a dropped
    connection, and must still when byocframe reads the page."""

    protocol_version = "HTTP/1.1"
    asked: ClassVar[int] = 0

    def do_GET(self) -> None:
        type(self).asked += 1
        body = listing_page([f"t/{i:03}.tif" for i in range(50)], None)
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(f"{len(body):x}\r\n".encode())
        if self.asked > 1:
            self.wfile.write(body + b"\r\n0\r\n\r\n")
        else:
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True


def test_a_listing_page_cut_short_is_retried_as_botocore_retries_it() -> None:
    handler = type("Cut", (_CutOnce,), {"asked": 0})
    with s3_client_of(handler) as s3:
        listed = list(access.Bucket("s3://b", client=s3).list())
    assert len(listed) == 50
    assert handler.asked == 2


def test_the_listing_page_bound_can_be_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """An honest page of 1,000 keys (about 200 KB) passes the default; under a 100 KB
    limit it is refused by name, and the limit raised again it is read."""
    from byocframe.bucket import bounded

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return [f"t/{n:03}/{i:04}/B01.tif" for i in range(1000)], (f"T{n}" if n < 3 else None)

    monkeypatch.setattr(bounded, "MAX_LIST_PAGE_BYTES", 100_000)
    with (
        s3_client_of(_handler(pages)) as s3,
        pytest.raises(BucketError, match="MAX_LIST_PAGE_BYTES"),
    ):
        byocframe.read_bucket("s3://b", s3=s3, progress=False)
    monkeypatch.setattr(bounded, "MAX_LIST_PAGE_BYTES", 300_000)
    with s3_client_of(_handler(pages)) as s3:
        listed = list(access.Bucket("s3://b", client=s3).list())
    assert len(listed) == 3000
    assert listed[-1].key == "t/003/0999/B01.tif"


def _self_signed(folder: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 signed by itself, and its key: two PEM files."""
    import datetime as dt
    import ipaddress

    crypto = pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    assert crypto
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@contextlib.contextmanager
def _tls_client(handler: Any, folder: Any, **options: Any) -> Iterator[Any]:
    """A boto3 client of an S3 endpoint on https://127.0.0.1 (a self-signed certificate)."""
    import ssl

    import boto3

    cert, key = _self_signed(folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield boto3.session.Session().client(
            "s3",
            endpoint_url=f"https://127.0.0.1:{server.server_address[1]}",
            aws_access_key_id="k",
            aws_secret_access_key="s",
            region_name="us-east-1",
            **options,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_listing_bound_holds_over_tls_with_the_environments_ca_bundle(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound's own session checks certificates as botocore does without ``verify=``:
    with ``AWS_CA_BUNDLE`` naming the endpoint's certificate, the page is refused."""
    handler = type("Huge", (_HugePage,), {"sent": 0, "done": threading.Event(), "asked": 0})
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "cert.pem"))
    with _tls_client(handler, tmp_path, verify=str(tmp_path / "cert.pem")) as s3:
        with pytest.raises(BucketError, match="declares 2,147,483,648 bytes"):
            byocframe.read_bucket("s3://b", s3=s3, progress=False)
        assert handler.done.wait(60)
    assert handler.sent < 12 * 2**20


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_a_client_made_with_verify_false_still_lists(tmp_path: Any) -> None:
    """A client's own ``verify=False`` is not readable: the bound's session refuses the
    certificate, and the client's session sends the page (unbounded, as before), with a
    warning that says how to bound it (finding 167, test_attack_peers.py)."""
    from byocframe.exceptions import ByocframeWarning

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return [f"t/{n}/{i:03}.tif" for i in range(3)], (f"T{n}" if n < 2 else None)

    with (
        _tls_client(_handler(pages), tmp_path, verify=False) as s3,
        pytest.warns(ByocframeWarning, match=r"bound_listing\(s3, verify=") as caught,
    ):
        listed = list(access.Bucket("s3://b", client=s3).list())
    # once per client, not once a page (urllib3's own warnings are recorded too)
    assert sum(isinstance(w.message, ByocframeWarning) for w in caught) == 1
    assert [item.key for item in listed][-1] == "t/2/002.tif"
    assert len(listed) == 6


# --- the documented table of limits -----------------------------------------------------


def test_every_module_setting_in_the_limits_table_exists_with_its_default() -> None:
    """docs/guide/credentials.md's table: each dotted setting is real and its default is
    the one the table gives."""
    import importlib
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "guide" / "credentials.md"
    text = page.read_text().split("### Limits and how to raise them", 1)[1]
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`byocframe." in line]
    assert len(rows) >= 8
    shown = {}
    for row in rows:
        _, default, how = (cell.strip() for cell in row.strip("|").split("|"))
        for name in re.findall(r"`(byocframe\.[\w.]+)", how):
            module, _, attr = name.rpartition(".")
            value = getattr(importlib.import_module(module), attr)
            shown[name] = (value, default)
    expected = {
        "byocframe.client.connections.MAX_ANSWER_BYTES": 64 * 2**20,
        "byocframe.client.connections.MAX_INFORMATIONAL": 16,
        "byocframe.client.paging.MAX_PAGES": 100_000,
        "byocframe.client.paging.MAX_ITEMS": 10_000_000,
        "byocframe.client.paging.MAX_TOKEN_CHARS": 8192,
        "byocframe.client.connections.MAX_ANSWER_VALUES": 4_000_000,
        "byocframe.client.auth.MAX_TOKEN_CHARS": 16_384,
        "byocframe.geo.geojson.MAX_VERTICES": 10_000,
        "byocframe.bucket.access.MAX_LIST_PAGES": 100_000,
        "byocframe.bucket.access.MAX_KEY_BYTES": 1024,
        "byocframe.bucket.outlines.MAX_TRACE_PIXELS": 4096 * 4096,
        "byocframe.bucket.outlines.MAX_TRACE_BYTES": 256 * 2**20,
        "byocframe.io.files.MAX_FILE_ROWS": 2_000_000,
        "byocframe.io.files.MIN_PARQUET_BYTES_PER_ROW": 4,
        "byocframe.io.files.MAX_PARQUET_EXPANSION": 50,
        "byocframe.bucket.bounded.MAX_LIST_PAGE_BYTES": 16 * 2**20,
        "byocframe.maps.lod.MAX_OVERVIEW_CELLS": 10_000_000,
        "byocframe.cli.coverage.MAX_AOI_VERTICES": 1_000_000,
        "byocframe.cli.serve.MAX_SECRET_FILE_BYTES": 4096,
    }
    for name, value in expected.items():
        assert shown[name][0] == value, name
    from byocframe.bucket.headers import DEFAULT_LIMITS

    assert (DEFAULT_LIMITS.max_bytes, DEFAULT_LIMITS.max_requests) == (4 * 2**20, 32)
    assert (DEFAULT_LIMITS.max_images, DEFAULT_LIMITS.max_reads) == (64, 20_000)


# --- finding 68: the local service's ingestion limits could not be raised -----------------


def test_the_service_ingestion_limits_are_settings_read_when_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``local_service()`` makes its `FilesSource` with no arguments: its ``max_listed``
    and read limits must come from module settings a user can raise (they were frozen
    into the signature's defaults)."""
    from byocframe.emulator import files_source, headers
    from byocframe.emulator.files_source import FilesSource, IngestionFailure

    raised = headers.ReadLimits(max_bytes=8 * 2**20)
    monkeypatch.setattr(headers, "DEFAULT_READ_LIMITS", raised)
    monkeypatch.setattr(files_source, "MAX_LISTED", 20, raising=False)

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return [], f"T{n}"

    handler = _handler(pages, cap=200)
    with s3_client_of(handler) as s3:
        source = FilesSource(s3)
        assert source.limits is raised
        with pytest.raises(IngestionFailure, match=r"files_source\.MAX_LISTED"):
            source.ingest({"s3Bucket": "b"}, {"path": "tile/(BAND).tif"})
    assert handler.lists == 21


# --- finding 69: an S3 error's code and message are shown as the endpoint sent them ------


class _Chatty(_Quiet):
    """An S3 endpoint answering every request 400, its error a megabyte over many lines."""

    def do_GET(self) -> None:
        words = "\n".join(["the endpoint says:"] * 50_000)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>Odd\nCode</Code>'
            f"<Message>{words}</Message></Error>"
        ).encode()
        answer(self, 400, body)


def test_an_s3_error_from_the_endpoint_is_one_short_line() -> None:
    with s3_client_of(_Chatty) as s3, pytest.raises(BucketError) as caught:
        byocframe.read_bucket("s3://b", s3=s3, progress=False)
    message = str(caught.value)
    assert message.startswith("s3://b: Odd Code: the endpoint says: the endpoint says:")
    assert "\n" not in message
    assert len(message) < 500  # today: 950,000 characters over 50,000 lines


# --- finding 71 (open): few rows, each repeating one large dictionary value -------------


_PEAK = """
import sys, pyarrow as pa, byocframe
from byocframe.exceptions import ValidationError
try:
    byocframe.read_file(sys.argv[1])
    print("read", pa.default_memory_pool().max_memory())
except ValidationError as err:
    print("refused", pa.default_memory_pool().max_memory(), str(err))
"""


def _peak(path: Any) -> tuple[str, int, str]:
    """``read_file(path)`` in a child process: read or refused, Arrow's peak bytes, message."""
    import subprocess
    import sys

    child = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, check=True
    )
    outcome, peak, *message = child.stdout.strip().split(" ", 2)
    return outcome, int(peak), " ".join(message)


def test_a_geoparquet_repeating_one_large_value_is_refused_before_reading(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """64 rows whose ``native_tile`` is one 1 MiB value through the dictionary: under 1 MB
    of file, 64 MiB once expanded. Refused with Arrow's peak allocation (in a child
    process) under 8 MiB: the dictionary was read, the value never repeated."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import byocframe.io.files as files_module
    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(64, seed=1))
    byocframe.write_file(gdf, tmp_path / "t.parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    at = table.schema.get_field_index("native_tile")
    field = table.schema.field(at)
    big = pa.array([b"\x01" + bytes(2**20)] * 64, field.type)  # 64 MiB once expanded
    pq.write_table(table.set_column(at, field, big), tmp_path / "b.parquet", compression="zstd")
    assert (tmp_path / "b.parquet").stat().st_size < 2**20
    outcome, peak, message = _peak(tmp_path / "b.parquet")
    assert outcome == "refused", (outcome, peak)  # before: read whole, then "not WKB"
    assert "byocframe.io.files.MAX_PARQUET_EXPANSION" in message
    assert "'native_tile'" in message
    assert peak < 8 * 2**20, peak
    # the way out: raised, the file is read (and refused later, its tile not being WKB)
    monkeypatch.setattr(files_module, "MAX_PARQUET_EXPANSION", None)
    with pytest.raises(ValidationError, match="not WKB") as caught:
        byocframe.read_file(tmp_path / "b.parquet")
    assert "MAX_PARQUET_EXPANSION" not in str(caught.value)


def test_a_geoparquet_repeating_coordinates_by_run_length_is_refused(tmp_path: Any) -> None:
    """Fixed-width values need no dictionary look: a row whose cover repeats one point
    500,000 times (8 MB of doubles) is a few KB of file; the footer's count of values
    refuses it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from byocframe.frame.synthetic import synthetic_tiles

    gdf = byocframe.tiles_from_records(synthetic_tiles(4, seed=1))
    byocframe.write_file(gdf, tmp_path / "t.parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    at = table.schema.get_field_index("geometry")
    field = table.schema.field(at)
    ring = [{"x": 1.0, "y": 2.0}] * 500_000
    many = pa.array([[[ring]]] * 4, field.type)
    pq.write_table(table.set_column(at, field, many), tmp_path / "b.parquet", compression="zstd")
    assert (tmp_path / "b.parquet").stat().st_size < 400_000
    outcome, peak, message = _peak(tmp_path / "b.parquet")
    assert outcome == "refused", (outcome, peak)
    assert "MAX_PARQUET_EXPANSION" in message
    assert "'geometry'" in message
    assert peak < 2**20, peak


@pytest.mark.parametrize("codec", ["zstd", "snappy", "gzip", "brotli", "lz4", "none"])
def test_a_repeated_value_is_bounded_whatever_the_compression(tmp_path: Any, codec: str) -> None:
    """The dictionary page is read by byocframe for the codecs pyarrow decompresses on
    its own (LZ4 in Hadoop's framing is counted from the indices instead)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from byocframe.io.parquet_size import read_size

    table = pa.table({"a": pa.array([b"x" * 2**20] * 64), "b": [f"{i}" for i in range(64)]})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, compression=codec)
    found = read_size(path, pq.read_metadata(path))
    assert found.total >= 64 * 2**20
    assert found.largest == "a"


def test_a_dictionary_page_larger_than_the_limit_is_not_decompressed(tmp_path: Any) -> None:
    """One 64 MiB value (zeros: 2 KB of zstd) in a dictionary: the page's own header says
    64 MiB, over what the file may take, so it is refused without being decompressed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(2)
    table = pa.table(
        {
            "path": [rng.bytes(16).hex() for _ in range(200)],
            "additional_data": pa.array([bytes(64 * 2**20)] * 2 + [None] * 198),
        }
    )
    pq.write_table(table, tmp_path / "b.parquet", compression="zstd")
    outcome, peak, message = _peak(tmp_path / "b.parquet")
    assert outcome == "refused", (outcome, peak)
    assert "'additional_data'" in message
    assert peak < 8 * 2**20, peak


def test_a_delta_encoded_text_growing_row_by_row_is_refused(tmp_path: Any) -> None:
    """DELTA_BYTE_ARRAY stores each value as a prefix of the one before and a suffix:
    20,000 values each one byte longer take a few KB of file and 200 MB read, and no
    dictionary counts them. Counted in batches that each hold at most the limit, refused
    with Arrow's peak under 8 MiB."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 20_000
    rng = np.random.default_rng(1)
    table = pa.table(
        {
            "path": [f"s3://b/{rng.bytes(8).hex()}/(BAND).tif" for _ in range(rows)],
            "additional_data": ["x" * i for i in range(rows)],
        }
    )
    pq.write_table(
        table,
        tmp_path / "b.parquet",
        column_encoding={"additional_data": "DELTA_BYTE_ARRAY"},
        use_dictionary=False,
        compression="zstd",
    )
    assert (tmp_path / "b.parquet").stat().st_size < 400_000
    outcome, peak, message = _peak(tmp_path / "b.parquet")
    assert outcome == "refused", (outcome, peak)
    assert "'additional_data'" in message
    assert peak < 8 * 2**20, peak


def test_one_long_value_among_short_ones_is_not_refused(tmp_path: Any) -> None:
    """A dictionary holding one long value does not make every row count as long: the
    indices are counted, and the honest file reads."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from byocframe.io.files import check_parquet_rows

    rng = np.random.default_rng(1)
    long = rng.bytes(200_000).hex()  # 400 KB of text that does not compress much
    texts = [long] + [f"short {i % 7}" for i in range(1, 20_000)]
    ids = [f"{i:08}-{rng.integers(2**62):x}" for i in range(20_000)]
    table = pa.table({"id": ids, "additional_data": texts})
    pq.write_table(table, tmp_path / "t.parquet", compression="zstd")
    assert check_parquet_rows(tmp_path / "t.parquet") == 20_000


def test_files_of_honest_writers_are_not_refused_for_their_expansion(tmp_path: Any) -> None:
    """byocframe's own file and geopandas' (every column through a dictionary) read."""
    from byocframe.frame.synthetic import synthetic_tiles
    from byocframe.io.files import MAX_PARQUET_EXPANSION, check_parquet_rows
    from byocframe.io.parquet_size import read_size

    gdf = byocframe.tiles_from_records(synthetic_tiles(2_000, seed=3))
    byocframe.write_file(gdf, tmp_path / "mine.parquet")
    gdf.to_parquet(tmp_path / "theirs.parquet")
    for name in ("mine.parquet", "theirs.parquet"):
        path = tmp_path / name
        import pyarrow.parquet as pq

        assert check_parquet_rows(path) == 2_000
        found = read_size(path, pq.read_metadata(path))
        # the bound holds what pyarrow actually reads, and stays far under the limit
        assert found.total >= pq.read_table(path).nbytes
        assert MAX_PARQUET_EXPANSION is not None
        assert found.total < MAX_PARQUET_EXPANSION / 4 * path.stat().st_size
    assert len(byocframe.read_file(tmp_path / "theirs.parquet")) == 2_000


# --- finding 72: trace_covers reads what a crafted tile byte count says ------------------


def _crafted_tiff(declared: int) -> bytes:
    """A 512 x 512 deflate GeoTIFF of 768 bytes whose first tile's byte count says
    ``declared`` (the tile overlaps the rest, and runs past the end of the file)."""
    import struct

    import rasterio
    from affine import Affine

    profile = {
        "driver": "GTiff",
        "width": 512,
        "height": 512,
        "count": 1,
        "dtype": "uint8",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "crs": "EPSG:32633",
        "transform": Affine(10, 0, 500_000, 0, -10, 5_000_000),
        "nodata": 0,
    }
    with rasterio.MemoryFile() as memory:
        with memory.open(**profile) as target:
            target.write(np.full((1, 512, 512), 7, np.uint8))
        data = bytearray(memory.read())
    import tifffile

    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tiff:
        counts = tiff.pages[0].tags["TileByteCounts"]
        assert (counts.dtype, counts.count) == (4, 4)  # four LONGs, stored apart
        struct.pack_into("<I", data, counts.valueoffset, declared)
    return bytes(data)


class _Padded(_Quiet):
    """An S3 object of ``data`` followed by ``padding`` zero bytes, served by range."""

    data: ClassVar[bytes] = b""
    padding: ClassVar[int] = 0
    sent: ClassVar[int] = 0

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.data) + self.padding))
        self.send_header("ETag", '"e"')
        self.send_header("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
        self.end_headers()

    def do_GET(self) -> None:
        size = len(self.data) + self.padding
        asked = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        assert asked is not None
        start, end = int(asked[1]), min(int(asked[2]), size - 1)
        self.send_response(206)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        head = self.data[start : end + 1]
        left = end + 1 - start - len(head)
        try:
            self.wfile.write(head)
            type(self).sent += len(head)
            while left > 0:
                self.wfile.write(bytes(min(left, 2**20)))
                type(self).sent += min(left, 2**20)
                left -= 2**20
        except OSError:
            pass


def test_trace_covers_stops_at_max_trace_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 768-byte GeoTIFF whose tile says 256 MiB: 512 MiB were fetched (two opens), 1 GB
    peak, to trace 512 x 512 pixels. Now each open reads at most MAX_TRACE_BYTES."""
    import geopandas as gpd
    import shapely

    from byocframe.bucket import outlines

    monkeypatch.setattr(outlines, "MAX_TRACE_BYTES", 16 * 2**20, raising=False)
    handler = type(
        "Padded", (_Padded,), {"data": _crafted_tiff(256 * 2**20), "padding": 256 * 2**20}
    )
    candidates = gpd.GeoDataFrame(
        {"path": ["(BAND).tif"], "bands": ["t"], "native_crs": ["EPSG:32633"]},
        geometry=[shapely.box(0, 0, 1, 1)],
        crs="EPSG:4326",
    )
    with s3_client_of(handler) as s3, pytest.raises(ValidationError) as caught:
        outlines.trace_covers("s3://b", candidates, s3=s3)
    message = str(caught.value)
    assert message.startswith("t.tif: ")
    assert "byocframe.bucket.outlines.MAX_TRACE_BYTES" in message
    assert handler.sent < 24 * 2**20  # today: 512 MiB


# --- finding 120: the map overview counted every cell a footprint spans ------------------


def test_the_overview_of_footprints_spanning_the_globe_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each footprint spanning the globe touches 64,800 one-degree cells: the pairs are
    counted from the bounds before any array of them is made, and refused past
    `MAX_OVERVIEW_CELLS` (a hundred such covers took 0.46 GB and 0.9 s to count, a
    thousand would take 4.6 GB)."""
    import shapely

    from byocframe.maps import lod

    world = np.array([shapely.box(-179.9, -89.9, 179.9, 89.9)] * 3)
    codes = np.zeros(3, dtype=np.int64)
    settings = lod.LevelOfDetail(threshold=0)
    monkeypatch.setattr(lod, "MAX_OVERVIEW_CELLS", 3 * 64_800 - 1)
    with pytest.raises(ValidationError) as caught:
        lod.lod_layer(world, codes, 1, [], 3, settings)
    message = str(caught.value)
    assert "194,400 (footprint, cell) pairs" in message
    assert "byocframe.maps.lod.MAX_OVERVIEW_CELLS" in message
    assert "\n" not in message
    monkeypatch.setattr(lod, "MAX_OVERVIEW_CELLS", 3 * 64_800)
    out = lod.lod_layer(world, codes, 1, [], 3, settings)
    assert out["overview"]["cell"] == 1.0
    assert sum(group["n"] for group in out["groups"]) == 3


# --- finding 121: a Catalog search's fields were applied to each item, however many -----


def test_a_search_with_too_many_fields_is_refused_before_any_item_is_trimmed() -> None:
    """880,000 dotted names fit a 16 MiB body and cost 1.6 s an item (minutes a page):
    refused by `Limits.max_fields` (POST and GET), as a 400 naming it."""
    import uuid

    import requests
    from catalog_world import CATALOG, token_for

    from byocframe.emulator import Limits
    from byocframe.emulator.search import SearchQuery

    names = [f"properties.n{i}" for i in range(257)]
    collection = f"byoc-{uuid.uuid4()}"
    with byocframe.local_service(ingestion_delay=None) as service:
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + token_for(service)
        url = service.base_url + CATALOG + "/search"
        posted = session.post(
            url, json={"collections": [collection], "fields": {"include": names}}, timeout=30
        )
        got = session.get(
            url, params={"collections": collection, "fields": ",".join(names)}, timeout=30
        )
        for answer in (posted, got):
            assert answer.status_code == 400, answer.text[:300]
            description = answer.json()["description"]
            assert "fields lists 257 names, more than max_fields=256" in description
        within = session.post(
            url, json={"collections": [collection], "fields": {"include": names[:256]}}, timeout=30
        )
        assert "max_fields" not in within.text  # refused (if at all) for the unknown collection
    query = SearchQuery.parse(
        {"collections": [collection], "fields": {"include": names}},
        get=False,
        limits=Limits(max_fields=257),
    )
    assert query.fields is not None
    assert len(query.fields["include"]) == 257


# --- finding 122: an --aoi file of any number of vertices was merged whole --------------


def test_an_aoi_file_over_max_aoi_vertices_is_refused_before_it_is_merged(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import geopandas as gpd
    import shapely

    from byocframe.cli import coverage

    circles = [shapely.Point(x, 0).buffer(0.5, quad_segs=250) for x in range(3)]  # 1,001 each
    gpd.GeoDataFrame(geometry=circles, crs="EPSG:4326").to_file(tmp_path / "aoi.geojson")
    merged: list[Any] = []
    monkeypatch.setattr(shapely, "union_all", lambda *a, **k: merged.append(a))
    monkeypatch.setattr(coverage, "MAX_AOI_VERTICES", 3_002)
    with pytest.raises(ValidationError) as caught:
        coverage.read_aoi(str(tmp_path / "aoi.geojson"))
    message = str(caught.value)
    assert "3,003 vertices, more than 3,002" in message
    assert "byocframe.cli.coverage.MAX_AOI_VERTICES" in message
    assert merged == []
    monkeypatch.undo()
    monkeypatch.setattr(coverage, "MAX_AOI_VERTICES", 3_003)
    assert len(coverage.read_aoi(str(tmp_path / "aoi.geojson"))) == 3
    # through the command line: one line, before any request (the AOI is read first)
    monkeypatch.setattr(coverage, "MAX_AOI_VERTICES", 100)
    from byocframe.cli import main

    capsys.readouterr()
    aoi = str(tmp_path / "aoi.geojson")
    assert main(["map", "c", "-o", str(tmp_path / "m.png"), "--aoi", aoi]) != 0
    shown = capsys.readouterr().err
    assert "MAX_AOI_VERTICES" in shown
    assert len(shown.strip().splitlines()) == 1


# --- finding 123: the local service seeded from any GeoParquet file, unchecked ----------


def test_seeding_from_a_crafted_geoparquet_is_refused_before_reading(tmp_path: Any) -> None:
    """``seed_records(path)`` (``local_service(tiles=path)``) read the file whole with
    geopandas: the bounds of `read_file` (rows, bytes a row, expansion) now come first."""
    from byocframe.emulator.seeding import seed_records

    _repeated(_one_tile_file(tmp_path), tmp_path / "bomb.parquet", 20_000)
    with pytest.raises(ValidationError, match="MIN_PARQUET_BYTES_PER_ROW"):
        seed_records(tmp_path / "bomb.parquet")
    records = list(seed_records(_one_tile_file(tmp_path)))
    assert len(records) == 1


# --- finding 124: --client-secret-file was read whole ----------------------------------


def test_the_client_secret_file_is_read_only_up_to_its_first_line(tmp_path: Any) -> None:
    """``byocframe serve --client-secret-file`` read the whole file for its first line
    (/dev/zero: for ever); now at most `MAX_SECRET_FILE_BYTES` of it."""
    import argparse
    import os

    from byocframe.cli.serve import service_credentials

    def secret_of(path: Any) -> str:
        args = argparse.Namespace(client_id=None, client_secret=None, client_secret_file=path)
        return service_credentials(args, {})[1]

    (tmp_path / "ok").write_text("s3cret \nsecond line\n", encoding="utf-8")
    assert secret_of(tmp_path / "ok") == "s3cret"
    (tmp_path / "long").write_bytes(b"x" * 10_000 + b"\n")
    with pytest.raises(ValidationError, match=r"longer than 4,096 bytes.*MAX_SECRET_FILE_BYTES"):
        secret_of(tmp_path / "long")
    if os.path.exists("/dev/zero"):
        with pytest.raises(ValidationError, match="MAX_SECRET_FILE_BYTES"):
            secret_of("/dev/zero")

"""Each peer played as an adversary on loopback, round three (findings 160 on).

Branch ``peers13`` (tests/attack/FINDINGS.md, "Bounded against every peer, round
three"). The BYOC/Catalog service as our client sees it is a scripted server on
127.0.0.1 that counts what it was asked; a client of our local service is a raw socket;
the S3 peer is an ``http.server`` endpoint boto3 talks to. No test times anything: each
counts requests, bytes or answers.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import urllib3

import byocframe
from byocframe import AnswerTooLarge, APIError, BucketError, TransportError
from byocframe.client import auth, connections, paging
from byocframe.emulator import Limits

# the scripted service of the client's transport tests (tests/client, not a package)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))
from test_client_transport import (
    API,
    TOKEN,
    TOKEN_PATH,
    Scripted,
    server,  # noqa: F401 - the fixture `service` uses
)


@pytest.fixture
def service(server: Scripted) -> Scripted:  # noqa: F811 - the imported fixture
    """A scripted BYOC / Catalog service on 127.0.0.1 that records every request."""
    return server


def _page(items: list[Any], token: str | None = None) -> dict[str, Any]:
    return {"data": items, "links": {"nextToken": token} if token else {}}


# --- finding 160: a token endpoint answering with megabytes ------------------------------
def test_a_megabyte_access_token_is_refused_before_any_api_request(service: Scripted) -> None:
    """The token goes in every request's Authorization header: a 1 MB one went out with
    each request (the service saw a 1,048,576-character header on the first)."""
    huge = {**TOKEN, "access_token": "A" * 2**20}
    service.scripts[TOKEN_PATH] = lambda h, q: h.answer(200, huge)
    service.scripts[API + "/collections"] = lambda h, q: h.answer(200, _page([]))
    with pytest.raises(TransportError, match=r"byocframe\.client\.auth\.MAX_TOKEN_CHARS"):
        list(service.client().iter_collections())
    assert service.api_requests() == []


def test_the_token_bound_can_be_raised(service: Scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "MAX_TOKEN_CHARS", 2**21)
    huge = {**TOKEN, "access_token": "A" * 2**20}
    service.scripts[TOKEN_PATH] = lambda h, q: h.answer(200, huge)
    service.scripts[API + "/collections"] = lambda h, q: h.answer(200, _page([{"id": "c1"}]))
    assert [c["id"] for c in service.client().iter_collections()] == ["c1"]
    ((_, _, headers, _),) = [seen for seen in service.seen if seen[1].startswith(API)]
    assert len(headers["authorization"]) == len("Bearer ") + 2**20


# --- finding 161: a next token of a megabyte, sent back with every page ------------------
def test_a_megabyte_next_token_is_not_sent_back(service: Scripted) -> None:
    """A listing's nextToken goes into the next request's URL: a fresh 1 MB token a page
    made every request carry a megabyte (the service read a 1 MB request line)."""
    fresh = itertools.count()

    def pages(h: Any, q: dict[str, str]) -> None:
        n = next(fresh)  # the listing ends after 5 pages, for a client without the bound
        h.answer(200, _page([{"id": f"c{n}"}], f"{n:x}" * 2**20 if n < 4 else None))

    service.scripts[API + "/collections"] = pages
    with pytest.raises(TransportError, match=r"byocframe\.client\.paging\.MAX_TOKEN_CHARS"):
        list(service.client().iter_collections())
    assert len(service.api_requests()) == 1


def test_a_catalog_next_of_a_megabyte_is_not_sent_back(service: Scripted) -> None:
    from byocframe.io.catalog import CATALOG_PATH, iter_items

    fresh = itertools.count(1)

    def search(h: Any, q: dict[str, str]) -> None:
        n = next(fresh)
        context = {"next": str(n) * 2**20} if n < 5 else {}
        h.answer(200, {"type": "FeatureCollection", "features": [], "context": context})

    service.scripts[CATALOG_PATH + "/search"] = search
    with pytest.raises(TransportError, match=r"MAX_TOKEN_CHARS"):
        list(iter_items(service.client(), "c1", bbox=[0, 0, 1, 1]))
    assert sum(path.endswith("/search") for _, path, _, _ in service.seen) == 1


# --- finding 162: MAX_PAGES counted pages, not items ---------------------------------------
def test_a_listing_stops_at_max_items_however_full_its_pages(
    service: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's pages hold at most 100 items; a service sending more a page multiplied
    the 10-million-item bound of MAX_PAGES (a million a page: 10^11 items). Scaled down:
    pages of 600 items against a bound of 1,000; the service stops after 30 pages."""
    monkeypatch.setattr(paging, "MAX_ITEMS", 1000)
    fresh = itertools.count()

    def pages(h: Any, q: dict[str, str]) -> None:
        n = next(fresh)
        token = f"t{n}" if n < 30 else None
        h.answer(200, _page([{"id": f"c{n}x{i}"} for i in range(600)], token))

    service.scripts[API + "/collections"] = pages
    with pytest.raises(TransportError, match=r"1,200 items in 2 pages.*paging\.MAX_ITEMS"):
        list(service.client().iter_collections())
    assert len(service.api_requests()) == 2


def test_an_honest_listing_of_full_pages_is_whole(
    service: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paging, "MAX_ITEMS", 1000)

    def pages(h: Any, q: dict[str, str]) -> None:
        n = int(q.get("viewtoken") or 0)
        items = [{"id": f"c{n}x{i}"} for i in range(100)]
        h.answer(200, _page(items, str(n + 1) if n < 9 else None))

    service.scripts[API + "/collections"] = pages
    assert len(list(service.client().iter_collections())) == 1000


# --- finding 163: an answer under MAX_ANSWER_BYTES parsed whole, whatever it held ---------
def _empty_objects(count: int) -> bytes:
    return b'{"data": [' + b"{}," * (count - 1) + b"{}]}"


def test_an_answer_of_millions_of_empty_objects_is_refused_before_parsing(
    service: Scripted,
) -> None:
    """4.5 million ``{}`` fit 14 MB, far under MAX_ANSWER_BYTES: parsed, they took 320 MB
    (a 64 MiB answer of them: 1.5 GB and 4 s). Without the bound the page was parsed and
    then refused for its items' ids."""
    body = _empty_objects(4_500_000)
    service.scripts[API + "/collections"] = lambda h, q: h.answer(200, body)
    with pytest.raises(AnswerTooLarge, match=r"connections\.MAX_ANSWER_VALUES"):
        list(service.client().iter_collections())


def test_an_error_answer_too_large_to_parse_is_still_its_api_error(
    service: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connections, "MAX_ANSWER_VALUES", 1000)
    body = b'{"error": {"message": "nope", "list": [' + b"0," * 5000 + b"0]}}"
    service.scripts[API + "/collections"] = lambda h, q: h.answer(400, body)
    with pytest.raises(APIError) as caught:
        list(service.client().iter_collections())
    assert caught.value.status_code == 400


def test_the_largest_honest_page_is_within_max_answer_values() -> None:
    """100 tiles whose covers have MAX_VERTICES (10,000) vertices each: about 3 million
    values, under the default bound (counted, not parsed)."""
    from byocframe.geo import geojson

    ring = b"[" + b"[12.5,45.5]," * (geojson.MAX_VERTICES - 1) + b"[12.5,45.5]]"
    tile = b'{"id": "t", "coverGeometry": {"type": "Polygon", "coordinates": [' + ring + b"]}}"
    page = b'{"data": [' + b",".join([tile] * 100) + b"]}"
    assert page.count(b",") + page.count(b"[") + page.count(b"{") > 2_900_000
    connections.check_values(page)  # no AnswerTooLarge


def test_the_answer_values_bound_can_be_raised(
    service: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connections, "MAX_ANSWER_VALUES", 1000)
    page = json.dumps(_page([{"id": f"c{i}"} for i in range(600)])).encode()
    service.scripts[API + "/collections"] = lambda h, q: h.answer(200, page)
    with pytest.raises(AnswerTooLarge, match="1,000 JSON values"):
        list(service.client().iter_collections())
    monkeypatch.setattr(connections, "MAX_ANSWER_VALUES", 10_000)
    assert len(list(service.client().iter_collections())) == 600


def test_every_new_setting_has_its_documented_default() -> None:
    assert auth.MAX_TOKEN_CHARS == 16_384
    assert paging.MAX_TOKEN_CHARS == 8192
    assert paging.MAX_ITEMS == 10_000_000
    assert connections.MAX_ANSWER_VALUES == 4_000_000
    from byocframe.bucket import access
    from byocframe.emulator import store

    assert access.MAX_KEY_BYTES == 1024
    assert store.COPY_BATCH == 1000
    assert Limits().max_chunks == 65_536
    assert byocframe.AnswerTooLarge is AnswerTooLarge


# --- finding 164: the local service read any number of chunks ---------------------------
def _chunked_tile(service: Any, cid: str, body: bytes, size: int) -> bytes:
    """POST ``body`` as a new tile in chunks of ``size`` bytes; the service's answer."""
    import socket

    host, port = service.base_url.removeprefix("http://").split(":")
    token = service.client()._auth.bearer()
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    wire = (
        f"POST {API}/collections/{cid}/tiles HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    wire += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(wire)
        answer = b""
        while part := sock.recv(65536):
            answer += part
    return answer


def test_a_body_of_70000_one_byte_chunks_is_refused() -> None:
    """A 16 MiB body one byte a chunk took about 15 s of the service's CPU (0.9 us a
    chunk, the GIL held); a tile of 70,000 one-byte chunks was read and created."""
    body = b'{"path": "a/b.tif"}'.ljust(70_000)
    with byocframe.local_service() as service:
        cid = service.client().create_collection({"name": "c", "s3Bucket": "b"})["id"]
        answer = _chunked_tile(service, cid, body, 1)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
        assert b"Limits.max_chunks" in answer
        assert list(service.client().iter_tiles(cid)) == []


def test_a_body_within_max_chunks_is_read() -> None:
    body = b'{"path": "a/b.tif"}'.ljust(1000)
    limits = Limits(max_chunks=100)
    with byocframe.local_service(limits=limits) as service:
        cid = service.client().create_collection({"name": "c", "s3Bucket": "b"})["id"]
        assert _chunked_tile(service, cid, body, 10).startswith(b"HTTP/1.1 201")  # 100 chunks
        assert b"Limits.max_chunks" in _chunked_tile(service, cid, body + b" " * 10, 10)
        assert [t["path"] for t in service.client().iter_tiles(cid)] == ["a/b.tif"]


# --- finding 167: the listing bound could not know a client's own verify= ----------------
@pytest.fixture
def huge_page() -> Any:
    """An S3 endpoint whose listing page declares 2 GiB and streams until stopped."""
    from test_attack_limits import _HugePage

    return type("Huge", (_HugePage,), {"sent": 0, "done": threading.Event(), "asked": 0})


def test_a_client_with_its_own_ca_bundle_is_bounded_once_it_is_recorded(
    tmp_path: Any, huge_page: Any
) -> None:
    """``verify=<bundle>`` of a client is not readable; recorded with ``bound_listing``,
    its pages are bounded (before, they were read whole by the client's session: the
    bound's session could not check the certificate)."""
    from test_attack_limits import _tls_client

    from byocframe.bucket.bounded import bound_listing

    bundle = str(tmp_path / "cert.pem")
    with _tls_client(huge_page, tmp_path, verify=bundle) as s3:
        assert bound_listing(s3, verify=bundle)
        with pytest.raises(BucketError, match="declares 2,147,483,648 bytes"):
            byocframe.read_bucket("s3://b", s3=s3, progress=False)
        assert huge_page.done.wait(60)
    assert huge_page.sent < 12 * 2**20


def test_a_client_made_with_verify_false_is_bounded_once_it_is_recorded(
    tmp_path: Any, huge_page: Any
) -> None:
    from test_attack_limits import _tls_client

    from byocframe.bucket.bounded import bound_listing

    with _tls_client(huge_page, tmp_path, verify=False) as s3:
        bound_listing(s3, verify=False)
        with warnings.catch_warnings():  # urllib3 warns of every unchecked request
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            with pytest.raises(BucketError, match="declares 2,147,483,648 bytes"):
                byocframe.read_bucket("s3://b", s3=s3, progress=False)
        assert huge_page.done.wait(60)
    assert huge_page.sent < 12 * 2**20


def test_the_profiles_ca_bundle_is_the_bounds_too(
    tmp_path: Any, huge_page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore trusts ``ca_bundle`` of the AWS config file's profile for a client made
    without ``verify=``; the bound read only ``AWS_CA_BUNDLE``, failed its handshake and
    let the client's session read the page whole."""
    from test_attack_limits import _tls_client

    config = tmp_path / "aws-config"
    config.write_text(f"[default]\nca_bundle = {tmp_path / 'cert.pem'}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with _tls_client(huge_page, tmp_path) as s3:
        with pytest.raises(BucketError, match="declares 2,147,483,648 bytes"):
            byocframe.read_bucket("s3://b", s3=s3, progress=False)
        assert huge_page.done.wait(60)
    assert huge_page.sent < 12 * 2**20


# --- finding 165: the Catalog tested each cover against an unprepared search area --------
def test_a_search_area_is_tested_prepared_and_finds_what_shapely_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """shapely uses a prepared geometry only as the first argument of ``intersects``:
    the service passed the area second, so each cover was tested against the whole area
    (2,000 covers against a 400,000-vertex area, which fits the 16 MiB body: 8.2 s
    instead of 0.12 s; a collection of 20,000 tiles: over a minute a page)."""
    import math

    import shapely

    from byocframe.io.catalog import iter_items

    calls: list[bool] = []
    real = shapely.intersects

    def spy(a: Any, b: Any, **kwargs: Any) -> Any:
        calls.append(bool(np.all(shapely.is_prepared(a))))
        return real(a, b, **kwargs)

    ring = [
        (60 * math.cos(k / 500 * math.pi), 40 * math.sin(k / 500 * math.pi)) for k in range(1000)
    ]
    area = shapely.Polygon(ring)
    with byocframe.local_service(demo=True, demo_tiles=300) as service:
        client = service.client()
        everything = iter_items(client, service.demo_collection, bbox=[-180, -90, 180, 90])
        covers = {  # each item's cover, in lon/lat
            item["id"]: shapely.geometry.shape(item["geometry"])
            for page in everything
            for item in page
        }
        monkeypatch.setattr(shapely, "intersects", spy)
        pages = iter_items(client, service.demo_collection, intersects=area)
        found = {item["id"] for page in pages for item in page}
    expected = {tid for tid, cover in covers.items() if real(cover, area)}
    assert found == expected
    assert 0 < len(expected) < len(covers)  # the area was tested, not all in or all out
    assert calls
    assert all(calls)


# --- finding 168: S3 keys past S3's 1,024 bytes -------------------------------------------
def test_a_listing_of_megabyte_keys_is_refused_before_any_key_is_used() -> None:
    """S3 keys take at most 1,024 bytes; an endpoint listing keys of 256 KiB (16 MiB
    pages hold 64) had each made a row and a ranged GET with the key in its URL."""
    from test_attack_limits import _handler
    from test_attack_reconcile3 import s3_client_of

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return [f"{n}{k}" + "k" * 2**18 + ".tif" for k in range(4)], f"T{n}"

    handler = _handler(pages, cap=3)
    with s3_client_of(handler) as s3, pytest.raises(BucketError) as caught:
        byocframe.read_bucket("s3://b", s3=s3, progress=False)
    assert "byocframe.bucket.access.MAX_KEY_BYTES" in str(caught.value)
    assert handler.lists == 1


def test_a_key_of_1024_bytes_is_listed() -> None:
    from test_attack_limits import _handler
    from test_attack_reconcile3 import s3_client_of

    key = "é" * 510 + ".tif"  # 1,020 bytes of UTF-8 and 4 of suffix: S3's longest

    def pages(n: int, token: str | None) -> tuple[list[str], str | None]:
        return [key], None

    with s3_client_of(_handler(pages)) as s3:
        listed = list(byocframe.bucket.access.Bucket("s3://b", client=s3).list())
    assert [len(item.key.encode()) for item in listed] == [1024]


# --- finding 166: copyTiles held the store for the whole copy ----------------------------
def test_a_request_waiting_during_a_copy_is_answered_between_its_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The copy was one transaction under the store's one lock: 20,000 tiles took 9.4 s,
    and another client's GET waited all of it. Now a request that comes during a batch
    has the store before the next batch (scaled down: batches of 10)."""
    from byocframe.emulator import store as store_module

    monkeypatch.setattr(store_module, "COPY_BATCH", 10)
    real = store_module.write_tile
    with byocframe.local_service(demo=True, demo_tiles=40) as service:
        client, reader = service.client(), service.client()
        target = client.create_collection({"name": "copy", "s3Bucket": "b"})["id"]
        answered = threading.Event()
        calls: list[bool] = []

        def read() -> None:
            reader.get_collection(target)
            answered.set()

        def spy(conn: Any, state: Any, **kwargs: Any) -> Any:
            calls.append(answered.is_set())
            if len(calls) == 1:  # batch 1 holds the store: a request comes and waits
                threading.Thread(target=read, daemon=True).start()
                assert service.store.lock.await_waiters(1, 30)
            if len(calls) == 11:  # batch 2: the request had the store in between
                assert answered.wait(30)
            return real(conn, state, **kwargs)

        monkeypatch.setattr(store_module, "write_tile", spy)
        client.copy_tiles(service.demo_collection, target)
        copied = sum(1 for _ in client.iter_tiles(target))
    assert copied == len(calls) > 20
    assert calls[:10] == [False] * 10

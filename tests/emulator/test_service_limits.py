"""Timeouts, connection and size limits, chunked bodies, protocol errors (issue 12,
class 4), on raw sockets so that every byte on the wire is the test's choice.

The service runs with timeouts of a fraction of a second; nothing here sleeps: the
tests wait on sockets for the service's answer.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading

import pytest
from conftest import ServiceApi

import byocframe
from byocframe.emulator import Limits

SHORT = 0.3  # seconds: the read and idle timeouts of these services


@pytest.fixture(scope="module")
def limited():
    limits = Limits(
        read_timeout=SHORT,
        idle_timeout=SHORT,
        max_connections=6,
        max_body_bytes=64 * 1024,
        max_header_bytes=4096,
        max_line_bytes=1024,
    )
    with byocframe.local_service(limits=limits) as service:
        api = ServiceApi(service)
        # a fresh connection per call: one kept idle between calls races the 0.3 s idle
        # timeout (the service closing it just as the next request goes out on it)
        api.session.headers["Connection"] = "close"
        yield service, api, api.session.headers["Authorization"]


class Connection:
    """A raw client connection with one buffered reader (pipelined answers survive)."""

    def __init__(self, service):
        host, port = service.base_url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.fp = self.sock.makefile("rb")

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, size: int) -> bytes:
        return self.fp.read(size)

    def close(self) -> None:
        self.fp.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(service) -> Connection:
    return Connection(service)


def answer(conn: Connection):
    """The next response on ``conn``: (status, headers, parsed JSON body or None)."""
    version, status, _ = conn.fp.readline().decode().split(" ", 2)
    assert version == "HTTP/1.1"
    headers = http.client.parse_headers(conn.fp)
    data = conn.fp.read(int(headers["Content-Length"]))
    return int(status), headers, json.loads(data) if data else None


def exchange(service, data: bytes):
    with connect(service) as sock:
        sock.sendall(data)
        return answer(sock)


def request_bytes(method, path, auth=None, body=b"", headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: test"]
    if auth:
        lines.append(f"Authorization: {auth}")
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def collection_names(api):
    return sorted(c["name"] for c in api("GET", "/collections").json()["data"])


def assert_envelope(body, status):
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["code"]


# ------------------------------------------------------------------ timeouts
def test_half_sent_request_times_out_with_408(limited):
    service, _, _ = limited
    with connect(service) as sock:
        sock.sendall(b"POST /api/v1/byoc/collections HTTP/1.1\r\nHost: test\r\n")
        status, headers, body = answer(sock)
        assert status == 408
        assert headers["Connection"] == "close"
        assert_envelope(body, 408)
        assert sock.recv(1) == b""  # closed


def test_body_shorter_than_its_content_length_stores_nothing(limited):
    service, api, auth = limited
    before = collection_names(api)
    body = b'{"name": "truncated", "s3Bucket": "b"}'
    data = request_bytes(
        "POST",
        "/api/v1/byoc/collections",
        auth,
        body,
        [f"Content-Length: {len(body) + 100}", "Content-Type: application/json"],
    )
    status, _, envelope = exchange(service, data)
    assert status == 408
    assert_envelope(envelope, 408)
    assert collection_names(api) == before


def test_request_cut_short_by_the_client_is_a_400(limited):
    service, api, auth = limited
    before = collection_names(api)
    body = b'{"name": "cut", "s3Bucket": "b"}'
    data = request_bytes(
        "POST", "/api/v1/byoc/collections", auth, body[:10], [f"Content-Length: {len(body)}"]
    )
    with connect(service) as conn:
        conn.sendall(data)
        conn.sock.shutdown(socket.SHUT_WR)  # end of stream mid-body
        status, _, envelope = answer(conn)
    assert status == 400
    assert "ended before it was complete" in envelope["error"]["message"]
    assert collection_names(api) == before


def test_empty_lines_before_a_request_are_ignored(limited):
    service, _, auth = limited
    status, _, body = exchange(
        service, b"\r\n" + request_bytes("GET", "/api/v1/byoc/collections", auth)
    )
    assert status == 200
    assert "data" in body


def test_idle_keep_alive_connection_is_closed(limited):
    service, _, auth = limited
    with connect(service) as sock:
        sock.sendall(request_bytes("GET", "/api/v1/byoc/collections", auth))
        assert answer(sock)[0] == 200
        assert sock.recv(1) == b""  # the service hung up after the idle timeout


def test_half_sent_connections_do_not_hold_the_service(limited):
    """More stalled connections than slots: extra ones get 503 at once, and once the
    stalled ones time out, real clients are served again."""
    service, api, _ = limited
    threads_before = threading.active_count()
    stalled = [connect(service) for _ in range(20)]
    try:
        for sock in stalled:
            sock.sendall(b"GET /api/v1/byoc/collections HTTP/1.1\r\n")
        statuses = [answer(sock)[0] for sock in stalled]
        # 6 slots: the first 6 waited for their deadline (408), the rest were turned away
        assert statuses.count(408) <= 6
        assert set(statuses) <= {408, 503}
        assert 503 in statuses
        assert threading.active_count() <= threads_before + 6
    finally:
        for sock in stalled:
            sock.close()
    assert api("GET", "/collections").status_code == 200


# ------------------------------------------------------------------ sizes
def test_declared_large_body_is_refused_before_it_is_read(limited):
    service, api, auth = limited
    before = collection_names(api)
    headers = ["Content-Length: 300000000", "Content-Type: application/json"]
    # no body is sent at all: the answer must not wait for it
    status, headers_out, body = exchange(
        service, request_bytes("POST", "/api/v1/byoc/collections", auth, b"", headers)
    )
    assert status == 413
    assert headers_out["Connection"] == "close"
    assert_envelope(body, 413)
    assert collection_names(api) == before


def test_unauthenticated_body_is_not_read(limited):
    service, _, _ = limited
    headers = ["Content-Length: 300000000", "Content-Type: application/json"]
    status, headers_out, body = exchange(
        service, request_bytes("POST", "/api/v1/byoc/collections", None, b"", headers)
    )
    assert status == 401
    assert headers_out["Connection"] == "close"
    assert body["error"]["code"] == "COMMON_UNAUTHORIZED"


def test_expect_100_continue_only_after_the_checks(limited):
    service, api, auth = limited
    expect = ["Expect: 100-continue", "Content-Type: application/json"]
    # unauthenticated: refused at once, never invited to send its 300 MB
    data = request_bytes(
        "POST", "/api/v1/byoc/collections", None, b"", [*expect, "Content-Length: 300000000"]
    )
    status, _, body = exchange(service, data)
    assert status == 401
    assert body["error"]["code"] == "COMMON_UNAUTHORIZED"
    payload = b'{"name": "after continue", "s3Bucket": "b"}'
    with connect(service) as conn:
        conn.sendall(
            request_bytes(
                "POST",
                "/api/v1/byoc/collections",
                auth,
                b"",
                [*expect, f"Content-Length: {len(payload)}"],
            )
        )
        assert conn.fp.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert conn.fp.readline() == b"\r\n"
        conn.sendall(payload)
        status, _, created = answer(conn)
    assert status == 201
    assert created["data"]["name"] == "after continue"
    assert "after continue" in collection_names(api)


def test_large_real_body_is_refused(limited):
    _, api, _ = limited
    before = collection_names(api)
    answer_ = api("POST", "/collections", json={"name": "n" * 100_000, "s3Bucket": "b"})
    assert answer_.status_code == 413
    assert_envelope(answer_.json(), 413)
    assert collection_names(api) == before


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("GET /api/v1/byoc/" + "x" * 2000 + " HTTP/1.1", 414),
        ("BREW /api/v1/byoc/collections HTTP/1.1", 501),
        ("GET /api/v1/byoc/collections HTTP/2.0", 505),
        ("GET", 400),
    ],
    ids=["uri-too-long", "unknown-method", "version", "garbage"],
)
def test_protocol_errors_answer_the_envelope(limited, line, status):
    service, _, _ = limited
    code, headers, body = exchange(service, (line + "\r\nHost: t\r\n\r\n").encode())
    assert code == status
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"  # what follows the bad head is never parsed
    assert_envelope(body, status)


def test_headers_too_large_431(limited):
    service, _, auth = limited
    headers = [f"X-Filler-{i}: {'y' * 100}" for i in range(60)]
    with connect(service) as conn:
        # a good request first leaves the connection in keep-alive
        conn.sendall(request_bytes("GET", "/api/v1/byoc/collections", auth))
        assert answer(conn)[0] == 200
        conn.sendall(request_bytes("GET", "/api/v1/byoc/collections", auth, b"", headers))
        status, headers_out, body = answer(conn)
        assert status == 431
        assert headers_out["Connection"] == "close"
        assert_envelope(body, 431)
        assert conn.recv(1) == b""  # the unread rest of the head is not taken as a request


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "5, 6", "٣"])
def test_bad_content_length_400(limited, length):
    service, api, auth = limited
    before = collection_names(api)
    data = request_bytes(
        "POST", "/api/v1/byoc/collections", auth, b"{}", [f"Content-Length: {length}"]
    )
    status, _, body = exchange(service, data)
    assert status == 400
    assert "Content-Length" in body["error"]["message"]
    assert collection_names(api) == before


# ------------------------------------------------------------------ chunked bodies
def chunked(payload: bytes, size=7) -> bytes:
    parts = [payload[i : i + size] for i in range(0, len(payload), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_chunked_body_is_decoded_and_the_connection_stays_usable(limited):
    service, _, auth = limited
    payload = json.dumps({"name": "sent in chunks", "s3Bucket": "b"}).encode()
    first = request_bytes(
        "POST",
        "/api/v1/byoc/collections",
        auth,
        chunked(payload),
        ["Transfer-Encoding: chunked", "Content-Type: application/json"],
    )
    second = request_bytes("GET", "/api/v1/byoc/collections", auth)
    with connect(service) as sock:
        sock.sendall(first + second)  # pipelined: the chunks must not read as a request
        status, _, body = answer(sock)
        assert status == 201
        assert body["data"]["name"] == "sent in chunks"
        status, _, listing = answer(sock)
        assert status == 200
    assert "sent in chunks" in [c["name"] for c in listing["data"]]


def test_requests_streams_a_generator_as_chunks(limited):
    _, api, _ = limited
    parts = [b'{"name": "gen', b'erated", ', b'"s3Bucket": "b"}']
    answer_ = api(
        "POST", "/collections", data=iter(parts), headers={"Content-Type": "application/json"}
    )
    assert answer_.status_code == 201
    assert answer_.json()["data"]["name"] == "generated"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"zz\r\n{}\r\n0\r\n\r\n", 400),
        (b"2\r\n{}}}}\r\n0\r\n\r\n", 400),
        (b"%x\r\n" % (70_000) + b"x" * 10, 413),
    ],
    ids=["not-hex", "longer-than-size", "over-the-limit"],
)
def test_bad_chunked_bodies(limited, body, status):
    service, api, auth = limited
    before = collection_names(api)
    data = request_bytes(
        "POST", "/api/v1/byoc/collections", auth, body, ["Transfer-Encoding: chunked"]
    )
    code, _, envelope = exchange(service, data)
    assert code == status
    assert_envelope(envelope, status)
    assert collection_names(api) == before


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (["Transfer-Encoding: chunked", "Content-Length: 4"], 400),
        (["Transfer-Encoding: gzip"], 501),
    ],
    ids=["both-lengths", "unknown-encoding"],
)
def test_ambiguous_framing_is_refused(limited, headers, status):
    service, _, auth = limited
    data = request_bytes("POST", "/api/v1/byoc/collections", auth, b"0\r\n\r\n", headers)
    code, _, envelope = exchange(service, data)
    assert code == status
    assert_envelope(envelope, status)


def test_defaults_are_sane():
    limits = Limits()
    assert limits.read_timeout == 30
    assert limits.max_body_bytes == 16 * 2**20
    with pytest.raises(ValueError, match="read_timeout must be positive"):
        Limits(read_timeout=0)


def test_one_address_cannot_take_every_connection():
    """Today: 300 half-sent connections from one client got every other client a 503."""
    limits = Limits(
        read_timeout=5, idle_timeout=5, max_connections=8, max_connections_per_address=3
    )
    with byocframe.local_service(limits=limits) as service:
        host, port = service.base_url.removeprefix("http://").rsplit(":", 1)
        held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(3)]
        try:
            for sock in held:
                sock.sendall(b"GET /api/v1/byoc/collections HTTP/1.1\r\n")  # half-sent
            with connect(service) as fourth:
                status, _, body = answer(fourth)
            assert status == 503
            assert "max_connections_per_address" in body["error"]["message"]
            # another address is still served (Linux routes all of 127/8 to loopback)
            other = socket.create_connection(
                (host, int(port)), timeout=10, source_address=("127.0.0.2", 0)
            )
            with other:
                other.sendall(b"GET /api/v1/catalog/1.0.0/ HTTP/1.1\r\nHost: x\r\n\r\n")
                assert other.recv(12).startswith(b"HTTP/1.1 200")
        finally:
            for sock in held:
                sock.close()


def test_300_half_sent_connections_leave_a_real_listing_answered():
    """The issue's case with the default limits: one address opens 300 connections and
    sends half a request on each; another client's authenticated listing is answered."""
    with byocframe.local_service() as service:
        api = ServiceApi(service)
        api("POST", "/collections", json={"name": "still-here", "s3Bucket": "b"})
        host, port = service.base_url.removeprefix("http://").rsplit(":", 1)
        held = []
        try:
            for _ in range(300):
                sock = socket.create_connection((host, int(port)), timeout=10)
                held.append(sock)
                sock.sendall(b"GET /api/v1/byoc/collections HTTP/1.1\r\nHost: x\r\n")
            # accepted after all 300 (one accept loop): 48 hold a slot, the rest got 503
            with socket.create_connection(
                (host, int(port)), timeout=10, source_address=("127.0.0.2", 0)
            ) as other:
                auth = api.session.headers["Authorization"]
                other.sendall(request_bytes("GET", "/api/v1/byoc/collections", auth=auth))
                reader = other.makefile("rb")
                assert reader.readline().startswith(b"HTTP/1.1 200")
                headers = http.client.parse_headers(reader)
                body = json.loads(reader.read(int(headers["Content-Length"])))
            assert [c["name"] for c in body["data"]] == ["still-here"]
            refused = 0
            for sock in held[Limits().max_connections_per_address :]:
                refused += sock.recv(12).startswith(b"HTTP/1.1 503")
            assert refused == 300 - Limits().max_connections_per_address
        finally:
            for sock in held:
                sock.close()


def test_idle_keep_alive_connections_give_way_at_the_address_cap():
    """Two clients of one address: the first one's idle pool must not lock the second out.

    A push and a CLI run in one process both keep connections open between requests; at
    ``max_connections_per_address`` the service closes an idle one instead of answering 503.
    The test waits for what the service has seen (``wait_connections``), never for time;
    ``room_wait`` is long so that a starved handler thread cannot turn a 200 into a 503.
    """
    cap = 4
    limits = Limits(max_connections_per_address=cap, room_wait=60.0)
    with byocframe.local_service(limits=limits) as service:
        api = ServiceApi(service)
        auth = api.session.headers["Authorization"]
        api.session.close()  # only the connections below remain
        assert service.wait_connections(held=0)
        listing = request_bytes("GET", "/api/v1/byoc/collections", auth=auth)
        idle = [connect(service) for _ in range(cap)]
        fresh = []
        try:
            for n, conn in enumerate(idle, 1):  # each answered once, left open: idle
                conn.sendall(listing)
                assert answer(conn)[0] == 200
                # kept alive in this order (their threads would register in any order)
                assert service.wait_connections(held=cap, idle=n)
            for _ in range(3):  # new connections from the same address are served...
                fresh.append(connect(service))
                fresh[-1].sendall(listing)
                assert answer(fresh[-1])[0] == 200
                # ...each after the oldest idle one was closed; it is kept alive in turn
                assert service.wait_connections(held=cap, idle=cap)
            ended = [bool(select.select([conn.sock], [], [], 0)[0]) for conn in idle]
            assert ended == [True, True, True, False]  # oldest first, one per newcomer
            assert [conn.recv(1) for conn in idle[:3]] == [b"", b"", b""]
        finally:
            for conn in idle + fresh:
                conn.close()


@pytest.mark.parametrize(
    ("limit", "limits"),
    [
        ("max_connections_per_address", {"max_connections_per_address": 1}),
        ("max_connections", {"max_connections": 1}),
    ],
)
def test_room_not_freed_within_room_wait_is_a_503_naming_the_setting(monkeypatch, limit, limits):
    """The idle connection closed for room ends only when its thread leaves (held here)."""
    from byocframe.emulator.connections import LimitedHTTPServer

    gate = threading.Event()
    held_back: list[int] = []
    finish = LimitedHTTPServer.finish_request

    def finish_request(self, request, client_address):  # the handler's thread
        finish(self, request, client_address)
        if client_address[1] in held_back:
            gate.wait(60)  # it has ended its connection but has not left yet

    monkeypatch.setattr(LimitedHTTPServer, "finish_request", finish_request)
    with byocframe.local_service(limits=Limits(room_wait=0.05, **limits)) as service:
        api = ServiceApi(service)
        auth = api.session.headers["Authorization"]
        api.session.close()  # its kept-alive connection would hold the only place
        assert service.wait_connections(held=0)
        listing = request_bytes("GET", "/api/v1/byoc/collections", auth=auth)
        try:
            with connect(service) as old:
                held_back.append(old.sock.getsockname()[1])
                old.sendall(listing)
                assert answer(old)[0] == 200
                assert service.wait_connections(held=1, idle=1)
                with connect(service) as new:
                    new.sendall(listing)
                    status, _, body = answer(new)
                assert status == 503
                message = body["error"]["message"]
                assert f"Limits.{limit})" in message
                assert "within 0.05 s, Limits.room_wait; raise it" in message
                assert old.recv(1) == b""  # it was closed for the newcomer all the same
        finally:
            gate.set()
        assert service.wait_connections(held=0)
        assert exchange(service, listing)[0] == 200


def test_stop_waits_stop_timeout_for_requests_under_way(caplog):
    """A request still under way at stop: the wait is Limits.stop_timeout, then a warning."""
    service = byocframe.local_service(limits=Limits(stop_timeout=0.05))
    half = connect(service)
    try:
        half.sendall(b"GET /api/v1/byoc/collections HTTP/1.1\r\n")  # under way, not idle
        assert service.wait_connections(held=1, busy=1)  # its handler reads the head
        with caplog.at_level("WARNING", logger="byocframe.emulator"):
            service.stop()
        assert "Limits.stop_timeout" in caplog.text
    finally:
        half.close()


def test_connections_with_a_request_under_way_are_not_closed_for_room():
    cap = 3
    with byocframe.local_service(limits=Limits(max_connections_per_address=cap)) as service:
        held = [connect(service) for _ in range(cap)]
        try:
            for conn in held:  # half a request each: busy, not idle
                conn.sendall(b"GET /api/v1/byoc/collections HTTP/1.1\r\n")
            with connect(service) as other:
                other.sendall(request_bytes("GET", "/api/v1/byoc/collections"))
                status, _, body = answer(other)
            assert status == 503
            assert "max_connections_per_address" in body["error"]["message"]
        finally:
            for conn in held:
                conn.close()


def test_stopping_ends_kept_alive_connections_before_the_store_closes():
    """A client's kept-alive connection outliving the service got a 500 from a closed store."""
    service = byocframe.local_service()
    try:
        api = ServiceApi(service)
        auth = api.session.headers["Authorization"]
        api.session.close()
        listing = request_bytes("GET", "/api/v1/byoc/collections", auth=auth)
        kept, fresh = connect(service), connect(service)  # answered once / never used
        kept.sendall(listing)
        assert answer(kept)[0] == 200
        # both accepted: one still in the listen queue would be reset when the listening
        # socket closes (seen under load), which is not what this test is about
        assert service.wait_connections(held=2)
    finally:
        service.stop()
    for conn in (kept, fresh):
        with conn:
            assert conn.recv(1) == b""  # the service hung up: no answer, no 500

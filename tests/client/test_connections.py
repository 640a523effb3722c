"""The HTTP path under the client (`byocframe.HTTPTransport` on urllib3), against raw
servers on loopback: reuse, servers that close, encodings, TLS and client certificates,
proxies, and a stopped service."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator

import pytest

from byocframe import Answer, Client, HTTPTransport, TransportError, ValidationError
from byocframe.client import connections
from byocframe.client.connections import Watch, decode_body
from byocframe.client.transport import Request
from byocframe.exceptions import AnswerTooLarge

TOKEN = {"access_token": "tok.en.x", "token_type": "Bearer", "expires_in": 3600}

Script = Callable[[str], tuple[dict[str, str], bytes]]


class _Handler(socketserver.StreamRequestHandler):
    server: Raw

    def handle(self) -> None:
        self.server.connections += 1
        while line := self.rfile.readline():
            target = line.decode().split(" ")[1]
            length = 0
            while (header := self.rfile.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.rfile.read(length)
            self.server.targets.append(target)
            headers, body = self.server.answer(target)
            head = {"Content-Length": str(len(body)), **headers}
            lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
            status = f"HTTP/1.1 200 OK\r\n{lines}\r\n".encode()
            where, gap = self.server.drip
            if not where or where not in target:
                self.wfile.write(status + body)
                self.wfile.flush()
            elif not self._drip(status, body, gap):
                return
            if self.server.close_after:
                return

    def _drip(self, status: bytes, body: bytes, gap: float) -> bool:
        """Send the head, then the body a byte every ``gap`` s; False once cut off."""
        try:
            self.wfile.write(status)
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(gap)  # the peer's behaviour under test: a slow drip
        except OSError:
            self.server.cut.set()
            return False
        return True


class Raw(socketserver.ThreadingTCPServer):
    """Answers every request with ``answer(target)``; counts the connections it took."""

    daemon_threads = True

    def __init__(self, answer: Script):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.connections = 0
        self.targets: list[str] = []
        self.close_after = False
        self.drip: tuple[str, float] = ("", 0.0)  # (in which targets, seconds per byte)
        self.cut = threading.Event()  # a dripped answer was cut off by the client
        self.closed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def shutdown_request(self, request) -> None:
        super().shutdown_request(request)
        self.closed.set()  # the socket is closed now, not just the handler done


@pytest.fixture
def serve() -> Iterator[Callable[[Script], Raw]]:
    running: list[tuple[Raw, threading.Thread]] = []

    def start(answer: Script) -> Raw:
        server = Raw(answer)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()


def _json(body: object, **headers: str) -> Script:
    return lambda target: (
        {"Content-Type": "application/json", **headers},
        json.dumps(body).encode(),
    )


def _get(transport: HTTPTransport, url: str, timeout: float = 2.0) -> Answer:
    return transport.send(Request("GET", url), timeout=timeout)


def test_connections_are_reused(serve):
    server = serve(_json({"n": 1}))
    transport = HTTPTransport(pool_size=2)
    answers = [_get(transport, server.url + f"/x{i}").json() for i in range(5)]
    assert answers == [{"n": 1}] * 5
    assert server.connections == 1
    transport.close()  # the kept connection is closed: the next request opens one
    assert _get(transport, server.url + "/y").json() == {"n": 1}
    assert server.connections == 2
    transport.close()


def test_a_connection_the_server_closed_is_replaced_not_failed(serve):
    server = serve(_json({"ok": True}))
    server.close_after = True  # closes after answering, without saying so
    transport = HTTPTransport()
    assert _get(transport, server.url + "/a").json() == {"ok": True}
    assert server.closed.wait(5)
    assert _get(transport, server.url + "/b").json() == {"ok": True}  # not a reset
    assert server.connections == 2
    transport.close()


def test_connection_close_is_honoured(serve):
    server = serve(_json({}, Connection="close"))  # says so, but keeps it open
    transport = HTTPTransport()
    _get(transport, server.url + "/a")
    _get(transport, server.url + "/b")
    assert server.connections == 2
    transport.close()


def test_repeated_headers_are_joined(serve):
    server = serve(lambda t: ({"X-Tag": "a", "x-tag": "b"}, b"{}"))
    transport = HTTPTransport()
    assert _get(transport, server.url + "/").headers["X-TAG"] == "a, b"
    transport.close()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, no zlib header
        ("identity", lambda data: data),
    ],
)
def test_encodings_are_decoded(serve, encoding, encode):
    body = json.dumps({"data": [{"id": "a"}], "links": {}}).encode()
    server = serve(lambda t: ({"Content-Encoding": encoding}, encode(body)))
    transport = HTTPTransport()
    assert _get(transport, server.url + "/").json()["data"] == [{"id": "a"}]
    transport.close()


def test_an_encoding_not_asked_for_is_a_transport_error(serve):
    server = serve(lambda t: ({"Content-Encoding": "br"}, b"\x0b\x02\x80{}\x03"))
    client = Client(base_url=server.url, client_id="me", client_secret="s", retries=0)
    with pytest.raises(TransportError, match="encoded as 'br', which was not asked for"):
        client.request("GET", "/collections")
    client.close()


def test_a_silent_server_is_a_read_timeout(serve):
    gate = threading.Event()

    def stall(target: str) -> tuple[dict[str, str], bytes]:
        gate.wait(5)
        return {}, b"{}"

    server = serve(stall)
    transport = HTTPTransport()
    try:
        with pytest.raises(TransportError, match=r"no answer within timeout=0\.2 s"):
            _get(transport, server.url, timeout=0.2)
    finally:
        gate.set()
        transport.close()


@pytest.fixture
def openssl() -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")


@pytest.fixture
def certificate(openssl, tmp_path) -> tuple[str, str]:
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    command += f" -addext subjectAltName=IP:127.0.0.1 -keyout {key} -out {cert}"
    subprocess.run(command.split(), check=True, capture_output=True)
    return cert, key


def test_tls_checks_the_certificate(serve, certificate, monkeypatch):
    cert, key = certificate
    server = serve(_json(TOKEN))  # the token, and the same as every API answer
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = server.url.replace("http://", "https://")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    untrusting = Client(
        base_url=url, client_id="me", client_secret="s", token_url=url + "/token", retries=0
    )
    with pytest.raises(TransportError, match="no usable answer") as refused:
        untrusting.request("GET", "/collections")  # a self-signed certificate: refused
    assert "CERTIFICATE_VERIFY_FAILED" in repr(refused.value.__cause__)
    untrusting.close()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    trusting = Client(
        base_url=url, client_id="me", client_secret="s", token_url=url + "/token", retries=0
    )
    assert trusting.request("GET", "/collections") == TOKEN  # the scripted answer
    trusting.close()
    assert any(target.startswith("/api/v1/byoc/collections") for target in server.targets)


def test_a_proxied_request_goes_through_the_proxy(serve, monkeypatch):
    """HTTP_PROXY is honoured: the proxy sees the whole URL, the origin nothing."""
    origin = serve(_json(TOKEN))
    proxy = serve(_json(TOKEN))
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    client = Client(base_url=origin.url, client_id="me", client_secret="s", retries=0)
    client.request("GET", "/collections")
    client.close()
    assert origin.targets == []
    assert origin.url + "/api/v1/byoc/collections" in proxy.targets


def _held(path: str) -> tuple[Script, threading.Event, threading.Event]:
    """A script answering ``{}``, that holds ``path``'s answer until ``gate`` is set
    (``arrived`` says the request is there)."""
    arrived, gate = threading.Event(), threading.Event()

    def answer(target: str) -> tuple[dict[str, str], bytes]:
        if target == path:
            arrived.set()
            gate.wait(10)
        return {}, b"{}"

    return answer, arrived, gate


def test_pool_size_bounds_the_connections_and_a_wait_for_one(serve):
    """With every connection busy, a request waits up to its timeout for one, then says
    which limit to raise; it does not open more (the old pool opened any number)."""
    stall, arrived, gate = _held("/slow")
    server = serve(stall)
    transport = HTTPTransport(pool_size=1)
    slow = threading.Thread(target=_get, args=(transport, server.url + "/slow", 10))
    slow.start()
    try:
        assert arrived.wait(5)
        with pytest.raises(TransportError, match=r"all 1 connections .*\(pool_size\) stayed busy"):
            _get(transport, server.url + "/fast", timeout=0.2)
    finally:
        gate.set()
        slow.join()
    assert _get(transport, server.url + "/fast").json() == {}
    assert server.connections == 1
    transport.close()


def _proxy_env(monkeypatch, proxy: Raw) -> None:
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)


def test_a_proxied_answer_obeys_the_size_limit(serve, monkeypatch):
    """Proxied requests went through requests' adapter, which read any body whole."""
    origin = serve(_json(TOKEN))
    huge = {"Content-Length": "107374182400"}
    proxy = serve(lambda t: (huge if "/api/" in t else {}, json.dumps(TOKEN).encode()))
    _proxy_env(monkeypatch, proxy)
    client = Client(base_url=origin.url, client_id="me", client_secret="s", retries=0)
    with pytest.raises(TransportError, match=r"declares more than .*MAX_ANSWER_BYTES"):
        client.request("GET", "/collections")
    client.close()
    assert origin.targets == []


def test_a_proxied_answer_obeys_the_deadline(serve, monkeypatch):
    """A proxy that drips its answer is cut at the deadline, as a direct peer is."""
    origin = serve(_json(TOKEN))
    page = json.dumps({"data": [], "links": {}, "pad": "x" * 200}).encode()
    proxy = serve(lambda t: ({}, page if "/api/" in t else json.dumps(TOKEN).encode()))
    proxy.drip = ("/api/", 0.05)  # 230 bytes: 11 s if nobody cuts it
    _proxy_env(monkeypatch, proxy)
    client = Client(base_url=origin.url, client_id="me", client_secret="s", retries=0, deadline=0.5)
    with pytest.raises(TransportError, match=r"within the deadline of 0\.5 s"):
        client.request("GET", "/collections")
    assert proxy.cut.wait(5)  # cut at the deadline, not read to its end and then refused
    client.close()


def test_a_client_certificate_is_presented(serve, certificate):
    """A server that asks for a client certificate gets the one configured."""
    cert, key = certificate
    server = serve(_json(TOKEN))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cert)  # the self-signed certificate is its own issuer
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = server.url.replace("http://", "https://") + "/x"
    anonymous = HTTPTransport(ca_bundle=cert)
    with pytest.raises(TransportError):
        _get(anonymous, url)
    anonymous.close()
    known = HTTPTransport(ca_bundle=cert, client_cert=(cert, key))
    assert _get(known, url).json() == TOKEN
    known.close()


def test_a_stopped_service_says_so():
    """Was: 'no usable answer (ConnectionError)'."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]  # free once closed: nothing listens there
    client = Client(
        base_url=f"http://127.0.0.1:{port}", client_id="me", client_secret="s", retries=0
    )
    with pytest.raises(
        TransportError, match=rf"cannot connect to http://127\.0\.0\.1:{port}: is it running\?"
    ) as err:
        client.request("GET", "/collections")
    assert "no usable answer" not in str(err.value)
    client.close()


def test_many_threads_on_one_client_never_get_each_others_answers():
    """32 threads share one client's pool against a service that drops connections,
    answers 503 and 429 at random: every answer a thread gets is for its own tile."""
    from concurrent.futures import ThreadPoolExecutor

    import byocframe
    from byocframe.emulator.faults import Faults

    with byocframe.local_service(demo=True, demo_tiles=64, ingestion_delay=0) as service:
        client = service.client(backoff=0.001, max_backoff=0.005, retries=8)
        cid = service.demo_collection
        ids = [t["id"] for t in client.iter_tiles(cid)]
        seen: list[str] = []

        class Noted(Faults):
            def decide(self):
                fate = super().decide()
                seen.append(fate)
                return fate

        service.faults = Noted(
            error_rate=0.1, throttle_rate=0.05, drop_rate=0.1, retry_after_ms=1, seed=7
        )

        def read(tid: str) -> str:
            try:
                return str(client.get_tile(cid, tid)["id"])
            except byocframe.ByocframeError:
                return tid  # gave up cleanly: not a wrong answer

        with ThreadPoolExecutor(32) as pool:
            got = list(pool.map(read, ids * 4))
        service.faults = None
        assert len([fate for fate in seen if fate != "ok"]) >= 30  # faults did happen
        assert got == ids * 4
        assert client.get_tile(cid, ids[0])["id"] == ids[0]  # the pool still works


def test_tls_checks_the_host_name(serve, openssl, tmp_path, monkeypatch):
    """A certificate the bundle trusts, for another name, is refused all the same."""
    cert, key = str(tmp_path / "other.pem"), str(tmp_path / "other-key.pem")
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=example.org"
    command += f" -addext subjectAltName=DNS:example.org -keyout {key} -out {cert}"
    subprocess.run(command.split(), check=True, capture_output=True)
    server = serve(_json(TOKEN))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = server.url.replace("http://", "https://")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    client = Client(
        base_url=url, client_id="me", client_secret="s", token_url=url + "/token", retries=0
    )
    with pytest.raises(TransportError, match="no usable answer") as refused:
        client.request("GET", "/collections")
    client.close()
    assert "CERTIFICATE_VERIFY_FAILED" in repr(refused.value.__cause__)
    assert "match" in repr(refused.value.__cause__)  # the name, not the signer


def test_a_cut_compressed_body_is_a_transport_error(serve):
    """A gzip body whose stream ends early (its Content-Length honest about the cut)
    would decode to a truncated answer without a check of the stream's end."""
    body = json.dumps({"data": [{"id": "a"}] * 50, "links": {}}).encode()
    cut = gzip.compress(body)[:-12]
    server = serve(lambda t: ({"Content-Encoding": "gzip"}, cut))
    client = Client(base_url=server.url, client_id="me", client_secret="s", retries=0)
    with pytest.raises(
        TransportError, match=r"no usable answer \(the answer's gzip body is damaged"
    ):
        client.request("GET", "/collections")
    client.close()


def test_a_body_that_is_not_json_is_refused_before_sending(serve):
    server = serve(_json(TOKEN))
    client = Client(base_url=server.url, client_id="me", client_secret="s", retries=0)
    with pytest.raises(ValidationError, match="replace NaN and infinite numbers"):
        client.request("PUT", "/collections/c1", json={"noData": float("nan")})
    client.close()
    assert not any(t.startswith("/api/") for t in server.targets)  # nothing was sent


@pytest.mark.parametrize("pooled", [True, False])
def test_a_request_whose_deadline_passed_before_it_got_a_connection_is_not_sent(serve, pooled):
    """A request that waited for a free connection (pool_size) past its deadline was
    sent and read with no deadline at all: the watchdog had already cut the sockets it
    knew, and never came back for the one tracked afterwards (a dripping server then
    held it for as long as it liked)."""
    server = serve(_json({}))
    transport = HTTPTransport(pool_size=1)
    if pooled:
        assert _get(transport, server.url + "/first").json() == {}
    with Watch.deadline(60) as watch:
        watch.expire()  # what the watchdog does when the deadline passes
        with pytest.raises(TransportError):
            _get(transport, server.url + "/late")
    assert _get(transport, server.url + "/after").json() == {}  # the pool still works
    transport.close()
    assert "/late" not in server.targets


def test_every_gzip_member_is_decoded_and_trailing_bytes_are_refused(monkeypatch):
    """A gzip body may hold several members (RFC 1952 2.2); only the first was decoded,
    and whatever followed it, garbage included, was dropped without a word."""
    first, second = b'{"data": [{"id": "a"}, ', b'{"id": "b"}]}'
    both = gzip.compress(first) + gzip.compress(second)
    assert json.loads(decode_body(both, "gzip"))["data"] == [{"id": "a"}, {"id": "b"}]
    for encoding, encoded in [
        ("gzip", gzip.compress(b"{}") + b"<html>junk</html>"),
        ("deflate", zlib.compress(b"{}") + b"junk"),
        ("deflate", zlib.compress(b"{}")[2:-4] + b"junk"),
    ]:
        with pytest.raises(ValueError, match="damaged"):
            decode_body(encoded, encoding)
    monkeypatch.setattr(connections, "MAX_ANSWER_BYTES", 1000)
    members = gzip.compress(b"x" * 600) * 2  # each under the limit, not together
    with pytest.raises(AnswerTooLarge, match="decodes to more than 1,000 bytes"):
        decode_body(members, "gzip")


def test_many_tiny_gzip_members_decode_in_linear_time():
    """2 MB of empty members (100,000 of them) decode in about a second: each member's
    leftover is not copied whole again (that would be some 100 GB of copying)."""
    empty = gzip.compress(b"", mtime=0)
    body = empty * (2_000_000 // len(empty)) + gzip.compress(b"{}", mtime=0)
    assert decode_body(body, "gzip") == b"{}"


@pytest.mark.parametrize("source", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "ca_bundle"])
def test_a_missing_ca_bundle_is_named_before_anything_is_sent(monkeypatch, tmp_path, source):
    """It was 'no usable answer (SSLError: [Errno 2] No such file or directory)', retried
    as if the service were down."""
    missing = str(tmp_path / "nowhere" / "ca.pem")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    if source == "ca_bundle":
        transport = HTTPTransport(ca_bundle=missing)
    else:
        monkeypatch.setenv(source, missing)
        transport = HTTPTransport()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(ValidationError, match=rf"{source}='{missing}' does not exist"):
            transport.send(Request("GET", url), timeout=2)


def test_a_finished_request_whose_deadline_passes_does_not_cut_the_next_user(serve):
    """A request's connection goes back to the pool before its watch is closed; if its
    deadline passed in between, the watchdog shut down the socket another thread was
    already using (a POST there fails, not retried)."""
    answer, arrived, gate = _held("/second")
    server = serve(answer)
    transport = HTTPTransport(pool_size=1)
    second: list[object] = []
    with Watch.deadline(60) as watch:
        assert _get(transport, server.url + "/first").json() == {}
        # another thread takes the pooled connection while this watch is still open
        other = threading.Thread(
            target=lambda: second.append(_get(transport, server.url + "/second", 10).json())
        )
        other.start()
        assert arrived.wait(5)
        watch.expire()  # the first request's deadline passes now
        gate.set()
        other.join()
    assert second == [{}]
    assert server.connections == 1
    transport.close()

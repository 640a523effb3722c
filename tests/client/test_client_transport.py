"""Client transport faults, against a scripted misbehaving server on loopback.

Every way a server can misbehave must end in a byocframe error that names the URL,
never a raw exception, an endless wait or a token sent somewhere else.
"""

from __future__ import annotations

import base64
import gzip
import json
import socketserver
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator

import pytest

from byocframe import (
    APIError,
    AuthenticationError,
    ByocframeError,
    Client,
    RateLimitError,
    TransportError,
    ValidationError,
)

SECRET = "s3cr3t-never-shown"
TOKEN = {"access_token": "tok.en.x", "token_type": "Bearer", "expires_in": 3600}
TOKEN_PATH = "/auth/realms/main/protocol/openid-connect/token"
API = "/api/v1/byoc"


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


Script = Callable[["_Handler", dict[str, str]], None]


class _Handler(socketserver.StreamRequestHandler):
    server: Scripted

    def handle(self) -> None:
        self.server.connections += 1
        while True:
            line = self.rfile.readline()
            if not line:
                return
            method, target, _ = line.decode().split(" ", 2)
            headers = {}
            while (header := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = self.rfile.read(int(headers.get("content-length") or 0))
            url = urllib.parse.urlsplit(target)
            query = dict(urllib.parse.parse_qsl(url.query))
            self.server.seen.append((method, url.path, headers, body))
            script = self.server.scripts.get(url.path) or self.server.scripts.get("*")
            if script is None:
                self.answer(404, {"error": {"message": "no script", "code": "NOPE"}})
            else:
                script(self, query)
            if self.server.close_after:
                return

    def answer(
        self, status: int, body: object = None, headers: dict[str, str] | None = None
    ) -> None:
        data = (
            b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        )
        head = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        head.update(headers or {})
        self.raw(f"HTTP/1.1 {status} X\r\n", head, data)

    def raw(self, status_line: str, headers: dict[str, str], data: bytes = b"") -> None:
        lines = status_line + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.wfile.write(lines.encode() + data)
        self.wfile.flush()


class Scripted(socketserver.ThreadingTCPServer):
    """Answers each path with a script; the token endpoint works unless scripted."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripts: dict[str, Script] = {TOKEN_PATH: lambda h, q: h.answer(200, TOKEN)}
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.close_after = False
        self.connections = 0  # taken so far

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def api(self, path: str, script: Script) -> None:
        self.scripts[API + path] = script

    def client(self, **options) -> Client:
        options = {"retries": 0, "timeout": 2.0, **options}
        return Client(base_url=self.base_url, client_id="me", client_secret=SECRET, **options)

    def api_requests(self) -> list[str]:
        return [path for _, path, _, _ in self.seen if path.startswith(API)]


@pytest.fixture
def server() -> Iterator[Scripted]:
    running = Scripted()
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield running
    finally:
        running.shutdown()
        running.server_close()
        thread.join()


@pytest.fixture
def other() -> Iterator[Scripted]:
    """A second server: another origin that must never see the token."""
    running = Scripted()
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield running
    finally:
        running.shutdown()
        running.server_close()
        thread.join()


def _page(data, next_token=None):
    links = {"nextToken": next_token} if next_token else {}
    return {"data": data, "links": links}


# ---------------------------------------------------------------------- ids and origins
@pytest.mark.parametrize("bad", ["x/tiles", "x/tiles/y", "a?b", "a#b", "..", "a b", "%2e", ""])
def test_ids_are_checked_before_any_request(server, bad):
    client = server.client()
    with pytest.raises(ValidationError, match="id"):
        client.get_collection(bad)
    with pytest.raises(ValidationError):
        client.delete_collection(bad)
    with pytest.raises(ValidationError):
        client.delete_tile("c1", bad)
    with pytest.raises(ValidationError):
        client.tile_pages(bad)  # before iterating: the generator is not started
    assert server.seen == []


def test_a_good_id_is_one_path_segment(server):
    server.api("/collections/c-1_A.b~", lambda h, q: h.answer(200, {"data": {"id": "c-1_A.b~"}}))
    assert server.client().get_collection({"id": "c-1_A.b~"})["id"] == "c-1_A.b~"
    assert server.api_requests() == [API + "/collections/c-1_A.b~"]


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.2:{port}\\@127.0.0.1:{port}",
        "http://192.0.2.2:{port}@127.0.0.1:{port}",
        "http://user:pw@127.0.0.1:{port}",
        "http://127.0.0.1:{port}\t",
        "http://127.0.0.1:{port}/?x=1",
        "http://127.0.0.1:{port}#frag",
        "http://127.0.0.1:{port}:{port}",
        "http://127.1:{port}",
        "http://localhost.:{port}",
        "ftp://127.0.0.1:{port}",
    ],
)
def test_base_url_that_parsers_could_read_differently_is_refused(server, url):
    with pytest.raises(ValueError, match="base_url"):
        Client(
            base_url=url.format(port=server.server_address[1]),
            client_id="me",
            client_secret=SECRET,
        )
    assert server.seen == []


def test_token_goes_only_to_the_base_url_origin(server, other):
    client = server.client()
    with pytest.raises(ValueError, match="origin only"):
        client.request("GET", other.base_url + "/x")
    with pytest.raises(ValueError, match="origin only"):
        client.request("GET", "https://example.com/api/v1/byoc/collections")
    assert other.seen == []
    assert server.seen == []  # not even a token was fetched


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed(server, other, status):
    other.api("/collections", lambda h, q: h.answer(200, _page([])))
    target = other.base_url + API + "/collections"
    server.api("/collections", lambda h, q: h.answer(status, b"", {"Location": target}))
    with pytest.raises(APIError, match="does not follow redirects") as err:
        list(server.client().iter_collections())
    assert err.value.status_code == status
    assert other.seen == []


def test_a_redirect_loop_is_one_clear_error(server):
    loop = server.base_url + API + "/collections"
    server.api("/collections", lambda h, q: h.answer(302, b"", {"Location": loop}))
    with pytest.raises(APIError, match="redirected to"):
        list(server.client().iter_collections())
    assert len(server.api_requests()) == 1


def test_a_token_endpoint_redirect_does_not_carry_the_secret(server, other):
    server.scripts[TOKEN_PATH] = lambda h, q: h.answer(
        307, b"", {"Location": other.base_url + TOKEN_PATH}
    )
    with pytest.raises(APIError, match="does not follow redirects") as err:
        server.client().get_collection("c1")
    assert SECRET not in str(err.value)
    assert other.seen == []


# ---------------------------------------------------------------------- waiting
def test_a_huge_retry_after_raises_instead_of_sleeping_28_hours(server):
    server.api("/collections", lambda h, q: h.answer(429, {}, {"Retry-After": "100000000"}))
    clock = FakeClock()
    client = server.client(clock=clock, sleep=clock.sleep)
    with pytest.raises(RateLimitError, match="more than max_wait=300 s") as err:
        list(client.iter_collections())
    assert err.value.retry_after == pytest.approx(100_000)
    assert clock.slept == []
    assert err.value.url.startswith(server.base_url)


def _throttled_then_empty(answers):
    """A script answering each (status, headers) in turn; a 200 is an empty page."""
    answers = iter(answers)

    def script(h, q):
        status, headers = next(answers)
        h.answer(status, _page([]) if status == 200 else {}, headers)

    return script


def test_max_wait_is_configurable(server):
    server.api("/collections", _throttled_then_empty([(429, {"Retry-After": "600000"}), (200, {})]))
    clock = FakeClock()
    client = server.client(clock=clock, sleep=clock.sleep, max_wait=3600)
    assert list(client.iter_collections()) == []
    assert 600 <= sum(clock.slept) <= 660  # ten minutes plus at most 10 % jitter


def test_the_total_429_wait_of_one_request_is_bounded(server):
    """Today: 50 answers of Retry-After 299999 ms hold one GET for 4 h 10 min."""
    server.api("/collections", lambda h, q: h.answer(429, {}, {"Retry-After": "299999"}))
    clock = FakeClock()
    client = server.client(clock=clock, sleep=clock.sleep)
    with pytest.raises(RateLimitError, match="more than max_total_wait=900 s"):
        list(client.iter_collections())
    assert sum(clock.slept) <= 900
    assert len(clock.slept) == 3  # 300 s each (max_wait): a fourth would pass 900 s


def test_max_total_wait_is_configurable(server):
    answers = [*[(429, {"Retry-After": "299999"})] * 5, (200, {})]
    server.api("/collections", _throttled_then_empty(answers))
    clock = FakeClock()
    client = server.client(clock=clock, sleep=clock.sleep, max_total_wait=3600)
    assert list(client.iter_collections()) == []
    assert 1500 <= sum(clock.slept) <= 1650


@pytest.mark.parametrize("value", ["inf", "1e400", "-inf"])
def test_infinite_retry_after(server, value):
    server.api("/collections", lambda h, q: h.answer(429, {}, {"Retry-After": value}))
    clock = FakeClock()
    client = server.client(clock=clock, sleep=clock.sleep, rate_limit_retries=2)
    with pytest.raises(RateLimitError):
        list(client.iter_collections())
    assert sum(clock.slept) <= 3  # -inf is no number of seconds: the 1 s default, twice


@pytest.mark.parametrize("value", ["nan", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_unreadable_retry_after_waits_a_second(server, value):
    answers = iter([429, 200])
    server.api(
        "/collections",
        lambda h, q: h.answer(
            s := next(answers), _page([]) if s == 200 else {}, {"Retry-After": value}
        ),
    )
    clock = FakeClock()
    client = server.client(clock=clock, sleep=clock.sleep)
    assert list(client.iter_collections()) == []
    assert 1.0 <= sum(clock.slept) <= 1.1


def _drip(data: bytes, gap: float) -> Script:
    def script(h, q):
        for byte in data:
            try:
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
            except OSError:
                return
            time.sleep(gap)  # the peer's behaviour under test: a slow drip

    return script


def test_a_dripped_body_hits_the_whole_request_deadline(server):
    body = json.dumps(_page([])).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()

    def script(h, q):
        h.wfile.write(head)
        h.wfile.flush()
        _drip(body, 0.05)(h, q)

    server.api("/collections", script)
    client = server.client(timeout=1.0, deadline=0.3)
    with pytest.raises(TransportError, match=r"within the deadline of 0\.3 s") as err:
        list(client.iter_collections())
    assert server.base_url in str(err.value)


def test_dripped_headers_hit_the_deadline_too(server):
    server.api("/collections", _drip(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: yes\r\n" * 50, 0.02))
    client = server.client(timeout=1.0, deadline=0.3)
    with pytest.raises(TransportError, match="deadline"):
        list(client.iter_collections())


def test_the_deadline_does_not_cut_a_healthy_connection(server):
    server.api("/collections", lambda h, q: h.answer(200, _page([])))
    client = server.client(deadline=0.5)  # room for a request on a loaded machine
    for _ in range(3):
        assert list(client.iter_collections()) == []
    taken = server.connections
    # the time under test: the finished requests' deadlines pass, and their watchdogs
    # must not cut the pooled socket (the next request would open another one)
    time.sleep(0.6)
    assert list(client.iter_collections()) == []
    assert server.connections == taken


# ---------------------------------------------------------------------- paging
def test_a_repeated_next_token_stops_the_loop(server):
    server.api("/collections", lambda h, q: h.answer(200, _page([{"id": "a"}], "same")))
    with pytest.raises(TransportError, match="next token 'same' again"):
        list(server.client().iter_collections())
    assert len(server.api_requests()) == 2


def _items(h, q, tokens):
    """A Catalog page of one item, whose next token comes from ``tokens``.

    The item lies in the searches' bbox: one outside it ends the search (finding 270).
    """
    item = {"id": "x", "bbox": [0.2, 0.2, 0.8, 0.8]}
    h.answer(
        200, {"type": "FeatureCollection", "features": [item], "context": {"next": next(tokens)}}
    )


def test_a_catalog_repeating_its_next_token_stops(server):
    """Today: 33,670 requests in 30 s and no end."""
    import itertools

    from byocframe.io.catalog import CATALOG_PATH, iter_items

    repeated = itertools.repeat(100)
    server.scripts[CATALOG_PATH + "/search"] = lambda h, q: _items(h, q, repeated)
    with pytest.raises(TransportError, match="next token '100' again"):
        list(iter_items(server.client(), "c1", bbox=[0, 0, 1, 1]))
    assert sum(path.endswith("/search") for _, path, _, _ in server.seen) == 2


def test_endless_fresh_next_tokens_stop_at_max_pages(server, monkeypatch):
    import itertools

    import byocframe.client.paging
    from byocframe.io.catalog import CATALOG_PATH, iter_items

    monkeypatch.setattr(byocframe.client.paging, "MAX_PAGES", 25)
    fresh = itertools.count(100, 100)
    server.scripts[CATALOG_PATH + "/search"] = lambda h, q: _items(h, q, fresh)
    with pytest.raises(
        TransportError, match=r"after 25 pages \(byocframe.client.paging.MAX_PAGES\)"
    ):
        list(iter_items(server.client(), "c1", bbox=[0, 0, 1, 1]))
    assert sum(path.endswith("/search") for _, path, _, _ in server.seen) == 25


def test_a_token_cycle_stops_too(server):
    following = {"": "t1", "t1": "t2", "t2": "t1"}
    server.api(
        "/collections",
        lambda h, q: h.answer(
            200, _page([{"id": q.get("viewtoken", "x")}], following[q.get("viewtoken", "")])
        ),
    )
    with pytest.raises(TransportError, match="paging loop"):
        list(server.client().iter_collections())


# ---------------------------------------------------------------------- bad answers
BAD_ANSWERS = {
    "a JSON list": (200, [1, 2], "no 'data'"),
    "data is a number": (200, {"data": 5}, "no 'data'"),
    "not JSON": (200, b"<html>oops</html>", "not JSON"),
    "an item without id": (200, _page([{"name": "x"}]), "has no usable id"),
    "an item that is a string": (200, _page(["x"]), "has no usable id"),
    "an id that is a path": (200, _page([{"id": "c/tiles/t"}]), "has no usable id"),
    "a non-string token": (200, {"data": [], "links": {"nextToken": 7}}, None),
}


@pytest.mark.parametrize("case", BAD_ANSWERS, ids=list(BAD_ANSWERS))
def test_bad_listing_answers_are_transport_errors(server, case):
    status, body, match = BAD_ANSWERS[case]
    if case == "a non-string token":
        body = {"data": [{"id": "a"}], "links": {"nextToken": 7}}
        match = "nextToken"
    server.api("/collections", lambda h, q: h.answer(status, body))
    with pytest.raises(TransportError, match=match) as err:
        list(server.client().iter_collections())
    assert server.base_url + API + "/collections" in str(err.value)


@pytest.mark.parametrize("body", [[1], {"data": 5}, {"data": [1]}, {"nodata": {}}, "text"])
def test_bad_single_answers_are_transport_errors(server, body):
    server.api("/collections/c1", lambda h, q: h.answer(200, body))
    with pytest.raises(TransportError, match="no 'data' object"):
        server.client().get_collection("c1")


def test_garbage_gzip_is_a_transport_error(server):
    server.api(
        "/collections",
        lambda h, q: h.answer(200, b"definitely not gzip", {"Content-Encoding": "gzip"}),
    )
    with pytest.raises(TransportError, match="no usable answer"):
        list(server.client().iter_collections())


def test_real_gzip_is_fine(server):
    body = gzip.compress(json.dumps(_page([{"id": "a"}])).encode())
    server.api("/collections", lambda h, q: h.answer(200, body, {"Content-Encoding": "gzip"}))
    assert [c["id"] for c in server.client().iter_collections()] == ["a"]


def test_a_connection_closed_mid_body_is_a_transport_error(server):
    server.close_after = True
    server.api(
        "/collections",
        lambda h, q: h.raw("HTTP/1.1 200 OK\r\n", {"Content-Length": "500"}, b'{"data": ['),
    )
    with pytest.raises(TransportError, match="no usable answer"):
        list(server.client().iter_collections())


@pytest.mark.parametrize("error", ["a string", ["a", "list"], {"message": {"nested": 1}}, None])
def test_odd_error_bodies_still_give_an_api_error(server, error):
    server.api("/collections/c1", lambda h, q: h.answer(409, {"error": error}))
    with pytest.raises(APIError) as err:
        server.client().get_collection("c1")
    assert err.value.status_code == 409


# ---------------------------------------------------------------------- token answers
TOKEN_ANSWERS = {
    "not JSON": (200, b"not json", TransportError, "not JSON"),
    "a JSON list": (200, [TOKEN], TransportError, "no usable access_token"),
    "no access_token": (200, {"token_type": "Bearer"}, TransportError, "access_token"),
    "a number as token": (200, {"access_token": 5}, TransportError, "access_token"),
    "a header-splitting token": (
        200,
        {"access_token": "x\r\nX-Evil: 1", "expires_in": 60},
        TransportError,
        "access_token",
    ),
    "expires_in text": (
        200,
        {"access_token": "t", "expires_in": "soon"},
        TransportError,
        "expires_in",
    ),
    "expires_in inf": (
        200,
        {"access_token": "t", "expires_in": "inf"},
        TransportError,
        "expires_in",
    ),
    "expires_in negative": (
        200,
        {"access_token": "t", "expires_in": -5},
        TransportError,
        "expires_in",
    ),
    "401 with a list": (401, ["denied"], AuthenticationError, "401"),
    "400 oauth error": (
        400,
        {"error": "invalid_client", "error_description": "Invalid client credentials"},
        AuthenticationError,
        "Invalid client credentials",
    ),
    "418 without body": (418, b"", APIError, "418"),
}


@pytest.mark.parametrize("case", TOKEN_ANSWERS, ids=list(TOKEN_ANSWERS))
def test_bad_token_answers(server, case):
    status, body, kind, match = TOKEN_ANSWERS[case]
    server.scripts[TOKEN_PATH] = lambda h, q: h.answer(status, body)
    with pytest.raises(kind, match=match) as err:
        server.client().get_collection("c1")
    assert isinstance(err.value, ByocframeError)
    assert server.base_url + TOKEN_PATH in str(err.value)
    assert SECRET not in str(err.value)
    assert server.api_requests() == []  # no API request without a token


def test_causes_are_chained(server):
    server.api("/collections", lambda h, q: h.answer(200, b"{broken"))
    with pytest.raises(TransportError) as err:
        list(server.client().iter_collections())
    assert isinstance(err.value.__cause__, ValueError)


def test_closed_client_refuses(server):
    server.api("/collections", lambda h, q: h.answer(200, _page([])))
    with server.client() as client:
        assert list(client.iter_collections()) == []
    with pytest.raises(ValueError, match="closed"):
        list(client.iter_collections())


# ---------------------------------------------------------------------- answer sizes
def test_a_declared_huge_body_is_refused_before_reading(server):
    """Today: MemoryError at once for Content-Length: 107374182400."""
    server.api(
        "/collections",
        lambda h, q: h.raw("HTTP/1.1 200 OK\r\n", {"Content-Length": "107374182400"}, b"{}"),
    )
    with pytest.raises(TransportError, match=r"declares more than .*MAX_ANSWER_BYTES"):
        list(server.client().iter_collections())


def test_a_content_length_of_5000_digits_is_too_large_not_a_value_error(server):
    """int() refuses strings over 4,300 digits: a raw ValueError escaped the client."""
    length = "9" * 5000
    server.api(
        "/collections", lambda h, q: h.raw("HTTP/1.1 200 OK\r\n", {"Content-Length": length}, b"")
    )
    client = server.client()
    with pytest.raises(TransportError, match=r"declares more than .*MAX_ANSWER_BYTES"):
        list(client.iter_collections())
    client.close()


def test_an_endless_chunked_body_is_cut_at_the_limit(server, monkeypatch):
    import byocframe.client.connections

    monkeypatch.setattr(byocframe.client.connections, "MAX_ANSWER_BYTES", 1 << 20)

    def endless(h, q):
        h.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        try:
            for _ in range(200):  # 12.5 MiB if nobody stops reading
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            return

    server.api("/collections", endless)
    with pytest.raises(TransportError, match="sends more than 1,048,576 bytes"):
        list(server.client().iter_collections())


def test_a_gzip_bomb_is_refused_while_decoding(server):
    """Today: a 2 MB body inflating to 2 GiB ends in MemoryError; here 256 MiB of zeros."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    bomb = b"".join(packer.compress(block) for _ in range(256)) + packer.flush()
    assert len(bomb) < 1 << 20
    server.api(
        "/collections",
        lambda h, q: h.answer(200, bomb, {"Content-Encoding": "gzip"}),
    )
    with pytest.raises(TransportError, match="decodes to more than"):
        list(server.client().iter_collections())


def test_json_nested_100000_deep_is_a_transport_error(server):
    """Today: a bare RecursionError."""
    deep = b"[" * 100_000 + b"]" * 100_000
    server.api("/collections", lambda h, q: h.answer(200, deep))
    with pytest.raises(TransportError, match="nested deeper than Python reads"):
        list(server.client().iter_collections())


# ---------------------------------------------------------------------- proxies
def _only_proxy(monkeypatch, value: str) -> None:
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", value)


def test_proxy_credentials_go_to_the_proxy_as_proxy_authorization(server, other, monkeypatch):
    """``HTTP_PROXY=http://user:password@host:port`` (as requests and curl read it): the
    proxy gets Basic credentials; urllib3 alone drops them and the proxy answers 407."""
    _only_proxy(monkeypatch, f"http://us%40er:pa55:w0rd@127.0.0.1:{server.server_address[1]}")
    server.scripts["*"] = lambda h, q: h.answer(200, {"data": {"id": "c"}})
    client = other.client()
    assert client.get_collection("c")["id"] == "c"
    assert other.seen == []  # everything went through the proxy
    expected = "Basic " + base64.b64encode(b"us@er:pa55:w0rd").decode()
    assert [h.get("proxy-authorization") for _, _, h, _ in server.seen] == [expected] * 2
    assert "pa55" not in repr(client) + str(client) + repr(client._transport)
    client.close()


def test_a_proxy_without_a_scheme_is_an_http_proxy(server, other, monkeypatch):
    _only_proxy(monkeypatch, f"127.0.0.1:{server.server_address[1]}")  # as curl reads it
    server.scripts["*"] = lambda h, q: h.answer(200, {"data": {"id": "c"}})
    client = other.client()
    assert client.get_collection("c")["id"] == "c"
    client.close()
    assert other.seen == []
    assert len(server.seen) == 2


@pytest.mark.parametrize(
    "proxy",
    [
        "http://me:pa55w0rd@127.0.0.1:99999",
        "http://me:pa55w0rd@[::1",
        "http://me:pa/55w0rd@[::1",
        "socks5://me:pa55w0rd@127.0.0.1:1080",
        "ftp://me:pa55w0rd@127.0.0.1:21",
    ],
)
def test_a_bad_proxy_setting_is_named_without_its_credentials(server, monkeypatch, proxy):
    _only_proxy(monkeypatch, proxy)
    client = server.client(retries=3)
    with pytest.raises(ValidationError, match="HTTP_PROXY") as err:
        client.request("GET", "/collections")
    shown, cause = str(err.value), err.value.__cause__
    while cause is not None:  # tracebacks print the whole chain
        shown += repr(cause) + str(cause)
        cause = cause.__cause__ or cause.__context__
    assert "pa55w0rd" not in shown
    assert "\n" not in str(err.value)
    assert server.seen == []


def test_a_servers_error_message_is_one_short_line(server: Scripted) -> None:
    """Finding 70: a 400 whose message is 950,000 characters over 50,000 lines, and a code
    with a line break, become one line of at most a few hundred characters."""
    words = "\n".join(["the service says:"] * 50_000)
    error = {"error": {"status": 400, "code": "ODD\nCODE", "message": words}}
    server.api("/collections/c1", lambda h, q: h.answer(400, error))
    with pytest.raises(APIError) as caught:
        server.client().get_collection("c1")
    text = str(caught.value)
    assert "\n" not in text
    assert len(text) < 600
    assert text.startswith("400 ODD CODE on GET ")
    assert "the service says: the service says:" in text
    assert caught.value.message.startswith("the service says: the")

"""The transport seam: a client on `byocframe.MockTransport` runs its whole logic
(token, retries, 429 pauses, redirects refused, typed errors) without a socket."""

from __future__ import annotations

import json
import urllib.parse

import pytest

import byocframe
from byocframe import (
    Answer,
    APIError,
    Client,
    MockTransport,
    RateLimitError,
    ServerError,
    TransportError,
)
from byocframe.client.transport import Request

TOKEN = (200, {"access_token": "tok.en", "expires_in": 3600})
BASE = "http://127.0.0.1:1"


def client(mock: MockTransport, **options) -> Client:
    """A client on ``mock`` whose time passes only in its sleeps (kept in ``.slept``)."""
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    mine = Client(
        base_url=BASE,
        client_id="me",
        client_secret="s3cr3t",
        transport=mock,
        clock=lambda: now[0],
        sleep=sleep,
        **options,
    )
    mine.slept = slept  # type: ignore[attr-defined]
    return mine


def test_the_token_request_is_a_form_and_the_token_goes_along():
    mock = MockTransport([TOKEN, (200, {"data": {"id": "c1"}})])
    assert client(mock).get_collection("c1") == {"id": "c1"}
    token, get = mock.requests
    assert token.method == "POST"
    assert token.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(urllib.parse.parse_qsl(token.body.decode()))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "me",
        "client_secret": "s3cr3t",
    }
    assert (get.method, get.url) == ("GET", BASE + "/api/v1/byoc/collections/c1")
    assert get.headers["Authorization"] == "Bearer tok.en"
    assert get.body is None


def test_a_json_body_is_sent_compact_with_its_type():
    mock = MockTransport([TOKEN, (201, {"data": {"id": "c1", "name": "n"}})])
    client(mock).create_collection({"name": "n", "s3Bucket": "b"})
    put = mock.requests[1]
    assert put.headers["Content-Type"] == "application/json"
    assert json.loads(put.body) == {"name": "n", "s3Bucket": "b"}
    assert mock.bodies("POST")[1] == {"name": "n", "s3Bucket": "b"}


def test_a_get_is_retried_after_5xx_and_a_dropped_connection():
    mock = MockTransport([TOKEN, (503, {}), TransportError("cut"), (200, {"data": {"id": "c1"}})])
    mine = client(mock, retries=2)
    assert mine.get_collection("c1") == {"id": "c1"}
    assert len(mock.requests) == 4
    assert len(mine.slept) == 2  # one back-off per retry


def test_a_post_is_not_retried_after_a_dropped_connection():
    mock = MockTransport([TOKEN, TransportError("cut")])
    with pytest.raises(TransportError, match="not retried because the request may have taken"):
        client(mock, retries=3).create_collection({"name": "n", "s3Bucket": "b"})
    assert len(mock.requests) == 2


def test_429s_pause_and_max_total_wait_bounds_them():
    throttled = (429, {}, {"Retry-After": "200000"})  # milliseconds, as Sentinel Hub sends
    mock = MockTransport([TOKEN, *[throttled] * 10])
    mine = client(mock, max_total_wait=500)
    with pytest.raises(RateLimitError, match="more than max_total_wait=500 s"):
        mine.get_collection("c1")
    assert len(mock.requests) == 1 + 3  # two pauses of 200-220 s fit in 500 s, a third not
    assert 400 <= sum(mine.slept) <= 440


def test_a_redirect_is_an_error_not_followed():
    mock = MockTransport([TOKEN, (302, b"", {"Location": "https://elsewhere.example/x"})])
    with pytest.raises(APIError, match="does not follow redirects"):
        client(mock).get_collection("c1")
    assert len(mock.requests) == 2


def test_a_handler_answers_by_request():
    def handler(request: Request):
        if request.url.endswith("/token"):
            return TOKEN
        return Answer(500, b'{"error": {"message": "down"}}', {"content-type": "application/json"})

    mock = MockTransport(handler)
    with pytest.raises(ServerError, match="down") as err:
        client(mock, retries=0).get_collection("c1")
    assert err.value.status_code == 500


def test_a_script_that_runs_out_says_so():
    mock = MockTransport([TOKEN])
    with pytest.raises(TransportError, match="the mock script has no answer left for GET"):
        client(mock, retries=0).get_collection("c1")


def test_a_bad_reply_is_a_type_error():
    mock = MockTransport([TOKEN, "200 OK"])
    with pytest.raises(TypeError, match="got str"):
        client(mock).get_collection("c1")


def test_answers_look_headers_up_in_any_case():
    answer = Answer(200, b"{}", {"Retry-After": "5", "x-a": "1"})
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["X-A"] == "1"


def test_the_mock_is_exported_and_is_a_transport():
    assert byocframe.MockTransport is MockTransport
    transport: byocframe.Transport = MockTransport([])  # the Protocol's two methods
    transport.close()


def test_a_recorded_request_shows_neither_the_token_nor_the_secret():
    """A transport that logs or raises with the Request it got (or a traceback that
    prints locals) must not print the bearer token or the token form's secret."""
    mock = MockTransport([(200, {"access_token": "TOKEN-x1", "expires_in": 3600}), (200, {})])
    client = Client(
        base_url="http://127.0.0.1:1", client_id="me", client_secret="SECRET-y2", transport=mock
    )
    client.request("GET", "/collections")
    token_request, api_request = mock.requests
    assert b"SECRET-y2" in token_request.body  # sent, as it must be
    assert api_request.headers["Authorization"] == "Bearer TOKEN-x1"
    for request in mock.requests:
        assert "SECRET-y2" not in repr(request) + str(request)
        assert "TOKEN-x1" not in repr(request) + str(request)
        assert request.url in repr(request)

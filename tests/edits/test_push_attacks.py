"""Attacks on the split push (tasks, writes, listing checks, verify, proxies): each test
is a way a push lost an edit silently, or reported something false. The server's state
is read back with a client of its own."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse

import pandas as pd
import pytest

import byocframe
from byocframe.client.transport import Answer, HTTPTransport


@pytest.fixture
def service():
    with byocframe.local_service(demo=True, demo_tiles=400) as running:
        yield running


def sensing(service, tid) -> pd.Timestamp:
    return pd.Timestamp(service.client().get_tile(service.demo_collection, tid)["sensingTime"])


def is_listing(request) -> bool:
    path = urllib.parse.urlsplit(request.url).path
    return request.method == "GET" and path.endswith("/tiles") and "path=" not in request.url


def busy_answer(request) -> Answer:
    """A 503 answer to ``request``, as a busy service gives."""
    body = b'{"error": {"status": 503, "reason": "busy"}}'
    return Answer(503, body, {"Content-Type": "application/json"}, url=request.url)


class Hook(HTTPTransport):
    """Calls ``hook(request, response)`` after each API answer, before the caller reads it."""

    def __init__(self, hook):
        super().__init__(pool_size=32)
        self.hook = hook

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        if "/api/v1/byoc/" in request.url:
            hooked = self.hook(request, response)  # a hook may answer instead
            return response if hooked is None else hooked
        return response


class Held:
    """Time for the client of a push run on another thread: real time plus the waits it
    skipped. Its waits pass at once, except the first one after `arm`: that one holds
    until `go` is set, and `waiting` says it began (or that the push ended first)."""

    def __init__(self):
        self.skipped = 0.0
        self.armed = False
        self.waiting = threading.Event()
        self.go = threading.Event()
        self._lock = threading.Lock()

    def arm(self) -> None:
        with self._lock:
            self.armed = self.armed or not self.waiting.is_set()

    def clock(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        with self._lock:
            hold, self.armed = self.armed, False
        if hold:
            self.waiting.set()
            self.go.wait(60)  # the other push runs meanwhile
        with self._lock:
            self.skipped += seconds

    def run(self, push, results: dict, name: str) -> threading.Thread:
        """Start ``push()`` on a thread; its result goes to ``results[name]``."""

        def target():
            try:
                results[name] = push()
            finally:
                self.waiting.set()

        thread = threading.Thread(target=target)
        thread.start()
        return thread


def test_a_paced_push_does_not_overwrite_a_verified_edit_silently(service):
    """The pacer's wait sat between a tile's GET and its PUT: the check-to-write gap was
    the pace's interval, not one round trip. A push that writes and verifies inside that
    gap reports ``ok``, then the paced push overwrites it and reports ``ok`` too. Here
    mine runs whole inside the paced push's first wait after its check."""
    loaded = byocframe.read_tiles(service.client(), service.demo_collection)
    tid = loaded.index[0]
    mine, theirs = loaded.copy(), loaded.copy()
    mine.loc[tid, "sensing_time"] += pd.Timedelta(hours=1)
    theirs.loc[tid, "sensing_time"] += pd.Timedelta(hours=2)
    held = Held()

    def checked(request, response):  # theirs read the tile: hold its next wait
        if request.method == "GET" and request.url.endswith(f"/tiles/{tid}"):
            held.arm()

    paced = service.client(  # 20 a minute: a request every 3 s (skipped, not waited)
        requests_per_minute=20, transport=Hook(checked), clock=held.clock, sleep=held.sleep
    )
    results = {}
    thread = held.run(lambda: byocframe.push(theirs, paced), results, "theirs")
    try:
        assert held.waiting.wait(60)  # theirs checked, and waits (or it is done)
        results["mine"] = byocframe.push(mine, service.client())
    finally:
        held.go.set()
        thread.join()
    final = sensing(service, tid)
    base = loaded.loc[tid, "sensing_time"]
    assert final in (base + pd.Timedelta(hours=1), base + pd.Timedelta(hours=2))
    loser = "theirs" if final == base + pd.Timedelta(hours=1) else "mine"
    assert results[loser].loc[tid, "outcome"] in ("conflict", "overwritten")


def test_a_retried_write_does_not_overwrite_a_verified_edit_silently(service):
    """A PUT answered 503 was retried after a back-off without a new check: a push that
    wrote and verified meanwhile is overwritten, and both report ``ok``. Two pushes of
    ``workers=32`` against the local service (64 connections) reach this by themselves.
    Here mine runs whole inside theirs' back-off."""
    loaded = byocframe.read_tiles(service.client(), service.demo_collection)
    tid = loaded.index[0]
    mine, theirs = loaded.copy(), loaded.copy()
    mine.loc[tid, "sensing_time"] += pd.Timedelta(hours=1)
    theirs.loc[tid, "sensing_time"] += pd.Timedelta(hours=2)
    busy = {"left": 1}
    held = Held()

    class Busy(HTTPTransport):  # the first PUT is answered 503, as a busy service does
        def send(self, request, **kwargs):
            if request.method == "PUT" and busy["left"]:
                busy["left"] -= 1
                held.arm()  # hold theirs in its back-off
                return busy_answer(request)
            return super().send(request, **kwargs)

    slow = service.client(
        transport=Busy(), backoff=3.0, max_backoff=3.0, clock=held.clock, sleep=held.sleep
    )
    results = {}
    thread = held.run(lambda: byocframe.push(theirs, slow), results, "theirs")
    try:
        assert held.waiting.wait(60)  # theirs has checked, and waits to retry its PUT
        results["mine"] = byocframe.push(mine, service.client())
    finally:
        held.go.set()
        thread.join()
    final = sensing(service, tid)
    base = loaded.loc[tid, "sensing_time"]
    assert busy["left"] == 0
    loser = "theirs" if final == base + pd.Timedelta(hours=1) else "mine"
    assert results[loser].loc[tid, "outcome"] in ("conflict", "overwritten")


@pytest.mark.parametrize("edited", [5, 300], ids=["read-tile-by-tile", "read-from-listing"])
def test_a_slow_service_does_not_make_every_check_too_old(service, edited):
    """Each request takes 0.3 s, longer than MAX_READ_AGE: a check's age counts from its
    answer (the time the push holds it), so the writes still go out."""
    from byocframe import Faults

    loaded = byocframe.read_tiles(service.client(), service.demo_collection)
    ids = loaded.index[:edited]
    loaded.loc[ids, "sensing_time"] += pd.Timedelta(hours=1)
    service.faults = Faults(latency=0.3)
    result = byocframe.push(loaded, service.client())
    service.faults = Faults()
    assert (result["outcome"] == "ok").all(), result["message"].unique()[:3]
    assert sensing(service, ids[-1]) == loaded.loc[ids[-1], "sensing_time"]


def test_a_tile_the_verify_listing_leaves_out_is_read_before_it_is_called_deleted(service):
    """The verify takes a tile missing from its listing for deleted by another writer
    and reports ``overwritten``; one GET would have shown the tile holds our write."""
    loaded = byocframe.read_tiles(service.client(), service.demo_collection)
    edited = loaded.copy()
    edited["sensing_time"] += pd.Timedelta(hours=1)
    hidden = loaded.index[5]

    def leave_out(request, response):
        if is_listing(request) and "count=100" in request.url:  # the verify's pages
            body = response.json()
            body["data"] = [t for t in body["data"] if t["id"] != hidden]
            return Answer(200, json.dumps(body).encode(), response.headers, url=response.url)
        return response

    result = byocframe.push(edited, service.client(transport=Hook(leave_out)), workers=32)
    assert sensing(service, hidden) == loaded.loc[hidden, "sensing_time"] + pd.Timedelta(hours=1)
    assert result.loc[hidden, "outcome"] == "ok", result.loc[hidden, "message"]


def test_proxies_are_chosen_for_the_url_sent_not_the_base_url(monkeypatch):
    """Proxy settings are read per origin, not once for ``base_url`` and applied to every
    URL: the token URL and the global lookup are on other hosts (NO_PROXY per host)."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "sh.dataspace.copernicus.eu")
    for name in ("https_proxy", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    transport = HTTPTransport()
    assert transport.proxy_for("https://sh.dataspace.copernicus.eu/api/v1/byoc/collections") is None
    assert (
        transport.proxy_for("https://identity.dataspace.copernicus.eu/token")
        == "http://proxy.invalid:3128"
    )


class Clock:
    """Fake time: ``step`` seconds pass on every reading, and sleeps pass at once."""

    def __init__(self, step: float = 0.0):
        self.now, self.step = 1000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_write_whose_check_is_always_too_old_fails_and_sends_nothing(service):
    loaded = byocframe.read_tiles(service.client(), service.demo_collection)
    tid = loaded.index[0]
    before = sensing(service, tid)
    loaded.loc[tid, "sensing_time"] += pd.Timedelta(hours=1)
    clock = Clock(step=1.0)  # every write would leave a second after its check
    result = byocframe.push(loaded, service.client(clock=clock, sleep=clock.sleep))
    assert result.loc[tid, "outcome"] == "failed"
    assert "push again" in result.loc[tid, "message"]
    assert sensing(service, tid) == before


def test_a_write_whose_answer_was_lost_is_confirmed_by_the_next_check(service):
    """The PUT lands but its answer is a 503; the retry comes after the check got old,
    so the tile is checked again, holds our value: ``ok``, one PUT sent."""
    loaded = byocframe.read_tiles(service.client(), service.demo_collection)
    tid = loaded.index[0]
    loaded.loc[tid, "sensing_time"] += pd.Timedelta(hours=1)
    puts = []

    def lose_first_answer(request, response):
        if request.method == "PUT":
            puts.append(request.url)
            if len(puts) == 1:
                return busy_answer(request)
        return response

    clock = Clock()
    client = service.client(
        transport=Hook(lose_first_answer), clock=clock, sleep=clock.sleep, backoff=1.0
    )
    result = byocframe.push(loaded, client)
    assert result.loc[tid, "outcome"] == "ok"
    assert "confirmed" in result.loc[tid, "message"]
    assert len(puts) == 1
    assert sensing(service, tid) == loaded.loc[tid, "sensing_time"]

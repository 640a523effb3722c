"""How a push reads the tiles it checks: from listing pages when most of the collection
is edited, one GET per tile otherwise, and again with a GET when a page read is too old.
Requests are counted at the transport; the server's state is read back with a client of
its own."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections import Counter

import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.client.transport import HTTPTransport
from byocframe.edits import tilestate
from byocframe.edits.diff import plan
from byocframe.edits.tasks import Outcome, run_tasks
from byocframe.edits.verify import SETTLE, Trail
from byocframe.edits.writes import MAX_READ_AGE, listed_updates

TILE = re.compile(r"/collections/[^/]+/tiles/[^/]+$")
LISTING = re.compile(r"/collections/[^/]+/tiles$")


class Counting(HTTPTransport):
    """Counts API requests by kind; can fail listing pages after the first."""

    def __init__(self, fail_later_pages: bool = False):
        super().__init__(pool_size=32)
        self.kinds: Counter[str] = Counter()
        self.fail_later_pages = fail_later_pages
        self.lock = threading.Lock()

    def send(self, request, **kwargs):
        path = urllib.parse.urlsplit(request.url).path
        if "/api/v1/byoc/" in path:
            if LISTING.search(path):
                kind = f"{request.method} listing"
                if self.fail_later_pages and "viewtoken" in request.url:
                    raise byocframe.TransportError("cut")
            elif TILE.search(path):
                kind = f"{request.method} tile"
            else:
                kind = f"{request.method} other"
            with self.lock:
                self.kinds[kind] += 1
        return super().send(request, **kwargs)


@pytest.fixture
def service():
    with byocframe.local_service(demo=True, demo_tiles=400) as running:
        yield running


def held(service) -> dict[str, pd.Timestamp]:
    """The sensing times on the server, read by a client of its own."""
    return {
        t["id"]: pd.Timestamp(t["sensingTime"])
        for t in service.client().iter_tiles(service.demo_collection)
    }


class Clock:
    """Time that passes only when slept (so no read is ever too old, whatever the load)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_a_dense_push_reads_pages_not_tiles(service):
    transport = Counting()
    clock = Clock()
    client = service.client(transport=transport, clock=clock, sleep=clock.sleep)
    loaded = byocframe.read_tiles(client, service.demo_collection)
    ids = loaded.index[:300]
    loaded.loc[ids, "sensing_time"] += pd.Timedelta(minutes=7)
    preview = byocframe.push(loaded.copy(), client, dry_run=True)
    summary = preview.attrs["byocframe"]["summary"]
    before = held(service)
    transport.kinds.clear()
    result = byocframe.push(loaded, client)
    assert (result["outcome"] == "ok").all()
    assert list(result.index) == list(ids)
    after = held(service)
    for tid in ids:
        assert after[tid] == before[tid] + pd.Timedelta(minutes=7)
    checks, verify = -(-len(before) // 32), -(-len(before) // 100)
    assert transport.kinds["GET tile"] == 0
    assert transport.kinds["PUT tile"] == 300
    # the verify listed the tiles before they settled (no time passed), then again
    assert transport.kinds["GET listing"] <= checks + 2 * verify
    # the dry run's estimate is what the push sent, but for that second verify pass
    # (the listing stops once every edited tile was seen)
    sent = sum(transport.kinds.values())
    estimate = int(re.search(r"([\d,]+) requests", summary)[1].replace(",", ""))
    assert sent - verify <= estimate <= sent + checks


def test_a_sparse_push_reads_each_tile(service):
    transport = Counting()
    client = service.client(transport=transport)
    loaded = byocframe.read_tiles(client, service.demo_collection)
    ids = loaded.index[:5]
    loaded.loc[ids, "sensing_time"] += pd.Timedelta(minutes=3)
    before = held(service)
    transport.kinds.clear()
    result = byocframe.push(loaded, client)
    assert (result["outcome"] == "ok").all()
    assert transport.kinds["GET tile"] == 5  # the checks
    assert 1 <= transport.kinds["GET listing"] <= 4  # the verify (4 pages < 5 tiles)
    after = held(service)
    assert all(after[t] == before[t] + pd.Timedelta(minutes=3) for t in ids)


def test_a_paced_push_reads_each_tile(service):
    transport = Counting()
    client = service.client(transport=transport, requests_per_minute=60_000)
    loaded = byocframe.read_tiles(client, service.demo_collection)
    loaded.loc[loaded.index[:300], "sensing_time"] += pd.Timedelta(minutes=1)
    transport.kinds.clear()
    result = byocframe.push(loaded, client)
    assert (result["outcome"] == "ok").all()
    # each check reads its tile (pages would outlive their read age); the verify may
    # read a few on their own too
    assert 300 <= transport.kinds["GET tile"] < 350


def test_a_page_read_too_long_ago_is_read_again(service):
    """Another writer changes a tile after its page was read: once the page is older
    than MAX_READ_AGE the check reads the tile again, sees it and refuses."""
    clock = Clock()
    client = service.client(clock=clock, sleep=clock.sleep)
    loaded = byocframe.read_tiles(client, service.demo_collection)
    ids = loaded.index[:2]
    loaded.loc[ids, "sensing_time"] += pd.Timedelta(hours=1)
    the_plan = plan(loaded)
    paths = {u.id: str(loaded.loc[u.id, "path"]) for u in the_plan.updates}
    tasks = list(listed_updates(client, service.demo_collection, the_plan.updates, paths))
    theirs = service.client()
    record = theirs.get_tile(service.demo_collection, ids[0])
    other_time = pd.Timestamp(record["sensingTime"]) + pd.Timedelta(hours=5)
    theirs.update_tile(
        service.demo_collection,
        ids[0],
        {**record, "sensingTime": other_time.isoformat().replace("+00:00", "Z")},
    )
    clock.sleep(MAX_READ_AGE + 0.5)
    outcomes = {key: fn() for _, key, fn in tasks}
    assert outcomes[ids[0]].outcome == "conflict"
    assert outcomes[ids[1]].outcome == "ok"
    after = held(service)
    assert after[ids[0]] == other_time  # their write stands
    assert after[ids[1]] == loaded.loc[ids[1], "sensing_time"]


def test_a_listing_cut_part_way_falls_back_to_reading_each_tile(service):
    transport = Counting(fail_later_pages=True)
    client = service.client(transport=transport, retries=1, backoff=0.001)
    loaded = byocframe.read_tiles(service.client(), service.demo_collection)
    ids = loaded.index[:300]
    loaded.loc[ids, "sensing_time"] += pd.Timedelta(minutes=11)
    before = held(service)
    result = byocframe.push(loaded, client)
    assert (result["outcome"] == "ok").all()
    after = held(service)
    assert all(after[t] == before[t] + pd.Timedelta(minutes=11) for t in ids)
    assert transport.kinds["GET tile"] >= 200  # the tiles past the first page


def test_tasks_are_read_only_as_workers_free_up():
    completed = []
    lock = threading.Lock()
    ahead = []

    def task():
        with lock:
            completed.append(1)
        return Outcome("ok")

    def tasks():
        for k in range(60):
            with lock:
                ahead.append(k - len(completed))
            yield ("ping", k, task)

    done = run_tasks(tasks(), workers=2, progress=False, label="", total=60)
    assert [key for _, key, _ in done] == list(range(60))
    assert max(ahead) < 2  # no task was made before a worker was free for it


@pytest.mark.parametrize("edited", [3, 300], ids=["read-tile-by-tile", "read-from-listing"])
def test_the_verify_waits_for_a_write_checked_before_ours(service, edited):
    """Another push checked a tile before our write and writes it within MAX_READ_AGE:
    our verify waits SETTLE after our write, so it sees their value and says so."""
    now = [1000.0]
    theirs = service.client()
    loaded = byocframe.read_tiles(theirs, service.demo_collection)
    ids = loaded.index[:edited]
    target = ids[-1]
    record = theirs.get_tile(service.demo_collection, target)
    their_time = pd.Timestamp(record["sensingTime"]) + pd.Timedelta(days=3)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 1:  # their write lands while we wait to verify
            body = {**record, "sensingTime": their_time.isoformat().replace("+00:00", "Z")}
            theirs.update_tile(service.demo_collection, target, body)
        now[0] += seconds

    client = service.client(clock=lambda: now[0], sleep=sleep)
    loaded.loc[ids, "sensing_time"] += pd.Timedelta(hours=2)
    result = byocframe.push(loaded, client)
    assert waits[0] == pytest.approx(SETTLE)
    assert result.loc[target, "outcome"] == "overwritten"
    assert (result.drop(target)["outcome"] == "ok").all()
    after = held(service)
    assert after[target] == their_time


def test_a_wrong_total_only_sizes_the_bar():
    made = (("ping", k, lambda: Outcome("ok")) for k in range(5))
    done = run_tasks(made, workers=2, progress=False, label="", total=0)
    assert [key for _, key, _ in done] == list(range(5))


class Stamped(Counting):
    """Also notes the (fake) time at which each listing page was asked for."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.listed_at: list[float] = []

    def send(self, request, **kwargs):
        if LISTING.search(urllib.parse.urlsplit(request.url).path):
            self.listed_at.append(self.clock())
        return super().send(request, **kwargs)


def test_the_trail_reads_each_page_once_its_writes_settled(service):
    """The verify's listing pass behind the writes: a page is read only once every
    edited tile on it finished and SETTLE passed since its latest write; tiles not
    written are not kept; nothing is read before its time."""
    clock = Clock()
    transport = Stamped(clock)
    client = service.client(transport=transport, clock=clock, sleep=clock.sleep)
    cid = service.demo_collection
    ids = [t["id"] for t in client.iter_tiles(cid)]  # the listing's order, 400 tiles
    transport.listed_at.clear()
    trail = Trail(client, cid)
    trail.listed(ids[:250], edited=ids[:250])
    trail.listing_done()
    start = clock()
    for tid in ids[:250]:
        trail.finish(tid, Outcome("ok", written_at=start))
    trail.finish(ids[150], Outcome("ok", written_at=start + 0.3))  # page 2 settles later
    trail.finish(ids[7], Outcome("conflict"))  # not written: nothing to verify
    trail.close()  # with a fake clock, the trail waits for its time only after this
    assert set(trail.records) == set(ids[:250]) - {ids[7]}
    assert len(transport.listed_at) == 3  # 100 a page; no page past the edited tiles
    assert transport.listed_at[0] >= start + SETTLE
    assert transport.listed_at[1] >= start + 0.3 + SETTLE
    for tid in ids[:3]:
        assert trail.records[tid]["id"] == tid


def test_the_trail_waits_for_tiles_still_running(service):
    """A page is not read while an edited tile on it has not finished, however late."""
    clock = Clock()
    transport = Stamped(clock)
    client = service.client(transport=transport, clock=clock, sleep=clock.sleep)
    cid = service.demo_collection
    ids = [t["id"] for t in client.iter_tiles(cid)]
    transport.listed_at.clear()
    trail = Trail(client, cid)
    trail.listed(ids[:100], edited=ids[:100])
    for tid in ids[:99]:
        trail.finish(tid, Outcome("ok", written_at=clock() - 10))  # long settled
    clock.sleep(5)
    assert transport.listed_at == []  # ids[99] has not finished, the listing goes on
    trail.listing_done()
    trail.finish(ids[99], Outcome("ok", written_at=clock()))
    trail.close()
    assert transport.listed_at == [clock.now]  # read once ids[99] settled, not before
    assert clock.now >= 1005.0 + SETTLE
    assert len(trail.records) == 100


def test_a_slow_write_is_verified_later(service):
    """Each PUT takes 0.4 s (on the fake clock): another push's check and write may
    spend as long in transit, so the verify waits MAX_READ_AGE + 2 x 0.4 s after the
    write, not SETTLE, before reading the tile back."""
    clock = Clock()
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock.sleep(seconds)

    class Slow(HTTPTransport):
        def send(self, request, **kwargs):
            answer = super().send(request, **kwargs)
            if request.method == "PUT":
                clock.now += 0.4
            return answer

    client = service.client(transport=Slow(), clock=clock, sleep=sleep)
    loaded = byocframe.read_tiles(client, service.demo_collection)
    ids = loaded.index[:3]
    loaded.loc[ids, "sensing_time"] += pd.Timedelta(hours=5)
    result = byocframe.push(loaded, client, workers=1)
    assert (result["outcome"] == "ok").all()
    assert slept == [pytest.approx(MAX_READ_AGE + 2 * 0.4)]  # SETTLE would be 0.5


@pytest.mark.parametrize("edited", [3, 300], ids=["read-tile-by-tile", "read-from-listing"])
def test_a_kept_cover_goes_back_as_the_server_sent_it(service, edited, monkeypatch):
    """A sensing-time edit sends the tile's cover exactly as the server showed it (no
    round trip through shapely: only the edited cover is encoded); an edited cover is
    sent as edited."""
    sent = {}
    encoded = []
    encode = tilestate.geometries_to_geojson

    def counted(geoms, crs):
        encoded.append(len(geoms))
        return encode(geoms, crs)

    monkeypatch.setattr(tilestate, "geometries_to_geojson", counted)

    class Bodies(HTTPTransport):
        def send(self, request, **kwargs):
            if request.method == "PUT":
                tid = urllib.parse.urlsplit(request.url).path.rsplit("/", 1)[-1]
                sent[tid] = json.loads(request.body)
            return super().send(request, **kwargs)

    client = service.client(transport=Bodies())
    shown = {t["id"]: t for t in client.iter_tiles(service.demo_collection)}
    loaded = byocframe.read_tiles(client, service.demo_collection)
    ids = loaded.index[:edited]
    loaded.loc[ids, "sensing_time"] += pd.Timedelta(minutes=3)
    moved = ids[0]
    loaded.loc[moved, "geometry"] = shapely.affinity.translate(loaded.loc[moved, "geometry"], 0.001)
    result = byocframe.push(loaded, client)
    assert (result["outcome"] == "ok").all()
    for tid in ids[1:]:
        assert sent[tid]["coverGeometry"] == shown[tid]["coverGeometry"]
    assert sent[moved]["coverGeometry"] != shown[moved]["coverGeometry"]
    assert encoded == [1]  # the moved tile's cover, and no other

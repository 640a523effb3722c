"""The service's shortcuts give the answers of the slow paths they skip.

Each shortcut (the token memo, the fast JSON tree check, the cover memo, the narrower
tile UPDATE, the plain-head parser) is compared with the code it stands in for, on
inputs chosen to tell them apart if they ever differed.
"""

from __future__ import annotations

import io
import json
import sqlite3

import pytest

import byocframe
from byocframe.emulator import covers, validate
from byocframe.emulator.auth import TokenIssuer
from byocframe.emulator.problems import ApiProblem
from byocframe.emulator.server import RequestHandler
from byocframe.emulator.store import SameCover, Store

SQUARE = [[500000.0, 0.0], [500100.0, 0.0], [500100.0, 100.0], [500000.0, 100.0]]


def _polygon(ring, crs="urn:ogc:def:crs:EPSG::32633", kind="Polygon"):
    ring = [list(p) for p in ring] + [list(ring[0])]
    coords = [ring] if kind == "Polygon" else [[ring]]
    return {
        "type": kind,
        "crs": {"type": "name", "properties": {"name": crs}},
        "coordinates": coords,
    }


@pytest.fixture(autouse=True)
def _fresh_memo():
    covers._MEMO.clear()
    yield
    covers._MEMO.clear()


# ---------------------------------------------------------------------- tokens
def test_a_remembered_token_still_expires_on_time():
    now = [1000.0]
    issuer = TokenIssuer("id", "secret", lifetime=60, clock=lambda: now[0])
    token = issuer.issue()["access_token"]
    assert issuer.check(token) == "id"
    now[0] = 1059.0
    assert issuer.check(token) == "id"
    now[0] = 1060.0  # exp <= now: expired, as before the memo
    assert issuer.check(token) is None
    assert issuer.check(token) is None


def test_a_remembered_token_dies_with_its_credentials():
    issuer = TokenIssuer("id", "secret")
    token = issuer.issue()["access_token"]
    assert issuer.check(token) == "id"
    issuer.client_secret = "another secret"
    assert issuer.check(token) is None


def test_bad_tokens_are_not_remembered():
    issuer = TokenIssuer("id", "secret")
    token = issuer.issue()["access_token"]
    for bad in (token + "x", "a.b.c", "", "....", token.replace(".", "", 1)):
        assert issuer.check(bad) is None
    assert list(issuer._verified) == []


# ---------------------------------------------------------------------- the JSON tree
@pytest.mark.parametrize(
    "body",
    [
        {"a": 1.5, "b": [1, "x", None, True, {"c": -(2**63 - 1)}]},
        {"a": 2**63},
        {"a": [-(2**63)]},
        {"a": [float("inf")]},
        {"a": {"b": float("nan")}},
        {"deep": json.loads("[" * 31 + "1" + "]" * 31)},
        {"deep": json.loads("[" * 32 + "1" + "]" * 32)},
        {"deep": json.loads("[" * 32 + "]" * 32)},
        {"deep": json.loads("[" * 33 + "]" * 33)},
        {"deep": json.loads('{"x":' * 31 + "{}" + "}" * 31)},
        {"deep": json.loads('{"x":' * 32 + "{}" + "}" * 32)},
        {"deep": json.loads('{"x":' * 32 + '{"y": 1}' + "}" * 32)},
        {"x": 1e308, "y": -0.0, "z": False},
    ],
)
def test_the_fast_tree_check_agrees_with_the_one_that_names_fields(body):
    try:
        validate._check_tree(body)
        expected = None
    except ApiProblem as problem:
        expected = problem.message
    assert validate._tree_ok(body) is (expected is None)
    text = json.dumps(body).encode()
    if expected is None:
        assert validate.parse_body(text) == body
    else:
        with pytest.raises(ApiProblem) as raised:
            validate.parse_body(text)
        assert raised.value.message == expected


# ---------------------------------------------------------------------- covers
def _read_fresh(geojson, field="coverGeometry"):
    covers._MEMO.clear()
    return covers.read_cover(geojson, field)


def test_a_remembered_cover_is_the_cover_read_again():
    cover = covers.read_cover(_polygon(SQUARE))
    again = covers.read_cover(_polygon(SQUARE))
    assert again == cover == _read_fresh(_polygon(SQUARE))
    again.polygons84[0][0][0][0] = 99.0  # a caller's change stays its own
    assert covers.read_cover(_polygon(SQUARE)) == cover


@pytest.mark.parametrize(
    "other",
    [
        _polygon(SQUARE, crs="urn:ogc:def:crs:EPSG::32634"),  # same numbers, another CRS
        _polygon(SQUARE, kind="MultiPolygon"),
        _polygon([[500000.0, -0.0], *SQUARE[1:]]),  # -0.0 is not 0.0 on the wire
        _polygon([[500000.0, 0.0], [500100.0, 0.0], [500100.0, 100.0], [500000.0, 99.0]]),
        _polygon([[500000, 0], [500100, 0], [500100, 100], [500000, 100]]),  # ints
    ],
)
def test_a_cover_that_differs_is_read_afresh(other):
    covers.read_cover(_polygon(SQUARE))
    got = covers.read_cover(other)
    assert got == _read_fresh(other)
    assert json.dumps(got.polygons84) == json.dumps(_read_fresh(other).polygons84)


@pytest.mark.parametrize(
    "other",
    [
        _polygon([[500000.0, True], *SQUARE[1:]]),  # True == 1 but is no number
        {
            **_polygon(SQUARE),
            "coordinates": [[tuple(p) for p in _polygon(SQUARE)["coordinates"][0]]],
        },
        {**_polygon(SQUARE), "type": "Point"},
    ],
)
def test_a_cover_that_only_looks_the_same_is_still_refused(other):
    covers.read_cover(_polygon([[500000.0, 1.0], *SQUARE[1:]]))
    covers.read_cover(_polygon(SQUARE))
    with pytest.raises(ApiProblem) as fresh:
        _read_fresh(other)
    covers.read_cover(_polygon([[500000.0, 1.0], *SQUARE[1:]]))
    covers.read_cover(_polygon(SQUARE))
    with pytest.raises(ApiProblem) as remembered:
        covers.read_cover(other)
    assert remembered.value.message == fresh.value.message


def test_the_memo_forgets_the_oldest_covers_within_its_size():
    memo = covers._Memo(capacity=3000)
    for x in range(20):
        geojson = _polygon([[500000.0 + x, 0.0], *SQUARE[1:]])
        memo.put(covers._memo_key(geojson), covers._read(geojson, "c"))
    assert 0 < memo._used <= 3000
    assert memo.get(covers._memo_key(_polygon(SQUARE))) is None
    last = _polygon([[500019.0, 0.0], *SQUARE[1:]])
    assert memo.get(covers._memo_key(last)) == covers._read(last, "c")


# ---------------------------------------------------------------------- PUT over HTTP
def _docs_after(puts, *, forget):
    with byocframe.local_service(demo=True, demo_tiles=3, ingestion_delay=0) as service:
        client = service.client()
        cid = next(client.iter_collections())["id"]
        tile = next(t for t in client.iter_tiles(cid) if t.get("coverGeometry"))
        docs = []
        for change in puts:
            if forget:
                covers._MEMO.clear()
            body = {"path": tile["path"], "sensingTime": tile["sensingTime"]}
            body.update(change(tile))
            client.update_tile(cid, tile["id"], body)
            docs.append(client.get_tile(cid, tile["id"]))
        return docs


def _other_crs(tile):
    """A cover in WGS84 for a tile in UTM: same kind of numbers, another CRS."""
    ring = [[15.0, 0.0], [15.1, 0.0], [15.1, 0.1]]
    return {"coverGeometry": _polygon(ring, crs="urn:ogc:def:crs:EPSG::4326")}


def test_put_answers_and_stores_what_it_would_without_the_memo():
    puts = [
        lambda t: {"coverGeometry": t["coverGeometry"]},
        lambda t: {"coverGeometry": t["coverGeometry"]},  # the same cover again
        lambda t: {"coverGeometry": t["coverGeometry"], "sensingTime": None},
        _other_crs,
        lambda t: {"coverGeometry": t["coverGeometry"]},
        lambda t: {},  # no cover: back to the tile's box
        lambda t: {"coverGeometry": t["coverGeometry"]},
    ]
    with_memo = _docs_after(puts, forget=False)
    without = _docs_after(puts, forget=True)
    assert [_comparable(d) for d in with_memo] == [_comparable(d) for d in without]


def _comparable(doc):
    """A tile answer without what differs between two services (ids, times)."""
    return {k: v for k, v in doc.items() if k not in ("id", "created", "ingestionStart")}


# ---------------------------------------------------------------------- the narrow UPDATE
def test_a_tile_row_keeps_its_columns_in_step_with_its_state(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    cid = store.create_collection({"name": "c", "s3Bucket": "b"})["id"]
    tid = json.loads(store.create_tile(cid, {"path": "t/(BAND).tif"}))["id"]
    store.update_tile(cid, tid, {"sensingTime": "2024-01-01T00:00:00.000Z", "cover": None})

    def move(state):
        state["path"], state["status"] = "u/(BAND).tif", "FAILED"
        return True

    store.change_tile(cid, tid, move)
    store.update_tile(cid, tid, {"sensingTime": None, "cover": None})
    store.close()
    conn = sqlite3.connect(str(tmp_path / "s.sqlite"))
    row = conn.execute(
        "SELECT collection_id, path, status, sensing_time, state, doc FROM tiles"
    ).fetchone()
    state = json.loads(row[4])
    assert row[:4] == (state["collection"], state["path"], state["status"], None)
    assert (row[1], row[2]) == ("u/(BAND).tif", "FAILED")
    assert json.loads(row[5])["path"] == "u/(BAND).tif"
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# ---------------------------------------------------------------------- plain heads
class _Bare(RequestHandler):
    """A handler with no connection: only the parsing."""

    def __init__(self):
        self._expect_continue = False
        self.rfile = io.BufferedReader(io.BytesIO(b""))

    def send_error(self, code, message=None, explain=None):  # pragma: no cover
        raise AssertionError(f"{code} {message}")


def _parsed(head: bytes, plain: bool):
    handler = _Bare()
    lines = [line + b"\n" for line in head.split(b"\n")[:-1]]
    handler.raw_requestline = lines[0]
    ok = handler._parse_plain(lines) if plain else handler._parse_head(lines)
    if not ok:
        return None
    return (
        handler.command,
        handler.path,
        handler.request_version,
        handler.requestline,
        handler.close_connection,
        handler._expect_continue,
        vars(handler.headers),
    )


@pytest.mark.parametrize(
    "head",
    [
        b"GET /api/v1/byoc/collections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a.b.c\r\n\r\n",
        b"PUT  //a//b?x=1  HTTP/1.1\r\nContent-Length: 2\r\nX-Empty:\r\nX-Pad:  v \t\r\n\r\n",
        b"GET / HTTP/1.1\r\nConnection: Close\r\nExpect: 100-Continue\r\n\r\n",
        b"GET / HTTP/1.1\r\nConnection: keep-alive\r\nconnection: close\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nA: 1\r\nA: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ],
)
def test_a_plain_head_parses_as_the_standard_parser_reads_it(head):
    assert _parsed(head, plain=True) == _parsed(head, plain=False) is not None


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET / HTTP/1.1\r\n folded\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: caf\xe9\r\n\r\n",
        b"GET / HTTP/1.1\nHost: x\n\n",
        b"GET / HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Type: message/rfc822\r\n\r\n",
        b"GET /\xa0x HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 65 + b"\r\n",
    ],
)
def test_other_heads_go_to_the_standard_parser(head):
    assert _parsed(head, plain=True) is None


# ---------------------------------------------------------------------- a cover sent back
@pytest.fixture
def read_counted(monkeypatch):
    """Counts the covers the service really reads (memo misses included)."""
    calls = []
    real = covers._read

    def counted(geojson, field):
        calls.append(geojson)
        return real(geojson, field)

    monkeypatch.setattr(covers, "_read", counted)
    return calls


def test_a_cover_sent_back_as_shown_is_kept_as_stored(read_counted):
    with byocframe.local_service(demo=True, demo_tiles=3, ingestion_delay=0) as service:
        client = service.client()
        cid = service.demo_collection
        tile = next(t for t in client.iter_tiles(cid) if t.get("coverGeometry"))
        body = {"path": tile["path"], "sensingTime": "2024-05-06T07:08:09.000Z"}
        client.update_tile(cid, tile["id"], {**body, "coverGeometry": tile["coverGeometry"]})
        after = client.get_tile(cid, tile["id"])
        assert read_counted == []  # not read again: no round trip through CRS84
        assert after["coverGeometry"] == tile["coverGeometry"]  # to the last bit
        assert after["sensingTime"] == body["sensingTime"]
        moved = json.loads(json.dumps(tile["coverGeometry"]))
        ring = _first_ring(moved)
        ring[0][0] += 1.0  # the first (and last) corner 1 m east
        ring[-1][0] += 1.0
        client.update_tile(cid, tile["id"], {**body, "coverGeometry": moved})
        assert len(read_counted) == 1  # another cover is read and checked as before
        shown = _first_ring(client.get_tile(cid, tile["id"])["coverGeometry"])
        assert shown[0][0] == pytest.approx(ring[0][0], abs=1e-6)


def _first_ring(cover):
    rings = cover["coordinates"] if cover["type"] == "Polygon" else cover["coordinates"][0]
    return rings[0]


def test_a_cover_changed_since_the_comparison_is_read_as_sent(tmp_path):
    """The PUT compares before its transaction; if another PUT changed the cover in
    between, the cover sent wins, as in any last-write-wins update."""
    store = Store(str(tmp_path / "s.sqlite"))
    cid = store.create_collection({"name": "c", "s3Bucket": "b"})["id"]
    first = _polygon(SQUARE)
    tid = json.loads(
        store.create_tile(cid, {"path": "t/(BAND).tif", "cover": covers.read_cover(first)})
    )["id"]
    shown = store.shown_cover(cid, tid)
    other = _polygon([[x + 50.0, y] for x, y in SQUARE])
    store.update_tile(cid, tid, {"cover": covers.read_cover(other)})  # the other PUT
    store.update_tile(cid, tid, {"cover": SameCover(shown)})  # ours, compared before it
    now = store.shown_cover(cid, tid)
    store.close()
    assert now["crs"] == shown["crs"]
    flat = [v for position in _first_ring(now) for v in position]
    assert flat == pytest.approx([v for p in _first_ring(shown) for v in p], abs=1e-6)


def test_a_put_to_a_missing_tile_is_still_404():
    with byocframe.local_service(demo=True, demo_tiles=2, ingestion_delay=0) as service:
        client = service.client()
        cid = service.demo_collection
        tile = next(client.iter_tiles(cid))
        body = {"path": tile["path"], "coverGeometry": tile.get("coverGeometry")}
        missing = "00000000-0000-4000-8000-000000000000"
        with pytest.raises(byocframe.NotFoundError):
            client.update_tile(cid, missing, body)

"""Row-level SQL of the local service's store: collection and tile rows, bucket files.

Each function takes the connection and runs inside the caller's transaction (or under
its lock, for a read); none opens a transaction or takes a lock of its own. `Store`
(`byocframe.emulator.store`) composes them into the service's operations. A tile row
keeps the tile's whole state (``state``) and its rendered JSON answer (``doc``) beside
the indexed columns (collection, path, status, sensing time, box in CRS84).

Examples
--------
>>> from byocframe.emulator.schema import open_database
>>> conn = open_database(":memory:")
>>> _ = conn.execute("INSERT INTO collections (id, doc) VALUES ('c', ?)", ('{"id": "c"}',))
>>> state = {"id": "t", "collection": "c", "path": "a/(BAND).tif", "status": "INGESTED",
...          "created": "2026-01-01T00:00:00.000000Z", "sensingTime": "2026-01-01T00:00:00Z"}
>>> answer = write_tile(conn, state, insert=True)
>>> read_tile(conn, "c", "t")["path"], tile_answer(conn, "t") == answer
('a/(BAND).tif', True)
>>> touch(conn, "c", now=100.0)
>>> doc = collection_with_metadata(conn, read_collection(conn, "c"), clock=lambda: 102.0)
>>> doc["additionalData"]["hasSensingTimes"], doc["requiresMetadataUpdate"]
('YES', True)
>>> items, token = tile_page(conn, "c", count=10, token=None, sort="created:asc",
...                          path=None, status="INGESTED")
>>> len(items), token
(1, None)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from byocframe.emulator.coords import bbox, box_rings, transform_polygons
from byocframe.emulator.problems import not_found
from byocframe.emulator.render import render_tile, to_json
from byocframe.emulator.validate import decode_token, encode_token

__all__ = [
    "collection_page",
    "collection_with_metadata",
    "configure_bands",
    "files_under",
    "files_under_many",
    "index_keys",
    "insert_files",
    "name_matches",
    "read_collection",
    "read_tile",
    "reset_cover",
    "set_cover",
    "tile_answer",
    "tile_page",
    "touch",
    "write_new_tiles",
    "write_tile",
]


def read_collection(conn: sqlite3.Connection, cid: str) -> dict[str, Any]:
    """The stored collection document (without its computed metadata).

    Raises
    ------
    ApiProblem
        404 when there is no such collection.

    Examples
    --------
    >>> from byocframe.emulator.problems import ApiProblem
    >>> from byocframe.emulator.schema import open_database
    >>> try:
    ...     read_collection(open_database(":memory:"), "nope")
    ... except ApiProblem as err:
    ...     print(err.status, err.message)
    404 Collection nope not found.
    """
    row = conn.execute("SELECT doc FROM collections WHERE id = ?", (cid,)).fetchone()
    if row is None:
        raise not_found("Collection", cid)
    return json.loads(row[0])


def collection_with_metadata(
    conn: sqlite3.Connection, doc: dict[str, Any], clock: Callable[[], float]
) -> dict[str, Any]:
    """The collection as the API shows it: ``doc`` with the metadata of its ingested tiles.

    Adds ``hasSensingTimes``, the sensing time range, the extent and the coarsest
    resolution to ``additionalData``, and ``requiresMetadataUpdate`` (a tile changed in
    the last 5 s of ``clock``).
    """
    cid = doc["id"]
    row = conn.execute(
        "SELECT count(*), count(sensing_time), min(sensing_time), max(sensing_time), "
        "min(west), min(south), max(east), max(north) "
        "FROM tiles WHERE collection_id = ? AND status = 'INGESTED'",
        (cid,),
    ).fetchone()
    total, timed, first, last, west, south, east, north = row
    extra = dict(doc.get("additionalData") or {})
    if total:
        extra["hasSensingTimes"] = "YES" if timed == total else "PARTIALLY" if timed else "NO"
        if first:
            extra["fromSensingTime"] = first
            extra["toSensingTime"] = last
        extra["extent"] = {
            "type": "Polygon",
            "coordinates": [
                [[west, south], [east, south], [east, north], [west, north], [west, south]]
            ],
        }
        res = conn.execute(
            "SELECT max(json_extract(doc, '$.additionalData.maxMetersPerPixel')) "
            "FROM tiles WHERE collection_id = ? AND status = 'INGESTED'",
            (cid,),
        ).fetchone()[0]
        if res:
            extra["maxMetersPerPixel"] = float(res)
    out = dict(doc)
    out["additionalData"] = extra
    dirty = conn.execute("SELECT dirty_since FROM collections WHERE id = ?", (cid,)).fetchone()[0]
    out["requiresMetadataUpdate"] = bool(dirty is not None and clock() - dirty < 5.0)
    return out


def collection_page(
    conn: sqlite3.Connection,
    *,
    search: str | None,
    count: int,
    token: str | None,
    clock: Callable[[], float],
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of collections as the API shows them, and the token of the next page.

    ``search`` keeps the collections whose name matches it (`name_matches`).
    """
    start = decode_token(token, "created:asc") if token else 0
    rows = conn.execute(
        "SELECT seq, doc FROM collections WHERE seq > ? ORDER BY seq", (start,)
    ).fetchall()
    docs = []
    for seq, text in rows:
        doc = json.loads(text)
        if search and not name_matches(search, doc):
            continue
        docs.append((seq, collection_with_metadata(conn, doc, clock)))
        if len(docs) > count:
            break
    more = len(docs) > count
    docs = docs[:count]
    next_token = encode_token("created:asc", docs[-1][0]) if more and docs else None
    return [d for _, d in docs], next_token


def configure_bands(conn: sqlite3.Connection, cid: str, bands: dict[str, Any]) -> None:
    """Set the bands of a collection that has none yet (its first ingested tile)."""
    doc = read_collection(conn, cid)
    if (doc.get("additionalData") or {}).get("bands"):
        return
    doc.setdefault("additionalData", {})["bands"] = bands
    doc["isConfigured"] = True
    conn.execute("UPDATE collections SET doc = ? WHERE id = ?", (to_json(doc), cid))


def touch(conn: sqlite3.Connection, cid: str, now: float) -> None:
    """Note that a tile of the collection changed at ``now`` (``requiresMetadataUpdate``)."""
    conn.execute("UPDATE collections SET dirty_since = ? WHERE id = ?", (now, cid))


def read_tile(conn: sqlite3.Connection, cid: str, tid: str) -> dict[str, Any]:
    """The stored state of a tile of the collection.

    Raises
    ------
    ApiProblem
        404 when the collection (first) or the tile does not exist.
    """
    read_collection(conn, cid)
    row = conn.execute(
        "SELECT state FROM tiles WHERE id = ? AND collection_id = ?", (tid, cid)
    ).fetchone()
    if row is None:
        raise not_found("Tile", tid)
    return json.loads(row[0])


def tile_answer(conn: sqlite3.Connection, tid: str) -> str:
    """The stored JSON answer of a tile known to exist."""
    return str(conn.execute("SELECT doc FROM tiles WHERE id = ?", (tid,)).fetchone()[0])


def index_keys(state: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """The indexed columns of a tile row: collection, path, status.

    Examples
    --------
    >>> index_keys({"collection": "c", "path": "a/b.tif", "status": "WAITING", "id": "t"})
    ('c', 'a/b.tif', 'WAITING')
    """
    return state["collection"], state["path"], state["status"]


def set_cover(state: dict[str, Any], cover: Any) -> None:
    """Store a validated `~byocframe.emulator.validate.Cover` on a tile state.

    The cover's polygons in CRS84 and its kind replace the state's; the cover's CRS
    becomes the tile's only when the tile has none yet.
    """
    state["cover84"] = cover.polygons84
    state["coverType"] = cover.kind
    state.setdefault("crs", cover.crs)


def reset_cover(state: dict[str, Any]) -> None:
    """Reset a tile state's cover to the tile's bounding box (none if it has no box yet).

    What a PUT without a cover does, as the API does.
    """
    state.pop("cover84", None)
    state.pop("coverType", None)
    if state.get("tileBox"):
        box = [box_rings(state["tileBox"])]
        state["cover84"] = transform_polygons(box, state["crs"], "EPSG:4326")
        state["coverType"] = "Polygon"


def write_tile(
    conn: sqlite3.Connection,
    state: dict[str, Any],
    *,
    insert: bool = False,
    native: list[Any] | None = None,
    indexed: bool = True,
) -> str:
    """Insert or update a tile row; return its rendered answer.

    ``native`` is the cover already in the tile's CRS (else it is transformed).
    ``indexed=False`` promises that the indexed columns (collection, path, status)
    keep their stored values: the update then leaves them, and their index entries,
    alone.

    Raises
    ------
    sqlite3.IntegrityError
        On insert, when the collection already has a tile at the path.
    """
    box = bbox(state["cover84"]) if state.get("cover84") else (None,) * 4
    doc = render_tile(state, native)
    values = (
        state.get("sensingTime"),
        state.get("crs"),
        *box,
        to_json(state),
        doc,
        state["id"],
    )
    keys = index_keys(state)
    if insert:
        conn.execute(
            "INSERT INTO tiles (collection_id, path, status, sensing_time, crs, "
            "west, south, east, north, state, doc, id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*keys, *values),
        )
    elif indexed:
        conn.execute(
            "UPDATE tiles SET collection_id = ?, path = ?, status = ?, sensing_time = ?, "
            "crs = ?, west = ?, south = ?, east = ?, north = ?, state = ?, "
            "doc = ? WHERE id = ?",
            (*keys, *values),
        )
    else:
        conn.execute(
            "UPDATE tiles SET sensing_time = ?, crs = ?, west = ?, south = ?, east = ?, "
            "north = ?, state = ?, doc = ? WHERE id = ?",
            values,
        )
    return doc


def write_new_tiles(
    conn: sqlite3.Connection, states: Sequence[dict[str, Any]], natives: Sequence[Any]
) -> None:
    """Insert many new tile rows in one statement, as `write_tile` inserts one.

    ``natives[k]`` is the cover of ``states[k]`` already in its CRS, or None.

    Raises
    ------
    sqlite3.IntegrityError
        When the collection already has a tile at one of the paths.

    Examples
    --------
    >>> from byocframe.emulator.schema import open_database
    >>> conn = open_database(":memory:")
    >>> state = {"id": "t", "collection": "c", "path": "a", "status": "WAITING",
    ...          "created": "2026-01-01T00:00:00.000000Z"}
    >>> write_new_tiles(conn, [state], [None])
    >>> tile_answer(conn, "t")
    '{"id":"t","created":"2026-01-01T00:00:00.000000Z","path":"a","status":"WAITING"}'
    """
    conn.executemany(
        "INSERT INTO tiles (collection_id, path, status, sensing_time, crs, "
        "west, south, east, north, state, doc, id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                *index_keys(state),
                state.get("sensingTime"),
                state.get("crs"),
                *(bbox(state["cover84"]) if state.get("cover84") else (None,) * 4),
                to_json(state),
                render_tile(state, native),
                state["id"],
            )
            for state, native in zip(states, natives, strict=True)
        ),
    )


def tile_page(
    conn: sqlite3.Connection,
    cid: str,
    *,
    count: int,
    token: str | None,
    sort: str,
    path: str | None,
    status: str | None,
) -> tuple[list[str], str | None]:
    """A page of tile answers (JSON texts) of a collection and the token of the next page.

    ``sort`` and ``status`` are checked by `~byocframe.emulator.validate.tile_listing`.

    Raises
    ------
    ApiProblem
        404 when there is no such collection; 400 for a token of another listing.
    """
    key_column, direction = sort.split(":")
    column = "seq" if key_column == "created" else "path"
    op, order = (">", "ASC") if direction == "asc" else ("<", "DESC")
    where: list[str] = ["collection_id = ?"]
    args: list[int | str] = [cid]
    if path is not None:
        where.append("path = ?")
        args.append(path)
    if status is not None:
        where.append("status = ?")
        args.append(status)
    if token:
        where.append(f"{column} {op} ?")
        args.append(decode_token(token, sort))
    sql = (
        f"SELECT {column}, doc FROM tiles WHERE {' AND '.join(where)} "
        f"ORDER BY {column} {order} LIMIT ?"
    )
    read_collection(conn, cid)
    rows = conn.execute(sql, (*args, count + 1)).fetchall()
    more = len(rows) > count
    rows = rows[:count]
    next_token = encode_token(sort, rows[-1][0]) if more else None
    return [doc for _, doc in rows], next_token


def insert_files(conn: sqlite3.Connection, bucket: str, rows: Sequence[tuple[Any, ...]]) -> int:
    """Add (or replace) files of a virtual bucket; return how many.

    ``rows`` come from `~byocframe.emulator.validate.manifest_rows`.
    """
    conn.executemany(
        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(bucket, *row) for row in rows],
    )
    return len(rows)


def files_under(conn: sqlite3.Connection, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
    """Files of a virtual bucket whose key starts with ``prefix``, by key.

    Examples
    --------
    >>> from byocframe.emulator.schema import open_database
    >>> conn = open_database(":memory:")
    >>> row = ("b", "a/x.tif", "EPSG:32633", 0, 0, 10, 10, 10.0, 16, "UINT", 1)
    >>> _ = conn.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    >>> list(files_under(conn, "b", "a/")), list(files_under(conn, "b", "a/y"))
    (['a/x.tif'], [])
    """
    # a key range walks the (bucket, key) index; substr keeps the match exact
    end = None
    if prefix and prefix[-1] < "\U0010ffff":
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    bound = "" if end is None else "AND key < ? "
    rows = conn.execute(
        "SELECT key, crs, xmin, ymin, xmax, ymax, resolution, bit_depth, sample_format, "
        f"bands FROM files WHERE bucket = ? AND key >= ? {bound}"
        "AND substr(key, 1, ?) = ?",
        (bucket, prefix, *([end] if end else []), len(prefix), prefix),
    ).fetchall()
    return {row[0]: _file_info(row[1:]) for row in rows}


def _file_info(row: Sequence[Any]) -> dict[str, Any]:
    """What a file row of `files_under` says: crs, bounds, resolution, ..."""
    crs, x0, y0, x1, y1, res, depth, fmt, bands = row
    return {
        "crs": crs,
        "bounds": [x0, y0, x1, y1],
        "resolution": res,
        "bitDepth": depth,
        "sampleFormat": fmt,
        "bands": bands,
    }


def files_under_many(
    conn: sqlite3.Connection, bucket: str, prefixes: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """`files_under` for many prefixes in one query: ``{prefix: {key: info}}``.

    Examples
    --------
    >>> from byocframe.emulator.schema import open_database
    >>> conn = open_database(":memory:")
    >>> for key in ("a/x.tif", "a/y.tif", "b/x.tif"):
    ...     row = ("b", key, "EPSG:32633", 0, 0, 10, 10, 10.0, 16, "UINT", 1)
    ...     _ = conn.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    >>> {p: sorted(f) for p, f in files_under_many(conn, "b", ["a/", "c/"]).items()}
    {'a/': ['a/x.tif', 'a/y.tif'], 'c/': []}
    """
    out: dict[str, dict[str, dict[str, Any]]] = {prefix: {} for prefix in prefixes}
    ranged = [p for p in out if p and p[-1] < "\U0010ffff"]
    for prefix in out.keys() - set(ranged):  # no key range ends them: one query each
        out[prefix] = files_under(conn, bucket, prefix)
    # the prefixes drive the join (CROSS JOIN keeps that order): a key range each
    bounds = [[p, p[:-1] + chr(ord(p[-1]) + 1)] for p in ranged]
    rows = conn.execute(
        "SELECT json_extract(p.value, '$[0]'), f.key, f.crs, f.xmin, f.ymin, f.xmax, f.ymax, "
        "f.resolution, f.bit_depth, f.sample_format, f.bands "
        "FROM json_each(?) p CROSS JOIN files f ON f.bucket = ? "
        "AND f.key >= json_extract(p.value, '$[0]') AND f.key < json_extract(p.value, '$[1]') "
        "AND substr(f.key, 1, length(json_extract(p.value, '$[0]'))) = "
        "json_extract(p.value, '$[0]')",
        (json.dumps(bounds), bucket),
    ).fetchall()
    for row in rows:
        out[row[0]][row[1]] = _file_info(row[2:])
    return out


def name_matches(search: str, doc: Mapping[str, Any]) -> bool:
    """Whether a collection's name matches ``a|b`` (or) / ``a&b`` (and), case-insensitive.

    Examples
    --------
    >>> name_matches("alps&snow|coast", {"name": "Snow in the Alps"})
    True
    >>> name_matches("alps&rain", {"name": "Snow in the Alps"})
    False
    """
    text = str(doc.get("name", "")).lower()
    return any(
        all(word.strip().lower() in text for word in alternative.split("&"))
        for alternative in search.split("|")
    )

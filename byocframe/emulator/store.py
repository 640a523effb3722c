"""SQLite storage of the local BYOC service: collections, tiles, virtual bucket files.

Storage only: requests are validated before they reach it (`byocframe.emulator.validate`)
and tiles are rendered by `byocframe.emulator.render`. Every tile row keeps its full JSON
answer (``doc``), re-rendered whenever the tile changes, so a page of 100 tiles is one
indexed query and a string join. All access goes through one connection guarded by a
lock; every change is one transaction that re-reads what it changes, so concurrent
clients never see, leave or overwrite a half-written record.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from byocframe.emulator.coords import bbox, box_rings, transform_polygons
from byocframe.emulator.covers import read_cover
from byocframe.emulator.problems import ApiProblem, bad, not_found
from byocframe.emulator.render import render_tile, to_json
from byocframe.emulator.validate import band_types, check_band_change, decode_token, encode_token

__all__ = ["PENDING", "SameCover", "Store", "TileChange", "now_text"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS collections (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    doc TEXT NOT NULL,
    dirty_since REAL
);
CREATE TABLE IF NOT EXISTS tiles (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    collection_id TEXT NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    sensing_time TEXT,
    crs TEXT,
    west REAL, south REAL, east REAL, north REAL,
    state TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (collection_id, path)
);
CREATE INDEX IF NOT EXISTS tiles_by_status ON tiles (collection_id, status, seq);
CREATE INDEX IF NOT EXISTS tiles_by_seq ON tiles (collection_id, seq);
CREATE TABLE IF NOT EXISTS files (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    crs TEXT NOT NULL,
    xmin REAL NOT NULL, ymin REAL NOT NULL, xmax REAL NOT NULL, ymax REAL NOT NULL,
    resolution REAL NOT NULL,
    bit_depth INTEGER NOT NULL,
    sample_format TEXT NOT NULL,
    bands INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
);
"""

#: Statuses of a tile the ingestion has not finished.
PENDING = ("WAITING", "QUEUED", "INGESTING")

#: Changes a tile's stored state in place; returns False to leave the tile as it is.
TileChange = Callable[[dict[str, Any]], bool]


def now_text(clock: Callable[[], float]) -> str:
    """The current time as the service writes it (microseconds, ``Z``)."""
    return dt.datetime.fromtimestamp(clock(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
    """Persistent state of the local service.

    Parameters
    ----------
    path : str
        SQLite file, or ``":memory:"``.
    clock : callable
        Seconds since the epoch (injectable for tests).
    """

    def __init__(self, path: str = ":memory:", *, clock: Callable[[], float] | None = None):
        self.path = path
        self.clock = clock or time.time
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._depth = 0  # transactions open on the lock holder's thread
        self._hooks: list[Callable[[sqlite3.Connection], None]] = []
        with self._lock:
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            self.account_id = self._meta("account_id") or self._set_meta(
                "account_id", str(uuid.uuid4())
            )

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work (nothing half-written if it raises).

        A transaction opened inside another one (same thread) is a savepoint of it:
        it undoes only its own changes if it raises, and the outer one commits
        everything at once (how `seed` groups thousands of creates and ingestions).
        The hooks of `add_commit_hook` run in the outermost transaction, just
        before it commits.
        """
        with self._lock:
            if self._depth:
                name = f"nested_{self._depth}"
                self._conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
                    raise
                finally:
                    self._depth -= 1
                self._conn.execute(f"RELEASE {name}")
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
                for hook in self._hooks:
                    hook(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            self._conn.execute("COMMIT")

    def add_commit_hook(self, hook: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``hook(connection)`` at the end of every transaction, before it commits.

        What the hook writes commits with the transaction's own changes, or not at
        all: the Catalog's index (`byocframe.emulator.spatial`) follows the tile rows
        this way. A hook that raises rolls the whole transaction back.
        """
        with self._lock:
            self._hooks.append(hook)

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> str:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        return value

    def get_meta(self, key: str) -> str | None:
        """A value stored with `set_meta`."""
        with self._lock:
            return self._meta(key)

    def set_meta(self, key: str, value: str) -> None:
        """Store a small setting (e.g. that the demo collection was seeded)."""
        with self.transaction():
            self._set_meta(key, value)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ collections
    def _collection_row(self, cid: str) -> dict[str, Any]:
        row = self._conn.execute("SELECT doc FROM collections WHERE id = ?", (cid,)).fetchone()
        if row is None:
            raise not_found("Collection", cid)
        return json.loads(row[0])

    def collection_doc(self, cid: str) -> dict[str, Any]:
        """The stored collection without its computed metadata (cheap)."""
        with self._lock:
            return self._collection_row(cid)

    def collection(self, cid: str) -> dict[str, Any]:
        """The collection as the API shows it, with its computed metadata."""
        with self._lock:
            return self._with_metadata(self._collection_row(cid))

    def _with_metadata(self, doc: dict[str, Any]) -> dict[str, Any]:
        cid = doc["id"]
        row = self._conn.execute(
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
            res = self._conn.execute(
                "SELECT max(json_extract(doc, '$.additionalData.maxMetersPerPixel')) "
                "FROM tiles WHERE collection_id = ? AND status = 'INGESTED'",
                (cid,),
            ).fetchone()[0]
            if res:
                extra["maxMetersPerPixel"] = float(res)
        out = dict(doc)
        out["additionalData"] = extra
        dirty = self._conn.execute(
            "SELECT dirty_since FROM collections WHERE id = ?", (cid,)
        ).fetchone()[0]
        out["requiresMetadataUpdate"] = bool(dirty is not None and self.clock() - dirty < 5.0)
        return out

    def collections(
        self, *, search: str | None, count: int, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of collections, optionally matching ``search`` (``|`` = or, ``&`` = and)."""
        start = decode_token(token, "created:asc") if token else 0
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, doc FROM collections WHERE seq > ? ORDER BY seq", (start,)
            ).fetchall()
            docs = []
            for seq, text in rows:
                doc = json.loads(text)
                if search and not _matches(search, doc):
                    continue
                docs.append((seq, self._with_metadata(doc)))
                if len(docs) > count:
                    break
        more = len(docs) > count
        docs = docs[:count]
        next_token = encode_token("created:asc", docs[-1][0]) if more and docs else None
        return [d for _, d in docs], next_token

    def create_collection(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new collection from `~byocframe.emulator.validate.new_collection`."""
        bands = fields.get("bands") or {}
        doc: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "accountId": self.account_id,
            "name": fields["name"],
            "s3Bucket": fields["s3Bucket"],
            "created": now_text(self.clock),
            "isConfigured": bool(bands),
            "additionalData": {"bands": bands} if bands else {},
        }
        if fields.get("noData") is not None:
            doc["noData"] = fields["noData"]
        if fields.get("storageIdentifier"):
            doc["additionalData"]["storageIdentifier"] = fields["storageIdentifier"]
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO collections (id, doc) VALUES (?, ?)", (doc["id"], to_json(doc))
            )
            return self._with_metadata(doc)

    def update_collection(self, cid: str, changes: Mapping[str, Any]) -> None:
        """Apply `~byocframe.emulator.validate.collection_update` changes in one transaction.

        s3Bucket changes only while the collection is empty; once it has tiles, bands
        may only be renamed or removed.
        """
        with self.transaction() as conn:
            doc = self._collection_row(cid)
            tiles = conn.execute(
                "SELECT count(*) FROM tiles WHERE collection_id = ?", (cid,)
            ).fetchone()[0]
            bucket = changes.get("s3Bucket", doc["s3Bucket"])
            if bucket != doc["s3Bucket"] and tiles:
                raise bad("s3Bucket can only change while the collection has no tiles")
            for field in ("name", "s3Bucket"):
                if field in changes:
                    doc[field] = changes[field]
            if changes.get("noData") is None:
                doc.pop("noData", None)
            else:
                doc["noData"] = changes["noData"]
            if "bands" in changes:
                new = changes["bands"]
                old = (doc.get("additionalData") or {}).get("bands") or {}
                if tiles:
                    check_band_change(old, new)
                extra = doc.setdefault("additionalData", {})
                extra["bands"] = new
                if not new:
                    extra.pop("bands")
                doc["isConfigured"] = bool(new)
            conn.execute("UPDATE collections SET doc = ? WHERE id = ?", (to_json(doc), cid))

    def delete_collection(self, cid: str) -> None:
        """Delete a collection and all its tiles."""
        with self.transaction() as conn:
            self._collection_row(cid)
            conn.execute("DELETE FROM tiles WHERE collection_id = ?", (cid,))
            conn.execute("DELETE FROM collections WHERE id = ?", (cid,))

    def _configure_bands(self, conn: sqlite3.Connection, cid: str, bands: dict[str, Any]) -> None:
        """Set the bands of a collection that has none yet (its first ingested tile)."""
        doc = self._collection_row(cid)
        if (doc.get("additionalData") or {}).get("bands"):
            return
        doc.setdefault("additionalData", {})["bands"] = bands
        doc["isConfigured"] = True
        conn.execute("UPDATE collections SET doc = ? WHERE id = ?", (to_json(doc), cid))

    # ------------------------------------------------------------------ tiles
    def _tile_row(self, cid: str, tid: str) -> dict[str, Any]:
        self._collection_row(cid)
        row = self._conn.execute(
            "SELECT state FROM tiles WHERE id = ? AND collection_id = ?", (tid, cid)
        ).fetchone()
        if row is None:
            raise not_found("Tile", tid)
        return json.loads(row[0])

    def tile(self, cid: str, tid: str) -> str:
        """The tile's JSON answer (text)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT doc FROM tiles WHERE id = ? AND collection_id = ?", (tid, cid)
            ).fetchone()
            if row is None:
                self._collection_row(cid)  # 404 for the collection first
                raise not_found("Tile", tid)
            return row[0]

    def tile_state(self, cid: str, tid: str) -> dict[str, Any]:
        """The stored state of a tile (for ingestion)."""
        with self._lock:
            return self._tile_row(cid, tid)

    def tiles_page(
        self,
        cid: str,
        *,
        count: int,
        token: str | None,
        sort: str,
        path: str | None,
        status: str | None,
    ) -> tuple[list[str], str | None]:
        """A page of tile answers (JSON texts) and the token of the next page.

        ``sort`` and ``status`` are checked by `~byocframe.emulator.validate.tile_listing`.
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
        with self._lock:
            self._collection_row(cid)
            rows = self._conn.execute(sql, (*args, count + 1)).fetchall()
        more = len(rows) > count
        rows = rows[:count]
        next_token = encode_token(sort, rows[-1][0]) if more else None
        return [doc for _, doc in rows], next_token

    def create_tile(self, cid: str, fields: Mapping[str, Any]) -> str:
        """Store a new WAITING tile from `~byocframe.emulator.validate.new_tile`.

        Returns its JSON answer.
        """
        state: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "collection": cid,
            "path": fields["path"],
            "status": "WAITING",
            "created": now_text(self.clock),
            "attempt": 0,
        }
        state["ingestionStart"] = state["created"]
        if fields.get("sensingTime"):
            state["sensingTime"] = fields["sensingTime"]
        if fields.get("cover") is not None:
            _set_cover(state, fields["cover"])
        with self.transaction() as conn:
            self._collection_row(cid)
            try:
                doc = self._write_tile(conn, state, insert=True)
            except sqlite3.IntegrityError:
                raise ApiProblem(
                    409,
                    "COMMON_UNIQUE_KEY_VIOLATION",
                    f"A tile with path {fields['path']!r} already exists in collection {cid}.",
                ) from None
            self._touch(conn, cid)
        return doc

    def shown_cover(self, cid: str, tid: str) -> Any:
        """The tile's ``coverGeometry`` as its answer shows it (None if it has none).

        Raises
        ------
        ApiProblem
            404 when the collection or the tile does not exist.
        """
        return json.loads(self.tile(cid, tid)).get("coverGeometry")

    def update_tile(self, cid: str, tid: str, changes: Mapping[str, Any]) -> None:
        """Apply a PUT (`~byocframe.emulator.validate.tile_update`) to the fields it owns.

        An absent ``sensingTime`` leaves it unchanged, null clears it. A None ``cover``
        resets the cover to the tile's bounding box (as the API does). A `SameCover`
        (the PUT sent back the cover the tile showed) keeps the stored cover as it is,
        if the tile still shows it; else it is read as any other cover.
        """
        with self.transaction() as conn:
            state = self._tile_row(cid, tid)
            keys = _index_keys(state)
            if "sensingTime" in changes:
                state["sensingTime"] = changes["sensingTime"]
            cover, native = changes.get("cover"), None
            if isinstance(cover, SameCover):
                shown = json.loads(self._doc(tid)).get("coverGeometry")
                if shown == cover.geojson:  # kept as stored: no round trip through CRS84
                    coordinates = shown["coordinates"]
                    native = [coordinates] if shown["type"] == "Polygon" else coordinates
                else:  # another PUT changed it since: read it as sent
                    _set_cover(state, read_cover(cover.geojson))
            elif cover is not None:
                _set_cover(state, cover)
            else:
                state.pop("cover84", None)
                state.pop("coverType", None)
                if state.get("tileBox"):
                    box = [box_rings(state["tileBox"])]
                    state["cover84"] = transform_polygons(box, state["crs"], "EPSG:4326")
                    state["coverType"] = "Polygon"
            self._write_tile(conn, state, indexed=keys != _index_keys(state), native=native)
            self._touch(conn, cid)

    def _doc(self, tid: str) -> str:
        return str(self._conn.execute("SELECT doc FROM tiles WHERE id = ?", (tid,)).fetchone()[0])

    def change_tile(
        self, cid: str, tid: str, change: TileChange, *, bands: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Read, change and write one tile in a single transaction (a conditional update).

        ``change`` sees the state as it is now, under the store's lock, and changes only
        the fields its caller owns; when it returns False nothing is written. ``bands``
        configure a collection that has none yet, in the same transaction (the first
        ingested tile). Returns the state written, or None.

        Raises
        ------
        ApiProblem
            404 when the collection or the tile does not exist.
        """
        with self.transaction() as conn:
            state = self._tile_row(cid, tid)
            keys = _index_keys(state)
            if not change(state):
                return None
            if bands:
                self._configure_bands(conn, cid, bands)
            self._write_tile(conn, state, indexed=keys != _index_keys(state))
            self._touch(conn, cid)
            return state

    def delete_tile(self, cid: str, tid: str) -> None:
        """Delete one tile."""
        with self.transaction() as conn:
            self._tile_row(cid, tid)
            conn.execute("DELETE FROM tiles WHERE id = ?", (tid,))
            self._touch(conn, cid)

    def reingest(self, cid: str, tid: str) -> None:
        """Send a finished tile back to WAITING, as a new ingestion attempt."""

        def change(state: dict[str, Any]) -> bool:
            if state["status"] not in ("INGESTED", "FAILED"):
                raise bad(
                    f"Tile {tid} is {state['status']}; only INGESTED or FAILED tiles "
                    "can be reingested."
                )
            state["status"] = "WAITING"
            state["ingestionStart"] = now_text(self.clock)
            state["attempt"] = state.get("attempt", 0) + 1
            state.pop("failedIngestionCause", None)
            return True

        self.change_tile(cid, tid, change)

    def copy_tiles(self, source: str, target: str) -> int:
        """Copy INGESTED tiles whose path the target lacks; return how many."""
        with self.transaction() as conn:
            src, dst = self._collection_row(source), self._collection_row(target)
            src_bands = (src.get("additionalData") or {}).get("bands") or {}
            dst_bands = (dst.get("additionalData") or {}).get("bands") or {}
            if dst_bands and band_types(dst_bands) != band_types(src_bands):
                raise bad("toCollection: the target collection's bands differ from the source's")
            rows = conn.execute(
                "SELECT state FROM tiles WHERE collection_id = ? AND status = 'INGESTED' "
                "AND path NOT IN (SELECT path FROM tiles WHERE collection_id = ?) ORDER BY seq",
                (source, target),
            ).fetchall()
            for (text,) in rows:
                state = json.loads(text)
                state["id"] = str(uuid.uuid4())
                state["collection"] = target
                state["created"] = now_text(self.clock)
                self._write_tile(conn, state, insert=True)
            if rows and not dst_bands and src_bands:
                dst.setdefault("additionalData", {})["bands"] = src_bands
                dst["isConfigured"] = True
                conn.execute("UPDATE collections SET doc = ? WHERE id = ?", (to_json(dst), target))
            if rows:
                self._touch(conn, target)
            return len(rows)

    def pending(self) -> list[tuple[str, str]]:
        """(collection id, tile id) of every tile waiting for or in ingestion."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT collection_id, id FROM tiles WHERE status IN {PENDING} ORDER BY seq"
            ).fetchall()
        return [(c, t) for c, t in rows]

    def _touch(self, conn: sqlite3.Connection, cid: str) -> None:
        conn.execute("UPDATE collections SET dirty_since = ? WHERE id = ?", (self.clock(), cid))

    def _write_tile(
        self,
        conn: sqlite3.Connection,
        state: dict[str, Any],
        *,
        insert: bool = False,
        native: list[Any] | None = None,
        indexed: bool = True,
    ) -> str:
        """Insert or update a tile row; return its rendered answer.

        ``indexed=False`` promises that the indexed columns (collection, path, status)
        keep their stored values: the update then leaves them, and their index entries,
        alone.
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
        keys = _index_keys(state)
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

    def insert_tiles(
        self, cid: str, states: list[dict[str, Any]], natives: list[Any] | None = None
    ) -> int:
        """Bulk-insert ready-made tile states (demo seeding); return how many.

        ``natives`` may hold each cover already transformed back into its tile's CRS.
        """
        natives = natives if natives is not None else [None] * len(states)
        with self.transaction() as conn:
            for state, native in zip(states, natives, strict=True):
                state["collection"] = cid
                self._write_tile(conn, state, insert=True, native=native)
        return len(states)

    # ------------------------------------------------------------------ virtual bucket
    def register_files(self, bucket: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """Add (or replace) files of a virtual bucket; return how many.

        ``rows`` come from `~byocframe.emulator.validate.manifest_rows`.
        """
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(bucket, *row) for row in rows],
            )
        return len(rows)

    def files(self, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Files of a bucket whose key starts with ``prefix``."""
        # a key range walks the (bucket, key) index; substr keeps the match exact
        end = None
        if prefix and prefix[-1] < "\U0010ffff":
            end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        bound = "" if end is None else "AND key < ? "
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, crs, xmin, ymin, xmax, ymax, resolution, bit_depth, sample_format, "
                f"bands FROM files WHERE bucket = ? AND key >= ? {bound}"
                "AND substr(key, 1, ?) = ?",
                (bucket, prefix, *([end] if end else []), len(prefix), prefix),
            ).fetchall()
        return {
            key: {
                "crs": crs,
                "bounds": [x0, y0, x1, y1],
                "resolution": res,
                "bitDepth": depth,
                "sampleFormat": fmt,
                "bands": bands,
            }
            for key, crs, x0, y0, x1, y1, res, depth, fmt, bands in rows
        }


def _index_keys(state: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """The indexed columns of a tile row: collection, path, status."""
    return state["collection"], state["path"], state["status"]


class SameCover(NamedTuple):
    """A PUT's cover that equalled the one its tile showed when the PUT compared them."""

    geojson: dict[str, Any]


def _set_cover(state: dict[str, Any], cover: Any) -> None:
    """Store a validated `~byocframe.emulator.validate.Cover` on a tile state."""
    state["cover84"] = cover.polygons84
    state["coverType"] = cover.kind
    state.setdefault("crs", cover.crs)


def _matches(search: str, doc: Mapping[str, Any]) -> bool:
    """Whether a collection's name matches ``a|b`` (or) / ``a&b`` (and), case-insensitive."""
    text = str(doc.get("name", "")).lower()
    return any(
        all(word.strip().lower() in text for word in alternative.split("&"))
        for alternative in search.split("|")
    )

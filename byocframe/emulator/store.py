"""SQLite storage of the local BYOC service: collections, tiles, virtual bucket files.

Storage only: requests are validated before they reach it (`byocframe.emulator.validate`)
and tiles are rendered by `byocframe.emulator.render`. Every tile row keeps its full JSON
answer (``doc``), re-rendered whenever the tile changes, so a page of 100 tiles is one
indexed query and a string join. All access goes through one connection guarded by a
lock; every change is one transaction that re-reads what it changes, so concurrent
clients never see, leave or overwrite a half-written record.

The parts: the tables in `byocframe.emulator.schema`, transactions (savepoints, commit
hooks) in `byocframe.emulator.transactions`, the row-level SQL in
`byocframe.emulator.queries`; `Store` here is the service's operations over them.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from byocframe.emulator.covers import read_cover
from byocframe.emulator.problems import ApiProblem, bad, not_found
from byocframe.emulator.queries import (
    collection_page,
    collection_with_metadata,
    configure_bands,
    files_under,
    files_under_many,
    index_keys,
    insert_files,
    read_collection,
    read_tile,
    reset_cover,
    set_cover,
    tile_answer,
    tile_page,
    touch,
    write_new_tiles,
    write_tile,
)
from byocframe.emulator.render import to_json
from byocframe.emulator.schema import open_database, read_meta, write_meta
from byocframe.emulator.transactions import CommitHook, Transactions, TurnLock
from byocframe.emulator.validate import band_types, check_band_change

__all__ = ["PENDING", "SameCover", "Store", "TileChange", "now_text"]


#: Statuses of a tile the ingestion has not finished.
PENDING = ("WAITING", "QUEUED", "INGESTING")

#: Tiles `Store.copy_tiles` copies per transaction: the store's lock is held that long
#: (about 0.5 s for 1,000; a whole collection in one transaction held every other
#: request for 9.4 s at 20,000 tiles, finding 166). Raise it
#: (``byocframe.emulator.store.COPY_BATCH = ...``) for fewer, longer transactions.
COPY_BATCH = 1000

#: Changes a tile's stored state in place; returns False to leave the tile as it is.
TileChange = Callable[[dict[str, Any]], bool]


def now_text(clock: Callable[[], float]) -> str:
    """The current time as the service writes it (microseconds, ``Z``)."""
    return dt.datetime.fromtimestamp(clock(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seconds(text: Any) -> float:
    """Seconds since the epoch of a stored time text (-inf when it does not read as one)."""
    try:
        when = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return float("-inf")
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


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
        self._db = Transactions(open_database(path))
        self._conn = self._db.connection
        self._lock = self._db.lock
        #: the creation time (s) of the tile stored last; None: not read from the file yet
        self._last_created: float | None = None
        with self._lock:
            self.account_id = read_meta(self._conn, "account_id") or write_meta(
                self._conn, "account_id", str(uuid.uuid4())
            )

    # ------------------------------------------------------------------ plumbing
    @property
    def lock(self) -> TurnLock:
        """The lock every read and transaction of the store holds (re-entrant)."""
        return self._lock

    def next_created(self) -> str:
        """The ``created`` of a tile stored now: never before that of one stored earlier.

        The service lists tiles ``sort=created`` in the order they were stored, so the
        two must agree: a clock read before the store's lock was taken (two POSTs at
        once) or a clock that steps back would list a tile out of its creation order.
        Call it holding the lock, in the transaction that stores the tile.

        Examples
        --------
        >>> times = iter([10.0, 5.0, 12.0])
        >>> store = Store(clock=lambda: next(times))
        >>> [store.next_created()[11:19] for _ in range(3)]
        ['00:00:10', '00:00:10', '00:00:12']
        """
        with self._lock:
            if self._last_created is None:
                self._last_created = self._stored_last_created()
            now = max(self.clock(), self._last_created)
            self._last_created = now
            return now_text(lambda: now)

    def _stored_last_created(self) -> float:
        # the latest of every tile's time, not the last stored tile's: a database an older
        # service wrote may hold them out of order (read once, at the first tile stored)
        rows = self._conn.execute("SELECT json_extract(state, '$.created') FROM tiles")
        return max((_seconds(text) for (text,) in rows), default=float("-inf"))

    def _note_created(self, states: Sequence[Mapping[str, Any]]) -> None:
        """Remember the latest ``created`` of tiles stored with their own times."""
        latest = max((_seconds(state.get("created")) for state in states), default=None)
        if latest is not None and self._last_created is not None:
            self._last_created = max(self._last_created, latest)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One atomic unit of work (nothing half-written if it raises).

        A transaction opened inside another one (same thread) is a savepoint of it:
        it undoes only its own changes if it raises, and the outer one commits
        everything at once (how `seed` groups thousands of creates and ingestions).
        The hooks of `add_commit_hook` run in the outermost transaction, just
        before it commits (`byocframe.emulator.transactions`).
        """
        return self._db.transaction()

    def add_commit_hook(self, hook: CommitHook) -> None:
        """Run ``hook(connection)`` at the end of every transaction, before it commits.

        What the hook writes commits with the transaction's own changes, or not at
        all: the Catalog's index (`byocframe.emulator.spatial`) follows the tile rows
        this way. A hook that raises rolls the whole transaction back.
        """
        self._db.add_commit_hook(hook)

    def get_meta(self, key: str) -> str | None:
        """A value stored with `set_meta`."""
        with self._lock:
            return read_meta(self._conn, key)

    def set_meta(self, key: str, value: str) -> None:
        """Store a small setting (e.g. that the demo collection was seeded)."""
        with self.transaction() as conn:
            write_meta(conn, key, value)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # ------------------------------------------------------------------ collections
    def collection_doc(self, cid: str) -> dict[str, Any]:
        """The stored collection without its computed metadata (cheap)."""
        with self._lock:
            return read_collection(self._conn, cid)

    def collection(self, cid: str) -> dict[str, Any]:
        """The collection as the API shows it, with its computed metadata."""
        with self._lock:
            return collection_with_metadata(
                self._conn, read_collection(self._conn, cid), self.clock
            )

    def collections(
        self, *, search: str | None, count: int, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of collections, optionally matching ``search`` (``|`` = or, ``&`` = and)."""
        with self._lock:
            return collection_page(
                self._conn, search=search, count=count, token=token, clock=self.clock
            )

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
            return collection_with_metadata(conn, doc, self.clock)

    def update_collection(self, cid: str, changes: Mapping[str, Any]) -> None:
        """Apply `~byocframe.emulator.validate.collection_update` changes in one transaction.

        s3Bucket changes only while the collection is empty; once it has tiles, bands
        may only be renamed or removed.
        """
        with self.transaction() as conn:
            doc = read_collection(self._conn, cid)
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
            read_collection(self._conn, cid)
            conn.execute("DELETE FROM tiles WHERE collection_id = ?", (cid,))
            conn.execute("DELETE FROM collections WHERE id = ?", (cid,))

    # ------------------------------------------------------------------ tiles
    def tile(self, cid: str, tid: str) -> str:
        """The tile's JSON answer (text)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT doc FROM tiles WHERE id = ? AND collection_id = ?", (tid, cid)
            ).fetchone()
            if row is None:
                read_collection(self._conn, cid)  # 404 for the collection first
                raise not_found("Tile", tid)
            return row[0]

    def tile_state(self, cid: str, tid: str) -> dict[str, Any]:
        """The stored state of a tile (for ingestion)."""
        with self._lock:
            return read_tile(self._conn, cid, tid)

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
        with self._lock:
            return tile_page(
                self._conn, cid, count=count, token=token, sort=sort, path=path, status=status
            )

    def new_tile_state(self, cid: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The state a POST stores for `~byocframe.emulator.validate.new_tile` fields.

        A new id, ``created`` (and ``ingestionStart``) now, WAITING, attempt 0; nothing
        is written (`create_tile` writes one, `byocframe.emulator.seeding` many).

        Examples
        --------
        >>> state = Store(clock=lambda: 0.0).new_tile_state("c", {"path": "a/(BAND).tif"})
        >>> state["status"], state["created"], state["ingestionStart"]
        ('WAITING', '1970-01-01T00:00:00.000000Z', '1970-01-01T00:00:00.000000Z')
        """
        state: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "collection": cid,
            "path": fields["path"],
            "status": "WAITING",
            "created": self.next_created(),
            "attempt": 0,
        }
        state["ingestionStart"] = state["created"]
        if fields.get("sensingTime"):
            state["sensingTime"] = fields["sensingTime"]
        if fields.get("cover") is not None:
            set_cover(state, fields["cover"])
        return state

    def create_tile(self, cid: str, fields: Mapping[str, Any]) -> str:
        """Store a new WAITING tile from `~byocframe.emulator.validate.new_tile`.

        Returns its JSON answer.
        """
        with self.transaction() as conn:
            # built holding the lock: its creation time is in the order tiles are stored
            state = self.new_tile_state(cid, fields)
            read_collection(self._conn, cid)
            try:
                doc = write_tile(conn, state, insert=True)
            except sqlite3.IntegrityError:
                raise ApiProblem(
                    409,
                    "COMMON_UNIQUE_KEY_VIOLATION",
                    f"A tile with path {fields['path']!r} already exists in collection {cid}.",
                ) from None
            touch(conn, cid, self.clock())
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
            state = read_tile(self._conn, cid, tid)
            keys = index_keys(state)
            if "sensingTime" in changes:
                state["sensingTime"] = changes["sensingTime"]
            cover, native = changes.get("cover"), None
            if isinstance(cover, SameCover):
                shown = json.loads(tile_answer(self._conn, tid)).get("coverGeometry")
                if shown == cover.geojson:  # kept as stored: no round trip through CRS84
                    coordinates = shown["coordinates"]
                    native = [coordinates] if shown["type"] == "Polygon" else coordinates
                else:  # another PUT changed it since: read it as sent
                    set_cover(state, read_cover(cover.geojson))
            elif cover is not None:
                set_cover(state, cover)
            else:
                reset_cover(state)
            write_tile(conn, state, indexed=keys != index_keys(state), native=native)
            touch(conn, cid, self.clock())

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
            state = read_tile(self._conn, cid, tid)
            keys = index_keys(state)
            if not change(state):
                return None
            if bands:
                configure_bands(conn, cid, bands)
            write_tile(conn, state, indexed=keys != index_keys(state))
            touch(conn, cid, self.clock())
            return state

    def delete_tile(self, cid: str, tid: str) -> None:
        """Delete one tile."""
        with self.transaction() as conn:
            read_tile(self._conn, cid, tid)
            conn.execute("DELETE FROM tiles WHERE id = ?", (tid,))
            touch(conn, cid, self.clock())

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
        """Copy INGESTED tiles whose path the target lacks; return how many.

        In transactions of `COPY_BATCH` tiles: between two, every request waiting for the
        store goes first. A copy stopped between batches is completed by the next call
        (only paths the target lacks are copied).
        """
        copied = 0
        while True:
            batch = COPY_BATCH
            with self.transaction() as conn:
                done = self._copy_batch(conn, source, target, batch)
            copied += done
            if done < batch:
                return copied
            self._lock.let_waiters_in()

    def _copy_batch(self, conn: sqlite3.Connection, source: str, target: str, most: int) -> int:
        """Copy up to ``most`` tiles of a `copy_tiles`, in the caller's transaction."""
        src, dst = read_collection(conn, source), read_collection(conn, target)
        src_bands = (src.get("additionalData") or {}).get("bands") or {}
        dst_bands = (dst.get("additionalData") or {}).get("bands") or {}
        if dst_bands and band_types(dst_bands) != band_types(src_bands):
            raise bad("toCollection: the target collection's bands differ from the source's")
        rows = conn.execute(
            "SELECT state FROM tiles WHERE collection_id = ? AND status = 'INGESTED' "
            "AND path NOT IN (SELECT path FROM tiles WHERE collection_id = ?) "
            "ORDER BY seq LIMIT ?",
            (source, target, most),
        ).fetchall()
        for (text,) in rows:
            state = json.loads(text)
            state["id"] = str(uuid.uuid4())
            state["collection"] = target
            state["created"] = self.next_created()
            write_tile(conn, state, insert=True)
        if rows and not dst_bands and src_bands:
            dst.setdefault("additionalData", {})["bands"] = src_bands
            dst["isConfigured"] = True
            conn.execute("UPDATE collections SET doc = ? WHERE id = ?", (to_json(dst), target))
        if rows:
            touch(conn, target, self.clock())
        return len(rows)

    def pending(self) -> list[tuple[str, str]]:
        """(collection id, tile id) of every tile waiting for or in ingestion."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT collection_id, id FROM tiles WHERE status IN {PENDING} ORDER BY seq"
            ).fetchall()
        return [(c, t) for c, t in rows]

    def insert_tiles(
        self, cid: str, states: list[dict[str, Any]], natives: list[Any] | None = None
    ) -> int:
        """Bulk-insert ready-made tile states (demo seeding); return how many.

        ``natives`` may hold each cover already transformed back into its tile's CRS.
        """
        natives = natives if natives is not None else [None] * len(states)
        with self.transaction() as conn:
            for state in states:
                state["collection"] = cid
            write_new_tiles(conn, states, natives)
            self._note_created(states)
        return len(states)

    def add_tiles(
        self,
        cid: str,
        states: list[dict[str, Any]],
        natives: Sequence[Any] | None = None,
        *,
        bands: dict[str, Any] | None = None,
    ) -> None:
        """Store new tiles (`new_tile_state`, maybe ingested) as their POSTs would have.

        One transaction, with ``bands`` configured on a collection that has none (the
        first ingested tile's) and the collection marked as changed. ``natives`` may
        hold each cover already in its tile's CRS.

        Raises
        ------
        ApiProblem
            409 when the collection already has a tile at one of the paths (nothing
            is stored); 404 for an unknown collection.

        Examples
        --------
        >>> from byocframe.emulator.validate import new_collection
        >>> store = Store()
        >>> cid = store.create_collection(new_collection({"name": "n", "s3Bucket": "b"}))["id"]
        >>> store.add_tiles(cid, [store.new_tile_state(cid, {"path": p}) for p in "ab"])
        >>> sorted(store.paths_taken(cid, ["a", "b", "c"]))
        ['a', 'b']
        """
        natives = natives if natives is not None else [None] * len(states)
        with self.transaction() as conn:
            read_collection(self._conn, cid)
            try:
                write_new_tiles(conn, states, natives)
            except sqlite3.IntegrityError:
                raise ApiProblem(
                    409,
                    "COMMON_UNIQUE_KEY_VIOLATION",
                    f"A tile of these {len(states)} has a path collection {cid} already has.",
                ) from None
            if bands:
                configure_bands(conn, cid, bands)
            touch(conn, cid, self.clock())

    def paths_taken(self, cid: str, paths: Sequence[str]) -> set[str]:
        """Which of ``paths`` the collection's tiles have (see `add_tiles`)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT path FROM tiles WHERE collection_id = ? "
                "AND path IN (SELECT value FROM json_each(?))",
                (cid, json.dumps(list(paths))),
            ).fetchall()
        return {path for (path,) in rows}

    # ------------------------------------------------------------------ virtual bucket
    def register_files(self, bucket: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """Add (or replace) files of a virtual bucket; return how many.

        ``rows`` come from `~byocframe.emulator.validate.manifest_rows`.
        """
        with self.transaction() as conn:
            return insert_files(conn, bucket, rows)

    def files(self, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Files of a bucket whose key starts with ``prefix``."""
        with self._lock:
            return files_under(self._conn, bucket, prefix)

    def files_many(self, bucket: str, prefixes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """`files` for many prefixes in one query: ``{prefix: {key: info}}``.

        Examples
        --------
        >>> store = Store()
        >>> row = ("a/B1.tif", "EPSG:32633", 0, 0, 10, 10, 10.0, 16, "UINT", 1)
        >>> _ = store.register_files("b", [row])
        >>> {p: list(f) for p, f in store.files_many("b", ["a/", "c/"]).items()}
        {'a/': ['a/B1.tif'], 'c/': []}
        """
        with self._lock:
            return files_under_many(self._conn, bucket, prefixes)


class SameCover(NamedTuple):
    """A PUT's cover that equalled the one its tile showed when the PUT compared them."""

    geojson: dict[str, Any]

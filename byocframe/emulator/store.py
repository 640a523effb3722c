"""SQLite storage of the local BYOC service: collections, tiles, virtual bucket files.

Every tile row keeps its full JSON answer (``doc``), re-rendered whenever the tile
changes, so a page of 100 tiles is one indexed query and a string join. All access
goes through one connection guarded by a lock; every change is one transaction, so
concurrent clients never see or leave a half-written record.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from pyproj import Transformer

from byocframe.geometry import GeometryProblem, crs_urn, parse_crs

__all__ = ["ApiProblem", "Store"]

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

STATUSES = ("WAITING", "QUEUED", "INGESTING", "INGESTED", "FAILED")
SORTS = {"created:asc", "created:desc", "path:asc", "path:desc"}
MAX_COVER_POINTS = 100


class ApiProblem(Exception):
    """A request the service refuses: carries the HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str, errors: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors


def bad(message: str, errors: Any = None) -> ApiProblem:
    """A 400 COMMON_BAD_PAYLOAD problem."""
    return ApiProblem(400, "COMMON_BAD_PAYLOAD", message, errors)


def not_found(what: str, ident: str) -> ApiProblem:
    """A 404 COMMON_NOT_FOUND problem, worded as the real service words it."""
    return ApiProblem(404, "COMMON_NOT_FOUND", f"{what} {ident} not found.")


def now_text(clock: Callable[[], float]) -> str:
    """The current time as the service writes it (microseconds, ``Z``)."""
    return dt.datetime.fromtimestamp(clock(), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any, field: str) -> str | None:
    """Validate an ISO-8601 time from a request; return it in UTC, milliseconds, ``Z``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{field} must be an ISO-8601 string, got {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"{field} is not an ISO-8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    parsed = parsed.astimezone(dt.UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


@functools.lru_cache(maxsize=256)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def transform_polygons(polygons: list[Any], src: str, dst: str) -> list[Any]:
    """Transform MultiPolygon coordinates (lists) vertex by vertex, as the service does."""
    if src == dst:
        return polygons
    flat = [pos for poly in polygons for ring in poly for pos in ring]
    xy = np.asarray(flat, dtype=float)
    x, y = _transformer(src, dst).transform(xy[:, 0], xy[:, 1])
    out, k = [], 0
    for poly in polygons:
        rings = []
        for ring in poly:
            rings.append([[float(x[k + i]), float(y[k + i])] for i in range(len(ring))])
            k += len(ring)
        out.append(rings)
    return out


def read_cover(geojson: Any) -> tuple[list[Any], str, str]:
    """Validate a cover geometry from a request: (MultiPolygon coordinates, CRS, type)."""
    if not isinstance(geojson, Mapping):
        raise bad("coverGeometry must be a GeoJSON Polygon or MultiPolygon object")
    kind = geojson.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise bad(f"coverGeometry must be a Polygon or MultiPolygon, got {kind!r}")
    member = geojson.get("crs")
    try:
        name = None if member is None else member["properties"]["name"]
        crs = parse_crs(name)
    except (KeyError, TypeError) as err:
        raise bad(f"coverGeometry has an unreadable crs member: {member!r}") from err
    except GeometryProblem as err:
        raise bad(f"coverGeometry: {err}") from err
    coords = geojson.get("coordinates")
    if not isinstance(coords, list):
        raise bad(f"coverGeometry coordinates must be a list, got {type(coords).__name__}")
    polygons = [coords] if kind == "Polygon" else coords
    try:
        points = 0
        for poly in polygons:
            for ring in poly:
                if len(ring) < 4 or ring[0] != ring[-1]:
                    raise bad("coverGeometry rings must be closed and have at least 4 positions")
                for pos in ring:
                    if len(pos) != 2 or not all(np.isfinite(float(v)) for v in pos):
                        raise bad(f"coverGeometry has a bad position {pos!r}")
                points += len(ring)
    except (TypeError, ValueError) as err:
        raise bad(f"coverGeometry has malformed coordinates ({err})") from err
    if points > MAX_COVER_POINTS:
        raise bad(
            f"coverGeometry has {points} points; at most {MAX_COVER_POINTS} are allowed "
            "(simplify it first)"
        )
    return [[[list(map(float, p)) for p in ring] for ring in poly] for poly in polygons], crs, kind


def _bbox(polygons: list[Any]) -> tuple[float, float, float, float]:
    xs = [p[0] for poly in polygons for p in poly[0]]
    ys = [p[1] for poly in polygons for p in poly[0]]
    return min(xs), min(ys), max(xs), max(ys)


def _encode_token(sort: str, key: Any) -> str:
    raw = json.dumps([sort, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, sort: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        token_sort, key = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise bad(f"invalid viewtoken {token!r}") from None
    if token_sort != sort:
        raise bad(f"viewtoken {token!r} belongs to sort={token_sort}, not sort={sort}")
    return key


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
        import time

        self.path = path
        self.clock = clock or time.time
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
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
        """One atomic unit of work (nothing half-written if it raises)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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
        start = int(_decode_token(token, "created:asc")) if token else 0
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
        next_token = _encode_token("created:asc", docs[-1][0]) if more and docs else None
        return [d for _, d in docs], next_token

    def create_collection(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and store a new collection; return it."""
        name, bucket = body.get("name"), body.get("s3Bucket")
        for field, value in (("name", name), ("s3Bucket", bucket)):
            if not isinstance(value, str) or not value.strip():
                raise bad(f"{field} is required and must be a non-empty string")
        extra = body.get("additionalData") or {}
        if not isinstance(extra, Mapping):
            raise bad("additionalData must be an object")
        bands = _check_bands(extra.get("bands"))
        doc: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "accountId": self.account_id,
            "name": name,
            "s3Bucket": bucket,
            "created": now_text(self.clock),
            "isConfigured": bool(bands),
            "additionalData": {"bands": bands} if bands else {},
        }
        no_data = _check_no_data(body.get("noData"))
        if no_data is not None:
            doc["noData"] = no_data
        if isinstance(extra.get("storageIdentifier"), str):
            doc["additionalData"]["storageIdentifier"] = extra["storageIdentifier"]
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO collections (id, doc) VALUES (?, ?)", (doc["id"], json.dumps(doc))
            )
            return self._with_metadata(doc)

    def update_collection(self, cid: str, body: Mapping[str, Any]) -> None:
        """Apply a PUT: name, s3Bucket (only while empty), noData, band renames/removals."""
        with self.transaction() as conn:
            doc = self._collection_row(cid)
            tiles = conn.execute(
                "SELECT count(*) FROM tiles WHERE collection_id = ?", (cid,)
            ).fetchone()[0]
            for field in ("name", "s3Bucket"):
                value = body.get(field)
                if value is None:
                    continue
                if not isinstance(value, str) or not value.strip():
                    raise bad(f"{field} must be a non-empty string")
                if field == "s3Bucket" and value != doc["s3Bucket"] and tiles:
                    raise bad("s3Bucket can only change while the collection has no tiles")
                doc[field] = value
            no_data = _check_no_data(body.get("noData"))
            if no_data is None:
                doc.pop("noData", None)
            else:
                doc["noData"] = no_data
            extra = body.get("additionalData")
            if isinstance(extra, Mapping) and extra.get("bands") is not None:
                new = _check_bands(extra["bands"])
                old = (doc.get("additionalData") or {}).get("bands") or {}
                if tiles:
                    _check_band_change(old, new)
                doc.setdefault("additionalData", {})["bands"] = new
                if not new:
                    doc["additionalData"].pop("bands")
                doc["isConfigured"] = bool(new)
            conn.execute("UPDATE collections SET doc = ? WHERE id = ?", (json.dumps(doc), cid))

    def delete_collection(self, cid: str) -> None:
        """Delete a collection and all its tiles."""
        with self.transaction() as conn:
            self._collection_row(cid)
            conn.execute("DELETE FROM tiles WHERE collection_id = ?", (cid,))
            conn.execute("DELETE FROM collections WHERE id = ?", (cid,))

    def configure_bands(self, cid: str, bands: dict[str, Any]) -> None:
        """Set the bands of a collection that has none yet (first ingested tile)."""
        with self.transaction() as conn:
            doc = self._collection_row(cid)
            if (doc.get("additionalData") or {}).get("bands"):
                return
            doc.setdefault("additionalData", {})["bands"] = bands
            doc["isConfigured"] = True
            conn.execute("UPDATE collections SET doc = ? WHERE id = ?", (json.dumps(doc), cid))

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
        """A page of tile answers (JSON texts) and the token of the next page."""
        if sort not in SORTS:
            raise bad(f"sort must be one of {sorted(SORTS)}, got {sort!r}")
        if status is not None and status not in STATUSES:
            raise bad(f"status must be one of {list(STATUSES)}, got {status!r}")
        key_column, direction = sort.split(":")
        column = "seq" if key_column == "created" else "path"
        op, order = (">", "ASC") if direction == "asc" else ("<", "DESC")
        where, args = ["collection_id = ?"], [cid]
        if path is not None:
            where.append("path = ?")
            args.append(path)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if token:
            where.append(f"{column} {op} ?")
            args.append(_decode_token(token, sort))
        sql = (
            f"SELECT {column}, doc FROM tiles WHERE {' AND '.join(where)} "
            f"ORDER BY {column} {order} LIMIT ?"
        )
        with self._lock:
            self._collection_row(cid)
            rows = self._conn.execute(sql, (*args, count + 1)).fetchall()
        more = len(rows) > count
        rows = rows[:count]
        next_token = _encode_token(sort, rows[-1][0]) if more else None
        return [doc for _, doc in rows], next_token

    def create_tile(self, cid: str, body: Mapping[str, Any]) -> str:
        """Validate and store a new WAITING tile; return its JSON answer."""
        path = body.get("path")
        _check_path(path)
        state: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "collection": cid,
            "path": path,
            "status": "WAITING",
            "created": now_text(self.clock),
        }
        state["ingestionStart"] = state["created"]
        if "sensingTime" in body:
            state["sensingTime"] = parse_time(body.get("sensingTime"), "sensingTime")
        if body.get("coverGeometry") is not None:
            polygons, crs, kind = read_cover(body["coverGeometry"])
            state["cover84"] = transform_polygons(polygons, crs, "EPSG:4326")
            state["coverType"] = kind
            state["crs"] = crs
        with self.transaction() as conn:
            self._collection_row(cid)
            try:
                self._write_tile(conn, state, insert=True)
            except sqlite3.IntegrityError:
                raise ApiProblem(
                    409,
                    "COMMON_UNIQUE_KEY_VIOLATION",
                    f"A tile with path {path!r} already exists in collection {cid}.",
                ) from None
            self._touch(conn, cid)
        return render_tile(state)

    def update_tile(self, cid: str, tid: str, body: Mapping[str, Any]) -> None:
        """Apply a PUT to a tile's sensing time and cover geometry.

        An absent ``sensingTime`` leaves it unchanged, null clears it. An absent or null
        ``coverGeometry`` resets the cover to the tile's bounding box (as the API does).
        """
        update: dict[str, Any] = {}
        if "sensingTime" in body:
            update["sensingTime"] = parse_time(body.get("sensingTime"), "sensingTime")
        cover = body.get("coverGeometry")
        parsed = read_cover(cover) if cover is not None else None
        with self.transaction() as conn:
            state = self._tile_row(cid, tid)
            state.update(update)
            if parsed is None:
                state.pop("cover84", None)
                state.pop("coverType", None)
                if state.get("tileBox"):
                    crs = state["crs"]
                    state["cover84"] = transform_polygons(
                        [_box_rings(state["tileBox"])], crs, "EPSG:4326"
                    )
                    state["coverType"] = "Polygon"
            else:
                polygons, crs, kind = parsed
                state["cover84"] = transform_polygons(polygons, crs, "EPSG:4326")
                state["coverType"] = kind
                state.setdefault("crs", crs)
            self._write_tile(conn, state)
            self._touch(conn, cid)

    def delete_tile(self, cid: str, tid: str) -> None:
        """Delete one tile."""
        with self.transaction() as conn:
            self._tile_row(cid, tid)
            conn.execute("DELETE FROM tiles WHERE id = ?", (tid,))
            self._touch(conn, cid)

    def reingest(self, cid: str, tid: str) -> None:
        """Send a finished tile back to WAITING."""
        with self.transaction() as conn:
            state = self._tile_row(cid, tid)
            if state["status"] not in ("INGESTED", "FAILED"):
                raise bad(
                    f"Tile {tid} is {state['status']}; only INGESTED or FAILED tiles "
                    "can be reingested."
                )
            state["status"] = "WAITING"
            state["ingestionStart"] = now_text(self.clock)
            state.pop("failedIngestionCause", None)
            self._write_tile(conn, state)

    def set_tile_state(self, state: dict[str, Any]) -> None:
        """Store a tile state computed by the ingestion (one transaction)."""
        with self.transaction() as conn:
            exists = conn.execute("SELECT 1 FROM tiles WHERE id = ?", (state["id"],)).fetchone()
            if exists:  # deleted meanwhile: nothing to do
                self._write_tile(conn, state)
                self._touch(conn, state["collection"])

    def copy_tiles(self, source: str, target: str) -> int:
        """Copy INGESTED tiles whose path the target lacks; return how many."""
        with self.transaction() as conn:
            src, dst = self._collection_row(source), self._collection_row(target)
            src_bands = (src.get("additionalData") or {}).get("bands") or {}
            dst_bands = (dst.get("additionalData") or {}).get("bands") or {}
            if dst_bands and _band_types(dst_bands) != _band_types(src_bands):
                raise bad("the target collection's bands differ from the source's")
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
                conn.execute(
                    "UPDATE collections SET doc = ? WHERE id = ?", (json.dumps(dst), target)
                )
            if rows:
                self._touch(conn, target)
            return len(rows)

    def pending(self) -> list[tuple[str, str]]:
        """(collection id, tile id) of every tile waiting for or in ingestion."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT collection_id, id FROM tiles "
                "WHERE status IN ('WAITING', 'QUEUED', 'INGESTING') ORDER BY seq"
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
    ) -> None:
        bbox = _bbox(state["cover84"]) if state.get("cover84") else (None,) * 4
        values = (
            state["collection"],
            state["path"],
            state["status"],
            state.get("sensingTime"),
            state.get("crs"),
            *bbox,
            json.dumps(state),
            render_tile(state, native),
        )
        if insert:
            conn.execute(
                "INSERT INTO tiles (collection_id, path, status, sensing_time, crs, "
                "west, south, east, north, state, doc, id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, state["id"]),
            )
        else:
            conn.execute(
                "UPDATE tiles SET collection_id = ?, path = ?, status = ?, sensing_time = ?, "
                "crs = ?, west = ?, south = ?, east = ?, north = ?, state = ?, "
                "doc = ? WHERE id = ?",
                (*values, state["id"]),
            )

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
    def register_files(self, bucket: str, files: Mapping[str, Mapping[str, Any]]) -> int:
        """Add (or replace) files of a virtual bucket; see `byocframe.emulator.ingest`."""
        rows = [(bucket, key, *_check_file(key, info)) for key, info in files.items()]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
        return len(rows)

    def files(self, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Files of a bucket whose key starts with ``prefix``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, crs, xmin, ymin, xmax, ymax, resolution, bit_depth, sample_format, "
                "bands FROM files WHERE bucket = ? AND substr(key, 1, ?) = ?",
                (bucket, len(prefix), prefix),
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


def _box_rings(box: list[float]) -> list[list[list[float]]]:
    xmin, ymin, xmax, ymax = box
    return [[[xmin, ymax], [xmax, ymax], [xmax, ymin], [xmin, ymin], [xmin, ymax]]]


def render_tile(state: Mapping[str, Any], native: list[Any] | None = None) -> str:
    """The tile as the API shows it (JSON text): cover in the tile's CRS with the urn.

    ``native`` is the cover already transformed back into the tile's CRS (bulk seeding).
    """
    out: dict[str, Any] = {"id": state["id"], "created": state["created"]}
    if state.get("ingestionStart"):
        out["ingestionStart"] = state["ingestionStart"]
    if state.get("sensingTime"):
        out["sensingTime"] = state["sensingTime"]
    crs = state.get("crs") or "EPSG:4326"
    if state.get("cover84"):
        polygons = native or transform_polygons(state["cover84"], "EPSG:4326", crs)
        kind = state.get("coverType", "MultiPolygon")
        out["coverGeometry"] = {
            "type": kind,
            "crs": {"type": "name", "properties": {"name": crs_urn(crs)}},
            "coordinates": polygons[0] if kind == "Polygon" else polygons,
        }
    if state.get("tileBox"):
        out["tileGeometry"] = {
            "type": "Polygon",
            "crs": {"type": "name", "properties": {"name": crs_urn(crs)}},
            "coordinates": _box_rings(state["tileBox"]),
        }
    out["path"] = state["path"]
    out["status"] = state["status"]
    extra = dict(state.get("additionalData") or {})
    if state.get("failedIngestionCause"):
        extra["failedIngestionCause"] = state["failedIngestionCause"]
    if extra:
        out["additionalData"] = extra
    return json.dumps(out, separators=(",", ":"))


def _matches(search: str, doc: Mapping[str, Any]) -> bool:
    """Whether a collection's name matches ``a|b`` (or) / ``a&b`` (and), case-insensitive."""
    text = str(doc.get("name", "")).lower()
    return any(
        all(word.strip().lower() in text for word in alternative.split("&"))
        for alternative in search.split("|")
    )


def _check_path(path: Any) -> None:
    if not isinstance(path, str) or not path:
        raise bad("path is required and must be a non-empty string")
    if path.startswith("/") or path.endswith("/") or "//" in path:
        raise bad(f"path {path!r} must not start or end with '/' or contain '//'")


def _check_no_data(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise bad(f"noData must be a number (not NaN), got {value!r}")
    return value


def _check_bands(bands: Any) -> dict[str, Any]:
    if bands is None:
        return {}
    if not isinstance(bands, Mapping):
        raise bad("additionalData.bands must be an object of band name -> format")
    if len(bands) > 100:
        raise bad(f"a collection can have at most 100 bands, got {len(bands)}")
    out = {}
    for name, spec in bands.items():
        if not (isinstance(name, str) and name.isidentifier()):
            raise bad(f"band name {name!r} must be a valid identifier")
        spec = {k: v for k, v in (spec or {}).items() if v is not None}
        spec.setdefault("bitDepth", 8)
        spec.setdefault("sampleFormat", "UINT")
        spec.setdefault("source", name)
        spec.setdefault("bandIndex", 1)
        if spec["bitDepth"] not in (8, 16, 32):
            raise bad(f"band {name}: bitDepth must be 8, 16 or 32, got {spec['bitDepth']!r}")
        if spec["sampleFormat"] not in ("UINT", "INT", "FLOAT"):
            raise bad(f"band {name}: sampleFormat must be UINT, INT or FLOAT")
        out[name] = spec
    return out


def _spec_key(spec: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        spec.get("source"),
        spec.get("bandIndex"),
        spec.get("bitDepth"),
        spec.get("sampleFormat"),
    )


def _check_band_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    if not new:
        raise bad("all bands can only be removed from an empty collection")
    remaining = [_spec_key(s) for s in old.values()]
    for name, spec in new.items():
        key = _spec_key(spec)
        if key not in remaining:
            raise bad(
                f"band {name}: once a collection has tiles, bands can only be renamed or "
                "removed, not added or changed"
            )
        remaining.remove(key)


def _band_types(bands: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (v.get("bitDepth"), v.get("sampleFormat")) for k, v in bands.items()}


def _check_file(key: str, info: Mapping[str, Any]) -> tuple[Any, ...]:
    """Validate one manifest entry; return its row (crs, bounds, resolution, ...)."""
    try:
        crs = parse_crs(str(info["crs"]))
        xmin, ymin, xmax, ymax = (float(v) for v in info["bounds"])
        if xmin >= xmax or ymin >= ymax:
            raise ValueError("bounds must be [xmin, ymin, xmax, ymax]")
        return (
            crs,
            xmin,
            ymin,
            xmax,
            ymax,
            float(info.get("resolution", 10.0)),
            int(info.get("bitDepth", 16)),
            str(info.get("sampleFormat", "UINT")),
            int(info.get("bands", 1)),
        )
    except (KeyError, TypeError, ValueError, GeometryProblem) as err:
        raise bad(f"file {key!r}: needs crs and bounds [xmin, ymin, xmax, ymax] ({err})") from err

"""The Catalog's item table and spatial index, kept beside the BYOC tiles in SQLite.

Every INGESTED tile becomes one row of ``catalog_items``: its STAC item (without the
request-dependent links), its datetime in microseconds, its EPSG code, and its lon/lat
cover as WKB. That cover is computed the way the client computes a tile frame's
geometry (`byocframe.geo.geometry.reproject_parsed`: densified, cut at the antimeridian,
polar caps closed along the pole), so a search answers exactly for the geometry the
user sees. Each polygon of it gets its own box in an SQLite R*Tree, so a crosser
indexes as two narrow boxes, not one spanning the globe.

The index follows the tiles inside the writer's own transaction: SQLite triggers record
the id of every inserted, updated or deleted tile row in ``catalog_dirty``, and a
commit hook of the store (`Store.add_commit_hook`) converts those tiles and empties the
table just before the transaction commits. A tile row and its item therefore commit
together or not at all (a ``kill -9`` cannot leave them apart), and a search finds the
index ready: a transaction of many tiles (`byocframe.emulator.seeding`) converts them
in one vectorised pass. A database from before (or written without the hook) is
caught up once when the index is opened, in batches with a log line each.
No code in the store has to know about the Catalog.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely

from byocframe.emulator.store import Store
from byocframe.geo.crs import WGS84, crs_urn, parse_crs
from byocframe.geo.geojson import parse_geojson
from byocframe.geo.geometry import antimeridian_bbox, reproject_parsed

log = logging.getLogger("byocframe.emulator")

__all__ = [
    "INDEX_VERSION",
    "Candidate",
    "CatalogIndex",
    "format_stac_time",
    "render_item",
]

#: Bump when the stored item layout changes: the index is then rebuilt from the tiles.
INDEX_VERSION = "1"
#: Tiles converted per transaction when the index catches up (bounds the memory it needs).
_BATCH = 20_000
#: Boxes per item in the R*Tree; the rest of a many-part cover shares the last box.
_MAX_PARTS = 64
_CRS84_URN = "urn:ogc:def:crs:OGC::CRS84"
STAC_PROJECTION = "https://stac-extensions.github.io/projection/v1.0.0/schema.json"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS catalog_dirty (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS catalog_items (
    seq INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    collection_id TEXT NOT NULL,
    dt_us INTEGER,
    epsg INTEGER,
    west REAL, south REAL, east REAL, north REAL,
    parts INTEGER NOT NULL,
    bbox TEXT,
    wkb BLOB
)""",
    "CREATE INDEX IF NOT EXISTS catalog_items_order ON catalog_items (collection_id, dt_us, id)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS catalog_rtree "
    "USING rtree(part, minx, maxx, miny, maxy, +item)",
    # the triggers run inside the writer's transaction: no tile change goes unnoticed
    *(
        f"CREATE TRIGGER IF NOT EXISTS catalog_on_{event.lower()} AFTER {event} ON tiles "
        f"BEGIN INSERT OR REPLACE INTO catalog_dirty (id) VALUES ({row}.id); END"
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
)

#: (seq, datetime in microseconds or None, id): what a search orders and pages.
Candidate = tuple[int, int | None, str]


class CatalogIndex:
    """The searchable items of a `Store` (see the module docstring).

    Parameters
    ----------
    store : Store
        The service's storage; the index lives in the same database.
    batch : int, default 20 000
        Tiles converted per transaction when a database is caught up at opening.

    Examples
    --------
    >>> from byocframe.emulator.store import Store
    >>> store = Store()
    >>> index = CatalogIndex(store)
    >>> index.refresh()
    0
    """

    def __init__(self, store: Store, *, batch: int = _BATCH):
        self.store = store
        self.batch = batch
        #: Tiles a read (search, item, collection) had to convert: 0 while the commit
        #: hook keeps the index current.
        self.built_on_read = 0
        with store.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'catalog_index'").fetchone()
            if row is None or row[0] != INDEX_VERSION:
                # a database from before the Catalog (or an older layout): index every tile
                conn.execute("DELETE FROM catalog_items")
                conn.execute("DELETE FROM catalog_rtree")
                conn.execute("INSERT OR REPLACE INTO catalog_dirty (id) SELECT id FROM tiles")
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('catalog_index', ?)", (INDEX_VERSION,)
                )
        self.migrated = self._catch_up(announce=True)
        store.add_commit_hook(self._on_commit)

    # ---------------------------------------------------------------- maintenance
    def _catch_up(self, *, announce: bool = False) -> int:
        """Convert every marked tile, `batch` per transaction; return how many."""
        done, total = 0, None
        while True:
            with self.store.transaction() as conn:
                if announce and total is None:
                    total = conn.execute("SELECT count(*) FROM catalog_dirty").fetchone()[0]
                    if total:
                        log.info("Catalog index: converting %d tiles, once", total)
                converted = _convert_marked(conn, self.batch)
            if not converted:
                return done
            done += converted
            if announce:
                log.info("Catalog index: %d of %d tiles converted", done, total)

    def _on_commit(self, conn: sqlite3.Connection) -> None:
        """The store's commit hook: convert the tiles this transaction changed.

        A tile the conversion cannot read does not fail the write: its marks stay (and
        commit), the next read converts it and says what is wrong there.
        """
        conn.execute("SAVEPOINT catalog_index")
        try:
            _convert_marked(conn, None)
        except Exception:
            log.exception("Catalog index: converting changed tiles failed; left to the next read")
            conn.execute("ROLLBACK TO catalog_index")
        conn.execute("RELEASE catalog_index")

    def refresh(self) -> int:
        """Convert tiles changed without the commit hook; return how many (normally 0).

        Only a write by another `Store` on the same file, one without a `CatalogIndex`,
        leaves tiles marked; a read converts them before it answers.
        """
        done = self._catch_up()
        self.built_on_read += done
        return done

    # ---------------------------------------------------------------- queries
    def candidates(
        self,
        cid: str,
        where: Sequence[str] = (),
        args: Sequence[Any] = (),
        *,
        area: shapely.Geometry | None = None,
    ) -> list[Candidate]:
        """Items of collection ``cid`` matching the SQL conditions and intersecting ``area``.

        ``where`` are conditions on ``catalog_items`` columns (``dt_us``, ``epsg``,
        ``id``) with ``?`` placeholders filled from ``args``. ``area`` is a lon/lat
        geometry: the R*Tree gives the items with a part box touching one of its part
        boxes, then shapely keeps those whose cover really intersects it.
        """
        clauses = ["collection_id = ?", *where]
        params: list[Any] = [cid, *args]
        sure = "0"
        if area is not None:
            boxes = _part_boxes(area)
            if not boxes:
                return []
            touching = " UNION ".join(
                "SELECT item FROM catalog_rtree "
                "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
                for _ in boxes
            )
            clauses.append(f"seq IN ({touching})")
            # an item with a part box inside a rectangle of the area intersects it for
            # sure: only the others need their cover read and tested (a whole-globe box
            # then costs no geometry at all)
            # the first rectangles only: the others are tested exactly, and a UNION of
            # more than 500 SELECTs is beyond SQLite
            rectangles = _rectangles(area)[:_MAX_PARTS]
            if rectangles:
                inside = " UNION ".join(
                    "SELECT item FROM catalog_rtree "
                    "WHERE minx >= ? AND maxx <= ? AND miny >= ? AND maxy <= ?"
                    for _ in rectangles
                )
                sure = f"seq IN ({inside})"
            params = [p for w, s, e, n in rectangles for p in (w, e, s, n)] + params
            params += [p for w, s, e, n in boxes for p in (e, w, n, s)]
        sql = f"SELECT seq, dt_us, id, {sure} FROM catalog_items WHERE {' AND '.join(clauses)}"
        with self.store.transaction() as conn:
            rows = conn.execute(sql, params).fetchall()
            unsure = [r[0] for r in rows if not r[3]] if area is not None else []
            covers = dict(
                conn.execute(
                    "SELECT seq, wkb FROM catalog_items "
                    "WHERE seq IN (SELECT value FROM json_each(?))",
                    (json.dumps(unsure),),
                ).fetchall()
                if unsure
                else []
            )
        if covers:
            keys = list(covers)
            # shapely uses a prepared geometry only as the first argument: the other way
            # round, each cover was tested against the whole area (finding 165: 2,000
            # covers against a 400,000-vertex area took 8.2 s instead of 0.12 s)
            shapely.prepare(area)
            hits = shapely.intersects(area, shapely.from_wkb([covers[k] for k in keys]))
            misses = {k for k, hit in zip(keys, hits, strict=True) if not hit}
            rows = [r for r in rows if r[0] not in misses]
        return [(r[0], r[1], r[2]) for r in rows]

    def documents(self, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The items (without links) of these rows, from the tiles as they are now.

        Rows whose tile was deleted or left INGESTED since are absent.
        """
        self.refresh()
        with self.store.transaction() as conn:
            rows = conn.execute(
                "SELECT c.seq, c.collection_id, c.wkb, c.bbox, t.doc FROM catalog_items c "
                "JOIN tiles t ON t.seq = c.seq "
                "WHERE c.seq IN (SELECT value FROM json_each(?))",
                (json.dumps(list(seqs)),),
            ).fetchall()
        present = [r[2] is not None for r in rows]
        shapes = shapely.from_wkb([r[2] for r in rows if r[2] is not None])
        texts = iter(shapely.to_geojson(shapes).tolist())
        return {
            seq: render_item(json.loads(doc), cid, next(texts) if has else None, bbox)
            for (seq, cid, _, bbox, doc), has in zip(rows, present, strict=True)
        }

    def item(self, cid: str, item_id: str) -> dict[str, Any] | None:
        """One item, or None when the collection has no such INGESTED tile."""
        self.refresh()
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT seq FROM catalog_items WHERE id = ? AND collection_id = ?", (item_id, cid)
            ).fetchone()
        return None if row is None else self.documents([row[0]]).get(row[0])

    def extent(self, cid: str) -> tuple[list[float] | None, list[int | None]]:
        """The lon/lat box of the items and their (first, last) datetimes in microseconds."""
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT min(west), min(south), max(east), max(north), min(dt_us), max(dt_us) "
                "FROM catalog_items WHERE collection_id = ?",
                (cid,),
            ).fetchone()
        box = None if row[0] is None else [float(v) for v in row[:4]]
        return box, [row[4], row[5]]


def _convert_marked(conn: sqlite3.Connection, limit: int | None) -> int:
    """Bring the items of the first ``limit`` (None: all) marked tiles up to date.

    Runs inside the caller's transaction; returns how many marks it cleared.
    """
    rows = conn.execute(
        "SELECT d.n, d.id, t.seq, t.collection_id, t.status, t.doc "
        "FROM catalog_dirty d LEFT JOIN tiles t ON t.id = d.id "
        "ORDER BY d.n LIMIT ?",
        (-1 if limit is None else limit,),
    ).fetchall()
    if not rows:
        return 0
    items = _items([r for r in rows if r[4] == "INGESTED"])
    _forget(conn, [r[1] for r in rows])
    _remember(conn, items)
    # read in order of n: every mark up to the last one read was converted
    conn.execute("DELETE FROM catalog_dirty WHERE n <= ?", (rows[-1][0],))
    return len(rows)


def _forget(conn: sqlite3.Connection, ids: list[str]) -> None:
    """Delete the items (and their boxes) of these tiles, where they have some."""
    rows = conn.execute(
        "SELECT seq, parts FROM catalog_items WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    ).fetchall()
    conn.executemany(
        "DELETE FROM catalog_rtree WHERE part = ?",
        [(seq * _MAX_PARTS + k,) for seq, parts in rows for k in range(parts)],
    )
    conn.executemany("DELETE FROM catalog_items WHERE seq = ?", [(seq,) for seq, _ in rows])


def _remember(conn: sqlite3.Connection, items: list[dict[str, Any]]) -> None:
    """Insert items and their boxes, each statement once for all of them."""
    conn.executemany(
        "INSERT INTO catalog_items (seq, id, collection_id, dt_us, epsg, west, south, east, "
        "north, parts, bbox, wkb) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                item["seq"],
                item["id"],
                item["collection"],
                item["dt_us"],
                item["epsg"],
                *(item["extent"] or (None,) * 4),
                len(item["boxes"]),
                item["bbox"],
                item["wkb"],
            )
            for item in items
        ],
    )
    conn.executemany(
        "INSERT INTO catalog_rtree VALUES (?, ?, ?, ?, ?, ?)",
        [
            (item["seq"] * _MAX_PARTS + k, w, e, s, n, item["seq"])
            for item in items
            for k, (w, s, e, n) in enumerate(item["boxes"])
        ],
    )


def _part_boxes(geom: shapely.Geometry) -> list[tuple[float, ...]]:
    """(west, south, east, north) of each part of a query geometry."""
    if geom is None or shapely.is_empty(geom):
        return []
    bounds = shapely.bounds(shapely.get_parts(geom)).tolist()
    return _capped([tuple(b) for b in bounds if all(np.isfinite(b))])


def _rectangles(geom: shapely.Geometry) -> list[tuple[float, ...]]:
    """The boxes of the parts of ``geom`` that are axis-aligned rectangles."""
    out: list[tuple[float, ...]] = []
    for part in shapely.get_parts(geom):
        if shapely.get_type_id(part) != shapely.GeometryType.POLYGON or part.interiors:
            continue
        w, s, e, n = part.bounds
        if shapely.get_num_coordinates(part) == 5 and part.area == (e - w) * (n - s) > 0:
            out.append((w, s, e, n))
    return out


def _capped(boxes: list[tuple[float, ...]]) -> list[tuple[float, ...]]:
    """At most `_MAX_PARTS` boxes: the last one covers all the remaining parts."""
    if len(boxes) <= _MAX_PARTS:
        return boxes
    rest = np.asarray(boxes[_MAX_PARTS - 1 :])
    merged = (*rest[:, :2].min(axis=0).tolist(), *rest[:, 2:].max(axis=0).tolist())
    return [*boxes[: _MAX_PARTS - 1], merged]


def _items(rows: list[Any]) -> list[dict[str, Any]]:
    """Index rows for (n, id, seq, collection, status, doc) tile rows, converted in one pass."""
    if not rows:
        return []
    tiles = [json.loads(r[5]) for r in rows]
    parsed = parse_geojson([t.get("coverGeometry") or t.get("tileGeometry") for t in tiles])
    lonlat = reproject_parsed(parsed, WGS84)
    present = ~shapely.is_missing(lonlat)
    present[present] = ~shapely.is_empty(lonlat[present])
    boxes: list[list[tuple[float, ...]]] = [[] for _ in rows]
    parts, owner = shapely.get_parts(lonlat[present], return_index=True)
    positions = np.flatnonzero(present)
    for pos, box in zip(positions[owner].tolist(), shapely.bounds(parts).tolist(), strict=True):
        boxes[pos].append(tuple(box))
    wkb = np.full(len(rows), None, dtype=object)
    wkb[present] = shapely.to_wkb(lonlat[present])
    out = []
    for k, (row, tile) in enumerate(zip(rows, tiles, strict=True)):
        crs = parsed.crs[k] if present[k] else None
        extent = None
        if boxes[k]:
            extent = [min(b[0] for b in boxes[k]), min(b[1] for b in boxes[k])]
            extent += [max(b[2] for b in boxes[k]), max(b[3] for b in boxes[k])]
        out.append(
            {
                "seq": row[2],
                "id": row[1],  # the row, not its document (only what the tile shows)
                "collection": row[3],
                "dt_us": _micros(tile.get("sensingTime")),
                "epsg": int(str(crs).split(":")[-1]) if crs else None,
                "extent": extent,
                "bbox": json.dumps(antimeridian_bbox(boxes[k])) if boxes[k] else None,
                "boxes": _capped(boxes[k]),
                "wkb": wkb[k],
            }
        )
    return out


def render_item(
    tile: dict[str, Any], cid: str, geojson: str | None, bbox: str | None
) -> dict[str, Any]:
    """The STAC item of an INGESTED tile (without links) from its BYOC record and index row.

    ``geometry`` is the lon/lat cover of the index; ``proj:geometry`` the cover as the
    tile has it, in its own CRS (a MultiPolygon, as in every real item).
    """
    doc: dict[str, Any] = {
        "stac_version": "1.0.0",
        "stac_extensions": [STAC_PROJECTION],
        "id": tile["id"],
        "type": "Feature",
        "geometry": None,
        "properties": {"datetime": format_stac_time(_micros(tile.get("sensingTime")))},
        "assets": {},
        "collection": "byoc-" + cid,
    }
    native = tile.get("coverGeometry") or tile.get("tileGeometry")
    if geojson is not None:
        body = json.loads(geojson)
        doc["geometry"] = {
            "type": "MultiPolygon",
            "crs": {"type": "name", "properties": {"name": _CRS84_URN}},
            "coordinates": [body["coordinates"]]
            if body["type"] == "Polygon"
            else body["coordinates"],
        }
        doc["bbox"] = json.loads(bbox) if bbox else None
    if native is not None:
        doc["properties"].update(_projection(native))
    return doc


def _projection(native: dict[str, Any]) -> dict[str, Any]:
    """``proj:*`` properties: the cover as the tile has it, in its own CRS."""
    crs = ((native.get("crs") or {}).get("properties") or {}).get("name")
    epsg = int(parse_crs(crs).split(":")[-1])
    coords = native["coordinates"]
    polygons = [coords] if native.get("type") == "Polygon" else coords
    xs = [p[0] for poly in polygons for p in poly[0]]
    ys = [p[1] for poly in polygons for p in poly[0]]
    return {
        "proj:epsg": epsg,
        "proj:bbox": [min(xs), min(ys), max(xs), max(ys)],
        "proj:geometry": {
            "type": "MultiPolygon",
            "crs": {"type": "name", "properties": {"name": crs_urn(f"EPSG:{epsg}")}},
            "coordinates": polygons,
        },
    }


def _micros(text: Any) -> int | None:
    if not text:
        return None
    return int(np.datetime64(str(text).rstrip("Z"), "us").astype(np.int64))


def format_stac_time(micros: int | None) -> str | None:
    """RFC 3339 UTC with ``Z``: whole seconds, plus milliseconds when not zero.

    Examples
    --------
    >>> format_stac_time(0), format_stac_time(1_500), format_stac_time(None)
    ('1970-01-01T00:00:00Z', '1970-01-01T00:00:00.001Z', None)
    """
    if micros is None:
        return None
    text = str(np.datetime64(int(micros), "us").astype("datetime64[ms]"))
    return (text[:-4] if text.endswith(".000") else text) + "Z"

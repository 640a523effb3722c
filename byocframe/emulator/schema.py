"""The local service's SQLite schema: its tables, how a database is opened, its settings.

Every table is created with ``IF NOT EXISTS``, so opening a database the service wrote
before leaves it as it is; the schema has had no change that needs a migration yet. A
file database runs in WAL mode with ``synchronous=NORMAL``: a commit survives the
process being killed (``tests/emulator/test_service_durability.py``).
"""

from __future__ import annotations

import sqlite3

__all__ = ["SCHEMA", "open_database", "read_meta", "write_meta"]

#: The tables and indexes of the service's database.
SCHEMA = """
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


def open_database(path: str) -> sqlite3.Connection:
    """Open (or create) the service's database at ``path`` with its schema.

    The connection is in autocommit mode (transactions are explicit: see
    `byocframe.emulator.transactions`) and may be used from any thread (the caller
    guards it with one lock).

    Parameters
    ----------
    path : str
        SQLite file, or ``":memory:"``.

    Returns
    -------
    sqlite3.Connection

    Examples
    --------
    >>> conn = open_database(":memory:")
    >>> sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    ['collections', 'files', 'meta', 'sqlite_sequence', 'tiles']
    >>> conn.close()
    """
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


def read_meta(conn: sqlite3.Connection, key: str) -> str | None:
    """The setting ``key`` of the ``meta`` table, or None.

    Examples
    --------
    >>> conn = open_database(":memory:")
    >>> read_meta(conn, "location") is None
    True
    >>> conn.close()
    """
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def write_meta(conn: sqlite3.Connection, key: str, value: str) -> str:
    """Store (or replace) the setting ``key``; return ``value``.

    Examples
    --------
    >>> conn = open_database(":memory:")
    >>> write_meta(conn, "location", "aws-eu-central-1")
    'aws-eu-central-1'
    >>> read_meta(conn, "location")
    'aws-eu-central-1'
    >>> conn.close()
    """
    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
    return value

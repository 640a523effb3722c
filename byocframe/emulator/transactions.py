"""Transactions of the local service's store: one connection, one lock, savepoints, hooks.

All access to the database goes through one connection guarded by one re-entrant lock.
A transaction is ``BEGIN IMMEDIATE`` ... ``COMMIT``; one opened inside another (same
thread) is a savepoint of it; the hooks of `Transactions.add_commit_hook` run just
before the outermost one commits, so what they write commits with it or not at all.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["CommitHook", "Transactions", "TurnLock"]

#: Runs at the end of every outermost transaction, before it commits.
CommitHook = Callable[[sqlite3.Connection], None]


class TurnLock:
    """A re-entrant lock that counts the threads waiting for it, to let them go first.

    A long job done in batches (`byocframe.emulator.store.Store.copy_tiles`) calls
    `TurnLock.let_waiters_in` between them. A plain `threading.RLock` does not do: the
    thread that releases it takes it straight back, before a waiting one wakes, so the
    waiting requests would wait for the whole job anyway (finding 166).

    Examples
    --------
    >>> lock = TurnLock()
    >>> with lock:
    ...     with lock:  # re-entrant
    ...         lock.waiting
    0
    >>> lock.let_waiters_in()  # nobody waits: returns at once
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state = threading.Condition(threading.Lock())
        self._waiting = 0
        self._served = 0  # waiting threads that got the lock, in all
        self._owner: int | None = None
        self._depth = 0

    @property
    def waiting(self) -> int:
        """How many threads wait for the lock now."""
        return self._waiting

    def acquire(self) -> bool:
        """Take the lock, waiting for it if another thread holds it."""
        if not self._lock.acquire(blocking=False):
            with self._state:
                self._waiting += 1
                self._state.notify_all()
            self._lock.acquire()
            with self._state:
                self._waiting -= 1
                self._served += 1
                self._state.notify_all()
        self._owner = threading.get_ident()
        self._depth += 1
        return True

    def release(self) -> None:
        """Release one level of the lock."""
        self._depth -= 1
        if not self._depth:
            self._owner = None
        self._lock.release()

    def __enter__(self) -> TurnLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def await_waiters(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` threads wait for the lock (False if ``timeout`` passed)."""
        with self._state:
            return self._state.wait_for(lambda: self._waiting >= count, timeout)

    def let_waiters_in(self, timeout: float = 5.0) -> None:
        """Return once each thread waiting now has held the lock (or after ``timeout`` s).

        Call it between batches, not holding the lock (holding it, it returns at once:
        nobody could take it).
        """
        if self._owner == threading.get_ident():
            return
        with self._state:
            target = self._served + self._waiting
            self._state.wait_for(lambda: self._served >= target, timeout)


class Transactions:
    """Atomic units of work on one SQLite connection, shared by threads.

    Parameters
    ----------
    connection : sqlite3.Connection
        In autocommit mode (``isolation_level=None``), usable from any thread
        (`byocframe.emulator.schema.open_database` opens one).

    Attributes
    ----------
    connection : sqlite3.Connection
        Use it only while holding `lock` (a transaction holds it).
    lock : TurnLock
        Guards every use of the connection (re-entrant).

    Examples
    --------
    >>> import sqlite3
    >>> db = Transactions(sqlite3.connect(":memory:", isolation_level=None))
    >>> with db.transaction() as conn:
    ...     _ = conn.execute("CREATE TABLE t (x INTEGER)")
    ...     _ = conn.execute("INSERT INTO t VALUES (1)")
    ...     try:
    ...         with db.transaction() as inner:  # a savepoint: undone alone
    ...             _ = inner.execute("INSERT INTO t VALUES (2)")
    ...             raise KeyError("undo")
    ...     except KeyError:
    ...         pass
    >>> db.connection.execute("SELECT x FROM t").fetchall()
    [(1,)]
    >>> db.close()
    """

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection
        self.lock = TurnLock()
        self._depth = 0  # transactions open on the lock holder's thread
        self._hooks: list[CommitHook] = []

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work (nothing half-written if it raises).

        A transaction opened inside another one (same thread) is a savepoint of it:
        it undoes only its own changes if it raises, and the outer one commits
        everything at once (how `seed` groups thousands of creates and ingestions).
        The hooks of `add_commit_hook` run in the outermost transaction, just
        before it commits.
        """
        conn = self.connection
        with self.lock:
            if self._depth:
                name = f"nested_{self._depth}"
                conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield conn
                except BaseException:
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                    raise
                finally:
                    self._depth -= 1
                conn.execute(f"RELEASE {name}")
                return
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield conn
                for hook in self._hooks:
                    hook(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            conn.execute("COMMIT")

    def add_commit_hook(self, hook: CommitHook) -> None:
        """Run ``hook(connection)`` at the end of every transaction, before it commits.

        What the hook writes commits with the transaction's own changes, or not at
        all: the Catalog's index (`byocframe.emulator.spatial`) follows the tile rows
        this way. A hook that raises rolls the whole transaction back.
        """
        with self.lock:
            self._hooks.append(hook)

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.connection.close()

"""Run the requests of a push or reingest on a thread pool; one outcome per task.

A `Task` names its `Action`, its key (a tile id, or the `NewRow` a create comes from)
and the function that sends what one tile needs and returns its `Outcome`. Any error
becomes a ``failed`` outcome on that task's row, so a bug or a dead connection never
loses the record of what succeeded. `run_tasks` answers with one `Done` per task.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias

import pandas as pd

from byocframe.edits.tilestate import TileState
from byocframe.exceptions import APIError, ByocframeError
from byocframe.progress import ProgressBar

__all__ = [
    "Action",
    "Done",
    "Key",
    "NewRow",
    "Outcome",
    "Result",
    "Task",
    "run_tasks",
    "task_result",
]


class Action(enum.StrEnum):
    """What a task does to one tile or collection (the result's ``action`` column)."""

    UPDATE = "update"
    CREATE = "create"
    DELETE = "delete"
    REINGEST = "reingest"


class Result(enum.StrEnum):
    """What became of a task (the result's ``outcome`` column)."""

    #: Written (or deleted, created, sent to ingestion).
    OK = "ok"
    #: The server already held it: nothing was written.
    UNCHANGED = "unchanged"
    #: Someone else changed the same field: nothing was written.
    CONFLICT = "conflict"
    #: Written, then changed by another writer (the verify saw it).
    OVERWRITTEN = "overwritten"
    FAILED = "failed"
    #: A dry run: nothing was sent; this would have been.
    WOULD_UPDATE = "would update"
    WOULD_CREATE = "would create"
    WOULD_DELETE = "would delete"

    @classmethod
    def would(cls, action: Action) -> Result:
        """The dry-run outcome of ``action`` (``would update``, ...)."""
        return cls(f"would {action}")

    @property
    def settled(self) -> bool:
        """Whether the server now holds what was asked for (``ok`` or ``unchanged``)."""
        return self in (Result.OK, Result.UNCHANGED)


class NewRow(NamedTuple):
    """The key of a create: the new row's position in the pushed frame."""

    position: int


#: A task's key: a tile (or collection) id, or the new row a create comes from.
Key: TypeAlias = "str | NewRow"


@dataclass
class Outcome:
    """What happened to one task of a push (or reingest).

    Examples
    --------
    >>> Outcome("ok", 204).outcome is Result.OK
    True
    """

    outcome: Result
    status_code: int | None = None
    message: str = ""
    id: str | None = None
    sent: TileState | None = None
    #: The fields this push changed on the server (what the verify looks at).
    mine: tuple[str, ...] = ()
    #: When the write was answered (the client's clock), for the verify's timing.
    written_at: float | None = None
    #: Seconds after ``written_at`` before the verify reads the tile (None: the default,
    #: `byocframe.edits.writes.SETTLE`); longer after a slow write.
    settle: float | None = None
    #: The tile as the server held it once this task settled, when it was read (the
    #: verify's read-back, or the check that found it already as wanted); the write-back
    #: records it for a later deletion's check.
    server: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.outcome = Result(self.outcome)  # "ok" is taken as Result.OK


class Task(NamedTuple):
    """One request (or a few) to run: ``run`` sends it and says what happened."""

    action: Action
    key: Key
    run: Callable[[], Outcome]


class Done(NamedTuple):
    """A task that ran, with its outcome."""

    action: Action
    key: Key
    outcome: Outcome


def _guard(task: Task, on_done: Callable[[Done], None] | None = None) -> Outcome:
    """Run one task; any error becomes a ``failed`` outcome on its own row."""
    try:
        outcome = task.run()
    except APIError as err:
        outcome = Outcome(Result.FAILED, err.status_code, err.message)
    except ByocframeError as err:
        outcome = Outcome(Result.FAILED, message=str(err))
    except Exception as err:  # a bug must not lose the record of what succeeded
        outcome = Outcome(Result.FAILED, message=f"{type(err).__name__}: {err}")
    if on_done is not None:
        on_done(Done(task.action, task.key, outcome))
    return outcome


def run_tasks(
    tasks: Iterable[Task],
    workers: int,
    progress: bool | None,
    label: str,
    total: int | None = None,
    on_done: Callable[[Done], None] | None = None,
) -> list[Done]:
    """Run tasks on a thread pool with a progress bar; outcomes in task order.

    ``tasks`` may be a generator: it is read only as workers free up (no task waits
    for a worker), so a task made from a page just read runs soon after the read.
    ``total`` sizes the progress bar when ``tasks`` has no length; every task is run
    whatever it says. ``on_done(done)`` is called on the worker's thread as each task
    ends.

    Examples
    --------
    >>> pings = [Task(Action.UPDATE, k, lambda: Outcome("ok")) for k in "ab"]
    >>> [(done.key, done.outcome.outcome.value) for done in run_tasks(pings, 2, False, "")]
    [('a', 'ok'), ('b', 'ok')]
    """
    if total is None:
        tasks = list(tasks)
        total = len(tasks)
        if not total:
            return []
    slots = threading.Semaphore(max(1, workers))  # tasks submitted, not finished
    finished: queue.SimpleQueue[None] = queue.SimpleQueue()
    started: list[tuple[Task, Future[Outcome]]] = []

    def release(_: Future[Outcome]) -> None:
        slots.release()
        finished.put(None)

    with (
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,  # threads start as needed
        ProgressBar(total, progress, label) as bar,
    ):
        shown = 0
        pending = iter(tasks)
        while True:
            slots.acquire()  # a worker is free before the next task is even made
            while not finished.empty():
                finished.get()
                shown += 1
                bar.update(1)
            try:
                task = Task(*next(pending))
            except StopIteration:
                break
            future = pool.submit(_guard, task, on_done)
            future.add_done_callback(release)
            started.append((task, future))
        for _ in range(len(started) - shown):
            finished.get()
            bar.update(1)
    return [Done(task.action, task.key, future.result()) for task, future in started]


def task_result(done: Iterable[Done]) -> pd.DataFrame:
    """The result frame of a push or reingest: one row per task, indexed by id.

    A create is indexed by the new tile's id (None when it was not created).

    Examples
    --------
    >>> task_result([Done(Action.DELETE, "t1", Outcome("ok", 204))]).loc["t1", "outcome"]
    'ok'
    """
    rows, index = [], []
    for action, key, outcome in done:
        index.append(outcome.id or (None if isinstance(key, NewRow) else key))
        rows.append(
            {
                "action": str(action),
                "outcome": str(outcome.outcome),
                "status_code": outcome.status_code,
                "message": outcome.message,
            }
        )
    result = pd.DataFrame(
        rows,
        index=pd.Index(index, name="id", dtype=object),
        columns=["action", "outcome", "status_code", "message"],
    )
    result["status_code"] = result["status_code"].astype("Int64")
    return result

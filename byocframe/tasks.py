"""Run the requests of a push or reingest on a thread pool; one outcome per task.

A task is ``(action, key, fn)``: ``fn`` sends what one tile needs and returns its
`Outcome`. Any error becomes a ``failed`` outcome on that task's row, so a bug or a
dead connection never loses the record of what succeeded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeAlias

import pandas as pd

from byocframe.exceptions import APIError, ByocframeError
from byocframe.progress import ProgressBar
from byocframe.tilestate import TileState

__all__ = ["Outcome", "Task", "run_tasks", "task_result"]


@dataclass
class Outcome:
    """What happened to one task of a push (or reingest)."""

    outcome: str
    status_code: int | None = None
    message: str = ""
    id: str | None = None
    sent: TileState | None = None
    #: The fields this push changed on the server (what the verify looks at).
    mine: tuple[str, ...] = ()
    #: When the write was answered (the client's clock), for the verify's timing.
    written_at: float | None = None
    #: Seconds after ``written_at`` before the verify reads the tile (None: the default,
    #: `byocframe.verify.SETTLE`); longer after a slow write.
    settle: float | None = None


#: ``(action, key, fn)``: the action (``update``, ``create``...), the tile id (or a
#: key for a new row) and the function that sends it.
Task: TypeAlias = tuple[str, Any, Callable[[], Outcome]]


def _guard(
    fn: Callable[[], Outcome],
    action: str = "",
    key: Any = None,
    on_done: Callable[[str, Any, Outcome], None] | None = None,
) -> Outcome:
    """Run one task; any error becomes a ``failed`` outcome on its own row."""
    try:
        outcome = fn()
    except APIError as err:
        outcome = Outcome("failed", err.status_code, err.message)
    except ByocframeError as err:
        outcome = Outcome("failed", message=str(err))
    except Exception as err:  # a bug must not lose the record of what succeeded
        outcome = Outcome("failed", message=f"{type(err).__name__}: {err}")
    if on_done is not None:
        on_done(action, key, outcome)
    return outcome


def run_tasks(
    tasks: Iterable[Task],
    workers: int,
    progress: bool | None,
    label: str,
    total: int | None = None,
    on_done: Callable[[str, Any, Outcome], None] | None = None,
) -> list[tuple[str, Any, Outcome]]:
    """Run tasks on a thread pool with a progress bar; outcomes in task order.

    ``tasks`` may be a generator: it is read only as workers free up (no task waits
    for a worker), so a task made from a page just read runs soon after the read.
    ``total`` sizes the progress bar when ``tasks`` has no length; every task is run
    whatever it says. ``on_done(action, key, outcome)`` is called on the worker's
    thread as each task ends.

    Examples
    --------
    >>> done = run_tasks([("ping", k, lambda: Outcome("ok")) for k in "ab"], 2, False, "")
    >>> [(key, o.outcome) for _, key, o in done]
    [('a', 'ok'), ('b', 'ok')]
    """
    if total is None:
        tasks = list(tasks)
        total = len(tasks)
        if not total:
            return []
    slots = threading.Semaphore(max(1, workers))  # tasks submitted, not finished
    finished: queue.SimpleQueue[None] = queue.SimpleQueue()
    started: list[tuple[str, Any, Future[Outcome]]] = []

    def done(_: Future[Outcome]) -> None:
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
                action, key, fn = next(pending)
            except StopIteration:
                break
            future = pool.submit(_guard, fn, action, key, on_done)
            future.add_done_callback(done)
            started.append((action, key, future))
        for _ in range(len(started) - shown):
            finished.get()
            bar.update(1)
    return [(action, key, future.result()) for action, key, future in started]


def task_result(done: Iterable[tuple[str, Any, Outcome]]) -> pd.DataFrame:
    """The result frame of a push or reingest: one row per task, indexed by id.

    Examples
    --------
    >>> task_result([("delete", "t1", Outcome("ok", 204))]).loc["t1", "outcome"]
    'ok'
    """
    rows, index = [], []
    for action, key, outcome in done:
        index.append(outcome.id or (None if isinstance(key, tuple) else key))
        rows.append(
            {
                "action": action,
                "outcome": outcome.outcome,
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

"""Send the edits of a collections frame: `push_collections`.

The same three steps as `byocframe.edits.route.push` for tiles: each collection is read just
before it is written and merged field by field, written, then read again to catch
another writer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd

from byocframe.client.api import resolve_client
from byocframe.edits.tasks import Action, Done, Outcome, Result, Task, run_tasks, task_result
from byocframe.exceptions import ValidationError
from byocframe.frame.collection_state import (
    COLLECTION_EDITABLE,
    COLLECTION_READ_ONLY,
    collection_state,
    loaded_collections,
    stamp_collections,
)
from byocframe.frame.convert import collections_from_records
from byocframe.typing import AnyClient

__all__ = ["push_collections"]


def push_collections(
    frame: pd.DataFrame,
    client: AnyClient,
    *,
    original: pd.DataFrame | None = None,
    dry_run: bool = False,
    force: bool = False,
    workers: int = 4,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Send edits of a collections frame: ``name``, ``no_data`` and band renames.

    The same three steps as `byocframe.edits.route.push`: each collection is read just
    before it is written and merged field by field (a field only the server changed is
    kept; one both changed differently is a ``conflict``), written, and read again to
    catch another writer.
    Bands are renamed by editing the keys of ``additionalData.bands`` in the
    ``additional_data`` JSON column (their formats cannot change once tiles exist).

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=10) as service:
    ...     client = service.client()
    ...     collections = byocframe.read_collections(client)
    ...     collections["name"] = "renamed"
    ...     result = push_collections(collections, client)
    ...     [c["name"] for c in client.iter_collections()]
    ['renamed']
    """
    client = resolve_client(client)
    loaded = loaded_collections(original if original is not None else frame)
    if loaded is None:
        raise ValidationError(
            "this collections frame does not say what was loaded: load it with "
            "byocframe.read_collections(), or pass original="
        )
    now = collection_state(frame)
    problems: list[dict[str, Any]] = []
    edits: list[tuple[str, list[str]]] = []
    for cid, after in now.items():
        before = loaded.get(cid)
        if before is None:
            problems.append(
                {
                    "id": cid,
                    "field": "id",
                    "value": cid,
                    "problem": "unknown collection (create it with Client.create_collection)",
                }
            )
            continue
        if "others" not in before:
            raise ValidationError(
                f"collection {cid}: this collections frame was loaded by an earlier byocframe, "
                "which did not record every column: load it again with "
                "byocframe.read_collections() and redo the edits"
            )
        problems += [
            {"id": cid, "field": n, "value": after[n], "problem": "read-only field edited"}
            for n in COLLECTION_READ_ONLY
            if after[n] != before[n]
        ]
        # every other column the service owns; a column dropped is not an edit
        problems += [
            {
                "id": cid,
                "field": n,
                "value": value,
                "problem": "read-only field edited"
                + (" (only its bands can change)" if n == "additional_data" else ""),
            }
            for n, value in after["others"].items()
            if n in before["others"] and value != before["others"][n]
        ]
        edited = [n for n in COLLECTION_EDITABLE if after[n] != before[n]]
        if edited:
            edits.append((cid, edited))
    if problems:
        raise ValidationError.of_edits(
            problems, "collection", "only name, no_data and band names can change"
        )
    if dry_run:
        return task_result(
            Done(
                Action.UPDATE,
                cid,
                Outcome(
                    Result.WOULD_UPDATE,
                    message="would update: "
                    + "; ".join(f"{n}: {loaded[cid][n]} -> {now[cid][n]}" for n in edited),
                ),
            )
            for cid, edited in edits
        )

    def server_values(cid: str) -> dict[str, Any]:
        return collection_state(collections_from_records([client.get_collection(cid)]))[cid]

    def task(cid: str, edited: list[str]) -> Callable[[], Outcome]:
        def run() -> Outcome:
            server = server_values(cid)
            base, wanted = loaded[cid], now[cid]
            merged = dict(server)
            clashes = []
            for name in edited:
                if not force and server[name] != base[name] and server[name] != wanted[name]:
                    clashes.append(name)
                merged[name] = wanted[name]
            if clashes:
                return Outcome(
                    Result.CONFLICT,
                    message=f"{', '.join(clashes)} changed on the server too: reload it, or "
                    "push with force=True",
                )
            if all(merged[n] == server[n] for n in COLLECTION_EDITABLE):
                return Outcome(Result.UNCHANGED, message="the server already holds it")
            body: dict[str, Any] = {"name": merged["name"], "s3Bucket": merged["s3_bucket"]}
            if merged["no_data"] is not None:
                body["noData"] = float(merged["no_data"])  # an omitted noData is deleted
            if merged["bands"] is not None:
                body["additionalData"] = {"bands": json.loads(merged["bands"])}
            client.update_collection(cid, body)
            again = server_values(cid)
            lost = [n for n in edited if again[n] != merged[n]]
            if lost:
                return Outcome(
                    Result.OVERWRITTEN,
                    204,
                    f"another writer changed its {', '.join(lost)} after our write; reload it",
                )
            return Outcome(Result.OK, 204)

        return run

    done = run_tasks(
        [Task(Action.UPDATE, cid, task(cid, edited)) for cid, edited in edits],
        workers,
        progress,
        "pushing collections",
    )
    settled = {str(d.key) for d in done if d.outcome.outcome.settled}
    if settled:
        merged_state = {**loaded, **{cid: now[cid] for cid in settled}}
        stamp_collections(frame, service=client.base_url, state=merged_state)
    return task_result(done)

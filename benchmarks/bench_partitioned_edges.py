"""Benchmark: what the checks of partitioned changes cost (manifest, new paths, deletions).

``--tiles`` synthetic tiles (on enough dates), 1 % retimed and 0.1 % dropped, written
by `write_partitions` as 4 id-hash partitions, then with dask's synchronous scheduler
(CPU seconds, the steadier figure on a shared machine):

* the write, the partition files and the ``_loaded_ids.parquet`` manifest, and the
  bytes each partition file no longer carries (every loaded id, ~37 B each, in its
  attrs);
* ``partitioned_changes(deleted=True)`` with ``loaded_ids=`` given and with the ids
  read back from the manifest (plus its check that no partition file is missing);
* ``partitioned_plan`` of the same edits with ``--new`` new rows (one repeating a
  loaded row's path), which adds the second, two-column read that checks their paths
  against every partition, against none.

Run: ``python benchmarks/bench_partitioned_edges.py --tiles 100000``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def cpu(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    out = call()
    return time.process_time() - start, out


def frames(tiles: int, new: int) -> tuple[Any, Any, Any]:
    """The loaded frame, its edits, and the edits with ``new`` new rows."""
    import byocframe
    from byocframe.frame.synthetic import synthetic_tiles

    dates = max(1, -(-tiles // 20_000))  # the grid holds ~21,000 land cells a date
    days = pd.date_range("2024-01-01", periods=dates, freq="7D")
    loaded = byocframe.tiles_from_records(
        synthetic_tiles(tiles, dates=tuple(str(d.date()) for d in days), seed=5)
    )
    edited = loaded.copy()
    edited.attrs = loaded.attrs
    rng = np.random.default_rng(1)
    moved = rng.choice(len(edited), len(edited) // 100, replace=False)
    edited.loc[edited.index[moved], "sensing_time"] += pd.Timedelta(hours=1)
    gone = rng.choice(len(edited), len(edited) // 1000, replace=False)
    edited = edited.drop(index=edited.index[gone])
    rows = edited.iloc[:new].reset_index(drop=True)
    rows["loaded"] = None
    rows["path"] = [f"new/{i}/(BAND).tif" for i in range(new)]
    rows.loc[new - 1, "path"] = edited["path"].iloc[-1]  # a loaded row's path
    with_new = pd.concat([edited, rows])
    with_new.attrs = loaded.attrs
    return loaded, edited, with_new


def measure(tiles: int, new: int) -> dict[str, Any]:
    import dask

    from byocframe.scale.manifest import MANIFEST
    from byocframe.scale.partitioned import partitioned_changes, partitioned_plan, write_partitions

    loaded, edited, with_new = frames(tiles, new)
    out: dict[str, Any] = {"tiles": len(loaded)}
    with tempfile.TemporaryDirectory() as tmp, dask.config.set(scheduler="sync"):
        folder, other = Path(tmp) / "edited", Path(tmp) / "new"
        folder.mkdir()
        other.mkdir()
        out["write_s"], paths = cpu(lambda: write_partitions(edited, folder, partitions=4))
        out["files_mb"] = sum(p.stat().st_size for p in paths) / 2**20
        out["manifest_mb"] = (folder / MANIFEST).stat().st_size / 2**20
        ids_text = loaded.attrs["byocframe"]["loaded_ids"]
        out["saved_per_file_mb"] = len(ids_text.encode()) / 2**20
        ids = loaded.index
        partitioned_changes(folder)  # warm-up: the first call loads dask's machinery
        out["given_s"], given = cpu(
            lambda: partitioned_changes(folder, deleted=True, loaded_ids=ids)
        )
        out["recovered_s"], recovered = cpu(lambda: partitioned_changes(folder, deleted=True))
        assert given.equals(recovered)
        out["deletes"] = int((recovered["action"] == "delete").sum())
        out["plan_s"], _ = cpu(lambda: partitioned_plan(folder))
        write_partitions(with_new, other, partitions=4)
        out["plan_new_s"], found = cpu(lambda: partitioned_plan(other))
        out["new"] = new
        out["problems"] = len(found.problems)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--new", type=int, default=100)
    args = parser.parse_args()
    rows = [measure(n, args.new) for n in args.tiles]
    for row in rows:
        print(json.dumps(row))
    print()
    print(
        "| tiles | write (4 files + manifest) | manifest | ids no longer in each file |"
        " changes(deleted), ids given | ids from the manifest | plan, no new row |"
        f" plan, {args.new} new rows (path pass) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['tiles']:,} | {r['write_s']:.1f} s ({r['files_mb']:.0f} MB) |"
            f" {r['manifest_mb']:.2f} MB | {r['saved_per_file_mb']:.2f} MB |"
            f" {r['given_s']:.2f} s | {r['recovered_s']:.2f} s ({r['deletes']} deletes) |"
            f" {r['plan_s']:.2f} s | {r['plan_new_s']:.2f} s ({r['problems']} problem) |"
        )


if __name__ == "__main__":
    main()

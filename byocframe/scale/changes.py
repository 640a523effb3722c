"""Changes of a partitioned dataset: `plan` per partition, then combined with dask.

Each partition is planned on its own (`byocframe.edits.diff.plan`: every row carries its
``loaded`` token); the combine step shuffles the ids of every partition (and the loaded
ids, for deletions) by id, so a tile in two partitions is found, and so is a loaded tile
in none; new rows' paths are checked against every partition's
(`byocframe.scale.problems`). Deletions need the loaded ids: given, or read from the
manifest `write_partitions` writes (`byocframe.scale.manifest`), and never from a
dataset with a missing file. docs/design/scale.md says how and why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from byocframe.edits.diff import plan_edits
from byocframe.edits.edited import read_edited
from byocframe.exceptions import ValidationError
from byocframe.frame.records import ATTRS_KEY
from byocframe.io.geoparquet_read import restore_columns
from byocframe.scale.dataset import (
    check_files,
    dask_modules,
    empty_frame,
    partition_files,
    read_partitions,
)
from byocframe.scale.manifest import Manifest, check_complete, read_manifest, recovered_ids
from byocframe.scale.problems import (
    NEW_PATH,
    PROBLEM,
    PartitionedPlan,
    partition_rows,
    repeated_paths,
)

__all__ = [
    "ID_FINDINGS",
    "PartitionedPlan",
    "id_findings",
    "partitioned_changes",
    "partitioned_plan",
]

#: What the id shuffle of `partitioned_changes` reports, per id: ``repeated`` (in two
#: partitions or more) or ``deleted`` (loaded, in none).
ID_FINDINGS = {
    "id": object,
    "finding": object,
    "first": np.int64,
    "second": np.int64,
    "position": np.int64,
}
_ID_META = {"id": object, "partition": np.int64, "position": np.int64}


#: The rows of `_partition_report`: each partition's changes, its origin rows (``action``
#: None, ``new`` its collection, ``old`` a load its rows came from: one row a load, or one
#: with None), then its problems and new paths (``action`` `PROBLEM` / `NEW_PATH`,
#: ``row`` their row in the partition).
_REPORT_META = {
    "id": object,
    "field": object,
    "old": object,
    "new": object,
    "action": object,
    "partition": np.int64,
    "row": np.int64,
}


def _partition_report(
    part: pd.DataFrame,
    partition_info: dict[str, Any] | None = None,
    drawing: dict[str, Any] | None = None,
) -> Any:
    """One partition's changes (in its row order), origin (collection, loads), problems, new paths.

    The problems and new paths are `byocframe.scale.problems.partition_rows`. ``drawing``
    (the dataset's ``densify`` and ``tolerance``) says how its geometries were drawn:
    dask keeps no file's attrs, and without it a redraw would differ from the rows.
    """
    number = int((partition_info or {}).get("number", 0))
    if drawing:  # before restoring: the tile geometries it draws are drawn so too
        part = part.copy(deep=False)
        part.attrs = {ATTRS_KEY: {**part.attrs.get(ATTRS_KEY, {}), **drawing}}
    restored = restore_columns(part)
    edited = read_edited(restored)
    found = plan_edits(edited)
    # the loads of its rows, from the tokens the plan decoded (a second decode cost as
    # much as the plan's own): one origin row each, or one with none
    loads = np.unique(edited.state.load[edited.state.present]).tolist() or [None]
    origin = [
        {"id": None, "field": None, "old": load, "new": found.collection, "action": None}
        for load in loads
    ]
    table = pd.concat(
        [
            found.changes.astype(object).assign(row=-1),
            pd.DataFrame(origin, dtype=object).assign(row=-1),
            partition_rows(restored, found, number),
        ],
        ignore_index=True,
    )
    table["partition"] = np.int64(number)
    table["row"] = table["row"].astype(np.int64)
    return table[list(_REPORT_META)]


def _taken_paths(part: pd.DataFrame, wanted: frozenset[str]) -> pd.DataFrame:
    """The paths among ``wanted`` that a loaded row (one with a token) holds now."""
    loaded = part["loaded"].notna().to_numpy()
    paths = part["path"].to_numpy(dtype=object)[loaded]
    hits = [p for p in paths if isinstance(p, str) and p in wanted]
    return pd.DataFrame({"path": pd.Series(hits, dtype=object)})


def _partition_ids(part: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> Any:
    """The ids of the loaded tiles a partition holds: rows with a ``loaded`` token.

    A new row is a create whatever its index says (a name of the user's, say): as in
    one frame, it is neither a loaded tile nor another load's.
    """
    number = int((partition_info or {}).get("number", 0))
    tokened = part["loaded"].notna().to_numpy() if "loaded" in part.columns else True
    ids = pd.Series(part.index.to_numpy(dtype=object)[tokened])
    ids = ids[ids.map(lambda v: isinstance(v, str) and v != "")]
    return pd.DataFrame(
        {
            "id": ids.to_numpy(dtype=object),
            "partition": np.full(len(ids), number, np.int64),
            "position": np.zeros(len(ids), np.int64),
        }
    ).astype(_ID_META)


def _id_sums(dd: Any, ids: Any) -> tuple[int, int]:
    """How many distinct ids, and the sum of their 64-bit hashes: the same for the same set."""

    def sums(values: pd.Series) -> pd.DataFrame:
        hashed = pd.util.hash_pandas_object(values.astype(object), index=False).to_numpy()
        total = np.array([hashed.sum(dtype=np.uint64)], dtype=np.uint64)  # wraps: mod 2**64
        return pd.DataFrame({"n": np.array([len(hashed)], np.int64), "sum": total})

    meta = empty_frame({"n": np.int64, "sum": np.uint64})
    if hasattr(ids, "map_partitions"):
        unique = ids.drop_duplicates(split_out=max(1, getattr(ids, "npartitions", 1)))
        table = unique.map_partitions(sums, meta=meta).compute()
    else:
        table = sums(pd.Series(list(ids), dtype=object).drop_duplicates())
    return int(table["n"].sum()), sum(int(v) for v in table["sum"]) % (1 << 64)


def id_findings(ids: pd.DataFrame, loaded_given: bool = False) -> pd.DataFrame:
    """Ids in several partitions, and loaded ids in none, among rows shuffled by id.

    With ``loaded_given`` (deletions asked for), also the ``unlisted`` ids: in a
    partition but not among the loaded ids, which then are not this dataset's load.

    Parameters
    ----------
    ids : pandas.DataFrame
        ``id``, ``partition`` (-1 for a loaded id) and ``position`` (in the loaded list);
        every row of one id must be here.

    Returns
    -------
    pandas.DataFrame
        `ID_FINDINGS`: ``repeated`` ids (with their first two partitions) and ``deleted``
        ones (with their position in the loaded list).

    Examples
    --------
    >>> ids = pd.DataFrame({"id": ["a", "a", "b", "c"], "partition": [0, 2, -1, -1],
    ...                     "position": [0, 0, 1, 0]})
    >>> id_findings(ids)[["id", "finding"]].values.tolist()
    [['a', 'repeated'], ['b', 'deleted'], ['c', 'deleted']]
    """
    present = ids[ids["partition"] >= 0]
    counts = present.groupby("id", sort=True)["partition"].agg(["size", "min", "max"])
    repeated = counts[counts["size"] > 1]
    loaded = ids[ids["partition"] < 0]
    gone = loaded[~loaded["id"].isin(present["id"])].drop_duplicates("id")  # one per id
    alien = present[~present["id"].isin(loaded["id"])] if loaded_given else present.iloc[:0]
    out = pd.concat(
        [
            empty_frame(ID_FINDINGS),
            pd.DataFrame(
                {
                    "id": alien["id"].to_numpy(dtype=object),
                    "finding": "unlisted",
                    "first": alien["partition"].to_numpy(np.int64),
                    "second": np.full(len(alien), -1, np.int64),
                    "position": np.zeros(len(alien), np.int64),
                }
            ),
            pd.DataFrame(
                {
                    "id": repeated.index.to_numpy(dtype=object),
                    "finding": "repeated",
                    "first": repeated["min"].to_numpy(np.int64),
                    "second": repeated["max"].to_numpy(np.int64),
                    "position": np.zeros(len(repeated), np.int64),
                }
            ),
            pd.DataFrame(
                {
                    "id": gone["id"].to_numpy(dtype=object),
                    "finding": "deleted",
                    "first": np.full(len(gone), -1, np.int64),
                    "second": np.full(len(gone), -1, np.int64),
                    "position": gone["position"].to_numpy(np.int64),
                }
            ),
        ],
        ignore_index=True,
    )
    return out.astype(ID_FINDINGS)


def _loaded_part(part: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> Any:
    """One partition of loaded ids as `_ID_META` rows; positions keep the ids' order."""
    number = int((partition_info or {}).get("number", 0))
    return pd.DataFrame(
        {
            "id": part["id"].to_numpy(dtype=object),
            "partition": np.full(len(part), -1, np.int64),
            "position": (number << 32) + np.arange(len(part), dtype=np.int64),
        }
    )


def _loaded_frame(dd: Any, loaded_ids: Any, npartitions: int) -> Any:
    """The loaded ids as a dask frame of `_ID_META` rows (partition -1)."""
    if hasattr(loaded_ids, "to_frame") and hasattr(loaded_ids, "map_partitions"):
        # a dask Series or Index: stays distributed
        return loaded_ids.to_frame("id").map_partitions(_loaded_part, meta=empty_frame(_ID_META))
    values = np.asarray(list(loaded_ids), dtype=object)
    table = pd.DataFrame({"id": values})
    loaded = dd.from_pandas(table, npartitions=max(1, min(npartitions, len(values) or 1)))
    return loaded.map_partitions(_loaded_part, meta=empty_frame(_ID_META))


def partitioned_changes(
    source: Any, *, deleted: bool = False, loaded_ids: Sequence[str] | Any = None
) -> pd.DataFrame:
    """`byocframe.changes` of a partitioned dataset, partition by partition, with dask.

    Each partition is compared with its own ``loaded`` tokens; the combine step then
    shuffles every partition's ids by id: a tile id in two partitions is refused (a tile
    is one row, as in one frame), and a loaded id in no partition is a deletion. As
    `byocframe.changes` does, the table lists what a push would refuse (an edited
    read-only field, a new row whose path another row has, in any partition) without
    raising: `partitioned_plan` returns those problems too.

    Parameters
    ----------
    source : str, Path or dask_geopandas.GeoDataFrame
        See `read_partitions`: tile frames, edited, one per partition.
    deleted : bool
        Also list the loaded tiles that no partition holds (action ``delete``).
    loaded_ids : sequence of str, or a dask Series / Index, optional
        The ids as loaded (``gdf.index`` right after `byocframe.read_tiles`). By default
        they are read from the ``_loaded_ids.parquet`` that `write_partitions` writes
        beside the partitions (`byocframe.scale.manifest`).

    Returns
    -------
    pandas.DataFrame
        The columns of `byocframe.changes` plus ``partition``: each partition's rows in
        its own order, partitions in order, then the deletions in ``loaded_ids`` order.

    Raises
    ------
    ValidationError
        When a tile id is in two partitions, partitions come from several collections,
        or ``deleted`` is asked for and the loaded ids are neither given nor recoverable,
        or a partition file that `write_partitions` wrote is missing.

    Examples
    --------
    >>> import tempfile, dask, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> from byocframe.scale.dataset import write_partitions
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(8, seed=1))
    >>> edited = gdf.drop(index=gdf.index[7])
    >>> edited.loc[edited.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    >>> with tempfile.TemporaryDirectory() as folder, dask.config.set(scheduler="sync"):
    ...     _ = write_partitions(edited, folder, partitions=3)
    ...     found = partitioned_changes(folder, deleted=True)
    >>> found[["field", "action"]].to_dict("records")
    [{'field': 'sensing_time', 'action': 'update'}, {'field': 'tile', 'action': 'delete'}]
    """
    return partitioned_plan(source, deleted=deleted, loaded_ids=loaded_ids).changes


def partitioned_plan(
    source: Any, *, deleted: bool = False, loaded_ids: Sequence[str] | Any = None
) -> PartitionedPlan:
    """`partitioned_changes` and the edits a push would refuse, as `byocframe.edits.diff.plan`.

    ``problems`` are those ``plan`` finds in one frame of every partition in order
    (rows numbered within their partition): each partition's own, and new rows whose
    path a loaded row or an earlier new row of any partition has. The paths are checked
    in a second, two-column read of the partitions, made only when there are new rows.

    Parameters
    ----------
    source, deleted, loaded_ids
        As in `partitioned_changes`.

    Returns
    -------
    PartitionedPlan
        ``changes`` (the `partitioned_changes` table), ``problems`` and ``collection``;
        ``check()`` refuses the plan as a push refuses a frame's.

    Examples
    --------
    >>> import tempfile, dask, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> from byocframe.scale.dataset import write_partitions
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(8, seed=1))
    >>> new = gdf.iloc[[0, 1]].reset_index(drop=True)  # two new rows (no token), one path
    >>> new["loaded"], new["path"] = None, "new/(BAND).tif"
    >>> with tempfile.TemporaryDirectory() as folder, dask.config.set(scheduler="sync"):
    ...     _ = write_partitions(gdf, folder, partitions=2)
    ...     byocframe.write_file(new.iloc[[0]], f"{folder}/part.00002.parquet")
    ...     byocframe.write_file(new.iloc[[1]], f"{folder}/part.00003.parquet")
    ...     found = partitioned_plan(folder)
    >>> [p["problem"] for p in found.problems]
    ["new row 0 of partition 3: another row has the path 'new/(BAND).tif' (a path is one tile)"]
    """
    dask, dd, _ = dask_modules()
    folder = Path(source) if isinstance(source, str | os.PathLike) else None
    folder = folder if folder is not None and folder.is_dir() else None
    manifest = read_manifest(folder) if folder is not None else None
    drawing: dict[str, Any] = {}
    if folder is not None:
        drawing = check_files(folder, manifest, deleted=deleted)
    frame = read_partitions(source)
    if deleted:
        if manifest is not None:
            check_complete(manifest.path.parent, manifest)
        if loaded_ids is None:
            where = f"the folder {folder}" if folder is not None else "a dask frame"
            stored = recovered_ids(manifest, where)
            loaded_ids = dd.read_parquet(str(stored), columns=["id"])["id"]
        elif manifest is not None and manifest.ids is not None:
            _require_manifest_ids(dd, manifest, loaded_ids)
    with dask.config.set({"dataframe.convert-string": False}):
        reports = frame.map_partitions(
            _partition_report, drawing=drawing, meta=empty_frame(_REPORT_META)
        )
        ids = frame.map_partitions(_partition_ids, meta=empty_frame(_ID_META))
        if deleted:
            ids = dd.concat([ids, _loaded_frame(dd, loaded_ids, frame.npartitions)])
        findings = ids.shuffle("id").map_partitions(
            id_findings, loaded_given=deleted, meta=empty_frame(ID_FINDINGS)
        )
        report, found = dask.compute(reports, findings)
    names = [p.name for p in partition_files(folder)] if folder is not None else []
    _refuse_repeats(found, names if len(names) == frame.npartitions else [])
    kind = report["action"]
    origin = kind.isna()
    if deleted:
        _require_one_load({int(v) for v in report.loc[origin, "old"] if pd.notna(v)}, manifest)
        # with every token of the manifest's load (just checked), a tile the loaded ids
        # lack was created from this dataset since (a partition pushed on its own, its
        # new row stamped into the load): present, so never a deletion. Otherwise such
        # a tile says the ids are another load's.
        if manifest is None or manifest.load is None:
            _refuse_unlisted(found)
    collections = sorted({c for c in report.loc[origin, "new"] if c})
    if len(collections) > 1:
        raise ValidationError(
            f"the partitions come from {len(collections)} collections ({', '.join(collections)}):"
            " compare each collection's partitions on their own"
        )
    problems = _problems(dask, frame, report)
    edits = report[~origin & (kind != PROBLEM) & (kind != NEW_PATH)]
    return PartitionedPlan(
        changes=_changes_table(edits, found),
        problems=problems,
        collection=collections[0] if collections else "",
    )


def _problems(dask: Any, frame: Any, report: pd.DataFrame) -> list[dict[str, Any]]:
    """Every partition's problems and the repeated new paths, in partition and row order."""
    own = report[report["action"] == PROBLEM]
    problems = [
        {
            "id": r["id"],
            "field": r["field"],
            "value": r["new"],
            "problem": r["old"],
            "partition": int(r["partition"]),
            "_row": int(r["row"]),
            "_order": 0,
        }
        for r in own.to_dict("records")
    ]
    new_paths = report[report["action"] == NEW_PATH]
    wanted = frozenset(p for p in new_paths["new"] if isinstance(p, str))
    if wanted:
        with dask.config.set({"dataframe.convert-string": False}):
            taken = frame[["path", "loaded"]].map_partitions(
                _taken_paths, wanted, meta=empty_frame({"path": object})
            )
            problems += repeated_paths(new_paths, set(taken.compute()["path"]))
    # a row's own problems come before its repeated path, as `plan` lists them
    problems.sort(key=lambda p: (p["partition"], p["_row"], p.get("_order", 1)))
    for p in problems:
        p.pop("_row")
        p.pop("_order", None)
    return problems


def _changes_table(edits: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """The partitions' changes, then the deletions in load order, as `changes` lists them."""
    tables = [edits] if len(edits) else []
    gone = found[found["finding"] == "deleted"].sort_values("position")
    if len(gone):
        tables.append(
            pd.DataFrame(
                {
                    "id": gone["id"].to_numpy(dtype=object),
                    "field": "tile",
                    "old": None,
                    "new": None,
                    "action": "delete",
                    "partition": -1,
                }
            )
        )
    columns = ["id", "field", "old", "new", "action", "partition"]
    if not tables:
        return pd.DataFrame(columns=columns)
    rows = pd.concat(tables, ignore_index=True)[columns].astype(object)
    return pd.DataFrame([_plain(row) for row in rows.to_dict("records")], columns=columns)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with NaT as None again.

    pandas infers a partition's column of times and None as datetimes and NaT; the
    combined table is inferred from all its rows, as `changes` infers its own (where a
    NaT is always a None).
    """
    return {k: None if v is pd.NaT else v for k, v in row.items()}


def _first_finding(found: pd.DataFrame, finding: str) -> tuple[pd.Series, str] | None:
    """The first id (sorted) with this finding, and "(and N more)" for the others."""
    rows = found[found["finding"] == finding].sort_values("id")
    if not len(rows):
        return None
    return rows.iloc[0], f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""


def _require_manifest_ids(dd: Any, manifest: Manifest, loaded_ids: Any) -> None:
    """Refuse ``loaded_ids=`` that are not the ids the folder's manifest recorded."""
    given = _id_sums(dd, loaded_ids)
    stored = _id_sums(dd, dd.read_parquet(str(manifest.path), columns=["id"])["id"])
    if given != stored:
        raise ValidationError(
            f"loaded_ids= ({given[0]} distinct ids) are not the ids {manifest.path} recorded "
            f"for these partitions ({stored[0]}): they are another load's, so no deletion is "
            "planned from them; leave loaded_ids= out to use the folder's own"
        )


def _require_one_load(loads: set[int], manifest: Manifest | None) -> None:
    """Refuse deletions when the rows are not all of the load the loaded ids are of."""
    expected = manifest.load if manifest is not None else None
    other = sorted(loads - {expected}) if expected is not None else sorted(loads)[1:]
    if other:
        what = "the load its manifest records" if expected is not None else "one load"
        raise ValidationError(
            f"the partitions hold tiles of {len(loads)} loads, not only of {what} (a file "
            "of an older or another load copied in, or a write stopped half way), so no "
            "deletion is planned from them: write the dataset again from one load"
        )


def _refuse_unlisted(found: pd.DataFrame) -> None:
    first = _first_finding(found, "unlisted")
    if first is not None:
        row, more = first
        raise ValidationError(
            f"tile {row['id']!r} of partition {row['first']} is not among the loaded ids"
            f"{more}: they are another load's, so no deletion is planned from them; pass "
            "the ids of the load these partitions were written from (or none, to read them "
            "from the folder)"
        )


def _refuse_repeats(found: pd.DataFrame, names: Sequence[str] = ()) -> None:
    """Refuse a tile in two partitions, naming their files (``names``, one a partition)."""
    first = _first_finding(found, "repeated")
    if first is not None:
        row, more = first
        a, b = int(row["first"]), int(row["second"])
        where = f"files {names[a]} and {names[b]}" if names else f"partitions {a} and {b}"
        raise ValidationError(
            f"tile {row['id']!r} is in {where}{more}: a tile must be in one partition only;"
            " keep one row per tile and run again"
        )

"""The collection commands: ``collections``, ``tiles`` (pull to a file) and ``push``."""

from __future__ import annotations

import argparse
import stat
import sys
from pathlib import Path
from typing import Any

from byocframe.cli.common import (
    account_options,
    check_output,
    client_from_args,
    positive,
    status,
)
from byocframe.cli.confirm import check_deletions, confirmation_hint, delete_options
from byocframe.exceptions import ByocframeError, NotFoundError
from byocframe.io.file_formats import FILE_FORMATS
from byocframe.io.listing import BATCH_SIZE

__all__ = ["TILE_FILES", "add_commands", "read_collection", "search_options"]

#: The files ``byocframe tiles`` writes, by extension.
TILE_FILES = tuple(FILE_FORMATS)  # what write_file and read_file take


def add_commands(commands: Any) -> None:
    """Add ``collections``, ``tiles`` and ``push`` to the subcommands."""
    listing = commands.add_parser(
        "collections",
        help="list your collections as a table",
        description="List the collections of your account.",
    )
    listing.add_argument("--search", help="words joined by | (or) and & (and)")
    account_options(listing)
    listing.set_defaults(handler=run_collections)

    tiles = commands.add_parser(
        "tiles",
        help="save a collection's tiles to a file",
        description="List every tile of COLLECTION and save the table. The file type "
        "follows the extension: .parquet (GeoParquet: keeps everything, and push can "
        "check it for conflicts; written batch by batch as the pages arrive, in a "
        "fraction of the memory the whole table takes), .gpkg, .geojson or .csv (geometry "
        "as WKT). With --stac, the tiles as STAC Items in a stac-geoparquet file instead.",
    )
    tiles.add_argument("collection", metavar="COLLECTION", help="collection id or name")
    tiles.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="file to write: " + ", ".join(TILE_FILES) + " (by its extension)",
    )
    tiles.add_argument(
        "--status", type=status, help="only tiles with this status (e.g. FAILED, failed)"
    )
    tiles.add_argument(
        "--crs", default="EPSG:4326", help="CRS of the geometries (default EPSG:4326)"
    )
    # pystac-client's search names (stac-client search --bbox/--datetime/--filter):
    # with any of them the Catalog finds the tiles (INGESTED ones only)
    tiles.add_argument(
        "--bbox",
        nargs="+",
        metavar="W S E N",
        help="only tiles whose cover meets this lon/lat box: four numbers, as "
        "stac-client search takes them, or W,S,E,N (write --bbox=-60,-30,-45,-15)",
    )
    tiles.add_argument(
        "--datetime",
        help="only tiles sensed then: 2024-06, 2024-06-01, or START/END with .. for an "
        "open end (2024-06-01/2024-06-30, 2024-06-01/..)",
    )
    tiles.add_argument(
        "--filter",
        help="only tiles this CQL2 text filter keeps (on id, datetime, proj:epsg), e.g. "
        '"proj:epsg = 32633"',
    )
    tiles.add_argument(
        "--stac",
        action="store_true",
        help="write STAC Items as stac-geoparquet (-o *.parquet; needs the stac extra)",
    )
    tiles.add_argument(
        "--batch-size",
        type=positive,
        default=BATCH_SIZE,
        metavar="N",
        help=f"tiles converted (and, to .parquet, written) at a time (default {BATCH_SIZE:,}): "
        "memory grows with it",
    )
    account_options(tiles)
    tiles.set_defaults(handler=run_tiles)

    push = commands.add_parser(
        "push",
        help="send edits from a file written by 'tiles'",
        description="Compare EDITED_FILE (written by 'byocframe tiles', then edited) with "
        "what was listed and send the changes: sensing_time, geometry, new rows with a "
        "path. Each row remembers what it held when listed, so a tile someone else "
        "changed since is reported as a conflict, and a rerun sends nothing twice. A "
        "file with no 'loaded' column is compared with the collection as it is now. "
        "With --delete-missing, more than --delete-limit deletions need --confirm-deletes "
        "with the COUNT:CODE a --dry-run printed for them.",
    )
    push.add_argument("collection", metavar="COLLECTION", help="collection id or name")
    push.add_argument(
        "edited",
        metavar="EDITED_FILE",
        type=Path,
        help="the edited tiles (.parquet, .gpkg, .geojson, .fgb or .csv)",
    )
    push.add_argument(
        "--dry-run",
        action="store_true",
        help="only show what would be sent, the requests and the time it would take",
    )
    push.add_argument("--force", action="store_true", help="overwrite conflicting tiles")
    push.add_argument(
        "--delete-missing", action="store_true", help="delete tiles that are not in the file"
    )
    delete_options(push, "--delete-missing")
    push.add_argument(
        "--clear-times",
        action="store_true",
        help="clear the sensing time of tiles whose time is empty in the file (refused "
        "without it: an empty time may be a mistake)",
    )
    push.add_argument(
        "--workers", type=int, default=32, help="requests in flight at once (default 32)"
    )
    push.add_argument(
        "--rate",
        type=float,
        metavar="PER_MINUTE",
        help="your plan's requests a minute (300 to 1,200): pace the push to it instead of "
        "waiting out 429 answers, and estimate the time in a dry run",
    )
    push.add_argument(
        "--no-write-back",
        dest="write_back",
        action="store_false",
        help="leave EDITED_FILE as it is; by default a file byocframe wrote takes what "
        "was pushed (new tiles' ids, rows loaded again, the record of what was written), "
        "so it can be edited and pushed again",
    )
    account_options(push)
    push.set_defaults(handler=run_push)


def read_collection(args: argparse.Namespace, **kwargs: Any) -> Any:
    """The tiles of ``args.collection`` as a GeoDataFrame."""
    import byocframe

    return byocframe.read_tiles(client_from_args(args), args.collection, **kwargs)


def run_collections(args: argparse.Namespace) -> int:
    """``byocframe collections``: print the account's collections."""
    import byocframe

    frame = byocframe.read_collections(client_from_args(args), search=args.search)
    if frame.empty:
        print("no collections")
        return 0
    shown = frame[["name", "s3_bucket", "bands", "created"]].copy()
    shown["created"] = shown["created"].dt.strftime("%Y-%m-%d")
    print(shown.to_string(max_colwidth=40))
    return 0


def check_crs(text: str) -> str:
    """Refuse a ``--crs`` pyproj does not know, before any request."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(text)
    except CRSError as err:
        raise ValueError(f"--crs {text!r} is not a CRS pyproj knows: {err}") from err
    return text


def run_tiles(args: argparse.Namespace) -> int:
    """``byocframe tiles``: save a collection's tiles to a file.

    A ``.parquet`` file is written by `byocframe.write_listing` as the pages arrive
    (GeoParquet, or stac-geoparquet with ``--stac``); other formats from the whole frame.
    """
    from byocframe.io.files import write_file
    from byocframe.io.listing import write_listing

    suffixes = (".parquet",) if args.stac else TILE_FILES
    check_output(args.output, suffixes)
    check_crs(args.crs)
    options = {"status": args.status, "crs": args.crs, "batch_size": args.batch_size}
    options.update(search_options(args))
    if args.output.suffix.lower() == ".parquet":
        form = "stac-geoparquet" if args.stac else "geoparquet"
        client = client_from_args(args)
        n = write_listing(client, args.collection, args.output, format=form, **options)
        what = "STAC items" if args.stac else "tiles"
        print(f"{n:,} {what} written to {args.output}")
        return 0
    gdf = read_collection(args, **options)
    write_file(gdf, args.output)
    print(f"{len(gdf):,} tiles written to {args.output}")
    return 0


def search_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--bbox``, ``--datetime`` and ``--filter`` as `byocframe.read_tiles` takes them.

    Examples
    --------
    >>> found = search_options(
    ...     argparse.Namespace(bbox=["-60", "-30", "-45", "-15"], datetime="2024-06-01/..",
    ...                        filter=None))
    >>> found["bbox"], found["datetime"]
    ([-60.0, -30.0, -45.0, -15.0], ('2024-06-01', None))
    """
    out: dict[str, Any] = {}
    if args.bbox:
        parts = args.bbox[0].split(",") if len(args.bbox) == 1 else args.bbox
        try:
            box = [float(p) for p in parts]
        except ValueError:
            box = []
        if len(box) != 4:
            raise ValueError(
                f"--bbox {' '.join(args.bbox)!r}: give west south east north in degrees "
                "(four numbers, or W,S,E,N)"
            )
        out["bbox"] = box
    if args.datetime:
        start, slash, end = args.datetime.partition("/")
        if slash:
            ends = [None if t.strip() in ("", "..") else t.strip() for t in (start, end)]
            out["datetime"] = (ends[0], ends[1])
        else:
            out["datetime"] = args.datetime
    if args.filter:
        out["filter"] = args.filter
    return out


def run_push(args: argparse.Namespace) -> int:
    """``byocframe push``: send the edits in a file; 2 when some were not carried out."""
    from byocframe.frame.digests import service_digest
    from byocframe.frame.tokens import LOADED, loaded_state
    from byocframe.io.files import read_file
    from byocframe.io.overlay import overlay_edits

    if args.confirm_deletes is not None and not args.delete_missing:
        raise ValueError(
            "--confirm-deletes confirms the deletions of --delete-missing: add "
            "--delete-missing, or leave --confirm-deletes out"
        )
    # the write-back replaces only the file as read: noted before reading it, so one saved
    # again while it is read (seconds for a large file) is left alone (finding 212)
    args.read_as = _file_state(args.edited)
    edited = read_file(args.edited)  # a missing or unreadable file fails before any request
    client = client_from_args(args)
    if args.rate:
        client.requests_per_minute = args.rate
    original = None
    if LOADED in edited.columns and edited[LOADED].notna().any():
        state = loaded_state(edited)
        collections = {c for c in state.collection[state.present] if c}
        if collections and collections != {args.collection}:
            print(
                f"error: {args.edited} holds tiles of {', '.join(sorted(collections))}, not "
                f"{args.collection}: check COLLECTION",
                file=sys.stderr,
            )
            return 1
        services = {int(s) for s in state.service[state.present] if s}
        if services and services != {service_digest(client.base_url)}:
            source = edited.attrs.get("byocframe", {}).get("service") or "another service"
            print(
                f"error: {args.edited} was listed from {source}, not {client.base_url}: "
                "check --base-url / SH_BASE_URL or the profile",
                file=sys.stderr,
            )
            return 1
        frame = edited
    else:
        frame, original = overlay_edits(client, args.collection, edited)
        if args.delete_missing and edited.attrs.get("byocframe", {}).get("whole") is not True:
            print(
                f"note: {args.edited} does not say it lists the whole collection (no "
                "'loaded' column, and metadata of a filtered load or none): --delete-missing "
                "deletes only tiles of its own load it no longer lists",
                file=sys.stderr,
            )
    deletes = None
    if args.delete_missing and not args.dry_run:
        from byocframe.edits.diff import plan

        # the deletions of this run, found offline as push finds them; only these are sent
        found = plan(frame, original=original, deleted=True, collection=args.collection)
        deletes = found.deletes
        if len(deletes) > args.delete_limit or args.confirm_deletes is not None:
            # what a confirmation confirms, listed before it is asked for
            print(f"{len(deletes):,} tile(s) to delete:")
            for tid, path in _deleted_paths(client, args.collection, deletes, original):
                print(f"  delete {tid}  {path}")
        check_deletions(
            args.collection, deletes, delete_limit=args.delete_limit, confirmed=args.confirm_deletes
        )
    from byocframe.edits.route import push

    # the function, not the .byoc accessor: a frame the accessor does not take (a file
    # that kept 'loaded' but not 'status') is refused in one line by the push itself
    result = push(
        frame,
        client,
        dry_run=args.dry_run,
        force=args.force,
        delete_missing=args.delete_missing,
        workers=args.workers,
        original=original,
        collection=args.collection,
        delete_only=deletes,
        # the command line's own guard (--delete-limit, --confirm-deletes) stands instead
        max_deletes=sys.maxsize,
        clear_times=args.clear_times,
    )
    if result.empty:
        print("nothing to push: the file matches the collection")
        return 0
    if args.dry_run:
        print_dry_run(result, args)
        return 0
    print(result.groupby(["action", "outcome"]).size().to_string())
    bad = result[~result["outcome"].isin(["ok", "unchanged"])]
    for tid, row in bad.head(20).iterrows():
        print(f"  {tid}: {row['outcome']}: {row['message']}")
    if frame is edited:
        _write_back_file(edited, result, args)
    else:
        table = _table_after(edited, frame, result)
        if table is not None:
            _write_back_file(table, result, args)
        elif (result["action"] == "create").any() and args.write_back:
            print(
                f"note: {args.edited} records no listing (no byocframe metadata), so it was "
                "left as it is: its new rows have no tile id there, and pushed again they "
                f"are refused (their paths are tiles now); 'byocframe tiles {args.collection} "
                "-o FILE' lists them with ids"
            )
    return 0 if bad.empty else 2


def _table_after(edited: Any, frame: Any, result: Any) -> Any:
    """A table without tokens as it stands after its push, or None when it records no load.

    Its rows and columns stay as the person made them (they hold what was pushed); its new
    rows take their tile ids, and its metadata's record of its own load drops the tiles
    the push deleted and renews those it wrote from what the push recorded of them
    (`byocframe.edits.writeback.renewed_checks`: a later deletion of one is checked
    against that, not against the listing before: findings 193, 217). A record of an older
    layout (its ids still sealed) is kept as unknown: the table is written back, and a
    deletion of one of those tiles is refused until they are listed again (finding 255).
    """
    import numpy as np
    import pandas as pd

    from byocframe.edits.writeback import renewed_checks
    from byocframe.frame.deletions import (
        CHECK_FLAGS,
        DeleteChecks,
        recorded_checks,
        with_loaded_ids,
    )
    from byocframe.frame.records import ATTRS_KEY
    from byocframe.frame.seal import loaded_ids, sealed_ids

    settings = edited.attrs.get(ATTRS_KEY, {})
    recorded = recorded_checks(settings)
    pushed = recorded_checks(frame.attrs.get(ATTRS_KEY, {}))
    if recorded is None and sealed_ids(edited):
        # sound ids, but a record of another layout (an older byocframe wrote the table):
        # written back all the same, each tile's deletion refused until it is listed again
        known = pd.Index(loaded_ids(edited) or [], dtype=object)
        unknown = np.zeros(len(known), dtype=DeleteChecks)
        unknown["flags"] = CHECK_FLAGS["unknown"]
        recorded = (known, unknown)
    if recorded is None or not len(recorded[0]):
        return None
    done = result[result["outcome"].isin(["ok", "unchanged"])]
    action = done["action"]
    deleted = {str(i) for i in done.index[action == "delete"]}
    made = [str(i) for i in done.index[action == "create"] if isinstance(i, str)]
    written = {str(i) for i in done.index[action == "update"]} | set(made)
    ids = [str(i) for i in recorded[0]]
    loaded = set(ids)
    kept = [i for i in ids if i not in deleted] + [i for i in made if i not in loaded]
    empty = (pd.Index([], dtype=object), np.zeros(0, dtype=recorded[1].dtype))
    checks = renewed_checks(kept, recorded, pushed or empty, written)
    table = edited.copy()
    new = np.flatnonzero(pd.isna(edited.index))  # laid over the listing in this order, last
    if len(new):
        answered = list(frame.index[len(frame) - len(new) :])
        index = list(table.index)
        for pos, tid in zip(new.tolist(), answered, strict=True):
            index[pos] = tid if isinstance(tid, str) else None
        table.index = pd.Index(index, name=table.index.name or "id", dtype=object)
        # as the frame's write-back does: a created row holds what the service answered
        # (its status, creation and ingestion start), so the next push of the table does
        # not take those blanks for edits of read-only fields (finding 257)
        for name in ("status", "created", "ingestion_start"):
            if name in table.columns and name in frame.columns:
                answers = frame[name].iloc[len(frame) - len(new) :].to_numpy()
                column = table[name].astype(object).to_numpy(copy=True)
                column[new] = answers
                table[name] = pd.Series(column, index=table.index).astype(frame[name].dtype)
    table.attrs = {**edited.attrs, ATTRS_KEY: with_loaded_ids(settings, kept, checks)}
    return table


def _replace_unless_changed(frame: Any, path: Path, read_as: tuple[int, int, int] | None) -> bool:
    """Write ``frame`` over ``path`` unless the file changed since it was ``read_as``.

    The new file is written whole in a folder of its own beside ``path`` (a GeoPackage
    a copy of the old, so its other layers stay), under the same name, so it is written
    exactly as `byocframe.write_file` writes ``path``; the file's state is compared once
    that is done, just before the rename: an edit saved meanwhile is kept, not replaced
    (finding 216). False when it was.
    """
    import os
    import shutil

    from byocframe.atomic import Scratch
    from byocframe.io.files import write_file

    target = path.expanduser()
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    with Scratch(target, folder=True) as scratch:
        staged = scratch.path / target.name
        if target.suffix.lower() == ".gpkg":
            shutil.copyfile(target, staged)
        write_file(frame, staged)
        if _file_state(target) != read_as:
            return False
        scratch.commit(staged, mode=stat.S_IMODE(target.stat().st_mode))
        return True


def _file_state(path: Path) -> tuple[int, int, int] | None:
    """What tells a file saved again from the one read: inode, size, modification time."""
    try:
        stat = Path(path).expanduser().stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _write_back_file(edited: Any, result: Any, args: argparse.Namespace) -> None:
    """Save what the push wrote into ``edited`` over the file it came from.

    The push updated ``edited`` in place (`byocframe.edits.writeback`): created rows hold
    their ids, pushed rows are loaded again. Without this, the next edit of a pushed row
    would be a conflict with the push itself, and a new row would be created twice.
    The file is replaced whole, only once complete.
    """
    # ok and unchanged rows (a rerun after a kill: the server held them already) are
    # loaded again, created ones take their ids; conflicts and failures change nothing
    settled = result["outcome"].isin(["ok", "unchanged", "overwritten"]).any()
    if not args.write_back or not settled:
        return
    if result.attrs.get("byocframe", {}).get("written_back") is False:
        print(
            f"note: {args.edited} was left as it is (the frame could not be updated): list "
            f"the tiles again ('byocframe tiles {args.collection} -o FILE') before editing "
            "further",
            file=sys.stderr,
        )
        return
    changed = (
        f"note: {args.edited} changed while the push ran (saved by another program?), "
        "so it was left as it is: its new edits are not pushed yet, and it does not know "
        f"what this push did; list the tiles again ('byocframe tiles {args.collection} "
        "-o FILE') and make those edits there"
    )
    try:
        replaced = _replace_unless_changed(edited, Path(args.edited), args.read_as)
    except (OSError, ByocframeError) as err:  # the push was sent: say so, not "error"
        print(
            f"note: the push was sent, but {args.edited} could not be updated ({err}); it "
            f"is as it was: list the tiles again ('byocframe tiles {args.collection} -o "
            "FILE') before editing further",
            file=sys.stderr,
        )
        return
    if not replaced:
        print(changed, file=sys.stderr)
        return
    print(f"wrote what was pushed back to {args.edited} (--no-write-back leaves it)")


def _deleted_paths(
    client: Any, collection: str, ids: list[str], original: Any
) -> list[tuple[str, str]]:
    """Each tile to delete with its path: from the listing at hand, else read (one GET)."""
    known = original["path"] if original is not None and "path" in original.columns else None
    out = []
    for tid in ids:
        if known is not None and tid in known.index:
            out.append((tid, str(known.loc[tid])))
            continue
        try:
            out.append((tid, str(client.get_tile(collection, tid).get("path"))))
        except NotFoundError:
            out.append((tid, "(already gone)"))
    return out


def print_dry_run(result: Any, args: argparse.Namespace, most: int = 20) -> None:
    """The summary, the deletions (all of them) and their confirmation, then ``most`` rows."""
    print(result.attrs["byocframe"]["summary"])
    deleting = (result["action"] == "delete").to_numpy()
    for tid, row in result[deleting].iterrows():
        print(f"  {tid}: {row['message']}")
    others = result[~deleting]
    for tid, row in others.head(most).iterrows():
        print(f"  {tid or 'new'}: {row['message']}")
    if len(others) > most:
        print(f"  ... and {len(others) - most:,} more")
    hint = confirmation_hint(args.collection, result.index[deleting], args.delete_limit)
    if hint:
        print(hint)

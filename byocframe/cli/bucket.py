"""The commands on the files behind a collection: ``check``, ``bucket``, ``reconcile``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from byocframe.bucket.patterns import MAX_UNMATCHED
from byocframe.cli.common import account_options, client_from_args, write_table
from byocframe.cli.confirm import check_deletions, confirmation_hint, delete_options
from byocframe.exceptions import ValidationError

__all__ = ["add_commands"]


def add_commands(commands: Any) -> None:
    """Add ``check``, ``bucket`` and ``reconcile`` to the subcommands."""
    check = commands.add_parser(
        "check",
        help="pre-flight checks of the GeoTIFFs in a bucket or folder",
        description="Read every GeoTIFF header under URL (s3://bucket/prefix or a "
        "folder) with ranged requests and run the BYOC file rules per file and per "
        "tile. Exit code 1 when a file breaks a rule that fails ingestion.",
    )
    check.add_argument("url", metavar="URL", help="s3://bucket/prefix or a local folder")
    pattern_options(check, required=False)
    check.add_argument(
        "--max-unmatched",
        type=float,
        default=MAX_UNMATCHED,
        metavar="FRACTION",
        help="largest share of the GeoTIFFs the pattern may leave unmatched before it is "
        f"an error (default {MAX_UNMATCHED:g})",
    )
    check.add_argument(
        "--crs",
        action="append",
        default=[],
        help="an extra CRS the deployment ingests (repeat for more; default none)",
    )
    check.add_argument("-o", "--output", type=Path, help="write the findings (.csv/.parquet)")
    check.set_defaults(handler=run_check)
    bucket = commands.add_parser(
        "bucket",
        help="list a bucket's GeoTIFFs and their headers into a file",
        description="One row per file (key, size, ETag, CRS, bounds, block sizes, "
        "overviews, compression, header size, ...); with --pattern one row per tile.",
    )
    bucket.add_argument("url", metavar="URL", help="s3://bucket/prefix or a local folder")
    bucket.add_argument("-o", "--output", type=Path, required=True, help=".parquet or .csv")
    bucket.add_argument("--pattern", help="group the files into tiles (see 'check')")
    bucket.add_argument("--endpoint-url", help="an S3-compatible endpoint")
    bucket.set_defaults(handler=run_bucket)
    reconcile = commands.add_parser(
        "reconcile",
        help="compare a collection with its bucket: stale, gone, new, unused",
        description="Plan reingesting stale tiles (the bucket's ETag differs from "
        "filesMetadata), creating tiles for new files that pass the checks, and (with "
        "--delete) deleting tiles whose files are gone; --apply carries the plan out. "
        "URL must be the collection's bucket (or a prefix of it: tiles outside are left "
        "alone); deletions need an S3 listing, and more than --delete-limit of them "
        "need --confirm-deletes with the COUNT:CODE the dry run printed for them.",
    )
    reconcile.add_argument("collection", metavar="COLLECTION", help="collection id or name")
    reconcile.add_argument(
        "url", metavar="URL", help="the collection's bucket, s3://bucket/ or s3://bucket/prefix"
    )
    pattern_options(reconcile)
    reconcile.add_argument("--apply", action="store_true", help="carry the plan out")
    reconcile.add_argument("--delete", action="store_true", help="plan deletions too")
    delete_options(reconcile, "--apply")
    reconcile.add_argument("--retry-failed", action="store_true", help="reingest FAILED tiles")
    reconcile.set_defaults(handler=run_reconcile)
    account_options(reconcile)


def pattern_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Add ``--pattern`` and ``--endpoint-url``."""
    parser.add_argument(
        "--pattern",
        required=required,
        help="regular expression for the object keys with (BAND) and named sensing-time "
        "groups (year, month, day, hour, minute, second, or sensing_time)"
        + ("" if required else "; default: inferred from a one-folder-per-tile layout"),
    )
    parser.add_argument("--endpoint-url", help="an S3-compatible endpoint")


def run_check(args: argparse.Namespace) -> int:
    """``byocframe check``: print the findings; 1 when a file breaks a rule."""
    import pandas as pd

    from byocframe.bucket.checks import DEFAULT_RULES, check

    rules = DEFAULT_RULES.replace(supported_crs=DEFAULT_RULES.supported_crs | set(args.crs))
    findings = check(
        args.url,
        pattern=args.pattern,
        rules=rules,
        endpoint_url=args.endpoint_url,
        max_unmatched=args.max_unmatched,
    )
    if args.pattern is None:
        print(f"pattern (inferred): {findings.attrs['byocframe']['pattern']}")
    if args.output:
        write_table(findings, args.output)
    errors = int((findings["severity"] == "error").sum())
    if findings.empty:
        print("no findings: every file and tile passes the rules")
        return 0
    with pd.option_context("display.max_colwidth", 90, "display.width", 200):
        for row in findings.itertuples():
            print(f"{row.severity.upper():7} {row.rule}: {row.message}")
            print(f"        fix: {row.fix}")
    print(f"{errors} error(s), {len(findings) - errors} warning(s)")
    return 1 if errors else 0


def run_bucket(args: argparse.Namespace) -> int:
    """``byocframe bucket``: list the files (or tiles) and their headers into a file."""
    from byocframe.bucket.files import read_bucket

    frame = read_bucket(args.url, pattern=args.pattern, endpoint_url=args.endpoint_url)
    if args.pattern:
        from byocframe.io.files import write_file

        write_file(frame, args.output)
    else:
        write_table(frame, args.output)
    print(f"{len(frame):,} {'tiles' if args.pattern else 'files'} written to {args.output}")
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    """``byocframe reconcile``: plan, and with ``--apply`` carry out, the repairs."""
    import byocframe
    from byocframe.bucket.evidence import same_bucket
    from byocframe.bucket.files import group_tiles
    from byocframe.bucket.reconcile import apply_plan, reconcile

    client = client_from_args(args)
    collection = client.get_collection(args.collection)
    s3_bucket = str(collection.get("s3Bucket") or "")
    if args.url.startswith("s3://"):
        listed = args.url[5:].split("/", 1)[0]
        if not same_bucket(listed, s3_bucket):
            raise ValidationError(
                f"{args.url} is not the collection's bucket {s3_bucket}: "
                f"give s3://{s3_bucket}/ or a prefix of it"
            )
    # no bands: the files are named after the bands (a band's source defaults to its name)
    bands = (collection.get("additionalData") or {}).get("bands") or {}
    tiles = byocframe.read_tiles(client, args.collection)
    files = byocframe.read_bucket(args.url, endpoint_url=args.endpoint_url)
    plan = reconcile(
        tiles, files, pattern=args.pattern, bands=bands, delete=args.delete,
        retry_failed=args.retry_failed, s3_bucket=s3_bucket,
    )  # fmt: skip
    if plan.empty:
        print("the collection and the bucket agree")
        return 0
    deletes = plan.loc[plan["action"] == "delete", "id"].dropna().tolist()
    print_plan(plan)
    hint = confirmation_hint(args.collection, deletes, args.delete_limit)
    if not args.apply:
        if hint:
            print(hint)
        print("nothing sent (add --apply to carry the plan out)")
        return 0
    # the plan was made again for this run: its deletions must be the ones confirmed
    check_deletions(
        args.collection, deletes, delete_limit=args.delete_limit, confirmed=args.confirm_deletes
    )
    candidates = group_tiles(files, args.pattern)  # the same listing as the plan
    result = apply_plan(plan, tiles, client, candidates=candidates)
    failed = result[result["outcome"] != "ok"] if len(result) else result
    print(f"{len(result) - len(failed)} request(s) ok, {len(failed)} failed")
    for tid, row in failed.head(20).iterrows():
        print(f"  {tid}: {row['action']} {row['outcome']}: {row['message']}")
    if len(failed) > 20:
        print(f"  ... and {len(failed) - 20:,} more")
    return 1 if len(failed) else 0


def print_plan(plan: Any, most: int = 20) -> None:
    """Counts first, then deletions (all of them), creates, reingests, what is left alone."""
    counts = plan["action"].value_counts()
    print(
        f"{counts.get('delete', 0)} deletions, {counts.get('create', 0)} creates, "
        f"{counts.get('reingest', 0)} reingests, {counts.get('none', 0)} left alone"
    )
    unlisted = plan[plan["reason"] == "unlisted"]
    shown = plan[plan["reason"] != "unlisted"]
    for action in ("delete", "create", "reingest", "none"):
        rows = shown[shown["action"] == action]
        limit = len(rows) if action == "delete" else most
        for row in rows.head(limit).itertuples():
            where = row.path or ", ".join(row.files)
            print(f"{row.action:8} {row.reason:14} {where}  ({row.detail})")
        if len(rows) > limit:
            print(f"  ... and {len(rows) - limit:,} more ({action})")
    if len(unlisted):
        print(f"{len(unlisted):,} tiles outside the listing: not compared, not deleted")

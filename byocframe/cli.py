"""The ``byocframe`` command line: demo, serve, collections, tiles, coverage, map, push."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from byocframe.exceptions import ByocframeError, ByocframeWarning, ValidationError

__all__ = ["DELETE_LIMIT", "main"]

#: ``reconcile --apply`` deletes at most this many tiles without ``--confirm-deletes``.
DELETE_LIMIT = 5

_EPILOG = """\
examples:
  byocframe demo                      # local service, 20,000 demo tiles, coverage map PNG
  byocframe serve --port 8080 --demo  # a local BYOC API for sentinelhub-py or notebooks
  byocframe collections               # your collections (credentials: SH_CLIENT_ID, ...)
  byocframe tiles COLLECTION -o tiles.parquet
  byocframe coverage COLLECTION --aoi=-60,-30,-45,-15 --by date
  byocframe map COLLECTION -o map.png
  byocframe push COLLECTION tiles.parquet --dry-run
  byocframe check s3://bucket/tiles/ --pattern 'tiles/(?P<sensing_time>[^/]+)/(BAND)\\.tif'
  byocframe bucket s3://bucket/tiles/ -o files.parquet
  byocframe reconcile COLLECTION s3://bucket/ --pattern '...' --apply

credentials, each taken from the first place that has it: --client-id/--client-secret
(--base-url, --token-url, --deployment), then a profile named with --profile, then
SH_CLIENT_ID/SH_CLIENT_SECRET (SH_BASE_URL, SH_TOKEN_URL), then the sentinelhub-py
config.toml profile $SH_PROFILE or default-profile.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="byocframe",
        description="Sentinel Hub BYOC collections as (Geo)DataFrames: list, map, edit.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"byocframe {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _bucket_commands(commands)

    demo = commands.add_parser(
        "demo",
        help="run the whole job offline against the local service and write a coverage map",
        description="Start the local BYOC service with a demo collection (generated "
        "offline), list it through the client, print coverage statistics and write a "
        "coverage map. Needs no account and no network.",
    )
    demo.add_argument("--tiles", type=_positive, default=20_000, help="demo tiles (default 20000)")
    demo.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("byoc-coverage.png"),
        help="coverage map PNG to write (default byoc-coverage.png)",
    )
    demo.add_argument(
        "--basemap",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fetch web map tiles (default: try, fall back to the shipped land layer)",
    )
    demo.add_argument("--db", type=Path, help="keep the service's state in this SQLite file")

    serve = commands.add_parser(
        "serve",
        help="run a local BYOC-compatible service until interrupted",
        description="Serve the Sentinel Hub BYOC API under /api/v1/byoc, with OAuth2 "
        "client credentials at /oauth/token and "
        "/auth/realms/main/protocol/openid-connect/token.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address (default 127.0.0.1); any other needs your own credentials",
    )
    serve.add_argument("--port", type=int, default=8080, help="port, 0 for any (default 8080)")
    serve.add_argument("--db", type=Path, help="SQLite file (default: in memory, lost on exit)")
    serve.add_argument(
        "--client-id",
        default=None,
        help="accepted client id (default: BYOCFRAME_SERVICE_CLIENT_ID, else a well-known one)",
    )
    serve.add_argument(
        "--client-secret-file",
        type=Path,
        help="file whose first line is the accepted client secret",
    )
    serve.add_argument(
        "--client-secret",
        default=None,
        help="accepted client secret; visible to other users in the process list: prefer "
        "BYOCFRAME_SERVICE_CLIENT_SECRET or --client-secret-file (default: a well-known "
        "local one, refused beyond 127.0.0.1)",
    )
    serve.add_argument("--demo", action="store_true", help="seed the demo collection")
    serve.add_argument(
        "--demo-tiles", type=int, default=20_000, help="tiles in the demo collection (20000)"
    )
    serve.add_argument(
        "--ingestion-delay",
        type=float,
        default=5.0,
        help="seconds from WAITING to INGESTED for new tiles (default 5; 0 = at once)",
    )
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    serve.add_argument("--error-rate", type=float, default=0.0, help="fraction of 5xx answers")
    serve.add_argument("--throttle-rate", type=float, default=0.0, help="fraction of 429s")
    serve.add_argument(
        "--drop-rate", type=float, default=0.0, help="fraction of dropped connections"
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of the injected faults")
    limits = serve.add_argument_group("limits")
    limits.add_argument(
        "--read-timeout", type=float, default=30.0, help="seconds to send one request (30)"
    )
    limits.add_argument(
        "--idle-timeout", type=float, default=60.0, help="seconds a connection may idle (60)"
    )
    limits.add_argument(
        "--max-connections", type=int, default=64, help="connections served at once (64)"
    )
    limits.add_argument(
        "--max-body-bytes", type=int, default=16 * 2**20, help="largest request body (16 MiB)"
    )

    listing = commands.add_parser(
        "collections",
        help="list your collections as a table",
        description="List the collections of your account.",
    )
    listing.add_argument("--search", help="words joined by | (or) and & (and)")
    _account_options(listing)

    tiles = commands.add_parser(
        "tiles",
        help="save a collection's tiles to a file",
        description="List every tile of COLLECTION and save the table. The file type "
        "follows the extension: .parquet (GeoParquet: keeps everything, and push can "
        "check it for conflicts), .gpkg, .geojson or .csv (geometry as WKT).",
    )
    tiles.add_argument("collection", metavar="COLLECTION", help="collection id")
    tiles.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    tiles.add_argument(
        "--status", type=_status, help="only tiles with this status (e.g. FAILED, failed)"
    )
    tiles.add_argument("--crs", default="EPSG:4326", help="CRS of the geometries (EPSG:4326)")
    _account_options(tiles)

    cover = commands.add_parser(
        "coverage",
        help="print footprint coverage statistics",
        description="Footprint, covered and overlap areas (km2, on the ellipsoid).",
    )
    cover.add_argument("collection", metavar="COLLECTION", help="collection id")
    cover.add_argument(
        "--aoi",
        help="west,south,east,north in degrees (write --aoi=-60,-30,-45,-15 when it "
        "starts with a minus), or a vector file (GeoJSON, GPKG)",
    )
    cover.add_argument("--by", help="date, status, or a pandas frequency such as MS (monthly)")
    _account_options(cover)

    drawing = commands.add_parser(
        "map",
        help="draw a coverage map",
        description="Draw COLLECTION's tiles on a map.",
    )
    drawing.add_argument("collection", metavar="COLLECTION", help="collection id")
    drawing.add_argument(
        "-o", "--output", type=Path, default=Path("map.png"), help="PNG to write (map.png)"
    )
    drawing.add_argument("--column", help="colour by this column (default status)")
    drawing.add_argument(
        "--basemap",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fetch web map tiles under the footprints (default: try, fall back to the "
        "shipped land layer)",
    )
    _account_options(drawing)

    push = commands.add_parser(
        "push",
        help="send edits from a file written by 'tiles'",
        description="Compare EDITED_FILE (written by 'byocframe tiles', then edited) with "
        "what was listed and send the changes: sensing_time, geometry, new rows with a "
        "path. Each row remembers what it held when listed, so a tile someone else "
        "changed since is reported as a conflict, and a rerun sends nothing twice. A "
        "file with no 'loaded' column is compared with the collection as it is now.",
    )
    push.add_argument("collection", metavar="COLLECTION", help="collection id")
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
    _account_options(push)
    return parser


def _account_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("account")
    group.add_argument("--base-url", help="deployment, e.g. https://sh.dataspace.copernicus.eu")
    group.add_argument(
        "--deployment",
        help="a deployment by name instead of --base-url: aws-eu-central-1, aws-us-west-2, "
        "gcp-us-central1, creodias, code-de, mundi, cdse",
    )
    group.add_argument("--token-url", help="OAuth2 token endpoint")
    group.add_argument("--client-id", help="OAuth client id (default: SH_CLIENT_ID)")
    group.add_argument(
        "--client-secret",
        help="OAuth client secret (default: SH_CLIENT_SECRET; a flag is "
        "visible to other users of this machine)",
    )
    group.add_argument("--profile", help="sentinelhub-py config.toml profile to read")


def _client(args: argparse.Namespace):
    from byocframe.client import Client
    from byocframe.config import resolve_settings

    # as sentinelhub-py: flags > SH_* variables > profile; but a --profile named on the
    # command line beats the variables, and flags still apply on top of a profile
    settings = resolve_settings(
        client_id=args.client_id,
        client_secret=args.client_secret,
        base_url=args.base_url,
        token_url=args.token_url,
        deployment=args.deployment,
        profile=args.profile,
        profile_over_env=args.profile is not None,
    )
    return Client.from_settings(settings)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("byocframe")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _positive(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _status(text: str) -> str:
    from byocframe.records import STATUSES

    upper = text.strip().upper()
    if upper not in STATUSES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a tile status; use one of {', '.join(STATUSES)}"
        )
    return upper


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--aoi -60,-30,-45,-15`` as ``--aoi=-60,-30,-45,-15`` (argparse takes -60 for a flag)."""
    out: list[str] = []
    for item in argv:
        if out and out[-1] == "--aoi" and item.startswith("-") and "," in item:
            out[-1] = f"--aoi={item}"
        else:
            out.append(item)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 error, 2 push incomplete)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(_join_negative_values(argv))
    commands = {
        "demo": _demo,
        "serve": _serve,
        "collections": _collections,
        "tiles": _tiles,
        "coverage": _coverage,
        "map": _map,
        "push": _push,
    }
    try:
        return (getattr(args, "handler", None) or commands[args.command])(args)
    except KeyboardInterrupt:
        return 130
    except (ByocframeError, ValueError, OSError) as err:
        print(f"byocframe {args.command}: error: {err}", file=sys.stderr)
        return 1


def _demo(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import byocframe

    start = time.perf_counter()
    print(f"Starting the local BYOC service with a {args.tiles:,}-tile demo collection ...")
    with byocframe.local_service(
        demo=True, demo_tiles=args.tiles, db=args.db, ingestion_delay=None
    ) as service:
        client = service.client()
        ready = time.perf_counter()
        print(f"  ready at {service.base_url} in {ready - start:.1f} s")
        gdf = byocframe.read_tiles(client, service.demo_collection)
        listed = time.perf_counter()
        print(f"  listed {len(gdf):,} tiles into a GeoDataFrame in {listed - ready:.1f} s\n")
    print(gdf.byoc.summary())
    per_date = gdf.byoc.coverage(by="sensing_time")
    per_date.index = [f"{d:%Y-%m-%d}" for d in per_date.index]
    print("\nCoverage per sensing date (km2, on the WGS84 ellipsoid):")
    print(per_date.round(0).astype("int64").to_string())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ByocframeWarning)
        ax = gdf.byoc.plot(basemap=args.basemap, title="byocframe demo: BYOC tiles by status")
    if caught:
        print(
            "\nnote: no web map tiles could be fetched (offline?); the map shows the "
            "Natural Earth land layer shipped with byocframe"
        )
    ax.figure.savefig(args.output, dpi=120)
    print(f"\nCoverage map written to {args.output} ({time.perf_counter() - start:.1f} s in all)")
    return 0


def _service_credentials(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[str, str, str]:
    """The credentials ``serve`` accepts, and where the secret came from.

    Order: ``--client-secret``, ``--client-secret-file``, ``BYOCFRAME_SERVICE_CLIENT_SECRET``,
    then the well-known default (refused beyond loopback by `create_service`).
    """
    from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    client_id = args.client_id or environ.get("BYOCFRAME_SERVICE_CLIENT_ID") or DEFAULT_CLIENT_ID
    if args.client_secret:
        print(
            "byocframe serve: warning: --client-secret is visible to other users of this "
            "machine; prefer BYOCFRAME_SERVICE_CLIENT_SECRET or --client-secret-file",
            file=sys.stderr,
        )
        return client_id, args.client_secret, "--client-secret"
    if args.client_secret_file:
        lines = args.client_secret_file.read_text(encoding="utf-8").splitlines()
        secret = lines[0].strip() if lines else ""
        if not secret:
            raise ValueError(f"--client-secret-file {args.client_secret_file} is empty")
        return client_id, secret, str(args.client_secret_file)
    if environ.get("BYOCFRAME_SERVICE_CLIENT_SECRET"):
        return client_id, environ["BYOCFRAME_SERVICE_CLIENT_SECRET"], "the environment"
    return client_id, DEFAULT_CLIENT_SECRET, "the well-known local default"


def _serve(args: argparse.Namespace) -> int:
    import os

    import byocframe
    from byocframe.emulator import Limits, create_service

    client_id, secret, origin = _service_credentials(args, os.environ)
    limits = Limits(
        read_timeout=args.read_timeout,
        idle_timeout=args.idle_timeout,
        max_connections=args.max_connections,
        max_body_bytes=args.max_body_bytes,
    )
    faults = byocframe.Faults(
        latency=args.latency,
        error_rate=args.error_rate,
        throttle_rate=args.throttle_rate,
        drop_rate=args.drop_rate,
        seed=args.seed,
    )
    service = create_service(
        host=args.host,
        port=args.port,
        db=args.db,
        client_id=client_id,
        client_secret=secret,
        demo=args.demo,
        demo_tiles=args.demo_tiles,
        ingestion_delay=args.ingestion_delay or 0.0,
        faults=faults,
        limits=limits,
    )
    print(f"byocframe local BYOC service at {service.base_url}", flush=True)
    print(f"  API:       {service.base_url}/api/v1/byoc")
    print(f"  token URL: {service.token_url}")
    print(f"  client id: {service.client_id} (secret from {origin})")
    if service.demo_collection:
        print(f"  demo collection: {service.demo_collection}")
    print("For byocframe in another shell:")
    print("  " + _exports(service.base_url, service.client_id, service.client_secret))
    print("Press Ctrl+C to stop.", flush=True)
    try:
        service.serve_forever()
    finally:
        service.stop()
    return 0


def _exports(base_url: str, client_id: str, client_secret: str) -> str:
    """The ``export`` line for a second shell; the secret only when it is well known."""
    import shlex

    from byocframe.emulator import DEFAULT_CLIENT_SECRET

    names = {"SH_BASE_URL": base_url, "SH_CLIENT_ID": client_id}
    if client_secret == DEFAULT_CLIENT_SECRET:
        names["SH_CLIENT_SECRET"] = client_secret
    line = "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in names.items())
    if "SH_CLIENT_SECRET" not in names:
        line += "  # and SH_CLIENT_SECRET=<the secret you chose>"
    return line


def _collections(args: argparse.Namespace) -> int:
    import byocframe

    frame = byocframe.read_collections(_client(args), search=args.search)
    if frame.empty:
        print("no collections")
        return 0
    shown = frame[["name", "s3_bucket", "bands", "created"]].copy()
    shown["created"] = shown["created"].dt.strftime("%Y-%m-%d")
    print(shown.to_string(max_colwidth=40))
    return 0


def _read(args: argparse.Namespace, **kwargs):
    import byocframe

    return byocframe.read_tiles(_client(args), args.collection, **kwargs)


def _check_output(path: Path, suffixes: tuple[str, ...]) -> None:
    """Refuse an output path that cannot be written, before any request."""
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{path}: use one of {', '.join(suffixes)}")
    if not path.parent.is_dir():
        raise ValueError(f"{path.parent}: folder not found")


def _check_crs(text: str) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(text)
    except CRSError as err:
        raise ValueError(f"--crs {text!r} is not a CRS pyproj knows: {err}") from err
    return text


def _tiles(args: argparse.Namespace) -> int:
    from byocframe.files import write_file

    _check_output(args.output, (".parquet", ".gpkg", ".geojson", ".json", ".fgb", ".csv"))
    _check_crs(args.crs)
    gdf = _read(args, status=args.status, crs=args.crs)
    write_file(gdf, args.output)
    print(f"{len(gdf):,} tiles written to {args.output}")
    return 0


def _coverage(args: argparse.Namespace) -> int:
    aoi = _aoi(args.aoi) if args.aoi else None
    by = "sensing_time" if args.by == "date" else args.by
    table = _read(args).byoc.coverage(aoi, by=by)
    print(table.to_string(float_format=_number))
    return 0


def _number(value: float) -> str:
    """Areas with thousands separators, fractions with 3 decimals; never 2.3e+08."""
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _aoi(text: str):
    parts = text.split(",")
    if len(parts) == 4:
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            pass
    import geopandas as gpd

    path = Path(text)
    if not path.exists():
        raise ValueError(
            f"--aoi {text!r}: file not found, and not west,south,east,north in degrees"
        )
    try:
        return gpd.read_file(path)
    except Exception as err:  # pyogrio raises its own error types for unreadable files
        raise ValueError(f"--aoi {text!r}: not a vector file GDAL can read ({err})") from err


def _map(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    _check_output(args.output, (".png", ".pdf", ".svg", ".jpg"))
    if args.column is not None:
        from byocframe.io import tiles_from_records

        known = tiles_from_records([]).columns
        if args.column not in known:
            raise ValueError(
                f"--column {args.column!r} is not a tile column; use one of "
                + ", ".join(c for c in known if c not in ("loaded", "geometry"))
            )
    gdf = _read(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ByocframeWarning)
        ax = gdf.byoc.plot(args.column, basemap=args.basemap)
    if caught:
        print("note: no web map tiles could be fetched; drew the shipped land layer")
    ax.figure.savefig(args.output, dpi=120)
    print(f"map of {len(gdf):,} tiles written to {args.output}")
    return 0


def _push(args: argparse.Namespace) -> int:
    from byocframe.files import overlay_edits, read_file
    from byocframe.snapshot import LOADED, loaded_state, service_digest

    edited = read_file(args.edited)  # a missing or unreadable file fails before any request
    client = _client(args)
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
    result = frame.byoc.push(
        client,
        dry_run=args.dry_run,
        force=args.force,
        delete_missing=args.delete_missing,
        workers=args.workers,
        original=original,
        collection=args.collection,
    )
    if result.empty:
        print("nothing to push: the file matches the collection")
        return 0
    if args.dry_run:
        print(result.attrs["byocframe"]["summary"])
        for tid, row in result.head(20).iterrows():
            print(f"  {tid or 'new'}: {row['message']}")
        if len(result) > 20:
            print(f"  ... and {len(result) - 20:,} more")
        return 0
    print(result.groupby(["action", "outcome"]).size().to_string())
    bad = result[~result["outcome"].isin(["ok", "unchanged"])]
    for tid, row in bad.head(20).iterrows():
        print(f"  {tid}: {row['outcome']}: {row['message']}")
    return 0 if bad.empty else 2


def _bucket_commands(commands: argparse._SubParsersAction) -> None:
    """The subcommands on the files behind a collection: check, bucket, reconcile."""
    check = commands.add_parser(
        "check",
        help="pre-flight checks of the GeoTIFFs in a bucket or folder",
        description="Read every GeoTIFF header under URL (s3://bucket/prefix or a "
        "folder) with ranged requests and run the BYOC file rules per file and per "
        "tile. Exit code 1 when a file breaks a rule that fails ingestion.",
    )
    check.add_argument("url", metavar="URL", help="s3://bucket/prefix or a local folder")
    _pattern_options(check)
    check.add_argument(
        "--crs", action="append", default=[], help="an extra CRS the deployment ingests"
    )
    check.add_argument("-o", "--output", type=Path, help="write the findings (.csv/.parquet)")
    check.set_defaults(handler=_check)
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
    bucket.set_defaults(handler=_bucket)
    reconcile = commands.add_parser(
        "reconcile",
        help="compare a collection with its bucket: stale, gone, new, unused",
        description="Plan reingesting stale tiles (the bucket's ETag differs from "
        "filesMetadata), creating tiles for new files that pass the checks, and (with "
        "--delete) deleting tiles whose files are gone; --apply carries the plan out. "
        "URL must be the collection's bucket (or a prefix of it: tiles outside are left "
        "alone); deletions need an S3 listing, and more than --delete-limit of them "
        "need --confirm-deletes with their count.",
    )
    reconcile.add_argument("collection", metavar="COLLECTION", help="collection id")
    reconcile.add_argument(
        "url", metavar="URL", help="the collection's bucket, s3://bucket/ or s3://bucket/prefix"
    )
    _pattern_options(reconcile)
    reconcile.add_argument("--apply", action="store_true", help="carry the plan out")
    reconcile.add_argument("--delete", action="store_true", help="plan deletions too")
    reconcile.add_argument(
        "--delete-limit",
        type=int,
        default=DELETE_LIMIT,
        metavar="N",
        help=f"--apply deletes up to N tiles unasked (default {DELETE_LIMIT})",
    )
    reconcile.add_argument(
        "--confirm-deletes",
        type=int,
        metavar="COUNT",
        help="confirm deleting more than --delete-limit tiles: the count the dry run printed",
    )
    reconcile.add_argument("--retry-failed", action="store_true", help="reingest FAILED tiles")
    reconcile.set_defaults(handler=_reconcile)
    _account_options(reconcile)


def _pattern_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pattern",
        required=True,
        help="regular expression for the object keys with (BAND) and named sensing-time "
        "groups (year, month, day, hour, minute, second, or sensing_time)",
    )
    parser.add_argument("--endpoint-url", help="an S3-compatible endpoint")


def _check(args: argparse.Namespace) -> int:
    import pandas as pd

    from byocframe.checks import DEFAULT_RULES, check

    rules = DEFAULT_RULES.replace(supported_crs=DEFAULT_RULES.supported_crs | set(args.crs))
    findings = check(args.url, pattern=args.pattern, rules=rules, endpoint_url=args.endpoint_url)
    if args.output:
        _write_table(findings, args.output)
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


def _bucket(args: argparse.Namespace) -> int:
    from byocframe.bucket import read_bucket

    frame = read_bucket(args.url, pattern=args.pattern, endpoint_url=args.endpoint_url)
    if args.pattern:
        from byocframe.files import write_file

        write_file(frame, args.output)
    else:
        _write_table(frame, args.output)
    print(f"{len(frame):,} {'tiles' if args.pattern else 'files'} written to {args.output}")
    return 0


def _write_table(frame: Any, path: Path) -> None:
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; use .parquet or .csv")


def _reconcile(args: argparse.Namespace) -> int:
    import byocframe
    from byocframe.bucket import group_tiles
    from byocframe.evidence import same_bucket
    from byocframe.reconcile import apply_plan, reconcile

    client = _client(args)
    collection = client.get_collection(args.collection)
    s3_bucket = str(collection.get("s3Bucket") or "")
    if args.url.startswith("s3://"):
        listed = args.url[5:].split("/", 1)[0]
        if not same_bucket(listed, s3_bucket):
            raise ValidationError(
                f"{args.url} is not the collection's bucket {s3_bucket}: "
                f"give s3://{s3_bucket}/ or a prefix of it"
            )
    bands = (collection.get("additionalData") or {}).get("bands")
    tiles = byocframe.read_tiles(client, args.collection)
    files = byocframe.read_bucket(args.url, endpoint_url=args.endpoint_url)
    plan = reconcile(
        tiles, files, pattern=args.pattern, bands=bands, delete=args.delete,
        retry_failed=args.retry_failed, s3_bucket=s3_bucket,
    )  # fmt: skip
    if plan.empty:
        print("the collection and the bucket agree")
        return 0
    deletes = int((plan["action"] == "delete").sum())
    _print_plan(plan)
    if not args.apply:
        print("nothing sent (add --apply to carry the plan out)")
        return 0
    # a confirmation names the count, so one written for another plan confirms nothing
    if args.confirm_deletes is not None and args.confirm_deletes != deletes:
        raise ValidationError(
            f"the plan deletes {deletes} tiles, not {args.confirm_deletes}: read the plan "
            f"again, then give --confirm-deletes {deletes}"
        )
    if deletes > args.delete_limit and args.confirm_deletes is None:
        raise ValidationError(
            f"the plan deletes {deletes} tiles, more than --delete-limit {args.delete_limit}: "
            f"read the plan, then add --confirm-deletes {deletes}"
        )
    candidates = group_tiles(files, args.pattern)  # the same listing as the plan
    result = apply_plan(plan, tiles, client, candidates=candidates)
    failed = result[result["outcome"] != "ok"] if len(result) else result
    print(f"{len(result) - len(failed)} request(s) ok, {len(failed)} failed")
    return 1 if len(failed) else 0


def _print_plan(plan: Any, most: int = 20) -> None:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

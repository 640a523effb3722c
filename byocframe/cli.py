"""The ``byocframe`` command line: demo, serve, collections, tiles, coverage, map, push."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from byocframe.exceptions import ByocframeError, ByocframeWarning

__all__ = ["main"]

_EPILOG = """\
examples:
  byocframe demo                      # local service, 20,000 demo tiles, coverage map PNG
  byocframe serve --port 8080 --demo  # a local BYOC API for sentinelhub-py or notebooks
  byocframe collections               # your collections (credentials: SH_CLIENT_ID, ...)
  byocframe tiles COLLECTION -o tiles.parquet
  byocframe coverage COLLECTION --aoi 5,45,15,55 --by date
  byocframe map COLLECTION -o map.png
  byocframe push COLLECTION tiles.parquet --dry-run

credentials: --client-id/--client-secret, else SH_CLIENT_ID/SH_CLIENT_SECRET (and
SH_BASE_URL, SH_TOKEN_URL), else a sentinelhub-py config.toml profile (--profile).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="byocframe",
        description="Sentinel Hub BYOC collections as (Geo)DataFrames: list, map, edit.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run the whole job offline against the local service and write a coverage map",
        description="Start the local BYOC service with a demo collection (generated "
        "offline), list it through the client, print coverage statistics and write a "
        "coverage map. Needs no account and no network.",
    )
    demo.add_argument("--tiles", type=int, default=20_000, help="demo tiles (default 20000)")
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
    serve.add_argument("--demo-tiles", type=int, default=20_000)
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
    tiles.add_argument("--status", help="only tiles with this status")
    tiles.add_argument("--crs", default="EPSG:4326", help="CRS of the geometries")
    _account_options(tiles)

    cover = commands.add_parser(
        "coverage",
        help="print footprint coverage statistics",
        description="Footprint, covered and overlap areas (km2, on the ellipsoid).",
    )
    cover.add_argument("collection", metavar="COLLECTION", help="collection id")
    cover.add_argument(
        "--aoi",
        help="west,south,east,north in degrees (write --aoi=-10,35,30,60 when it "
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
    drawing.add_argument("-o", "--output", type=Path, default=Path("map.png"))
    drawing.add_argument("--column", help="colour by this column (default status)")
    drawing.add_argument("--basemap", action=argparse.BooleanOptionalAction, default=None)
    _account_options(drawing)

    push = commands.add_parser(
        "push",
        help="send edits from a file written by 'tiles'",
        description="Compare EDITED_FILE (written by 'byocframe tiles', then edited) with "
        "the collection and send the changes: sensing_time, geometry, new rows with a "
        "path. A GeoParquet file remembers what was listed, so tiles changed by someone "
        "else since are reported as conflicts; other formats compare with the "
        "collection as it is now.",
    )
    push.add_argument("collection", metavar="COLLECTION", help="collection id")
    push.add_argument("edited", metavar="EDITED_FILE", type=Path)
    push.add_argument("--dry-run", action="store_true", help="only show what would be sent")
    push.add_argument("--force", action="store_true", help="overwrite conflicting tiles")
    push.add_argument(
        "--delete-missing", action="store_true", help="delete tiles that are not in the file"
    )
    push.add_argument("--workers", type=int, default=8)
    _account_options(push)
    return parser


def _account_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("account")
    group.add_argument("--base-url", help="deployment, e.g. https://sh.dataspace.copernicus.eu")
    group.add_argument("--token-url", help="OAuth2 token endpoint")
    group.add_argument("--client-id", help="OAuth client id (default: SH_CLIENT_ID)")
    group.add_argument(
        "--client-secret",
        help="OAuth client secret (default: SH_CLIENT_SECRET; a flag is "
        "visible to other users of this machine)",
    )
    group.add_argument("--profile", help="sentinelhub-py config.toml profile to read")


def _client(args: argparse.Namespace):
    import os

    from byocframe.client import DEFAULT_BASE_URL, Client

    client_id = args.client_id or os.environ.get("SH_CLIENT_ID")
    secret = args.client_secret or os.environ.get("SH_CLIENT_SECRET")
    if client_id and secret:
        return Client(
            args.base_url or os.environ.get("SH_BASE_URL") or DEFAULT_BASE_URL,
            client_id,
            secret,
            args.token_url or os.environ.get("SH_TOKEN_URL") or None,
        )
    try:
        return Client.from_config(profile=args.profile)
    except ValueError as err:
        raise ValueError(
            "no credentials: pass --client-id/--client-secret, set SH_CLIENT_ID and "
            f"SH_CLIENT_SECRET, or configure sentinelhub-py ({err})"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
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
        return commands[args.command](args)
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
    print("Press Ctrl+C to stop.", flush=True)
    try:
        service.serve_forever()
    finally:
        service.stop()
    return 0


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


def _tiles(args: argparse.Namespace) -> int:
    from byocframe.files import write_tiles

    gdf = _read(args, status=args.status, crs=args.crs)
    write_tiles(gdf, args.output)
    print(f"{len(gdf):,} tiles written to {args.output}")
    return 0


def _coverage(args: argparse.Namespace) -> int:
    aoi = _aoi(args.aoi) if args.aoi else None
    by = "sensing_time" if args.by == "date" else args.by
    table = _read(args).byoc.coverage(aoi, by=by)
    print(table.round(3).to_string())
    return 0


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
        raise ValueError(f"--aoi {text!r} is neither west,south,east,north nor a file")
    return gpd.read_file(path)


def _map(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
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
    from byocframe.files import edited_frame

    client = _client(args)
    frame, original = edited_frame(client, args.collection, args.edited)
    result = frame.byoc.push(
        client,
        dry_run=args.dry_run,
        force=args.force,
        delete_missing=args.delete_missing,
        workers=args.workers,
        original=original,
    )
    if result.empty:
        print("nothing to push: the file matches the collection")
        return 0
    print(result.groupby(["action", "outcome"]).size().to_string())
    bad = result[~result["outcome"].isin(["ok", "skipped"])]
    for tid, row in bad.head(20).iterrows():
        print(f"  {tid}: {row['outcome']}: {row['message']}")
    return 0 if bad.empty else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

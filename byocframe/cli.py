"""The ``byocframe`` command line: ``byocframe demo``, ``byocframe serve``."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from byocframe.exceptions import ByocframeError, ByocframeWarning

__all__ = ["main"]

_EPILOG = """\
examples:
  byocframe demo                      # local service, 20,000 demo tiles, coverage map PNG
  byocframe serve --port 8080 --demo  # a local BYOC API for sentinelhub-py or notebooks
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
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port, 0 for any (default 8080)")
    serve.add_argument("--db", type=Path, help="SQLite file (default: in memory, lost on exit)")
    serve.add_argument("--client-id", default=None, help="accepted client id")
    serve.add_argument(
        "--client-secret",
        default=None,
        help="accepted client secret (default: a well-known local one; see the docs)",
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
        return _serve(args)
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


def _serve(args: argparse.Namespace) -> int:
    import byocframe
    from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_service

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
        client_id=args.client_id or DEFAULT_CLIENT_ID,
        client_secret=args.client_secret or DEFAULT_CLIENT_SECRET,
        demo=args.demo,
        demo_tiles=args.demo_tiles,
        ingestion_delay=args.ingestion_delay or 0.0,
        faults=faults,
    )
    print(f"byocframe local BYOC service at {service.base_url}", flush=True)
    print(f"  API:       {service.base_url}/api/v1/byoc")
    print(f"  token URL: {service.token_url}")
    print(f"  client id: {service.client_id}")
    if service.demo_collection:
        print(f"  demo collection: {service.demo_collection}")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        service.serve_forever()
    finally:
        service.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The local service commands: ``demo`` (the whole job offline) and ``serve``."""

from __future__ import annotations

import argparse
import errno
import shlex
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from byocframe.cli.common import positive
from byocframe.exceptions import ByocframeWarning, ValidationError

__all__ = ["MAX_SECRET_FILE_BYTES", "add_commands", "exports", "service_credentials", "setup_lines"]

#: Most bytes read of ``--client-secret-file`` (its first line is the secret): a path
#: such as /dev/zero or a log file was read whole. Raise it
#: (``byocframe.cli.serve.MAX_SECRET_FILE_BYTES = ...``, from Python) for a longer secret.
MAX_SECRET_FILE_BYTES = 4096


def add_commands(commands: Any) -> None:
    """Add ``demo`` and ``serve`` to the subcommands."""
    demo = commands.add_parser(
        "demo",
        help="run the whole job offline against the local service and write a coverage map",
        description="Start the local BYOC service with a demo collection (generated "
        "offline), list it through the client, print coverage statistics and write a "
        "coverage map. Needs no account and no network.",
    )
    demo.add_argument(
        "--tiles",
        type=positive,
        default=20_000,
        help="tiles in the demo collection (default 20,000)",
    )
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
    demo.set_defaults(handler=run_demo)

    serve = commands.add_parser(
        "serve",
        help="run a local BYOC-compatible service until interrupted",
        description="Serve the Sentinel Hub BYOC API under /api/v1/byoc and the Catalog "
        "API (STAC API 1.0.0) under /api/v1/catalog/1.0.0, with OAuth2 client "
        "credentials at /oauth/token and /auth/realms/main/protocol/openid-connect/token. "
        "Prints the lines to paste into another shell for byocframe, sentinelhub-py and "
        "(with --s3) AWS tools, and with --demo the demo collection's id as COLLECTION.",
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
        "--demo-tiles",
        type=int,
        default=20_000,
        help="tiles in the demo collection (default 20,000)",
    )
    serve.add_argument(
        "--s3",
        action="store_true",
        help="also run a local S3 endpoint on 127.0.0.1 (moto, in memory; needs the "
        "local-s3 extra) that check, bucket, reconcile and the service's ingestion use",
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
        "--read-timeout", type=float, default=30.0, help="seconds to send one request (default 30)"
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        help="seconds a connection may idle (default 60)",
    )
    limits.add_argument(
        "--max-connections", type=int, default=64, help="connections served at once (default 64)"
    )
    limits.add_argument(
        "--max-body-bytes",
        type=int,
        default=16 * 2**20,
        help="largest request body in bytes (default 16 MiB)",
    )
    serve.set_defaults(handler=run_serve)


def run_demo(args: argparse.Namespace) -> int:
    """``byocframe demo``: list the demo collection, print coverage, write a map."""
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


def service_credentials(
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
        limit = MAX_SECRET_FILE_BYTES
        with open(args.client_secret_file, "rb") as source:
            first = source.readline(limit + 1)
        if len(first.rstrip(b"\r\n")) > limit:
            raise ValidationError(
                f"--client-secret-file {args.client_secret_file}: its first line is longer "
                f"than {limit:,} bytes (byocframe.cli.serve.MAX_SECRET_FILE_BYTES); put "
                "the secret alone on the first line"
            )
        secret = first.decode("utf-8").strip()
        if not secret:
            raise ValueError(f"--client-secret-file {args.client_secret_file} is empty")
        return client_id, secret, str(args.client_secret_file)
    if environ.get("BYOCFRAME_SERVICE_CLIENT_SECRET"):
        return client_id, environ["BYOCFRAME_SERVICE_CLIENT_SECRET"], "the environment"
    return client_id, DEFAULT_CLIENT_SECRET, "the well-known local default"


def run_serve(args: argparse.Namespace) -> int:
    """``byocframe serve``: run the local service in this process until Ctrl+C."""
    import os

    import byocframe
    from byocframe.emulator import Limits, create_service

    client_id, secret, origin = service_credentials(args, os.environ)
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
    if args.demo:  # seeding 20,000 tiles takes seconds before the first line below
        print(
            f"byocframe serve: starting, with a {args.demo_tiles:,}-tile demo collection ...",
            file=sys.stderr,
            flush=True,
        )
    try:
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
            s3=args.s3,
        )
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
        raise ValidationError(
            f"port {args.port} on {args.host} is taken (another 'byocframe serve'?): "
            "choose another with --port, or --port 0 for any free one"
        ) from err
    try:
        print(f"byocframe local BYOC service at {service.base_url}", flush=True)
        print(f"  client id: {service.client_id} (secret from {origin})")
        s3_env = service.s3.environment() if service.s3 is not None else None
        for line in setup_lines(
            service.base_url,
            service.token_url,
            service.client_id,
            service.client_secret,
            demo_collection=service.demo_collection,
            s3_environment=s3_env,
        ):
            print(line)
        print("Press Ctrl+C to stop.", flush=True)
        service.serve_forever()
    finally:
        service.stop()
    return 0


def setup_lines(
    base_url: str,
    token_url: str,
    client_id: str,
    client_secret: str,
    *,
    demo_collection: str | None = None,
    s3_environment: Mapping[str, str] | None = None,
) -> list[str]:
    """What ``serve`` prints for the user to paste: one block per tool.

    sentinelhub-py reads only the client id and secret from the environment; its base
    and token URLs go into ``SHConfig``. oauthlib (under sentinelhub-py) refuses plain
    http unless ``OAUTHLIB_INSECURE_TRANSPORT=1``: safe here, the service is local.

    Examples
    --------
    >>> from byocframe.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    >>> lines = setup_lines(
    ...     "http://127.0.0.1:8080", "http://127.0.0.1:8080/oauth/token",
    ...     DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, demo_collection="c1",
    ... )
    >>> print(*lines, sep=chr(10))
    For byocframe in another shell (SH_BASE_URL is the address above, not the .../api/v1/byoc one):
      export SH_BASE_URL=http://127.0.0.1:8080 SH_CLIENT_ID=byocframe-local SH_CLIENT_SECRET=byocframe-local-secret
    For sentinelhub-py in another shell (plain http needs OAUTHLIB_INSECURE_TRANSPORT=1):
      export OAUTHLIB_INSECURE_TRANSPORT=1 SH_CLIENT_ID=byocframe-local SH_CLIENT_SECRET=byocframe-local-secret
    then in Python:
      config = SHConfig(sh_base_url='http://127.0.0.1:8080', sh_token_url='http://127.0.0.1:8080/oauth/token')
    The demo collection:
      export COLLECTION=c1
    """  # noqa: E501
    lines = [
        "For byocframe in another shell (SH_BASE_URL is the address above, not the "
        ".../api/v1/byoc one):",
        "  " + exports(base_url, client_id, client_secret),
        "For sentinelhub-py in another shell (plain http needs OAUTHLIB_INSECURE_TRANSPORT=1):",
        "  " + exports(None, client_id, client_secret, {"OAUTHLIB_INSECURE_TRANSPORT": "1"}),
        "then in Python:",
        f"  config = SHConfig(sh_base_url={base_url!r}, sh_token_url={token_url!r})",
    ]
    if s3_environment:
        lines += [
            "For the local S3 endpoint (boto3, the AWS CLI, byocframe check/bucket/reconcile; "
            "fake local credentials):",
            "  export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in s3_environment.items()),
        ]
    if demo_collection:
        lines += ["The demo collection:", f"  export COLLECTION={demo_collection}"]
    return lines


def exports(
    base_url: str | None,
    client_id: str,
    client_secret: str,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The ``export`` line for a second shell; the secret only when it is well known.

    Examples
    --------
    >>> exports("http://127.0.0.1:8080", "me", "not-the-default")
    'export SH_BASE_URL=http://127.0.0.1:8080 SH_CLIENT_ID=me  # and SH_CLIENT_SECRET=<the secret you chose>'
    """  # noqa: E501
    from byocframe.emulator import DEFAULT_CLIENT_SECRET

    names = dict(extra or {})
    if base_url is not None:
        names["SH_BASE_URL"] = base_url
    names["SH_CLIENT_ID"] = client_id
    if client_secret == DEFAULT_CLIENT_SECRET:
        names["SH_CLIENT_SECRET"] = client_secret
    line = "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in names.items())
    if "SH_CLIENT_SECRET" not in names:
        line += "  # and SH_CLIENT_SECRET=<the secret you chose>"
    return line

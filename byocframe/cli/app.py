"""The ``byocframe`` parser and `main`: each command group adds its own subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from byocframe.cli import bucket, coverage, serve, tiles
from byocframe.cli.common import version
from byocframe.exceptions import ByocframeError

__all__ = ["build_parser", "main"]

EPILOG = """\
examples:
  byocframe demo                      # local service, 20,000 demo tiles, coverage map PNG
  byocframe serve --demo --s3         # a local BYOC API (and S3) for sentinelhub-py or notebooks
  byocframe collections               # your collections (credentials: SH_CLIENT_ID, ...)
  byocframe tiles COLLECTION -o tiles.parquet
  byocframe coverage COLLECTION --aoi=-60,-30,-45,-15 --by month
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


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one subcommand per job, grouped in modules."""
    parser = argparse.ArgumentParser(
        prog="byocframe",
        description="Sentinel Hub BYOC collections as (Geo)DataFrames: list, map, edit.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"byocframe {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bucket.add_commands(commands)
    serve.add_commands(commands)
    tiles.add_commands(commands)
    coverage.add_commands(commands)
    return parser


def join_negative_values(argv: list[str]) -> list[str]:
    """``--aoi -60,-30,-45,-15`` as ``--aoi=-60,-30,-45,-15`` (argparse takes -60 for a flag).

    Examples
    --------
    >>> join_negative_values(["coverage", "c", "--aoi", "-60,-30,-45,-15"])
    ['coverage', 'c', '--aoi=-60,-30,-45,-15']
    """
    out: list[str] = []
    for item in argv:
        if out and out[-1] == "--aoi" and item.startswith("-") and "," in item:
            out[-1] = f"--aoi={item}"
        else:
            out.append(item)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 error, 2 push incomplete).

    Examples
    --------
    >>> main(["tiles", "c", "-o", "tiles.txt"])  # refused before any request
    1
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(join_negative_values(argv))
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except (ByocframeError, ValueError, OSError) as err:
        print(f"byocframe {args.command}: error: {err}", file=sys.stderr)
        return 1

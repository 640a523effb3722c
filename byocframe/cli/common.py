"""What the command groups share: account options, the client, argument types, output files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = [
    "account_options",
    "check_output",
    "client_from_args",
    "non_negative",
    "positive",
    "status",
    "version",
    "whole_number",
    "write_table",
]


def account_options(parser: argparse.ArgumentParser) -> None:
    """Add the ``account`` group: deployment, token URL, client id and secret, profile."""
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


def client_from_args(args: argparse.Namespace) -> Any:
    """The BYOC `Client` the account options, variables and profile describe."""
    from byocframe.client.api import Client
    from byocframe.client.config import resolve_settings

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


def version() -> str:
    """The installed byocframe version, or ``"unknown"`` in a bare source tree."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("byocframe")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def positive(text: str) -> int:
    """A whole number of at least 1; ``20,000`` and ``20_000`` are read too.

    Examples
    --------
    >>> positive("20,000")
    20000
    """
    return whole_number(text, least=1)


def non_negative(text: str) -> int:
    """A whole number of at least 0 (a limit that may be zero).

    Examples
    --------
    >>> non_negative("0")
    0
    """
    return whole_number(text, least=0)


def whole_number(text: str, *, least: int) -> int:
    """A whole number of at least ``least``, with ``,`` or ``_`` between thousands.

    Examples
    --------
    >>> whole_number("1_000", least=0)
    1000
    """
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def status(text: str) -> str:
    """A tile status in any case, returned upper-case.

    Examples
    --------
    >>> status("failed")
    'FAILED'
    """
    from byocframe.frame.records import STATUSES

    upper = text.strip().upper()
    if upper not in STATUSES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a tile status; use one of {', '.join(STATUSES)}"
        )
    return upper


def check_output(path: Path, suffixes: tuple[str, ...]) -> None:
    """Refuse an output path that cannot be written, before any request."""
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{path}: use one of {', '.join(suffixes)}")
    if not path.parent.is_dir():
        raise ValueError(f"{path.parent}: folder not found")


def write_table(frame: Any, path: Path) -> None:
    """Write a plain table as ``.parquet`` or ``.csv``."""
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; use .parquet or .csv")

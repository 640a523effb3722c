"""What the command groups share: account options, the client, argument types, output files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = [
    "account_options",
    "check_output",
    "client_from_args",
    "collection_id",
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
    missing = [
        n.replace("_", " ") for n in ("client_id", "client_secret") if n not in settings.sources
    ]
    if missing:  # Client.from_settings would say it in Python's words (client_id=...)
        raise ValueError(
            f"no {' and no '.join(missing)}: set SH_CLIENT_ID and SH_CLIENT_SECRET (or "
            "--client-id, and the secret in the variable: a --client-secret flag is visible to "
            "others), name a sentinelhub-py config.toml profile with --profile, or try the "
            "local service without an account: byocframe serve --demo"
        )
    client = Client.from_settings(settings)
    if getattr(args, "collection", None):  # COLLECTION may be a name: the rest needs the id
        args.collection = collection_id(client, args.collection)
    return client


def collection_id(client: Any, text: str) -> str:
    """The id of the collection ``text`` names: its id, or its name.

    Text that can be an id (no space, slash, ...; ids are UUIDs) is taken as one, with
    no request: the service says if no collection has it. Other text is a name, looked
    up in one listing of the account's collections.

    Parameters
    ----------
    client : Client
    text : str
        What the user gave as COLLECTION.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        When no collection, or several, have that name (the message lists their ids).

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=5) as service:
    ...     client = service.client()
    ...     by_name = collection_id(client, "byocframe demo: global mosaic")
    ...     by_id = collection_id(client, service.demo_collection)
    >>> by_name == by_id == service.demo_collection
    True
    """
    from byocframe.exceptions import ValidationError
    from byocframe.ids import check_id

    try:
        return check_id(text, "collection")
    except ValidationError as err:
        not_an_id = err
    named = [str(c.get("id")) for c in client.iter_collections() if c.get("name") == text]
    if len(named) == 1:
        return named[0]
    if named:
        raise ValueError(
            f"{len(named)} collections are named {text!r}: give the id of one ({', '.join(named)})"
        )
    raise ValueError(
        f"no collection has the id or name {text!r}: "
        "'byocframe collections' lists the ids (first column) and names"
    ) from not_an_id


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

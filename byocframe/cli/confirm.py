"""Deleting tiles from the command line only as the plan that was read.

``reconcile --delete --apply`` and ``push --delete-missing`` plan their deletions again
when they run. Up to ``--delete-limit`` of them (default `DELETE_LIMIT`) go through
unasked; more need ``--confirm-deletes COUNT:CODE``, where CODE names the very tiles the
dry run listed (`deletion_code`). A plan that changed since it was read has another code,
so the confirmation written for it confirms nothing: a bare count would confirm any six
deletions, and a flag like ``--yes`` is added to a script once and confirms every later
plan. ``docs/design/cli.md`` records the choice.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Iterable

from byocframe.cli.common import non_negative
from byocframe.exceptions import ValidationError

__all__ = [
    "CODE_DIGITS",
    "DELETE_LIMIT",
    "check_deletions",
    "confirmation",
    "confirmation_hint",
    "delete_options",
    "deletion_code",
    "read_confirmation",
]

#: ``--apply`` (``reconcile``) or a push (``push --delete-missing``) deletes at most this
#: many tiles without ``--confirm-deletes``; ``--delete-limit N`` changes it per run.
DELETE_LIMIT = 5

#: Hex digits of the code: 32 bits, so a changed plan of the same count passes by chance
#: once in about four billion; short enough to read and type, like git's short hashes.
CODE_DIGITS = 8

_CONFIRMATION = re.compile(r"(\d+)(?::([0-9a-fA-F]+))?")


def deletion_code(collection: str, ids: Iterable[str]) -> str:
    """The code of a set of deletions: sha256 of the collection and the sorted tile ids.

    The order the plan lists them in does not count; the collection does, so a code read
    for one collection confirms nothing in another.

    Examples
    --------
    >>> deletion_code("c", ["t2", "t1"]) == deletion_code("c", ["t1", "t2"])
    True
    >>> deletion_code("c", ["t1", "t2"]) == deletion_code("c", ["t1", "t3"])
    False
    >>> len(deletion_code("c", []))
    8
    """
    # one id a line: an id holds no newline (ids are checked before any URL is built)
    text = "\n".join([collection, *sorted(str(tid) for tid in ids)])
    return hashlib.sha256(text.encode()).hexdigest()[:CODE_DIGITS]


def confirmation(collection: str, ids: Iterable[str]) -> str:
    """What ``--confirm-deletes`` takes for these deletions: ``COUNT:CODE``.

    Examples
    --------
    >>> confirmation("c", ["t1", "t2"]).startswith("2:")
    True
    """
    listed = list(ids)
    return f"{len(listed)}:{deletion_code(collection, listed)}"


def read_confirmation(text: str) -> str:
    """The ``--confirm-deletes`` argument: ``COUNT:CODE``, or a bare count (refused later).

    A bare count is read, not refused here, so that the refusal can show the code to
    give, which only the plan knows.

    Examples
    --------
    >>> read_confirmation(" 6:3F9A2C1B ")
    '6:3f9a2c1b'
    >>> read_confirmation("6")
    '6'
    """
    match = _CONFIRMATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not COUNT:CODE: give what the dry run printed, e.g. 6:3f9a2c1b"
        )
    count, code = int(match[1]), match[2]
    return f"{count}" if code is None else f"{count}:{code.lower()}"


def delete_options(parser: argparse.ArgumentParser, when: str) -> None:
    """Add ``--delete-limit`` and ``--confirm-deletes``; ``when`` names the deleting run."""
    parser.add_argument(
        "--delete-limit",
        type=non_negative,
        default=DELETE_LIMIT,
        metavar="N",
        help=f"{when} deletes up to N tiles unasked (default {DELETE_LIMIT})",
    )
    parser.add_argument(
        "--confirm-deletes",
        type=read_confirmation,
        metavar="COUNT:CODE",
        help="confirm deleting more than --delete-limit tiles: the COUNT:CODE the dry run "
        "printed, which names those very tiles (a changed plan has another code)",
    )


def confirmation_hint(collection: str, ids: Iterable[str], delete_limit: int) -> str | None:
    """The line a dry run prints under its deletions (None when it plans none).

    Examples
    --------
    >>> confirmation_hint("c", [], 5) is None
    True
    >>> confirmation_hint("c", ["t1"], 5).startswith("1 deletion(s), within --delete-limit 5")
    True
    """
    listed = list(ids)
    if not listed:
        return None
    given = f"--confirm-deletes {confirmation(collection, listed)}"
    if len(listed) > delete_limit:
        return (
            f"{len(listed)} deletion(s), more than --delete-limit {delete_limit}: "
            f"to delete exactly these tiles, add {given}"
        )
    return (
        f"{len(listed)} deletion(s), within --delete-limit {delete_limit}: sent unasked "
        f"(add {given} to insist on exactly these tiles)"
    )


def check_deletions(
    collection: str, ids: Iterable[str], *, delete_limit: int, confirmed: str | None
) -> None:
    """Refuse deletions the user did not confirm, before anything is sent.

    Parameters
    ----------
    collection : str
        The collection the tiles are deleted from.
    ids : iterable of str
        The tiles the plan, made again for this run, deletes.
    delete_limit : int
        Up to this many deletions need no confirmation.
    confirmed : str or None
        ``--confirm-deletes`` as `read_confirmation` read it. When given, it must be
        the code of exactly ``ids``, whatever their count.

    Raises
    ------
    ValidationError
        A confirmation that is a bare count, or that names other deletions than
        ``ids`` (the plan changed since it was read); more than ``delete_limit``
        deletions without a confirmation. The message shows the ``COUNT:CODE`` of
        ``ids``, which the run printed above it.

    Examples
    --------
    >>> check_deletions("c", ["t1"], delete_limit=5, confirmed=None)  # within the limit
    >>> both = ["t1", "t2"]
    >>> check_deletions("c", both, delete_limit=1, confirmed=confirmation("c", both))
    >>> check_deletions("c", both, delete_limit=1, confirmed="2")
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: --confirm-deletes 2 is a count, not a plan: ...
    """
    listed = list(ids)
    wanted = confirmation(collection, listed)
    n = len(listed)
    if confirmed is not None and ":" not in confirmed:
        raise ValidationError(
            f"--confirm-deletes {confirmed} is a count, not a plan: it would confirm any "
            f"{confirmed} deletions; read the {n} deletion(s) listed above, then give "
            f"--confirm-deletes {wanted}"
        )
    if confirmed is not None and confirmed != wanted:
        now, then = (
            (f"deletes {n} tile(s) now", f"give --confirm-deletes {wanted}")
            if n
            else ("deletes no tile now", "leave --confirm-deletes out")
        )
        raise ValidationError(
            f"the plan changed since it was read: it {now}, not the ones {confirmed} "
            f"names; read it again (listed above), then {then}"
        )
    if confirmed is None and n > delete_limit:
        raise ValidationError(
            f"the plan deletes {n} tiles, more than --delete-limit {delete_limit}: read the "
            f"deletions listed above, then add --confirm-deletes {wanted}"
        )

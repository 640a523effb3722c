"""What a push would do, found offline by `byocframe.edits.diff.plan`.

`Plan`, its `Update` and `Create` rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pandas.api.extensions import ExtensionArray

from byocframe.edits.delete_checks import AsLoaded
from byocframe.exceptions import ValidationError

__all__ = ["Create", "Plan", "Update"]


@dataclass
class Update:
    """One tile whose sensing time or cover was edited.

    Times are int64 microseconds (`byocframe.frame.snapshot.NAT` when missing); covers are
    shapely geometries in the tile's own CRS ``crs`` (None: no cover).
    """

    id: str
    position: int
    crs: str
    base_time: int
    wanted_time: int
    base_cover: Any
    wanted_cover: Any


@dataclass
class Create:
    """One new row: its position in the frame, path, sensing time and cover (CRS84)."""

    position: int
    path: str | None
    wanted_time: int
    cover: Any


@dataclass
class Plan:
    """What a push would do, computed offline from the frame and its ``loaded`` tokens.

    ``problems`` are the edits a push refuses, one dict each (``id``, ``field``,
    ``value``, ``problem``), as `byocframe.exceptions.ValidationError.of_edits` reads them.
    """

    collection: str
    service: int
    changes: pd.DataFrame
    updates: list[Update] = field(default_factory=list)
    creates: list[Create] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    loaded_ids: list[str] | None = None
    #: The load the frame's rows came from (`byocframe.frame.snapshot.stamp`), if known.
    load: int | None = None
    #: Whether the loaded ids are the whole collection (a listing without filters).
    whole: bool = False
    #: The frame's ``loaded`` tokens after rows that lost theirs took ``original``'s
    #: (None: none were adopted); a push writes them back (`byocframe.edits.writeback`).
    adopted: ExtensionArray | None = None
    #: The deleted tiles as loaded (from ``original``), checked on the server before each
    #: is deleted (`byocframe.edits.delete_checks`); a tile not in it is deleted unchecked.
    delete_checks: dict[str, AsLoaded] = field(default_factory=dict)

    def only_deleting(self, ids: Iterable[str]) -> Plan:
        """A copy that keeps only those of the deletions that are in ``ids``.

        Raises
        ------
        ValidationError
            When ``ids`` names a tile this plan does not delete (a row still in the
            frame, or not a loaded tile id: a path, say): nothing would happen to it, and
            a request to delete it must not pass in silence.

        Examples
        --------
        >>> plan = Plan("c", 0, pd.DataFrame({"id": ["a", "b"], "action": ["delete"] * 2}),
        ...             deletes=["a", "b"])
        >>> kept = plan.only_deleting(["b"])
        >>> kept.deletes, kept.changes["id"].tolist()
        (['b'], ['b'])
        >>> try:
        ...     plan.only_deleting(["b", "x"])
        ... except ValidationError as err:
        ...     print(str(err).split(":")[0])
        delete_only names 1 tile(s) this push does not delete (e.g. 'x')
        """
        wanted = {str(t) for t in ids}
        stray = sorted(wanted - {str(t) for t in self.deletes})
        if stray:
            raise ValidationError(
                f"delete_only names {len(stray)} tile(s) this push does not delete (e.g. "
                f"{stray[0]!r}): drop a tile's row from the frame to delete it, and name "
                "tiles by id, not path"
            )
        deletes = [tid for tid in self.deletes if tid in wanted]
        dropped = set(self.deletes) - set(deletes)
        changes = self.changes
        if dropped and {"id", "action"} <= set(changes.columns):
            other = (changes["action"] == "delete") & changes["id"].isin(dropped)
            changes = changes[~other]
        return dataclasses.replace(self, deletes=deletes, changes=changes)

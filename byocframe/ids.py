"""Collection and tile ids: taken from any accepted form, checked before any URL.

An id becomes one path segment of a request URL, so one holding ``/`` could turn a
collection delete into a tile delete (``"x/tiles/y"``). Every id is checked here
before any request, and quoted as one segment as well.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from byocframe.exceptions import ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CollectionLike",
    "HasCollectionId",
    "HasTileId",
    "TileLike",
    "check_id",
    "path_of",
    "resource_id",
]

_BAD_ID = re.compile(r"[\x00-\x20\x7f/?#%\\]")
#: A name given where the id goes is the likeliest cause of a bad collection id.
_NAME_HINT = {
    "collection": " (a collection's name is not its id: byocframe.read_collections(client) "
    "lists both)"
}


class HasCollectionId(Protocol):
    """A sentinelhub-py ``ByocCollection`` or anything with ``collection_id``."""

    collection_id: str | None


class HasTileId(Protocol):
    """A sentinelhub-py ``ByocTile`` or anything with ``tile_id``."""

    tile_id: str | None


#: The id as a string, a record (``{"id": ...}``), a row of `read_collections`, or a
#: sentinelhub-py ``ByocCollection``.
CollectionLike: TypeAlias = "str | Mapping[str, Any] | HasCollectionId | pd.Series"
#: The id as a string, a record, a row of `read_tiles`, or a sentinelhub-py ``ByocTile``.
TileLike: TypeAlias = "str | Mapping[str, Any] | HasTileId | pd.Series"


def check_id(value: object, kind: str = "collection") -> str:
    """Return ``value`` if it can be one path segment of a URL, else raise.

    Raises
    ------
    ValidationError
        For an empty id or one with ``/ ? # %``, a backslash, spaces or control
        characters.

    Examples
    --------
    >>> check_id("6c1b0a7e-a6b1-4a4e-9b4c-2f8f3e2a6d0a")
    '6c1b0a7e-a6b1-4a4e-9b4c-2f8f3e2a6d0a'
    >>> check_id("x/tiles/y", "tile")
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: tile id 'x/tiles/y' is not a plain id ...
    """
    if not isinstance(value, str) or not value:
        raise ValidationError(f"empty {kind} id ({type(value).__name__} {value!r}); give the id")
    if _BAD_ID.search(value) or value in (".", ".."):
        raise ValidationError(
            f"{kind} id {value!r} is not a plain id (it holds /, ?, #, %, a backslash, a "
            f"space or a control character); check where it came from{_NAME_HINT.get(kind, '')}",
            [{"id": value, "field": "id", "value": value, "problem": "not a plain id"}],
        )
    return value


def resource_id(obj: object, kind: str = "collection") -> str:
    """The checked id of a collection / tile given in any of the accepted forms.

    Accepts the id, a record with ``"id"``, a row of a frame from `read_collections`
    or `read_tiles` (its index label), or a sentinelhub-py ``ByocCollection`` /
    ``ByocTile``.

    Examples
    --------
    >>> resource_id({"id": "c1", "name": "n"})
    'c1'
    """
    if isinstance(obj, str):
        return check_id(obj, kind)
    if isinstance(obj, Mapping):
        return check_id(obj.get("id"), kind)
    if hasattr(obj, "columns") and hasattr(obj, "index"):  # a whole frame, not one row
        raise ValidationError(
            f"cannot tell the {kind} id of a whole {type(obj).__name__}; pass one id, "
            "e.g. frame.index[0]"
        )
    value = getattr(obj, f"{kind}_id", None)
    if value is None and hasattr(obj, "index") and hasattr(obj, "to_dict"):
        # a pandas row: frames are indexed by id; a reset index leaves an "id" column
        row: Any = obj
        value = row["id"] if "id" in row.index else row.name
    if value is None:
        value = getattr(obj, "id", None)
    if value is None:
        raise ValidationError(
            f"cannot tell the {kind} id of a {type(obj).__name__}; pass the id as a string"
        )
    return check_id(str(value), kind)


def path_of(*segments: str) -> str:
    """A URL path from segments, each quoted whole.

    Examples
    --------
    >>> path_of("collections", "c1", "tiles")
    '/collections/c1/tiles'
    """
    return "".join("/" + urllib.parse.quote(p, safe="") for p in segments)

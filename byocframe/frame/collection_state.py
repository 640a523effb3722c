"""What each row of a collections frame held when it was loaded (kept in ``attrs``).

Collections are few, so their loaded state is one JSON text in ``attrs``: the values of
the fields `push_collections` may change (``COLLECTION_EDITABLE``), of those it refuses
to (``COLLECTION_READ_ONLY``), and the canonical text of every other column, so an edit
of any of them is refused by name rather than lost.

Examples
--------
>>> import byocframe
>>> frame = byocframe.collections_from_records([{"id": "c1", "name": "n", "s3Bucket": "b"}])
>>> stamp_collections(frame, service="http://localhost")
>>> frame["name"] = "renamed"
>>> loaded_collections(frame)["c1"]["name"], collection_state(frame)["c1"]["name"]
('n', 'renamed')
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from byocframe.frame.canonical import canonical_text, number_text
from byocframe.frame.records import ATTRS_KEY, NAT, loads, times_us

__all__ = [
    "COLLECTION_EDITABLE",
    "COLLECTION_READ_ONLY",
    "collection_state",
    "loaded_collections",
    "stamp_collections",
]

#: Collection fields `push` can change, and those it refuses to.
COLLECTION_EDITABLE = ("name", "no_data", "bands")
COLLECTION_READ_ONLY = ("s3_bucket", "created", "account_id", "user_id")


def collection_state(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """What each collection row holds now, as JSON-able values (bands as canonical JSON).

    Examples
    --------
    >>> import byocframe
    >>> frame = byocframe.collections_from_records([{"id": "c1", "name": "n", "s3Bucket": "b"}])
    >>> collection_state(frame)["c1"]["name"]
    'n'
    """
    out: dict[str, dict[str, Any]] = {}
    created = times_us(frame["created"]) if "created" in frame.columns else None
    for pos, cid in enumerate(frame.index):
        row = frame.iloc[pos]
        additional = loads(row.get("additional_data")) or {}
        values: dict[str, Any] = {
            "name": _plain(row.get("name")),
            "no_data": _plain(row.get("no_data")),
            "bands": _canonical(additional.get("bands")),
            "s3_bucket": _plain(row.get("s3_bucket")),
            "created": None if created is None or created[pos] == NAT else int(created[pos]),
            "account_id": _plain(row.get("account_id")),
            "user_id": _plain(row.get("user_id")),
            "others": {
                name: _collection_text(name, row[name])
                for name in frame.columns
                if name not in _COLLECTION_COMPARED
            },
        }
        rest = {k: v for k, v in additional.items() if k != "bands"}
        values["others"]["additional_data"] = _canonical(rest) if rest else None
        out[str(cid)] = values
    return out


#: Collection columns `collection_state` compares on their own (``additional_data`` as
#: its bands; its other members are in ``others``, as is the ``bands`` column, a summary
#: that an edit of ``additional_data`` does not change).
_COLLECTION_COMPARED = frozenset(
    {"name", "no_data", *COLLECTION_READ_ONLY, "additional_data", "geometry"}
)


def _collection_text(name: str, value: Any) -> str | None:
    """A collection value as canonical text (`byocframe.frame.canonical.canonical_text`)."""
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else str(int(times_us([value])[0]))
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _canonical(value)
    if isinstance(value, int | float | np.integer | np.floating) and not pd.isna(value):
        return number_text(float(value))  # 5 and 5.0 alike (a column cast to float)
    return canonical_text(name, value)


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _canonical(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def stamp_collections(
    frame: pd.DataFrame, *, service: str, state: dict[str, dict[str, Any]] | None = None
) -> None:
    """Record in ``attrs`` (one JSON text) what each collection row holds now.

    ``state`` replaces what is recorded (e.g. after a partial push: the loaded values
    of the collections that were not written).
    """
    settings = dict(frame.attrs.get(ATTRS_KEY, {}))
    recorded = collection_state(frame) if state is None else state
    settings.update(service=service, loaded=json.dumps(recorded))
    frame.attrs[ATTRS_KEY] = settings


def loaded_collections(frame: pd.DataFrame) -> dict[str, dict[str, Any]] | None:
    """What `stamp_collections` recorded, or None."""
    text = frame.attrs.get(ATTRS_KEY, {}).get("loaded")
    return json.loads(text) if isinstance(text, str) else None

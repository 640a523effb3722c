"""Edits of tile frames.

The offline diff, the push (plan, send, verify) and reingestion.
"""

from __future__ import annotations

from byocframe.edits.collection_push import push_collections
from byocframe.edits.cover_edits import set_native_covers
from byocframe.edits.diff import changes
from byocframe.edits.dry_run import estimate_requests
from byocframe.edits.ingestion import IngestionTimeout, reingest, wait_for_ingestion
from byocframe.edits.route import push

__all__ = [
    "IngestionTimeout",
    "changes",
    "estimate_requests",
    "push",
    "push_collections",
    "reingest",
    "set_native_covers",
    "wait_for_ingestion",
]

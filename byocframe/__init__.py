"""byocframe: pandas/geopandas tools for Sentinel Hub BYOC collections.

Load collection and tile listings into (Geo)DataFrames with correctly reprojected
footprints, study their coverage and push edits back.

Examples
--------
>>> import byocframe
>>> frame = byocframe.collections_from_records([{"id": "c1", "name": "n", "s3Bucket": "b"}])
>>> frame.index.tolist()
['c1']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from byocframe import accessor as _accessor  # noqa: F401 - registers the .byoc accessor
from byocframe.bucket import read_bucket
from byocframe.checks import RuleSet, check
from byocframe.client import Client
from byocframe.collection_push import push_collections
from byocframe.cover_edits import set_native_covers
from byocframe.coverage import geodesic_area
from byocframe.diff import changes
from byocframe.exceptions import (
    AnswerTooLarge,
    APIError,
    AuthenticationError,
    ByocframeError,
    ByocframeWarning,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from byocframe.files import read_file, write_file
from byocframe.ingestion import IngestionTimeout, reingest, wait_for_ingestion
from byocframe.io import collections_from_records, tiles_from_records, to_records
from byocframe.listing import read_collections, read_tiles
from byocframe.outlines import trace_covers
from byocframe.push import push
from byocframe.reconcile import add_tiles, apply_plan, failure_causes, reconcile
from byocframe.testing import MockTransport
from byocframe.transport import Answer, HTTPTransport, Transport

if TYPE_CHECKING:
    from byocframe.emulator import Faults, LocalService, RateLimit, local_service
    from byocframe.emulator.s3 import LocalS3

__version__ = "0.2.0"

#: Names of the local service, imported on first use: ``import byocframe`` loads no part
#: of it (no sqlite3, no http.server).
_LAZY = {
    "Faults": "byocframe.emulator",
    "LocalService": "byocframe.emulator",
    "RateLimit": "byocframe.emulator",
    "local_service": "byocframe.emulator",
    "LocalS3": "byocframe.emulator.s3",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'byocframe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "APIError",
    "Answer",
    "AnswerTooLarge",
    "AuthenticationError",
    "ByocframeError",
    "ByocframeWarning",
    "Client",
    "ConflictError",
    "Faults",
    "HTTPTransport",
    "IngestionTimeout",
    "LocalS3",
    "LocalService",
    "MockTransport",
    "NotFoundError",
    "RateLimit",
    "RateLimitError",
    "RuleSet",
    "ServerError",
    "Transport",
    "TransportError",
    "ValidationError",
    "__version__",
    "add_tiles",
    "apply_plan",
    "changes",
    "check",
    "collections_from_records",
    "failure_causes",
    "geodesic_area",
    "local_service",
    "push",
    "push_collections",
    "read_bucket",
    "read_collections",
    "read_file",
    "read_tiles",
    "reconcile",
    "reingest",
    "set_native_covers",
    "tiles_from_records",
    "to_records",
    "trace_covers",
    "wait_for_ingestion",
    "write_file",
]

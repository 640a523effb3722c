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
from byocframe.bucket.checks import RuleSet, check
from byocframe.bucket.files import read_bucket
from byocframe.bucket.outlines import trace_covers
from byocframe.bucket.reconcile import add_tiles, apply_plan, failure_causes, reconcile
from byocframe.client.api import Client
from byocframe.client.transport import Answer, HTTPTransport, Transport
from byocframe.edits.collection_push import push_collections
from byocframe.edits.cover_edits import set_native_covers
from byocframe.edits.diff import changes
from byocframe.edits.ingestion import IngestionTimeout, reingest, wait_for_ingestion
from byocframe.edits.route import push
from byocframe.exceptions import (
    AnswerTooLarge,
    APIError,
    AuthenticationError,
    BucketError,
    ByocframeError,
    ByocframeWarning,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from byocframe.frame.convert import collections_from_records, tiles_from_records, to_records
from byocframe.io.files import read_file, write_file
from byocframe.io.listing import read_collections, read_tiles, write_listing
from byocframe.stac.reading import tiles_from_stac
from byocframe.testing import MockTransport
from byocframe.tools.areas import geodesic_area

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
    "BucketError",
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
    "tiles_from_stac",
    "to_records",
    "trace_covers",
    "wait_for_ingestion",
    "write_file",
    "write_listing",
]

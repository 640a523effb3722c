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

from byocframe import accessor as _accessor  # noqa: F401 - registers the .byoc accessor
from byocframe.bucket import read_bucket
from byocframe.checks import RuleSet, check
from byocframe.client import Client
from byocframe.collection_push import push_collections
from byocframe.cover_edits import set_native_covers
from byocframe.coverage import geodesic_area
from byocframe.diff import changes
from byocframe.emulator import Faults, LocalService, RateLimit, local_service
from byocframe.emulator.s3 import LocalS3
from byocframe.exceptions import (
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

__version__ = "0.2.0"

__all__ = [
    "APIError",
    "AuthenticationError",
    "ByocframeError",
    "ByocframeWarning",
    "Client",
    "ConflictError",
    "Faults",
    "IngestionTimeout",
    "LocalS3",
    "LocalService",
    "NotFoundError",
    "RateLimit",
    "RateLimitError",
    "RuleSet",
    "ServerError",
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

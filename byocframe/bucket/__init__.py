"""The files behind a collection.

Buckets as frames, TIFF headers, pre-flight checks against the service's rules, and a
collection reconciled with its bucket.
"""

from __future__ import annotations

from byocframe.bucket.checks import RuleSet, check
from byocframe.bucket.files import read_bucket
from byocframe.bucket.outlines import trace_covers
from byocframe.bucket.reconcile import add_tiles, apply_plan, failure_causes, reconcile

__all__ = [
    "RuleSet",
    "add_tiles",
    "apply_plan",
    "check",
    "failure_causes",
    "read_bucket",
    "reconcile",
    "trace_covers",
]

"""What a bucket listing proves: the bucket and prefix it covered, and that it is unchanged.

A tile may be deleted because its files are gone only when the listing that misses them
looked where they would be. `read_bucket` records the scope of every listing in the
frame's ``attrs`` (`record_scope`): the S3 bucket (None for a local folder), the prefix,
the key suffix it kept, and the count and digest of the keys. `deletion_scope` reads
that record back and refuses, in one line, a listing that cannot prove anything: none
recorded, another bucket, a local folder, an empty listing, or a frame whose keys are
no longer the ones listed (a filter keeps ``attrs``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from byocframe.exceptions import ValidationError

__all__ = [
    "CLOCK_SKEW",
    "ListingScope",
    "deletion_scope",
    "record_scope",
    "same_bucket",
    "scope_of",
]

#: How far the service's clock may lag this machine's. A tile whose ``created`` or
#: ``ingestion_start`` (the service's clock) is less than this before a bucket listing
#: began (this machine's clock) counts as created after it: its files are not proven gone.
#: Only used when the tiles were not loaded before the listing began (then no clock of the
#: service is compared). Raise it for a service whose clock is far off.
CLOCK_SKEW = pd.Timedelta(minutes=5)


@dataclass(frozen=True)
class ListingScope:
    r"""Where a listing looked: ``covers(key)`` says whether a key's absence means anything.

    Examples
    --------
    >>> scope = ListingScope("s3://b/t/2025-01", "b", "t/2025-01", r"\.tiff?", 4, "")
    >>> scope.covers("t/2025-01/02/B01.tif"), scope.covers("t/2025-02/01/B01.tif")
    (True, False)
    >>> scope.covers("t/2025-01/02/B01.jp2")  # the listing kept only .tif/.tiff keys
    False
    """

    url: str
    s3_bucket: str | None  # None: a local folder
    prefix: str
    suffix: str | None
    count: int
    digest: str
    listed_at: str = ""  # when the listing ended (ISO 8601, UTC): evidence of that moment
    #: When the listing began (ISO 8601, UTC; "" in records of an earlier byocframe): a
    #: tile created or ingested since may have files the listing had already passed, so
    #: their absence proves nothing.
    listed_from: str = ""
    #: The S3 endpoint the listing was read at (None: the client's default, or unknown).
    endpoint_url: str | None = None

    def predates(self, when: Any) -> bool:
        """Whether the listing may have begun before ``when`` (a time, or NaT/None: no).

        ``when`` is the service's clock: it counts as after the start from `CLOCK_SKEW`
        before it. Without a start on record (an earlier byocframe), the end stands in.

        Examples
        --------
        >>> scope = ListingScope("s3://b", "b", "", None, 1, "", "2025-01-02T00:00:10+00:00",
        ...                      "2025-01-02T00:00:05+00:00")
        >>> scope.predates(pd.Timestamp("2025-01-02T00:00:07Z")), scope.predates(pd.NaT)
        (True, False)
        >>> scope.predates(pd.Timestamp("2025-01-01T23:56:00Z"))  # within CLOCK_SKEW
        True
        >>> scope.predates(pd.Timestamp("2025-01-01T23:54:00Z"))
        False
        """
        since = self.since
        if since is None or when is None or pd.isna(when):
            return False
        return bool(pd.Timestamp(when) >= since)

    @property
    def since(self) -> pd.Timestamp | None:
        """From when a time of the service's counts as after the listing began (`predates`)."""
        began = self.listed_from or self.listed_at
        return pd.Timestamp(began) - CLOCK_SKEW if began else None

    def covers(self, key: str) -> bool:
        """Whether the listing would have shown ``key`` had it existed."""
        if not key.startswith(self.prefix):
            return False
        return self.suffix is None or re.search(f"(?:{self.suffix})$", key, re.I) is not None


def _digest(keys: Iterable[Any]) -> str:
    return hashlib.sha256("\n".join(sorted(map(str, keys))).encode()).hexdigest()


def record_scope(
    files: pd.DataFrame,
    *,
    url: str,
    s3_bucket: str | None,
    prefix: str,
    suffix: str | None,
    started: pd.Timestamp | None = None,
    ended: pd.Timestamp | None = None,
    endpoint_url: str | None = None,
) -> None:
    """Write the scope of the listing ``files`` came from into ``files.attrs``.

    Called by `byocframe.read_bucket` once the listing has ended without an error;
    ``started`` / ``ended``: when the listing began and ended (now by default);
    ``endpoint_url``: the S3 endpoint it was read at (`byocframe.apply_plan` reads the
    files of a planned deletion there again).
    """
    now = pd.Timestamp.now(tz="UTC")
    began, done = (now if started is None else started), (now if ended is None else ended)
    meta = files.attrs.setdefault("byocframe", {})
    meta.update(
        {
            "kind": "files",
            "bucket": url,
            "s3_bucket": s3_bucket,
            "prefix": prefix,
            "suffix": suffix,
            "listed": len(files),
            "keys_digest": _digest(files["key"]),
            "listed_at": done.isoformat(timespec="seconds"),
            # to the microsecond: compared with when the tiles were loaded (this clock too)
            "listed_from": began.isoformat(),
            "endpoint_url": endpoint_url,
        }
    )


def scope_of(files: pd.DataFrame) -> ListingScope | None:
    """The scope `record_scope` wrote, or None (a frame not read by `read_bucket`)."""
    meta = files.attrs.get("byocframe") or {}
    if meta.get("kind") != "files" or "listed" not in meta:
        return None
    return ListingScope(
        url=str(meta["bucket"]),
        s3_bucket=meta.get("s3_bucket"),
        prefix=str(meta.get("prefix") or ""),
        suffix=meta.get("suffix"),
        count=int(meta["listed"]),
        digest=str(meta.get("keys_digest") or ""),
        listed_at=str(meta.get("listed_at") or ""),
        listed_from=str(meta.get("listed_from") or ""),
        endpoint_url=meta.get("endpoint_url") or None,
    )


def same_bucket(listed: str, s3_bucket: str) -> bool:
    """Whether the S3 bucket ``listed`` is a collection's ``s3Bucket``.

    CDSE writes a CreoDIAS bucket ``PROJECT_ID:bucket``; the bucket listed is ``bucket``.

    Examples
    --------
    >>> same_bucket("reg", "reg"), same_bucket("reg", "1234:reg"), same_bucket("reg", "other")
    (True, True, False)
    """
    return listed in (s3_bucket, s3_bucket.rsplit(":", 1)[-1])


def deletion_scope(
    files: pd.DataFrame, *, s3_bucket: str | None, delete: bool
) -> ListingScope | None:
    """The scope of ``files``, checked against the collection's bucket.

    A listing of another S3 bucket is refused whatever is planned (its files are not the
    collection's). For ``delete=True`` the listing must also be provably the
    collection's: recorded, of that bucket, not empty, its keys as listed.

    Raises
    ------
    ValidationError
        One line saying what the listing lacks and what to list instead.

    Examples
    --------
    >>> from byocframe.bucket.files import files_from_headers
    >>> unknown = files_from_headers([{"key": "a/B01.tif"}])  # not from read_bucket
    >>> deletion_scope(unknown, s3_bucket="b", delete=False) is None  # nothing to delete
    True
    >>> deletion_scope(unknown, s3_bucket="b", delete=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: files has no record of the listing it came from: ...
    """
    scope = scope_of(files)
    if (
        scope is not None
        and scope.s3_bucket is not None
        and s3_bucket
        and not same_bucket(scope.s3_bucket, s3_bucket)
    ):
        raise ValidationError(
            f"files lists {scope.url}, not the collection's bucket {s3_bucket}: "
            f"list s3://{s3_bucket}/ (or a prefix of it) instead"
        )
    if not delete:
        return scope
    if not s3_bucket:
        raise ValidationError(
            "delete=True compares the listing with the collection's bucket: pass "
            "s3_bucket=collection['s3Bucket']"
        )
    if scope is None:
        raise ValidationError(
            "files has no record of the listing it came from: read it with "
            f"byocframe.read_bucket('s3://{s3_bucket}/...') to delete tiles"
        )
    if scope.s3_bucket is None:
        raise ValidationError(
            f"files lists {scope.url}, and a local folder is not the collection's bucket "
            f"{s3_bucket}: list s3://{s3_bucket}/ to delete tiles"
        )
    if scope.count == 0:
        raise ValidationError(
            f"the listing of {scope.url} is empty, which proves no file gone: check the URL, "
            "endpoint and credentials, or leave delete out"
        )
    if len(files) != scope.count or _digest(files["key"]) != scope.digest:
        raise ValidationError(
            f"files ({len(files)} rows) is not the listing read_bucket returned "
            f"({scope.count} keys of {scope.url}): pass the whole listing to delete tiles"
        )
    return scope

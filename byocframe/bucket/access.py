"""Where a collection's files are: an S3 bucket (or S3-compatible store) or a local folder.

`open_bucket` gives a `Bucket`: ``list()`` yields its objects (`Listed`), ``ranged(key)``
a `RangeReader` that fetches only the byte ranges asked for, ``open(key)`` a seekable
`RangeFile` over one (for rasterio). Every S3 failure is a one-line `BucketError`
(`byocframe.bucket.s3_errors`); a folder never hands out a file outside itself.

S3 needs the ``bucket`` extra (boto3): ``pip install 'byocframe[bucket]'``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from byocframe.bucket.bounded import bound_listing
from byocframe.bucket.headers import RangeReader
from byocframe.bucket.s3_errors import s3_error
from byocframe.exceptions import BucketError
from byocframe.ranges import PositionedFile
from byocframe.typing import S3Like

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_LIST_PAGES",
    "Bucket",
    "Listed",
    "RangeFile",
    "open_bucket",
    "s3_client",
    "s3_keyword",
]

#: Pages one S3 listing follows at most (S3 sends up to 1,000 keys a page: 100 million
#: keys). Read when a listing starts; raise it
#: (``byocframe.bucket.access.MAX_LIST_PAGES = ...``) for a larger bucket.
MAX_LIST_PAGES = 100_000

#: Longest key a listing may hold, in UTF-8 bytes: S3's own limit (also MinIO's and
#: Google Cloud Storage's). Each key becomes a ranged GET and a row, so an endpoint
#: listing megabyte-long keys is refused before any is used; raise it
#: (``byocframe.bucket.access.MAX_KEY_BYTES = ...``) for a store that allows longer ones.
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class Listed:
    """One object of a bucket listing."""

    key: str
    size: int
    etag: str | None
    last_modified: pd.Timestamp | None


class Bucket:
    """A place holding files: ``s3://bucket/prefix`` or a local folder.

    Use `open_bucket` to build one. ``ranged(key)`` gives a `RangeReader`;
    ``list()`` yields `Listed` objects under the prefix.
    """

    def __init__(
        self, url: str | os.PathLike[str], *, endpoint_url: str | None = None, client: Any = None
    ):
        url = os.fspath(url)
        self.url = url
        self.endpoint_url = endpoint_url
        if url.startswith("s3://"):
            rest = url[5:]
            self.name, _, self.prefix = rest.partition("/")
            if not self.name:
                raise ValueError(f"url {url!r} names no bucket; write s3://bucket/prefix")
            self.root: Path | None = None
            self._client = client if client is not None else s3_client(endpoint_url)
        else:
            self.root = Path(url[7:] if url.startswith("file://") else url)
            if not self.root.is_dir():
                raise ValueError(f"url {url!r} is neither s3://... nor an existing folder")
            self.name, self.prefix, self._client = self.root.name, "", None

    def __repr__(self) -> str:
        return f"Bucket({self.url!r})"

    def exists(self) -> bool:
        """Whether the bucket (or folder) is there: a missing bucket is not a missing key.

        Asked with HeadBucket; where that is denied (a user allowed to list only a
        prefix), with a one-key listing of the prefix. Another S3 error is a
        `BucketError`.
        """
        if self.root is not None:
            return self.root.is_dir()
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            try:
                self._client.head_bucket(Bucket=self.name)
            except ClientError as err:
                if _code(err) not in ("403", "AccessDenied", "Forbidden"):
                    raise
                self._client.list_objects_v2(Bucket=self.name, Prefix=self.prefix, MaxKeys=1)
        except ClientError as err:
            if _code(err) in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise s3_error(err, self.where) from err.with_traceback(None)
        except BotoCoreError as err:
            raise s3_error(err, self.where) from err.with_traceback(None)
        return True

    @property
    def endpoint(self) -> str | None:
        """The S3 endpoint this bucket is read at: its client's own (None: a folder)."""
        if self.root is not None:
            return None
        meta = getattr(self._client, "meta", None)  # a boto3 client's public metadata
        return getattr(meta, "endpoint_url", None) or self.endpoint_url

    @property
    def pool_size(self) -> int | None:
        """Connections its S3 client keeps (botocore's ``max_pool_connections``), or None.

        None for a folder, or a client that does not say.
        """
        meta = getattr(self._client, "meta", None)
        size = getattr(getattr(meta, "config", None), "max_pool_connections", None)
        return size if isinstance(size, int) and size > 0 else None

    def list(self) -> Iterator[Listed]:
        """Every object under the prefix, in key order."""
        if self.root is not None:
            root = self.root
            found = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
            for key in sorted(found):  # key order, as S3 lists
                # a link leaving the folder is listed as itself: reading it gives the reason
                stat = found[key].stat() if self._inside(found[key]) else found[key].lstat()
                yield Listed(
                    key,
                    stat.st_size,
                    None,  # an S3 ETag is an MD5 of the content: computing it reads the file
                    pd.Timestamp(stat.st_mtime, unit="s", tz="UTC"),
                )
            return
        bound_listing(self._client)  # each page read within MAX_LIST_PAGE_BYTES
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=self.prefix
        )
        for page in self._pages(pages):
            for item in page.get("Contents", []):
                yield Listed(
                    item["Key"],
                    int(item["Size"]),
                    item.get("ETag"),
                    pd.Timestamp(item["LastModified"]).tz_convert("UTC"),
                )

    @property
    def where(self) -> str:
        """The bucket as messages name it: ``s3://name``, with the endpoint when given."""
        return f"s3://{self.name}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    def _pages(self, pages: Any) -> Iterator[dict[str, Any]]:
        """The listing's pages; any S3 failure as a one-line `BucketError`.

        A page that contradicts itself (more keys follow, ``IsTruncated``, but no token to
        ask for them; a token but not ``IsTruncated``, which ends botocore's paginator;
        a ``KeyCount`` other than the keys it holds) is refused, since a listing cut short
        would show the files on the pages never read as gone. So is a listing that does
        not end: a continuation token sent before (botocore refuses only one sent twice
        in a row), a page starting at the key another page started at (the same keys
        again, under a fresh token), or more than `MAX_LIST_PAGES` pages; each is found
        before the next page is asked for. No key order is assumed (a directory bucket
        lists in none).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        limit = MAX_LIST_PAGES
        # digests: a server may send fresh megabyte-long tokens or keys; one key a page
        seen: set[bytes] = set()
        starts: dict[bytes, int] = {}  # the first key of each page: the page it began

        def refuse(number: int, problem: str) -> BucketError:
            return BucketError(
                f"{self.where}: page {number} of the listing {problem}; nothing was "
                "concluded from it (check the S3 server)"
            )

        try:
            for number, page in enumerate(pages, start=1):
                problem = _contradiction(page)
                if problem:
                    raise refuse(number, f"{problem}, so the listing cannot be trusted to be whole")
                contents = page.get("Contents") or ()
                longest = max((len(str(c.get("Key", ""))) for c in contents), default=0)
                # characters first: a key's UTF-8 bytes are at least its characters
                if longest > MAX_KEY_BYTES // 4 and _longest_key(contents) > MAX_KEY_BYTES:
                    raise refuse(
                        number,
                        f"holds a key of {_longest_key(contents):,} bytes, more than "
                        f"byocframe.bucket.access.MAX_KEY_BYTES ({MAX_KEY_BYTES:,}, S3's "
                        "limit); raise it for a store that allows longer keys",
                    )
                if contents:
                    first = str(contents[0].get("Key", ""))
                    before = starts.setdefault(_digest(first), number)
                    if before != number:
                        raise refuse(
                            number,
                            f"starts at the key {first[:80]!r} again, as page {before} did: "
                            "the listing goes round in a loop",
                        )
                token = page.get("NextContinuationToken")
                if token:
                    key = _digest(str(token))
                    if key in seen:
                        raise refuse(
                            number,
                            f"sent the continuation token {str(token)[:40]!r} again: the "
                            "listing goes round in a loop",
                        )
                    if number >= limit:
                        raise BucketError(
                            f"{self.where}: the listing did not end within {limit:,} pages "
                            "(byocframe.bucket.access.MAX_LIST_PAGES); raise it if the bucket "
                            "really holds that many keys"
                        )
                    seen.add(key)
                yield page
        except (BotoCoreError, ClientError) as err:
            raise s3_error(err, self.where) from err.with_traceback(None)

    def ranged(self, key: str, *, block: int = 65_536) -> RangeReader:
        """A reader of ``key`` that fetches only the byte ranges asked for."""
        if self.root is not None:

            def read_file(start: int, size: int) -> bytes:
                with open(self._local(key), "rb") as f:
                    f.seek(start)
                    return f.read(size)

            return RangeReader(read_file, block=block)
        from botocore.exceptions import BotoCoreError, ClientError

        client, name, where = self._client, self.name, self.where

        def read_s3(start: int, size: int) -> bytes:
            try:
                answer = client.get_object(
                    Bucket=name, Key=key, Range=f"bytes={start}-{start + size - 1}"
                )
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") == "InvalidRange":
                    return b""  # asked past the end of the object
                raise s3_error(err, where, key=key) from err.with_traceback(None)
            except BotoCoreError as err:
                raise s3_error(err, where, key=key) from err.with_traceback(None)
            body = answer["Body"]
            try:  # at most the bytes asked for, even from a server that ignores Range
                return bytes(body.read(size))
            finally:
                body.close()  # the rest stays unread: the connection is dropped

        return RangeReader(read_s3, block=block)

    def open(self, key: str, *, block: int = 262_144, max_bytes: int | None = None) -> RangeFile:
        """A read-only file object over ``key`` that fetches the ranges read (for rasterio).

        ``max_bytes`` bounds what its reads may ask for in all (see `RangeFile`).
        """
        listed = self.head(key)
        if listed is None:
            raise FileNotFoundError(f"{self.url}: no object {key!r}")
        return RangeFile(self.ranged(key, block=block), listed.size, max_bytes=max_bytes)

    def head(self, key: str) -> Listed | None:
        """One object's size and ETag, or None when it does not exist."""
        if self.root is not None:
            path = self._local(key)
            if not path.is_file():
                return None
            stat = path.stat()
            return Listed(key, stat.st_size, None, pd.Timestamp(stat.st_mtime, unit="s", tz="UTC"))
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.head_object(Bucket=self.name, Key=key)
        except ClientError as err:
            if str(err.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise s3_error(err, self.where, key=key) from err.with_traceback(None)
        except BotoCoreError as err:
            raise s3_error(err, self.where, key=key) from err.with_traceback(None)
        return Listed(
            key,
            int(answer["ContentLength"]),
            answer.get("ETag"),
            pd.Timestamp(answer["LastModified"]).tz_convert("UTC"),
        )

    def _inside(self, path: Path) -> bool:
        """Whether ``path``, links followed, lies in the folder."""
        assert self.root is not None
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(self.root))

    def _local(self, key: str) -> Path:
        """The file of ``key`` in the folder; never a path outside it (``..``, links)."""
        assert self.root is not None
        path = self.root / key
        if Path(key).is_absolute() or ".." in Path(key).parts or not self._inside(path):
            raise PermissionError(
                f"{key!r} leads outside the folder {self.root}; byocframe reads only files "
                "inside it (move the file in, or read its own folder)"
            )
        return Path(os.path.realpath(path))  # the file checked, not a link swapped since


class RangeFile(PositionedFile):
    """A seekable, read-only file over a `RangeReader`: only the ranges read are fetched.

    With ``max_bytes``, a read that would take the bytes asked for in all past it is
    refused before anything is fetched: an ``OSError``, and ``breach`` says which limit
    (a reader such as GDAL may turn the error into its own).
    """

    def __init__(self, reader: RangeReader, size: int, *, max_bytes: int | None = None):
        super().__init__(size)
        self._reader = reader
        self.max_bytes = max_bytes
        self.taken = 0  # bytes asked for so far
        self.breach: str | None = None

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes from the position (ranged reads of the missing blocks)."""
        left = self.size - self.pos
        size = left if size is None or size < 0 else min(size, left)
        if size <= 0:
            return b""
        if self.max_bytes is not None and self.taken + size > self.max_bytes:
            self.breach = f"more than {self.max_bytes:,} bytes"
            raise OSError(f"reading past {self.max_bytes:,} bytes of this file, the limit")
        self.taken += size
        data = self._reader.read(self.pos, size)
        self.pos += len(data)
        return data


def s3_client(endpoint_url: str | None = None, *, workers: int = 16) -> Any:
    """A boto3 S3 client: credentials from the usual AWS environment and profiles."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as err:
        raise ImportError(
            "reading S3 buckets needs boto3: pip install 'byocframe[bucket]'"
        ) from err
    config = Config(max_pool_connections=max(10, workers), retries={"mode": "standard"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def s3_keyword(s3: S3Like | None, client: S3Like | None, caller: str) -> S3Like | None:
    """The boto3 client given as ``s3=``, or as the old ``client=`` (with a `FutureWarning`).

    Raises
    ------
    TypeError
        When both are given.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     picked = s3_keyword(None, "boto3 client", "read_bucket")
    >>> picked, caught[0].category.__name__
    ('boto3 client', 'FutureWarning')
    """
    if client is None:
        return s3
    if s3 is not None:
        raise TypeError(f"{caller}() got both s3= and client=: pass the boto3 client as s3= only")
    warnings.warn(
        f"{caller}(client=...) is now {caller}(s3=...): pass the boto3 S3 client as s3= "
        "(client= will be removed)",
        FutureWarning,
        stacklevel=3,
    )
    return client


def _code(err: Any) -> str:
    """The error code of a botocore ``ClientError``."""
    return str(err.response.get("Error", {}).get("Code"))


def _longest_key(contents: Any) -> int:
    """The UTF-8 length of the longest ``Key`` of a listing page's ``Contents``."""
    return max(len(str(c.get("Key", "")).encode("utf-8", "surrogatepass")) for c in contents)


def _digest(text: str) -> bytes:
    """SHA-256 of a text a server sent (a token, a key): what a listing remembers of it."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _contradiction(page: Mapping[str, Any]) -> str:
    """What a ListObjectsV2 page says against itself ("" when nothing)."""
    truncated, token = page.get("IsTruncated"), page.get("NextContinuationToken")
    if truncated and not token:
        return "says more keys follow but gives no continuation token"
    if token and not truncated:
        return "gives a continuation token but does not say more keys follow"
    count = page.get("KeyCount")
    held = len(page.get("Contents") or ()) + len(page.get("CommonPrefixes") or ())
    if count is not None and int(count) != held:
        return f"says it holds {count} keys but holds {held}"
    return ""


def open_bucket(
    url: str | os.PathLike[str] | Bucket, *, endpoint_url: str | None = None, client: Any = None
) -> Bucket:
    """A `Bucket` for ``s3://bucket/prefix`` or a local folder (a `Bucket` is returned as is).

    ``client`` is a boto3 S3 client to use instead of one from the environment.
    """
    if isinstance(url, Bucket):
        return url
    return Bucket(url, endpoint_url=endpoint_url, client=client)

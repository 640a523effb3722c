"""Ingestion from real files: a tile's GeoTIFFs read from an S3-compatible endpoint.

When the local service runs with a local S3 (`byocframe.emulator.s3.LocalS3`) and a
collection's bucket exists there, ingestion resolves the tile's ``(BAND)`` path against
the bucket's listing, reads each file's header with ranged GETs
(`byocframe.emulator.headers`) and judges the files (`byocframe.emulator.judge`) by the
shared rule table (`byocframe.file_rules`): the first rule broken fails the tile with
the service's kind of message; otherwise ``tileGeometry``, ``filesMetadata`` (ETag and
header size) and meters per pixel come from the files. Buckets that do not exist there
fall back to the manifest (virtual bucket) mode.

None of this uses the client's bucket reader or checks: the service is what the
client is tested against.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from byocframe.emulator.coords import transform_polygons
from byocframe.emulator.headers import (
    FileHeader,
    HeaderTooLarge,
    ReadLimits,
    UnreadableHeader,
    read_file_header,
)
from byocframe.emulator.judge import IngestionFailure, TileFile, band_config, derive, tile_failure
from byocframe.file_rules import DEFAULT_FILE_RULES, SERVICE_MESSAGES, UNEXPECTED_FAILURE, FileRules

__all__ = ["MAX_LISTED", "FilesSource", "IngestionFailure", "Listed"]

#: Objects (and pages) one listing of a tile's folder may hold before the tile fails;
#: read when a `FilesSource` is made (the local service makes one when it starts).
#: Raise it (``byocframe.emulator.files_source.MAX_LISTED = ...``) before starting the
#: service, or pass ``FilesSource(max_listed=...)``.
MAX_LISTED = 10_000

_EXTENSIONS = ("", ".tif", ".tiff", ".TIF", ".TIFF")
_TIFF = re.compile(r"\.tiff?$", re.IGNORECASE)


@dataclass(frozen=True)
class Listed:
    """One object of a bucket listing."""

    key: str
    size: int
    etag: str


class FilesSource:
    """Reads tiles' files from an S3-compatible endpoint and judges them.

    Parameters
    ----------
    client : boto3 S3 client
        E.g. ``LocalS3.client()``.
    rules : FileRules
        The deployment's table (`byocframe.file_rules.DEFAULT_FILE_RULES`).
    limits : ReadLimits, optional
        How much of each file is read; `byocframe.emulator.headers.DEFAULT_READ_LIMITS`
        as it is when the source is made (assign a raised `ReadLimits` there before the
        service starts to raise it for the local service).
    max_listed : int, optional
        Objects (and pages) listed under a tile's folder before the tile fails;
        `MAX_LISTED` (10 000) as it is when the source is made.
    """

    def __init__(
        self,
        client: Any,
        *,
        rules: FileRules = DEFAULT_FILE_RULES,
        limits: ReadLimits | None = None,
        max_listed: int | None = None,
    ):
        from byocframe.emulator import headers  # the setting as it is now

        self.client = client
        self.rules = rules
        self.limits = headers.DEFAULT_READ_LIMITS if limits is None else limits
        self.max_listed = MAX_LISTED if max_listed is None else max_listed
        self._known: dict[str, bool] = {}
        self._lock = threading.Lock()

    def serves(self, bucket: str) -> bool:
        """Whether ``bucket`` exists at the endpoint (else the manifest mode applies)."""
        with self._lock:
            if self._known.get(bucket):
                return True
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=bucket)
            found = True
        except (BotoCoreError, ClientError):  # missing, or the endpoint is down
            found = False
        with self._lock:
            self._known[bucket] = found
        return found

    def ingest(
        self, collection: Mapping[str, Any], state: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """The tile's new state fields, its band config and its final path.

        Raises
        ------
        IngestionFailure
            With the service's kind of message, for the first rule the files break.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._ingest(collection, state)
        except (OSError, BotoCoreError, ClientError) as err:
            # the bucket could not be read (an outage, a file removed meanwhile): the
            # service's generic message; the tile can be reingested
            raise IngestionFailure(UNEXPECTED_FAILURE) from err

    def _ingest(
        self, collection: Mapping[str, Any], state: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        name = str(collection["s3Bucket"])
        bands = (collection.get("additionalData") or {}).get("bands") or {}
        path = str(state["path"])
        template = path if "(BAND)" in path else path.rstrip("/") + "/(BAND)"
        before, after = template.split("(BAND)", 1)
        listing = self._list(name, before, nested="/" in after)
        found = _resolve(name, bands, before, after, listing)
        if not bands and len(found) > self.rules.max_bands:  # decided before any GET
            raise IngestionFailure(
                SERVICE_MESSAGES["too-many-bands"].format(
                    max=self.rules.max_bands, bands=f"at least {len(found)}"
                )
            )
        distinct = {item.key: item for _, item in found}  # bands of one file: read once
        with ThreadPoolExecutor(max_workers=min(8, len(distinct))) as pool:
            read = pool.map(lambda item: self._read(name, item), distinct.values())
            headers = dict(zip(distinct, read, strict=True))
        files = [TileFile(band, item.key, item.etag, headers[item.key]) for band, item in found]
        cause = tile_failure(files, bands, self.rules)
        if cause:
            raise IngestionFailure(cause)
        config = band_config(files)
        outcome = self._ingested(files, state)
        if not bands:  # the bands this tile configures name its files' metadata, as later
            # tiles' do (a multi-band RGB.tif: RGB_1, RGB_2, ..., each the file's)
            meta = outcome["additionalData"]["filesMetadata"]
            outcome["additionalData"]["filesMetadata"] = {
                name: meta[spec["source"]] for name, spec in config.items()
            }
        return outcome, config, _final(path, found)

    def _list(self, bucket: str, prefix: str, *, nested: bool) -> dict[str, Listed]:
        """The objects under ``prefix`` (one folder level unless ``nested``), bounded."""
        options: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if not nested:
            options["Delimiter"] = "/"  # a band name holds no "/": sub-folders are not read
        out: dict[str, Listed] = {}
        tokens: set[bytes] = set()  # digests: a token may be megabytes long
        where = f"s3://{bucket}/{prefix}"
        pages = self.client.get_paginator("list_objects_v2").paginate(**options)
        for number, page in enumerate(pages, start=1):
            for item in page.get("Contents", []):
                out[item["Key"]] = Listed(item["Key"], int(item["Size"]), str(item["ETag"]))
            if len(out) > self.max_listed:
                raise IngestionFailure(
                    f"More than {self.max_listed} objects under {where} (FilesSource "
                    "max_listed, byocframe.emulator.files_source.MAX_LISTED); move other "
                    "files out of the tile's folder"
                )
            # every page but the last lists a key or a folder: more pages than max_listed
            # is a listing that does not end (botocore refuses a token only twice in a row)
            token = page.get("NextContinuationToken")
            if token is None:
                continue
            digest = hashlib.sha256(str(token).encode("utf-8", "surrogatepass")).digest()
            if digest in tokens or number > self.max_listed:
                raise IngestionFailure(
                    f"The listing of {where} did not end (a repeated continuation token, or "
                    f"more than {self.max_listed} pages: FilesSource max_listed, "
                    "byocframe.emulator.files_source.MAX_LISTED); check the S3 server"
                )
            tokens.add(digest)
        return out

    def _read(self, bucket: str, item: Listed) -> FileHeader:
        def fetch(start: int, stop: int) -> bytes:
            # IfMatch: a file replaced since the listing fails the read, not the judgement
            answer = self.client.get_object(
                Bucket=bucket, Key=item.key, Range=f"bytes={start}-{stop - 1}", IfMatch=item.etag
            )
            body = answer["Body"]
            try:  # at most the bytes asked for, even from a server that ignores Range
                return bytes(body.read(stop - start))
            finally:
                body.close()

        try:
            return read_file_header(fetch, size=item.size, limits=self.limits)
        except HeaderTooLarge as err:
            cause = SERVICE_MESSAGES["header-size"].format(
                size=f"at least {err.needed}", max=self.rules.max_header
            )
            raise IngestionFailure(cause) from err
        except UnreadableHeader as err:
            raise IngestionFailure(UNEXPECTED_FAILURE) from err

    def _ingested(self, files: list[TileFile], state: Mapping[str, Any]) -> dict[str, Any]:
        tile = derive(files, self.rules)
        out: dict[str, Any] = {
            "crs": tile["crs"],
            "tileBox": tile["tileBox"],
            "additionalData": {
                "hasAddedPoints": False,
                "filesMetadata": {
                    item.band: {"headerSize": item.header.header_size, "etag": item.etag}
                    for item in files
                },
                "minMetersPerPixel": tile["minMetersPerPixel"],
                "maxMetersPerPixel": tile["maxMetersPerPixel"],
            },
        }
        if not state.get("cover84"):
            xmin, ymin, xmax, ymax = tile["tileBox"]
            ring = [[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax], [xmin, ymin]]
            out["cover84"] = transform_polygons([[ring]], tile["crs"], "EPSG:4326")
            out["coverType"] = "Polygon"
        return out


def _resolve(
    name: str,
    bands: Mapping[str, Any],
    before: str,
    after: str,
    listing: dict[str, Listed],
) -> list[tuple[str, Listed]]:
    """``[(band, object)]`` of the tile, or the service's failure."""
    if not bands:
        ext = "" if _TIFF.search(after) else r"(?:\.tiff?)?"
        regex = re.compile(
            re.escape(before) + r"(?P<band>[^/]+?)" + re.escape(after) + ext, re.IGNORECASE
        )
        out = [(m["band"], listing[k]) for k in sorted(listing) if (m := regex.fullmatch(k))]
        if not out:
            raise IngestionFailure(f"No files found at s3://{name}/{before}(BAND){after}.")
        exts = {m[0] if (m := _TIFF.search(item.key)) else "" for _, item in out}
        if len(exts) > 1:
            raise IngestionFailure(SERVICE_MESSAGES["extension"].format(found=sorted(exts)))
        return out
    out = []
    for band, spec in bands.items():
        key = before + str(spec.get("source") or band) + after
        hit = next((key + e for e in _EXTENSIONS if key + e in listing), None)
        if hit is None:
            stem = _TIFF.sub("", key).lower()
            other = sorted(k for k in listing if _TIFF.sub("", k).lower() == stem)
            if other:
                exts = {m[0] for k in other if (m := _TIFF.search(k))}
                exts.add(after[after.rfind(".") :] if "." in after else ".tif")
                raise IngestionFailure(SERVICE_MESSAGES["extension"].format(found=sorted(exts)))
            missing = key if _TIFF.search(key) else key + ".tif"
            raise IngestionFailure(
                SERVICE_MESSAGES["missing-band"].format(key=f"s3://{name}/{missing}")
            )
        out.append((str(band), listing[hit]))
    exts = {m[0] if (m := _TIFF.search(item.key)) else "" for _, item in out}
    if len(exts) > 1:
        raise IngestionFailure(SERVICE_MESSAGES["extension"].format(found=sorted(exts)))
    return out


def _final(path: str, found: list[tuple[str, Listed]]) -> str:
    if "(BAND)" in path:
        return path
    ext = _TIFF.search(found[0][1].key)
    return f"{path.rstrip('/')}/(BAND){ext[0] if ext else ''}"

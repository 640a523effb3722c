"""Ingestion from real files: a tile's GeoTIFFs read from an S3-compatible endpoint.

When the local service runs with a local S3 (`byocframe.emulator.s3.LocalS3`) and a
collection's bucket exists there, ingestion resolves the tile's ``(BAND)`` path against
the bucket, reads each file's header with ranged GETs (`byocframe.tiffheader`), and
applies the rule table of `byocframe.checks`: the first error fails the tile with the
service's kind of message; otherwise ``tileGeometry``, ``filesMetadata`` (ETag and
header size) and meters per pixel come from the files. Buckets that do not exist there
fall back to the manifest (virtual bucket) mode.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from byocframe.bucket import Bucket, Listed, files_from_headers, header_row
from byocframe.checks import (
    DEFAULT_RULES,
    Findings,
    RuleSet,
    band_dtypes,
    check_tile_files,
    derived,
)
from byocframe.emulator.coords import transform_polygons

__all__ = ["FilesSource", "IngestionFailure"]

_EXTENSIONS = ("", ".tif", ".tiff", ".TIF", ".TIFF")
_TIFF = re.compile(r"\.tiff?$", re.IGNORECASE)
_FORMATS = {"uint": "UINT", "int": "INT", "float": "FLOAT"}


class IngestionFailure(Exception):
    """Why a tile cannot be ingested (becomes its ``failedIngestionCause``)."""


class FilesSource:
    """Reads tiles' files from an S3-compatible endpoint, with the rule table.

    Parameters
    ----------
    client : boto3 S3 client
        E.g. ``LocalS3.client()``.
    rules : RuleSet
        The deployment's limits.
    """

    def __init__(self, client: Any, *, rules: RuleSet = DEFAULT_RULES):
        self.client = client
        self.rules = rules
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
            raise IngestionFailure("Unexpected error occurred while ingesting the tile") from err

    def _ingest(
        self, collection: Mapping[str, Any], state: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        name = str(collection["s3Bucket"])
        bands = (collection.get("additionalData") or {}).get("bands") or {}
        path = str(state["path"])
        template = path if "(BAND)" in path else path.rstrip("/") + "/(BAND)"
        before, after = template.split("(BAND)", 1)
        bucket = Bucket(f"s3://{name}/{before}", client=self.client)
        listing = {item.key: item for item in bucket.list()}
        found = self._resolve(name, bands, before, after, listing)
        with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
            rows = list(
                pool.map(lambda item: header_row(item[1], bucket.ranged(item[1].key)), found)
            )
        files = files_from_headers(rows)
        files["band"] = pd.array([band for band, _ in found], dtype="string")
        findings = Findings(self.rules)
        check_tile_files(
            template, files, findings, sources=[b for b, _ in found], dtypes=band_dtypes(bands)
        )
        errors = [row for row in findings.rows if row["severity"] == "error"]
        if errors:
            raise IngestionFailure(errors[0]["service_message"] or errors[0]["message"])
        records = files.to_dict("records")
        return self._ingested(records, found, state), _band_config(records), _final(path, found)

    def _resolve(
        self,
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
                    raise IngestionFailure(
                        f"Files of one tile must share one extension, found {sorted(exts)}"
                    )
                missing = key if _TIFF.search(key) else key + ".tif"
                raise IngestionFailure(f"File s3://{name}/{missing} not found.")
            out.append((str(band), listing[hit]))
        return out

    def _ingested(
        self,
        records: list[dict[str, Any]],
        found: list[tuple[str, Listed]],
        state: Mapping[str, Any],
    ) -> dict[str, Any]:
        tile = derived(records)
        out: dict[str, Any] = {
            "crs": tile["crs"],
            "tileBox": tile["tile_box"],
            "additionalData": {
                "hasAddedPoints": False,
                "filesMetadata": {
                    band: {"headerSize": int(row["header_size"]), "etag": item.etag}
                    for (band, item), row in zip(found, records, strict=True)
                },
                "minMetersPerPixel": tile["min_meters_per_pixel"],
                "maxMetersPerPixel": tile["max_meters_per_pixel"],
            },
        }
        if not state.get("cover84"):
            xmin, ymin, xmax, ymax = tile["tile_box"]
            ring = [[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax], [xmin, ymin]]
            out["cover84"] = transform_polygons([[ring]], tile["crs"], "EPSG:4326")
            out["coverType"] = "Polygon"
        return out


def _band_config(records: list[dict[str, Any]]) -> dict[str, Any]:
    config = {}
    for row in records:
        kind = re.match(r"[a-z]+", str(row["dtype"]))
        bits = int(str(row["dtype"])[len(kind[0]) :]) if kind else 8
        config[str(row["band"])] = {
            "bitDepth": max(8, bits),  # 1/2/4-bit files are read as 8-bit bands
            "sampleFormat": _FORMATS.get(kind[0] if kind else "uint", "UINT"),
            "source": str(row["band"]),
            "bandIndex": 1,
        }
    return config


def _final(path: str, found: list[tuple[str, Listed]]) -> str:
    if "(BAND)" in path:
        return path
    ext = _TIFF.search(found[0][1].key)
    return f"{path.rstrip('/')}/(BAND){ext[0] if ext else ''}"

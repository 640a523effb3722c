"""The files behind a collection as frames: one row per file, or per candidate tile.

`read_bucket` lists an S3 bucket (or S3-compatible store, or a local folder) and reads
the header of every GeoTIFF with ranged requests (`byocframe.bucket.headers`), many at
once. With a ``pattern`` (a regular expression with the ``(BAND)`` placeholder and named
groups for the sensing time, like byoc-tool's), the files are grouped into the tiles a
collection would have (`byocframe.bucket.tiles`). Access to the bucket itself (listing,
ranged reads, the boto3 client) is `byocframe.bucket.access`; its names and the tiles'
are still importable from here.

S3 needs the ``bucket`` extra (boto3): ``pip install 'byocframe[bucket]'``.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from byocframe.bucket.access import (
    Bucket,
    Listed,
    RangeFile,
    open_bucket,
    s3_client,
    s3_keyword,
)
from byocframe.bucket.evidence import record_scope
from byocframe.bucket.headers import RangeReader, TiffHeader, TiffHeaderError, read_header
from byocframe.bucket.tiles import assign_tiles, compile_pattern, group_tiles
from byocframe.geo.crs import WGS84
from byocframe.progress import ProgressBar
from byocframe.typing import S3Like

__all__ = [
    "FILE_COLUMNS",
    "Bucket",
    "Listed",
    "RangeFile",
    "assign_tiles",
    "compile_pattern",
    "files_from_headers",
    "group_tiles",
    "header_row",
    "open_bucket",
    "read_bucket",
    "s3_client",
    "s3_keyword",
]

#: Columns of a files frame, in order.
FILE_COLUMNS = (
    "key", "size", "etag", "last_modified", "crs", "xmin", "ymin", "xmax", "ymax",
    "width", "height", "res_x", "res_y", "bands", "dtype", "block_width", "block_height",
    "image_sizes", "image_blocks", "overviews", "compression", "photometric", "predictor",
    "nodata", "header_size", "interleave", "rotated", "crs_note", "error", "bytes_read",
)  # fmt: skip


def header_row(listed: Listed, reader: RangeReader) -> dict[str, Any]:
    """The files-frame row of one object: listing fields and what its header says."""
    row: dict[str, Any] = {
        "key": listed.key,
        "size": listed.size,
        "etag": listed.etag,
        "last_modified": listed.last_modified,
    }
    try:
        header = read_header(reader, size=listed.size)
    except (TiffHeaderError, OSError) as err:
        row["error"] = str(err)
        row["bytes_read"] = reader.bytes_read
        return row
    row.update(_describe(header))
    return row


def _describe(header: TiffHeader) -> dict[str, Any]:
    main = header.images[0]
    bounds = header.bounds or (np.nan,) * 4
    res = header.resolution or (np.nan, np.nan)
    return {
        "crs": f"EPSG:{header.epsg}" if header.epsg else None,
        "xmin": bounds[0],
        "ymin": bounds[1],
        "xmax": bounds[2],
        "ymax": bounds[3],
        "width": main.width,
        "height": main.height,
        "res_x": res[0],
        "res_y": res[1],
        "bands": main.samples,
        "dtype": main.dtype,
        "block_width": main.block_width,
        "block_height": main.block_height,
        "image_sizes": [[im.width, im.height] for im in header.images],
        "image_blocks": [[im.block_width or 0, im.block_height or 0] for im in header.images],
        "overviews": sum(im.is_overview for im in header.images),
        "compression": main.compression_name,
        "photometric": main.photometric,
        "predictor": main.predictor,
        "nodata": header.nodata,
        "header_size": header.header_size,
        "interleave": "PIXEL" if main.planar == 1 else "BAND",
        "rotated": header.rotated,
        "crs_note": header.crs_note or None,
        "error": None,
        "bytes_read": header.bytes_read,
    }


def files_from_headers(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A files frame from `header_row` dicts (missing fields become NA)."""
    frame = pd.DataFrame(rows, columns=list(FILE_COLUMNS))
    for name in ("size", "width", "height", "bands", "header_size", "overviews", "bytes_read"):
        frame[name] = frame[name].astype("Int64")
    for name in ("block_width", "block_height", "photometric", "predictor"):
        frame[name] = frame[name].astype("Int64")
    for name in ("key", "etag", "crs", "dtype", "compression", "nodata", "interleave"):
        frame[name] = frame[name].astype("string")
    frame["last_modified"] = pd.to_datetime(frame["last_modified"], utc=True)
    return frame


def read_bucket(
    url: str | os.PathLike[str] | Bucket,
    *,
    pattern: str | None = None,
    endpoint_url: str | None = None,
    s3: S3Like | None = None,
    suffix: str | None = r"\.tiff?",
    workers: int = 16,
    progress: bool | None = None,
    crs: str = WGS84,
    client: S3Like | None = None,
) -> pd.DataFrame:
    r"""List a bucket (or folder) and read every GeoTIFF header with ranged requests.

    Parameters
    ----------
    url : str, path or Bucket
        ``s3://bucket/prefix`` (credentials from the AWS environment or profile) or a
        local folder.
    pattern : str, optional
        Group the files into tiles: a regular expression matched against each whole key
        (for a folder, the path relative to it), with ``(BAND)`` where the band's name
        is, and named groups for the sensing time: ``year``, ``month``, ``day``,
        ``hour``, ``minute``, ``second``, or one group ``sensing_time`` that pandas
        parses. Without it, one row per file is returned.
    endpoint_url : str, optional
        An S3-compatible endpoint (MinIO, CloudFerro, a local moto server).
    s3 : boto3 S3 client, optional
        Instead of one built from the environment (e.g. ``LocalS3.client()``).
    suffix : str or None, default ``r"\.tiff?"``
        Only keys ending with this (regular expression, any case) are read; None: all.
    workers : int, default 16
        Headers read at once.
    progress : bool, optional
        A progress bar (tqdm); by default when interactive.
    crs : str, default "EPSG:4326"
        The CRS of the tile footprints (with ``pattern``).
    client : boto3 S3 client, optional
        The old name of ``s3`` (a `FutureWarning`).

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        Without ``pattern``: one row per file (`FILE_COLUMNS`: key, size, etag, last
        modified, CRS, bounds, size, resolution, bands, data type, block sizes of every
        image, overviews, compression, predictor, no-data, header size, interleave).
        With it: one row per candidate tile (see `group_tiles`). A files frame's
        ``attrs["byocframe"]`` records what the listing covered (S3 bucket, prefix,
        suffix, count and digest of the keys; `byocframe.bucket.evidence.record_scope`): the
        evidence `byocframe.bucket.reconcile` needs before it plans a deletion.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> read_bucket(folder, progress=False).shape
    (0, 30)
    """
    s3 = s3_keyword(s3, client, "read_bucket")
    bucket = open_bucket(url, endpoint_url=endpoint_url, client=s3)
    wanted = re.compile(f"(?:{suffix})$", re.IGNORECASE) if suffix else None
    started = pd.Timestamp.now(tz="UTC")
    listed = [item for item in bucket.list() if wanted is None or wanted.search(item.key)]
    ended = pd.Timestamp.now(tz="UTC")
    with (
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
        ProgressBar(len(listed), progress, "reading headers") as bar,
    ):

        def one(item: Listed) -> dict[str, Any]:
            row = header_row(item, bucket.ranged(item.key))
            bar.update(1)
            return row

        rows = list(pool.map(one, listed))
    files = files_from_headers(rows)
    # the listing ended without an error: what it covered is evidence for reconcile
    record_scope(
        files,
        url=bucket.url,
        s3_bucket=bucket.name if bucket.root is None else None,
        prefix=bucket.prefix,
        suffix=suffix,
        started=started,
        ended=ended,
        endpoint_url=bucket.endpoint,
    )
    if pattern is None:
        return files
    return group_tiles(files, pattern, crs=crs)

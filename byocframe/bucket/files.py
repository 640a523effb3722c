"""The files behind a collection as frames: one row per file, or per candidate tile.

`read_bucket` lists an S3 bucket (or S3-compatible store, or a local folder) and reads
the header of every GeoTIFF with ranged requests (`byocframe.bucket.headers`), many at
once. With a ``pattern`` (a regular expression with the ``(BAND)`` placeholder and named
groups for the sensing time, like byoc-tool's), the files are grouped into the tiles a
collection would have, with footprints reprojected by `byocframe.geo.geometry.reproject`.

S3 needs the ``bucket`` extra (boto3): ``pip install 'byocframe[bucket]'``.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.bucket.evidence import record_scope
from byocframe.bucket.headers import RangeReader, TiffHeader, TiffHeaderError, read_header
from byocframe.bucket.s3_errors import s3_error
from byocframe.geo.crs import WGS84, parse_crs
from byocframe.geo.geometry import reproject
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
_TIFF = re.compile(r"\.tiff?$", re.IGNORECASE)
_TIME_PARTS = ("year", "month", "day", "hour", "minute", "second")


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
        """The listing's pages; any S3 failure as a one-line `BucketError`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield from pages
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
            return answer["Body"].read()

        return RangeReader(read_s3, block=block)

    def open(self, key: str, *, block: int = 262_144) -> RangeFile:
        """A read-only file object over ``key`` that fetches the ranges read (for rasterio)."""
        listed = self.head(key)
        if listed is None:
            raise FileNotFoundError(f"{self.url}: no object {key!r}")
        return RangeFile(self.ranged(key, block=block), listed.size)

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


class RangeFile(io.RawIOBase):
    """A seekable, read-only file over a `RangeReader`: only the ranges read are fetched."""

    def __init__(self, reader: RangeReader, size: int):
        super().__init__()
        self._reader = reader
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Always seekable."""
        return True

    def tell(self) -> int:
        """The position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` (from the start, the position or the end); no request."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the position (ranged reads of the missing blocks)."""
        size = min(len(buffer), self._size - self._pos)
        if size <= 0:
            return 0
        data = self._reader.read(self._pos, size)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


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


def open_bucket(
    url: str | os.PathLike[str] | Bucket, *, endpoint_url: str | None = None, client: Any = None
) -> Bucket:
    """A `Bucket` for ``s3://bucket/prefix`` or a local folder (a `Bucket` is returned as is).

    ``client`` is a boto3 S3 client to use instead of one from the environment.
    """
    if isinstance(url, Bucket):
        return url
    return Bucket(url, endpoint_url=endpoint_url, client=client)


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
    listed = [item for item in bucket.list() if wanted is None or wanted.search(item.key)]
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
    )
    if pattern is None:
        return files
    return group_tiles(files, pattern, crs=crs)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of a tile pattern, ``(BAND)`` becoming a ``band`` group."""
    if "(BAND)" not in pattern:
        raise ValueError(
            f"pattern {pattern!r} has no (BAND) placeholder; write it where the band's "
            "name is, e.g. r'tiles/(?P<year>\\d{4})/(?P<month>\\d\\d)/(?P<day>\\d\\d)/(BAND)\\.tif'"
        )
    before, after = pattern.split("(BAND)", 1)
    try:
        return re.compile(f"{before}(?P<band>[^/]+?){after}")
    except re.error as err:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {err}") from err


def assign_tiles(files: pd.DataFrame, pattern: str) -> pd.DataFrame:
    """``files`` with ``tile`` (the tile path), ``band`` and ``sensing_time`` columns.

    Files the pattern does not match get NA in all three.
    """
    regex = compile_pattern(pattern)
    out = files.copy()
    raw: list[str | None] = []
    bands: list[str | None] = []
    parts: list[dict[str, str | None]] = []
    for key in out["key"]:
        match = regex.fullmatch(str(key))
        if match is None:
            raw.append(None)
            bands.append(None)
            parts.append({})
            continue
        start, end = match.span("band")
        raw.append(key[:start] + "(BAND)" + key[end:])
        bands.append(match["band"])
        parts.append(match.groupdict())
    out["tile"] = pd.array(_tile_paths(raw), dtype="string")
    out["band"] = pd.array(bands, dtype="string")
    out["sensing_time"] = _sensing_times(parts)
    return out


def _tile_paths(raw: list[str | None]) -> list[str | None]:
    """One path per tile although its files' extensions differ in case or spelling.

    ``B01.tif`` and ``B02.TIF`` belong to one tile (whose files break the extension
    rule), written with the extension most files of the bucket use.
    """
    keys = [None if p is None else _TIFF.sub(".tif", p) for p in raw]
    counts = pd.Series([_ext_of(p) for p in raw if p and _ext_of(p)]).value_counts()
    rank = {ext: pos for pos, ext in enumerate(counts.index)}
    chosen: dict[str, str] = {}
    for key, path in zip(keys, raw, strict=True):
        if key is None or path is None:
            continue
        ext = _TIFF.search(path)
        best = chosen.get(key)
        if best is None or (ext and rank.get(ext[0], 99) < rank.get(_ext_of(best), 99)):
            chosen[key] = path
    return [None if key is None else chosen[key] for key in keys]


def _ext_of(path: str) -> str:
    found = _TIFF.search(path)
    return found[0] if found else ""


def _sensing_times(parts: list[dict[str, str | None]]) -> pd.Series:
    names = set().union(*parts) if parts else set()
    if "sensing_time" in names:
        return pd.Series(
            pd.to_datetime([p.get("sensing_time") for p in parts], utc=True),
            dtype="datetime64[ns, UTC]",
        )
    present = [name for name in _TIME_PARTS if name in names]
    if not present or "year" not in present:
        return pd.Series(pd.NaT, index=range(len(parts)), dtype="datetime64[ns, UTC]")
    table = pd.DataFrame({name: pd.to_numeric([p.get(name) for p in parts]) for name in present})
    for name in ("month", "day"):
        if name not in table:
            table[name] = 1
    return pd.Series(pd.to_datetime(table, utc=True), dtype="datetime64[ns, UTC]")


def group_tiles(files: pd.DataFrame, pattern: str, *, crs: str = WGS84) -> gpd.GeoDataFrame:
    r"""Group a files frame into candidate tiles by a path pattern.

    Parameters
    ----------
    files : pandas.DataFrame
        From `read_bucket` (without ``pattern``).
    pattern : str
        See `read_bucket`.
    crs : str, default "EPSG:4326"
        The CRS of the footprints.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per tile path: ``path``, ``sensing_time``, ``status`` (NA: not a tile
        yet), ``native_crs``, ``bands`` (band names, comma-separated), ``files``,
        ``native_tile`` (the files' common bounding box in their CRS) and ``geometry``,
        the footprint in ``crs`` (antimeridian and poles handled).

    Examples
    --------
    >>> files = files_from_headers([
    ...     {"key": f"t/2024/06/01/{b}.tif", "crs": "EPSG:32601", "xmin": 600000.0,
    ...      "ymin": 7300000.0, "xmax": 900000.0, "ymax": 7400000.0} for b in ("B02", "B03")])
    >>> tiles = group_tiles(files, r"t/(?P<year>\d+)/(?P<month>\d+)/(?P<day>\d+)/(BAND)\.tif")
    >>> tiles[["path", "bands"]].values.tolist()
    [['t/2024/06/01/(BAND).tif', 'B02,B03']]
    >>> tiles.geometry.iloc[0].geom_type  # across the antimeridian: cut in two
    'MultiPolygon'
    """
    target = parse_crs(crs)
    assigned = assign_tiles(files, pattern).dropna(subset=["tile"])
    groups = assigned.groupby("tile", sort=True)
    first = groups.first()
    boxes = groups.agg(
        xmin=("xmin", "min"), ymin=("ymin", "min"), xmax=("xmax", "max"), ymax=("ymax", "max")
    )
    native = shapely.box(boxes["xmin"], boxes["ymin"], boxes["xmax"], boxes["ymax"])
    tile_crs = first["crs"].astype(object).to_numpy()
    usable = pd.notna(tile_crs) & ~shapely.is_missing(native) & shapely.is_valid(native)
    native = np.where(usable, native, None)
    footprint = np.full(len(native), None, dtype=object)
    if usable.any():
        footprint[usable] = reproject(native[usable], tile_crs[usable], target)
    index = pd.RangeIndex(len(first))
    status = pd.Categorical(
        [None] * len(first), categories=["WAITING", "QUEUED", "INGESTING", "INGESTED", "FAILED"]
    )
    frame = gpd.GeoDataFrame(
        {
            "path": pd.array(first.index.to_numpy(), dtype="string"),
            "sensing_time": first["sensing_time"].to_numpy(),
            "status": status,
            "native_crs": pd.array(tile_crs, dtype="string"),
            "bands": pd.array(
                groups["band"].agg(lambda s: ",".join(sorted(s))).to_numpy(), dtype="string"
            ),
            "files": groups.size().to_numpy(),
            "native_tile": gpd.GeoSeries(native, index=index, crs=None),
        },
        geometry=gpd.GeoSeries(footprint, index=index, crs=target),
        index=index,
    )
    frame.attrs["byocframe"] = {"kind": "bucket_tiles", "pattern": pattern}
    return frame

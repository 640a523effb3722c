"""Valid-pixel outlines of candidate tiles, traced from each tile's lowest overview.

`trace_covers` draws the outline of the valid pixels of each candidate tile (from
`byocframe.read_bucket` with a pattern), so covers of neighbouring tiles stop
overlapping no-data; `byocframe.add_tiles` takes them as the new tiles' covers.

Three settings bound what one file may cost, whatever its header says:
`MAX_TRACE_PIXELS` (checked before the overview is read), `MAX_TRACE_BYTES` (what the
reads of one opening of the file may ask for, checked before each) and
`MAX_TRACE_SHAPES` (counted as the outline is traced). Past any, `trace_covers` raises a
`~byocframe.ValidationError` naming the file and the setting.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from byocframe.bucket.access import Bucket, open_bucket, s3_keyword
from byocframe.exceptions import ValidationError
from byocframe.geo.crs import WGS84
from byocframe.geo.geometry import reproject
from byocframe.typing import S3Like

__all__ = ["MAX_TRACE_BYTES", "MAX_TRACE_PIXELS", "MAX_TRACE_SHAPES", "trace_covers"]

#: Pixels of the overview one file is traced from, at most (a 4096 x 4096 overview, 16 MB
#: of 8-bit pixels); checked on the header, before reading. A file without overviews
#: is traced at full size: add overviews (a COG has them), or raise this
#: (``byocframe.bucket.outlines.MAX_TRACE_PIXELS = ...``).
MAX_TRACE_PIXELS = 4096 * 4096

#: Bytes one opening of a file may read to trace it (its header, then its smallest
#: overview's band: at most 4096 x 4096 pixels, 128 MiB of float64 uncompressed). A
#: crafted tile byte count made GDAL fetch 256 MiB of a 768-byte file; checked before
#: each read. Raise it (``byocframe.bucket.outlines.MAX_TRACE_BYTES = ...``) for a file
#: that really needs more.
MAX_TRACE_BYTES = 256 * 2**20

#: Separate pieces of valid pixels one file may have (joining them costs time that grows
#: faster than their number: 10,000 take about 2 s). Speckled no-data past it is refused;
#: raise it (``byocframe.bucket.outlines.MAX_TRACE_SHAPES = ...``) to trace such a file.
MAX_TRACE_SHAPES = 10_000


def trace_covers(
    url: str,
    candidates: gpd.GeoDataFrame,
    *,
    band: str | None = None,
    buffer: float = 0.0,
    max_points: int = 100,
    endpoint_url: str | None = None,
    s3: S3Like | None = None,
    client: S3Like | None = None,
) -> gpd.GeoSeries:
    r"""Valid-pixel outlines of candidate tiles, traced from each tile's lowest overview.

    Parameters
    ----------
    url : str
        Where the files are: ``s3://bucket`` or a local folder (as in `read_bucket`).
    candidates : GeoDataFrame
        From `byocframe.read_bucket` with a pattern (``path``, ``bands``, ``native_crs``).
    band : str, optional
        The band file to trace; the first of each tile by default.
    buffer : float
        Negative to shrink the outline (CRS units), e.g. ``-20`` for a two-pixel margin.
    max_points : int, default 100
        The service's limit: outlines are simplified until they have at most this many
        points, without self-intersections.
    endpoint_url, s3
        For S3, as in `byocframe.read_bucket`: the overview is read with ranged GETs
        through the same boto3 client (credentials from the usual AWS chain).
    client : boto3 S3 client, optional
        The old name of ``s3`` (a `FutureWarning`).

    Returns
    -------
    GeoSeries
        Aligned with ``candidates``, in the frame's CRS (None where nothing is valid).

    Examples
    --------
    >>> import tempfile
    >>> from byocframe.bucket.files import read_bucket
    >>> from byocframe.emulator.cogs import write_cog
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_cog(f"{folder}/t/B01.tif", nodata_corner=True)  # a no-data triangle
    >>> candidates = read_bucket(folder, pattern=r"t/(BAND)\.tif", crs="EPSG:32633",
    ...                          progress=False)
    >>> cover = trace_covers(folder, candidates).iloc[0]
    >>> round(cover.area / candidates.geometry.iloc[0].area, 2)
    0.72
    """
    s3 = s3_keyword(s3, client, "trace_covers")
    bucket = open_bucket(url, endpoint_url=endpoint_url, client=s3)
    native = []
    for path, bands in zip(candidates["path"], candidates["bands"], strict=True):
        name = band or str(bands).split(",")[0]
        native.append(_trace(bucket, str(path).replace("(BAND)", name), buffer))
    native = [_limit(g, max_points) for g in native]
    crs = candidates["native_crs"].astype(object).to_numpy()
    present = np.array([g is not None for g in native])
    out = np.full(len(native), None, dtype=object)
    if present.any():
        geoms = np.array(native, dtype=object)[present]
        out[present] = reproject(geoms, crs[present], str(candidates.crs or WGS84), densify=None)
    return gpd.GeoSeries(out, index=candidates.index, crs=candidates.crs)


def _trace(bucket: Bucket, key: str, buffer: float) -> Any:
    # rasterio reads the file object through Python: the ranges go through the same
    # boto3 client as headers (GDAL's own /vsis3/ HTTP would need its own credentials
    # and deadlocks against an S3 server running in this process)
    opened: list[Any] = []

    def open_file() -> Any:
        opened.append(bucket.open(key, max_bytes=MAX_TRACE_BYTES))
        return opened[-1]

    try:
        return _trace_opened(open_file, key, buffer)
    except ValidationError:
        raise
    except Exception as err:  # GDAL's error for a read refused past the limit
        breach = next((f.breach for f in opened if f.breach), None)
        if breach is None:
            raise
        raise ValidationError(
            f"{key}: tracing it would read {breach} "
            "(byocframe.bucket.outlines.MAX_TRACE_BYTES): its tile byte counts say more "
            "than its pixels need (a damaged or crafted file?); raise the limit to trace it"
        ) from err


def _trace_opened(open_file: Any, key: str, buffer: float) -> Any:
    import rasterio
    from rasterio import features

    with open_file() as file, rasterio.open(file) as src:
        level = len(src.overviews(1)) - 1
    with (
        open_file() as file,
        rasterio.open(file, overview_level=level if level >= 0 else None) as src,
    ):
        if src.width * src.height > MAX_TRACE_PIXELS:
            raise ValidationError(
                f"{key}: its smallest overview has {src.width * src.height:,} pixels, more "
                f"than byocframe.bucket.outlines.MAX_TRACE_PIXELS ({MAX_TRACE_PIXELS:,}); add "
                "overviews to the file, or raise the limit"
            )
        data = src.read(1, masked=False)
        valid = np.isfinite(data) if data.dtype.kind == "f" else np.ones(data.shape, bool)
        if src.nodata is not None and not np.isnan(src.nodata):
            valid &= data != src.nodata
        shapes: list[shapely.Geometry] = []
        for geom, value in features.shapes(valid.astype("uint8"), transform=src.transform):
            if value != 1:
                continue
            if len(shapes) == MAX_TRACE_SHAPES:
                raise ValidationError(
                    f"{key}: its valid pixels form more than {MAX_TRACE_SHAPES:,} separate "
                    "pieces (byocframe.bucket.outlines.MAX_TRACE_SHAPES); raise the limit to trace "
                    "such speckled no-data, or give this tile a cover yourself"
                )
            shapes.append(shapely.geometry.shape(geom))
    if not shapes:
        return None
    # the pieces tile the plane without overlapping: a coverage union is exact and
    # faster than union_all (0.2 s instead of 1.8 s for 2,700 pieces)
    outline = shapely.coverage_union_all(shapes)
    if buffer:
        outline = outline.buffer(buffer)
    return None if outline.is_empty else outline


def _limit(geom: Any, max_points: int) -> Any:
    """Simplified (topology kept) until it has at most ``max_points`` points."""
    if geom is None:
        return None
    tolerance = 0.0
    out = geom
    size = max(geom.bounds[2] - geom.bounds[0], geom.bounds[3] - geom.bounds[1])
    while shapely.get_num_coordinates(out) > max_points or not out.is_valid:
        tolerance = tolerance * 2 if tolerance else size / 1000
        out = geom.simplify(tolerance, preserve_topology=True)
        if tolerance > size:
            return shapely.box(*geom.bounds)
    return out

"""New tiles for a collection: the bucket's candidates it lacks, appended to its frame."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from byocframe.bucket.paths import SameFiles
from byocframe.exceptions import ValidationError
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.seal import loaded_ids

__all__ = ["add_tiles", "is_whole"]


def is_whole(tiles: pd.DataFrame) -> bool:
    """Whether ``tiles`` may be the whole collection: new tiles are found against it.

    Not when its load says it was filtered (``whole: False``: a bbox, status or Catalog
    load), nor when rows of its load are missing from it (a pandas filter keeps attrs).
    A frame without a record of its load is taken as the whole.

    Examples
    --------
    >>> import byocframe
    >>> tiles = byocframe.tiles_from_records([{"id": "t1", "path": "a/(BAND).tif"},
    ...                                        {"id": "t2", "path": "b/(BAND).tif"}])
    >>> is_whole(tiles), is_whole(tiles.iloc[:1])
    (True, False)
    """
    settings = tiles.attrs.get(ATTRS_KEY) or {}
    if settings.get("whole") is False:
        return False
    ids = loaded_ids(tiles)
    return ids is None or set(ids) <= set(map(str, tiles.index))


def add_tiles(
    tiles: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, covers: gpd.GeoSeries | None = None
) -> gpd.GeoDataFrame:
    r"""``tiles`` with a new row for each candidate whose path the collection lacks.

    Parameters
    ----------
    tiles : GeoDataFrame
        The collection's tiles, from `byocframe.read_tiles`.
    candidates : GeoDataFrame
        From `byocframe.read_bucket` with a pattern.
    covers : GeoSeries, optional
        Covers for the candidates (from `byocframe.trace_covers`), in any CRS; without
        them the service uses each tile's bounding box.

    Returns
    -------
    GeoDataFrame
        A new frame (the snapshot kept): existing rows, then one row without id per new
        path, with ``sensing_time`` and the cover as ``geometry``. Push it with
        `byocframe.push` to create them.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.bucket.files import files_from_headers, group_tiles
    >>> files = files_from_headers([{"key": f"t/2024-06-0{day}/B01.tif", "crs": "EPSG:32633",
    ...     "xmin": 5e5, "ymin": 5e6, "xmax": 5.1e5, "ymax": 5.01e6} for day in (1, 2)])
    >>> candidates = group_tiles(files, r"t/(?P<sensing_time>[\d-]+)/(BAND)\.tif")
    >>> tiles = byocframe.tiles_from_records([{"id": "t1", "path": "t/2024-06-01/(BAND).tif"}])
    >>> add_tiles(tiles, candidates)["path"].tolist()  # the first exists already
    ['t/2024-06-01/(BAND).tif', 't/2024-06-02/(BAND).tif']
    """
    held = SameFiles(tiles["path"].dropna().astype(str))
    keep = np.zeros(len(candidates), dtype=bool)
    for pos, path in enumerate(candidates["path"].astype(str)):
        if path not in held:  # nor in a candidate kept before it
            keep[pos] = True
            held.add(path)
    new = candidates[keep]
    if len(new) and not is_whole(tiles):
        raise ValidationError(
            "tiles is part of the collection (a filtered load, or rows of a load missing): "
            f"a tile outside it may already use the files of {new['path'].iloc[0]!r}; pass "
            "all the collection's tiles, byocframe.read_tiles() without filters"
        )
    geometry = np.full(len(new), None, dtype=object)
    if covers is not None:
        aligned = gpd.GeoSeries(covers).loc[new.index]
        if aligned.crs is not None and tiles.crs is not None and aligned.crs != tiles.crs:
            aligned = aligned.to_crs(tiles.crs)
        geometry = aligned.to_numpy()
    rows = gpd.GeoDataFrame(
        {
            "path": new["path"].to_numpy(),
            "sensing_time": pd.to_datetime(new["sensing_time"].to_numpy(), utc=True),
        },
        geometry=gpd.GeoSeries(geometry, crs=tiles.crs),
        index=pd.Index([None] * len(new), name=tiles.index.name, dtype=object),
    )
    out = pd.concat([tiles, rows])
    out.attrs = tiles.attrs
    return out

"""The ``.byoc`` accessor on tile frames (registered when byocframe is imported)."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import shapely

import byocframe.tools.stats as _coverage
from byocframe.tools.summary import Summary, summarize
from byocframe.typing import AnyClient, AoiLike

if TYPE_CHECKING:
    import pystac
    from matplotlib.axes import Axes

    from byocframe.bucket.checks import RuleSet
    from byocframe.maps.webmap import LevelOfDetail, TileMap

__all__ = ["ByocAccessor"]


@pd.api.extensions.register_dataframe_accessor("byoc")
class ByocAccessor:
    """Coverage statistics, maps and timelines of a BYOC tile frame: ``gdf.byoc.*``.

    The accessor keeps no state: every method hands the frame to a public function
    (`byocframe.tools.stats.coverage`, `byocframe.maps.plotting.plot_coverage`, ...).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(100, seed=1))
    >>> [f"{d:%m-%d}" for d in gdf.byoc.coverage(by="sensing_time").index]
    ['06-01', '06-11', '06-21', '07-01']
    """

    def __init__(self, frame: pd.DataFrame):
        tiles = (
            isinstance(frame, gpd.GeoDataFrame)
            and "path" in frame.columns
            and "status" in frame.columns
            and frame.active_geometry_name in frame.columns
        )
        collections = "s3_bucket" in frame.columns and "name" in frame.columns
        files = "key" in frame.columns and "header_size" in frame.columns
        if not (tiles or collections or files):
            raise AttributeError(
                ".byoc works on BYOC tile frames: build one with byocframe.read_tiles() or "
                "byocframe.tiles_from_records() (a GeoDataFrame with 'path', 'status' and "
                f"a geometry{_lacking(frame)}); on collection frames from read_collections() "
                "it can push; on files frames from read_bucket() it can check"
            )
        self._frame = frame
        self._tiles = tiles
        self._files = files

    def _need_tiles(self, what: str) -> None:
        if self._tiles:
            return
        if self._files:
            kind = "files frames (byocframe.read_bucket(): .byoc.check() works on them)"
        else:
            kind = "collection frames (byocframe.read_collections(): .byoc.push() works on them)"
        raise TypeError(f".byoc.{what}() works on tile frames, not on {kind}")

    def coverage(self, aoi: AoiLike | None = None, *, by: str | None = None) -> pd.DataFrame:
        """Footprint, covered and overlap areas per group; see `byocframe.tools.stats.coverage`."""
        self._need_tiles("coverage")
        return _coverage.coverage(self._frame, aoi, by=by)

    def gaps(self, aoi: AoiLike, *, by: str | None = None) -> gpd.GeoDataFrame:
        """The parts of ``aoi`` no tile covers; see `byocframe.tools.stats.gaps`."""
        self._need_tiles("gaps")
        return _coverage.gaps(self._frame, aoi, by=by)

    def overlaps(self, *, within: str | None = "date", min_km2: float = 0.01) -> gpd.GeoDataFrame:
        """Pairs of overlapping footprints; see `byocframe.tools.stats.overlaps`."""
        self._need_tiles("overlaps")
        return _coverage.overlaps(self._frame, within=within, min_km2=min_km2)

    def changes(
        self, *, original: pd.DataFrame | None = None, deleted: bool = False
    ) -> pd.DataFrame:
        """What was edited since loading; see `byocframe.edits.diff.changes`."""
        self._need_tiles("changes")
        from byocframe.edits.diff import changes

        return changes(self._frame, original=original, deleted=deleted)

    def native_covers(self) -> pd.Series:
        """Each tile's cover as loaded, in its own CRS (``native_crs``), as shapely objects.

        The frame keeps them compactly as WKB bytes in ``native_cover``; this decodes them
        (None where a tile has no cover), e.g. to move one in metres and hand it to
        `set_native_covers`.

        Examples
        --------
        >>> import byocframe, shapely
        >>> from byocframe.frame.synthetic import synthetic_tiles
        >>> gdf = byocframe.tiles_from_records(synthetic_tiles(2, seed=1))
        >>> gdf.byoc.native_covers().iloc[0].geom_type
        'MultiPolygon'
        """
        self._need_tiles("native_covers")
        from byocframe.frame.native import native_geometries

        geoms = native_geometries(self._frame, "native_cover")
        return pd.Series(geoms, index=self._frame.index, name="native_cover", dtype=object)

    def set_native_covers(
        self, covers: pd.Series | Mapping[str, shapely.Geometry]
    ) -> gpd.GeoDataFrame:
        """Set covers given in each tile's own CRS; see `byocframe.set_native_covers`."""
        self._need_tiles("set_native_covers")
        from byocframe.edits.cover_edits import set_native_covers

        return set_native_covers(self._frame, covers)

    def push(
        self,
        client: AnyClient,
        *,
        dry_run: bool = False,
        workers: int | None = None,
        delete_missing: bool = False,
        force: bool = False,
        progress: bool | None = None,
        original: pd.DataFrame | None = None,
        tolerance: float | None = None,
        collection: str | None = None,
        delete_only: Collection[str] | None = None,
        max_deletes: int | None = None,
        clear_times: bool = False,
    ) -> pd.DataFrame:
        """Send the edits to the service: `byocframe.push` (tiles) or `push_collections`.

        ``workers`` is each function's own default when None. ``delete_missing``,
        ``tolerance``, ``collection``, ``delete_only``, ``max_deletes`` and
        ``clear_times`` are for tile frames only.

        Examples
        --------
        Rename a collection (sentinelhub-py: ``byoc.update_collection``) and move a
        tile's sensing time, each edited the pandas way:

        >>> import byocframe, pandas as pd
        >>> with byocframe.local_service(demo=True, demo_tiles=5) as service:
        ...     client = service.client()
        ...     collections = byocframe.read_collections(client)
        ...     collections.loc[service.demo_collection, "name"] = "Digital Twin Earth"
        ...     sent = collections.byoc.push(client)  # only the changed name is sent
        ...     gdf = byocframe.read_tiles(client, service.demo_collection, progress=False)
        ...     gdf.loc[gdf.index[0], "sensing_time"] += pd.Timedelta(hours=1)
        ...     pushed = gdf.byoc.push(client, progress=False)
        ...     client.get_collection(service.demo_collection)["name"]
        'Digital Twin Earth'
        >>> sent["outcome"].tolist(), pushed["outcome"].tolist()
        (['ok'], ['ok'])
        """
        if self._tiles:
            from byocframe.edits.route import push

            return push(
                self._frame,
                client,
                dry_run=dry_run,
                workers=32 if workers is None else workers,
                delete_missing=delete_missing,
                force=force,
                progress=progress,
                original=original,
                tolerance=tolerance,
                collection=collection,
                delete_only=delete_only,
                max_deletes=max_deletes,
                clear_times=clear_times,
            )
        if self._files:  # files frames are neither tiles nor collections: refuse
            self._need_tiles("push")
        tile_only = {
            "delete_missing": delete_missing,
            "tolerance": tolerance is not None,
            "collection": collection is not None,
            "delete_only": delete_only is not None,
            "max_deletes": max_deletes is not None,
            "clear_times": clear_times,
        }
        given = [name for name, on in tile_only.items() if on]
        if given:
            raise TypeError(
                f".byoc.push() of a collections frame takes no {', '.join(given)}: leave "
                "it out (it is for tile frames)"
            )
        from byocframe.edits.collection_push import push_collections

        return push_collections(
            self._frame,
            client,
            original=original,
            dry_run=dry_run,
            force=force,
            workers=4 if workers is None else workers,
            progress=progress,
        )

    def reingest(
        self, client: AnyClient, *, workers: int = 8, progress: bool | None = None
    ) -> pd.DataFrame:
        """Send these tiles back to ingestion; see `byocframe.edits.ingestion.reingest`."""
        self._need_tiles("reingest")
        from byocframe.edits.ingestion import reingest

        return reingest(self._frame, client, workers=workers, progress=progress)

    def to_file(self, path: str | Path, driver: str | None = None) -> None:
        """Write the tiles to a file that `byocframe.read_file` reads back whole."""
        self._need_tiles("to_file")
        from byocframe.io.files import write_file

        write_file(self._frame, path, driver)

    def check(
        self,
        pattern: str | None = None,
        *,
        bands: Mapping[str, Mapping[str, Any]] | None = None,
        rules: RuleSet | None = None,
        progress: bool | None = None,
        max_unmatched: float | None = None,
    ) -> pd.DataFrame:
        """Pre-flight checks of a files frame (`byocframe.read_bucket`); see `byocframe.check`.

        ``rules`` is `byocframe.bucket.checks.DEFAULT_RULES` and ``max_unmatched``
        `byocframe.bucket.patterns.MAX_UNMATCHED` when None; without ``pattern`` one is
        inferred where the layout is unambiguous.
        """
        if not self._files:
            raise TypeError(".byoc.check() works on files frames from byocframe.read_bucket()")
        from byocframe.bucket.checks import DEFAULT_RULES, check
        from byocframe.bucket.patterns import MAX_UNMATCHED

        return check(
            self._frame,
            pattern=pattern,
            bands=bands,
            rules=DEFAULT_RULES if rules is None else rules,
            progress=progress,
            max_unmatched=MAX_UNMATCHED if max_unmatched is None else max_unmatched,
        )

    def summary(self) -> Summary:
        """Counts by status, dates, CRSs, failure causes and covered area.

        See `byocframe.tools.summary.summarize`; the attributes (``tiles``,
        ``statuses``, ``covered_km2``, ...) hold the figures it prints.

        Examples
        --------
        >>> import byocframe
        >>> from byocframe.frame.synthetic import synthetic_tiles
        >>> gdf = byocframe.tiles_from_records(synthetic_tiles(100, seed=1))
        >>> print(gdf.byoc.summary())
        100 tiles, 188,991 km2 covered
        status: INGESTED 100
        sensing: 2024-06-01 22:27 to 2024-07-01 22:44 UTC on 4 dates
        CRS: 3 in use (EPSG:32660 48, EPSG:32601 44, EPSG:32760 8)
        """
        self._need_tiles("summary")
        return summarize(self._frame)

    def plot(
        self,
        column: str | None = None,
        *,
        ax: Axes | None = None,
        basemap: bool | str | Any | None = None,
        aoi: AoiLike | None = None,
        title: str | None = None,
        **style: Any,
    ) -> Axes:
        """A coverage map; see `byocframe.maps.plotting.plot_coverage`.

        ``style`` goes to matplotlib as in `geopandas.GeoDataFrame.plot` (``color``,
        ``alpha``, ...).
        """
        self._need_tiles("plot")
        from byocframe.maps.plotting import plot_coverage

        return plot_coverage(
            self._frame, column, ax=ax, basemap=basemap, aoi=aoi, title=title, **style
        )

    def explore(
        self,
        column: str | None = "status",
        *,
        cmap: Any = None,
        color: str | None = None,
        categorical: bool = False,
        legend: bool = True,
        tooltip: bool | str | int | list[str] | None = None,
        popup: bool | str | int | list[str] | None = None,
        tiles: Any = "OpenStreetMap",
        attr: str | None = None,
        m: TileMap | None = None,
        style_kwds: dict[str, Any] | None = None,
        name: str | None = None,
        basemap: bool | str | None = None,
        tolerance: float | None = None,
        title: str = "byocframe tiles",
        lod: LevelOfDetail | str | None = "default",
        width: int | str = "100%",
        height: int | str = 560,
    ) -> TileMap:
        """An interactive map in one offline HTML page; see `byocframe.maps.webmap.explore`.

        ``tolerance`` is `byocframe.maps.webmap.DEFAULT_TOLERANCE` when None; ``lod`` is
        `byocframe.maps.webmap.DEFAULT_LOD` when "default" (None: no levels of detail).
        """
        self._need_tiles("explore")
        from byocframe.maps.webmap import DEFAULT_LOD, DEFAULT_TOLERANCE, explore

        return explore(
            self._frame,
            column,
            cmap=cmap,
            color=color,
            categorical=categorical,
            legend=legend,
            tooltip=tooltip,
            popup=popup,
            tiles=tiles,
            attr=attr,
            m=m,
            style_kwds=style_kwds,
            name=name,
            basemap=basemap,
            tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
            title=title,
            lod=DEFAULT_LOD if lod == "default" else _level_of_detail(lod),
            width=width,
            height=height,
        )

    def to_stac(
        self,
        collection: Mapping[str, Any] | str | None = None,
        *,
        client: AnyClient | None = None,
        geoparquet: str | os.PathLike[str] | None = None,
    ) -> pystac.ItemCollection:
        """STAC Items (and a stac-geoparquet file); see `byocframe.stac.to_stac`."""
        self._need_tiles("to_stac")
        from byocframe.stac.items import to_stac

        return to_stac(self._frame, collection, client=client, geoparquet=geoparquet)

    def to_stac_geoparquet(
        self,
        path: str | os.PathLike[str],
        collection: Mapping[str, Any] | str | None = None,
        *,
        client: AnyClient | None = None,
        chunk_rows: int | None = None,
    ) -> int:
        """STAC Items straight to stac-geoparquet; see `byocframe.stac.write_stac_geoparquet`."""
        self._need_tiles("to_stac_geoparquet")
        from byocframe.stac.parquet import STAC_CHUNK_ROWS, write_stac_geoparquet

        rows = STAC_CHUNK_ROWS if chunk_rows is None else chunk_rows
        return write_stac_geoparquet(self._frame, path, collection, client=client, chunk_rows=rows)

    def timeline(self, *, freq: str | None = None, ax: Axes | None = None) -> Axes:
        """Tiles and covered area per date; see `byocframe.maps.timeline.plot_timeline`."""
        self._need_tiles("timeline")
        from byocframe.maps.timeline import plot_timeline

        return plot_timeline(self._frame, freq=freq, ax=ax)


def _lacking(frame: pd.DataFrame) -> str:
    """What keeps a frame that has a tile column from being a tile frame, for a message."""
    known = {"path", "status", "sensing_time", "native_cover", "loaded"}
    if not known & set(frame.columns):
        return ""  # not a tile frame at all: naming what it lacks would not help
    lacks = [f"'{name}'" for name in ("path", "status") if name not in frame.columns]
    if isinstance(frame, gpd.GeoDataFrame):
        if frame.active_geometry_name not in frame.columns:
            lacks.append(f"its geometry column '{frame.active_geometry_name}'")
    else:
        shapes = [name for name, kind in frame.dtypes.items() if kind == "geometry"]
        if shapes:
            return (
                f"; this is a {type(frame).__name__}: make it one with "
                f"geopandas.GeoDataFrame(frame, geometry='{shapes[-1]}')"
            )
        lacks.append("a geometry column")
    return f"; this one lacks {' and '.join(lacks)}" if lacks else ""


def _level_of_detail(lod: LevelOfDetail | str | None) -> LevelOfDetail | None:
    if isinstance(lod, str):
        raise ValueError(f'lod must be a LevelOfDetail, None or "default", got {lod!r}')
    return lod

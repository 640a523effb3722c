"""The types byocframe's public functions accept, named once: `ClientLike`, `AoiLike`, ...

These are for reading signatures and for type checkers; nothing here is checked at run
time (the functions themselves refuse what they cannot use, with a `TypeError` or a
`ValueError` naming the parameter).

Examples
--------
>>> import byocframe
>>> from byocframe.typing import ClientLike
>>> with byocframe.local_service() as service:
...     isinstance(service.client(), ClientLike)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np
    import pyproj
    import shapely


__all__ = [
    "AnyClient",
    "AoiLike",
    "ClientLike",
    "CrsLike",
    "GeometriesLike",
    "GeometryLike",
    "RecordLike",
    "S3Like",
]


@runtime_checkable
class ClientLike(Protocol):
    """What the frame tools (`byocframe.push`, `byocframe.read_tiles`, ...) need from a client.

    `byocframe.Client` is one; so is any object with these members (a test's wrapper
    that counts requests, say). Collections and tiles are given by id.
    """

    @property
    def base_url(self) -> str:
        """The service's base URL (a pushed frame must come from the same one)."""

    @property
    def clock(self) -> Callable[[], float]:
        """A monotonic clock in seconds: a push times its reads and writes by it."""

    @property
    def sleep(self) -> Callable[[float], None]:
        """How every wait of the client and of a push is done."""

    @property
    def requests_per_minute(self) -> float | None:
        """The client's pace, or None when unpaced."""

    def reserve_turns(self, turns: int) -> list[float | None]:
        """Keep ``turns`` pacing turns in a row; their times go to ``at=``."""

    def tile_pages(
        self,
        collection: str,
        *,
        status: str | None = None,
        path: str | None = None,
        sort: str | None = None,
        count: int | None = None,
        bad_ids: Literal["raise", "keep"] = "raise",
    ) -> Iterator[list[dict[str, Any]]]:
        """The collection's tiles, a page at a time."""

    def find_tile(self, collection: str, path: str) -> dict[str, Any] | None:
        """The tile with this path, or None."""

    def get_tile(self, collection: str, tile: str, *, at: float | None = None) -> dict[str, Any]:
        """One tile's record."""

    def create_tile(self, collection: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Create a tile; return its record."""

    def update_tile(
        self,
        collection: str,
        tile: str,
        record: Mapping[str, Any],
        *,
        at: float | None = None,
        fresh_until: float | None = None,
    ) -> None:
        """Replace a tile's sensing time and cover."""

    def delete_tile(self, collection: str, tile: str) -> None:
        """Delete a tile."""

    def get_collection(self, collection: str) -> dict[str, Any]:
        """One collection's record."""

    def update_collection(self, collection: str, record: Mapping[str, Any]) -> None:
        """Replace a collection's name, no-data value and band names."""


class SHConfigLike(Protocol):
    """A sentinelhub-py ``SHConfig`` (duck-typed: sentinelhub is not imported)."""

    sh_client_id: str
    sh_client_secret: str
    sh_base_url: str
    sh_token_url: str


class SentinelHubBYOCLike(Protocol):
    """A sentinelhub-py ``SentinelHubBYOC`` (its ``config`` is used)."""

    config: SHConfigLike


#: What a public function accepts as its client: a `ClientLike` (a `byocframe.Client`),
#: or a sentinelhub-py ``SHConfig`` or ``SentinelHubBYOC`` (duck-typed; see
#: `byocframe.client.api.resolve_client`).
AnyClient: TypeAlias = "ClientLike | SHConfigLike | SentinelHubBYOCLike"

#: An area of interest: a shapely geometry (lon/lat), a GeoSeries or GeoDataFrame with a
#: CRS, or a ``(west, south, east, north)`` box in degrees (``west > east`` crosses the
#: antimeridian). See `byocframe.tools.stats.aoi_geometry`.
AoiLike: TypeAlias = "shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame | Sequence[float]"

#: One lon/lat geometry: a shapely geometry, or a GeoJSON geometry as a dict (e.g. a
#: Catalog search's ``intersects``).
GeometryLike: TypeAlias = "shapely.Geometry | Mapping[str, Any]"

#: Many geometries: a GeoSeries or GeoDataFrame (its CRS is honoured where a function
#: says so), or an array or sequence of shapely geometries (None: no geometry).
GeometriesLike: TypeAlias = (
    "gpd.GeoSeries | gpd.GeoDataFrame | np.ndarray | Sequence[shapely.Geometry | None]"
)


class _HasToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


#: A collection or tile as the API shapes it: a dict, or a sentinelhub-py dataclass
#: (``ByocCollection``, ``ByocTile``: anything with ``to_dict()``).
RecordLike: TypeAlias = "Mapping[str, Any] | _HasToDict"

#: A CRS: a text pyproj reads (``"EPSG:32633"``, ``"urn:ogc:def:crs:OGC::CRS84"``), an
#: EPSG code as an int, or a `pyproj.CRS`.
CrsLike: TypeAlias = "str | int | pyproj.CRS"


class S3Like(Protocol):
    """What `byocframe.read_bucket` and the other bucket readers need of a boto3 S3 client."""

    exceptions: Any

    def get_paginator(self, operation_name: str) -> Any:
        """A paginator (``list_objects_v2``)."""

    def get_object(self, **kwargs: Any) -> Any:
        """One object, or a range of it."""

    def head_object(self, **kwargs: Any) -> Any:
        """One object's metadata."""

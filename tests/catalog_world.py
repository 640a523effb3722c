"""A small collection spread over the globe for Catalog tests, and independent truths.

The tiles go through the public BYOC API (files in the virtual bucket, create, ingest),
so the Catalog sees them exactly as a user's. The truth of "which tiles intersect this
box" is computed here without byocframe's geometry code: each cover is densified with
shapely, moved to lon/lat with pyproj, unwrapped across the antimeridian by hand, and
tested against the box shifted by -360, 0 and +360 degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import shapely.affinity
import shapely.geometry
from pyproj import Transformer

CATALOG = "/api/v1/catalog/1.0.0"
BANDS = {"B02": {"bitDepth": 16}, "B03": {"bitDepth": 16}}


def _utm33_box(dx: float, dy: float) -> tuple[float, float, float, float]:
    return (400_000 + dx, 4_900_000 + dy, 509_800 + dx, 5_009_800 + dy)


# name: (EPSG, tile bounds in that CRS, sensing time or None)
TILES: dict[str, tuple[int, tuple[float, float, float, float], str | None]] = {
    # seven UTM 33N tiles around 15 E, 45 N, on seven dates in April 2020
    **{
        f"utm33-{k}": (
            32633,
            (
                400000 + 60000 * (k % 4),
                4900000 + 80000 * (k // 4),
                509800 + 60000 * (k % 4),
                5009800 + 80000 * (k // 4),
            ),
            f"2020-04-{1 + 4 * k:02d}T10:{k:02d}:00Z",
        )
        for k in range(7)
    },
    # crossers of the antimeridian near 65 N (zone 60 reaches past +180, zone 1 past -180)
    "cross-60": (32660, (500_000, 7_200_000, 700_000, 7_300_000), "2020-04-10T00:00:00Z"),
    "cross-01": (32601, (300_000, 7_250_000, 500_000, 7_350_000), "2020-05-02T00:00:00Z"),
    # far south, in UTM 38S (Antarctic coast), and a lon/lat tile reaching the north pole
    "south-38": (32738, (400_000, 1_300_000, 600_000, 1_500_000), "2020-04-15T12:00:00Z"),
    "north-pole": (4326, (0.0, 86.0, 90.0, 90.0), "2020-04-20T00:00:00Z"),
    # no sensing time
    "timeless": (32633, (600_000, 5_200_000, 700_000, 5_300_000), None),
}
#: A non-rectangular cover (in UTM 33N) for utm33-0: a triangle inside its tile.
UTM33_0_COVER = [[[410_000, 4_910_000], [500_000, 4_910_000], [410_000, 5_000_000]]]


@dataclass
class World:
    """Ids of the seeded tiles by name, and the collection."""

    collection: str
    ids: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    @property
    def catalog_id(self) -> str:
        return "byoc-" + self.collection

    def names(self, ids: Any) -> set[str]:
        back = {v: k for k, v in self.ids.items()}
        return {back.get(i, i) for i in ids}


def _files(path: str, epsg: int, bounds: tuple[float, ...]) -> dict[str, dict[str, Any]]:
    return {
        path.replace("(BAND)", band): {
            "crs": f"EPSG:{epsg}",
            "bounds": list(bounds),
            "resolution": 10 if epsg != 4326 else 0.001,
            "bitDepth": 16,
            "sampleFormat": "UINT",
        }
        for band in BANDS
    }


def build_world(service: Any, client: Any) -> World:
    """Seed the collection: every tile of `TILES` INGESTED, two FAILED, two WAITING."""
    created = client.create_collection(
        {"name": "catalog world", "s3Bucket": "world", "additionalData": {"bands": BANDS}}
    )
    world = World(created["id"])
    for name, (epsg, bounds, when) in TILES.items():
        path = f"{name}/(BAND).tif"
        service.register_files("world", _files(path, epsg, bounds))
        body: dict[str, Any] = {"path": path}
        if when is not None:
            body["sensingTime"] = when
        if name == "utm33-0":
            ring = [*UTM33_0_COVER[0], UTM33_0_COVER[0][0]]
            body["coverGeometry"] = {
                "type": "Polygon",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
                "coordinates": [ring],
            }
        world.ids[name] = client.create_tile(world.collection, body)["id"]
    for k in range(2):  # no files: these fail
        tile = {"path": f"missing-{k}/(BAND).tif", "sensingTime": "2020-04-12T00:00:00Z"}
        world.failed.append(client.create_tile(world.collection, tile)["id"])
    service.ingest_pending()
    for k in range(2):  # created after the ingestion ran: still WAITING
        epsg, bounds, _ = TILES["utm33-1"]
        path = f"waiting-{k}/(BAND).tif"
        service.register_files("world", _files(path, epsg, bounds))
        tile = {"path": path, "sensingTime": "2020-04-12T00:00:00Z"}
        world.waiting.append(client.create_tile(world.collection, tile)["id"])
    statuses = {t["id"]: t["status"] for t in client.iter_tiles(world.collection)}
    assert {statuses[i] for i in world.ids.values()} == {"INGESTED"}
    assert {statuses[i] for i in world.failed} == {"FAILED"}
    assert {statuses[i] for i in world.waiting} == {"WAITING"}
    return world


def token_for(service: Any) -> str:
    """An access token from the local service's token endpoint."""
    import requests

    answer = requests.post(
        service.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": service.client_id,
            "client_secret": service.client_secret,
        },
        timeout=5,
    )
    return answer.json()["access_token"]


def lonlat_cover(record: dict[str, Any]) -> shapely.Geometry:
    """A tile's cover in lon/lat, unwrapped (longitudes may pass 180), without byocframe."""
    geojson = record.get("coverGeometry") or record["tileGeometry"]
    epsg = int(geojson["crs"]["properties"]["name"].rsplit(":", 1)[-1])
    geom = shapely.geometry.shape({k: v for k, v in geojson.items() if k != "crs"})
    if epsg == 4326:
        return geom
    geom = shapely.segmentize(geom, 1_000.0)
    to_lonlat = Transformer.from_crs(epsg, 4326, always_xy=True)

    def move(xy: np.ndarray) -> np.ndarray:
        lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1])
        lon = np.asarray(lon)
        # a ring that crosses the antimeridian jumps by ~360 degrees: undo the jumps
        lon = np.where(lon - lon[0] > 180, lon - 360, np.where(lon - lon[0] < -180, lon + 360, lon))
        return np.column_stack([lon, lat])

    return shapely.transform(geom, move)


def truth(records: list[dict[str, Any]], bbox: list[float]) -> set[str]:
    """Ids of the INGESTED records whose cover intersects a lon/lat bbox (west > east: crossing)."""
    w, s, e, n = bbox
    boxes = (
        [shapely.box(w, s, 180, n), shapely.box(-180, s, e, n)]
        if w > e
        else [shapely.box(w, s, e, n)]
    )
    out = set()
    for rec in records:
        if rec["status"] != "INGESTED":
            continue
        cover = lonlat_cover(rec)
        shifted = [shapely.affinity.translate(b, k * 360.0) for b in boxes for k in (-1, 0, 1)]
        if any(cover.intersects(b) for b in shifted):
            out.add(rec["id"])
    return out

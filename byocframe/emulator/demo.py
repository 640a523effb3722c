"""The demo collection: a realistic global listing seeded straight into the store."""

from __future__ import annotations

from typing import Any

import numpy as np

from byocframe.emulator.coords import transform_polygons
from byocframe.emulator.store import Store
from byocframe.emulator.validate import manifest_rows, new_collection, parse_time
from byocframe.frame.synthetic import LAND_SHARE, SYNTHETIC_BANDS, synthetic_collection
from byocframe.geo.crs import parse_crs

__all__ = ["DEMO_BUCKET", "DEMO_NAME", "seed_demo"]

DEMO_NAME = "byocframe demo: global mosaic"
DEMO_BUCKET = "byocframe-demo"


def seed_demo(
    store: Store, tiles: int = 20_000, *, seed: int = 0, dates: tuple[str, ...] | None = None
) -> str:
    """Create the demo collection (once per database); return its id.

    About ``tiles`` Sentinel-2-like tiles over land (cells at least half land,
    `byocframe.frame.synthetic.LAND_SHARE`) in every UTM zone, four dates,
    MultiPolygon covers, crossers of the antimeridian, ~2 % WAITING and ~1 % FAILED
    (their file ``B08`` is missing from the virtual bucket). Generated offline.
    ``dates`` replaces the four default dates (about 18,500 land cells per date).
    """
    existing = store.get_meta("demo_collection")
    if existing:
        return existing
    # cells mostly on land: a cell with one corner on the coast would be mostly sea
    if dates:
        records, files = synthetic_collection(tiles, seed=seed, dates=dates, land_share=LAND_SHARE)
    else:
        records, files = synthetic_collection(tiles, seed=seed, land_share=LAND_SHARE)
    states, natives = _states(records)
    # one transaction: a service killed while seeding leaves no half demo behind (no
    # collection without its tiles, no tiles without the key that says they are seeded)
    with store.transaction():
        collection = store.create_collection(
            new_collection(
                {
                    "name": DEMO_NAME,
                    "s3Bucket": DEMO_BUCKET,
                    "additionalData": {"bands": SYNTHETIC_BANDS},
                }
            )
        )
        store.register_files(DEMO_BUCKET, manifest_rows(files))
        store.insert_tiles(collection["id"], states, natives)
        store.set_meta("demo_collection", collection["id"])
    return collection["id"]


def _states(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """Stored tile states for synthetic records, covers moved to CRS84 in bulk per CRS.

    Also returns each cover transformed back into its CRS (what the service shows,
    float noise included), so seeding does not transform tile by tile.
    """
    states = []
    for rec in records:
        state: dict[str, Any] = {
            "id": rec["id"],
            "path": rec["path"],
            "status": rec["status"],
            "created": parse_time(rec["created"], "created"),
            "ingestionStart": parse_time(rec["created"], "created"),
            "sensingTime": parse_time(rec.get("sensingTime"), "sensingTime"),
        }
        extra = dict(rec.get("additionalData") or {})
        cause = extra.pop("failedIngestionCause", None)
        if cause:
            state["failedIngestionCause"] = cause
        if rec.get("coverGeometry"):
            state["crs"] = parse_crs(rec["coverGeometry"]["crs"]["properties"]["name"])
            state["coverType"] = rec["coverGeometry"]["type"]
            state["cover_native"] = rec["coverGeometry"]["coordinates"]
        if rec.get("tileGeometry"):
            ring = np.asarray(rec["tileGeometry"]["coordinates"][0])
            state["tileBox"] = [*ring.min(axis=0).tolist(), *ring.max(axis=0).tolist()]
            extra.pop("bandHeaderSizes", None)
            extra["filesMetadata"] = {band: {"headerSize": 1328} for band in SYNTHETIC_BANDS}
            state["additionalData"] = extra
        states.append(state)
    by_crs: dict[str, list[dict[str, Any]]] = {}
    for state in states:
        if "cover_native" in state:
            by_crs.setdefault(state["crs"], []).append(state)
    natives: dict[str, Any] = {}
    for crs, group in by_crs.items():
        polygons = [poly for s in group for poly in s["cover_native"]]
        moved = transform_polygons(polygons, crs, "EPSG:4326")
        back = transform_polygons(moved, "EPSG:4326", crs)
        k = 0
        for s in group:
            n = len(s.pop("cover_native"))
            s["cover84"] = moved[k : k + n]
            natives[s["id"]] = back[k : k + n]
            k += n
    return states, [natives.get(s["id"]) for s in states]

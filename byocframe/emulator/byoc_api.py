"""The BYOC API endpoints (``BYOC_API.md`` section 3) and the emulator's admin endpoint.

Each endpoint validates its request (`byocframe.emulator.validate`), then makes one
store call; `ROUTES` and `ADMIN_ROUTES` list them for the server's `Router`.
"""

from __future__ import annotations

import json
from typing import Any

from byocframe.emulator import validate
from byocframe.emulator.problems import ApiProblem, bad
from byocframe.emulator.routing import Endpoint, Request
from byocframe.emulator.store import SameCover

__all__ = ["ADMIN_ROUTES", "ROUTES"]

_CID, _TID = r"(?P<cid>[^/]+)", r"(?P<tid>[^/]+)"


def list_collections(req: Request) -> tuple[int, Any]:
    """A page of collections (``search``, ``count``, ``viewtoken``)."""
    count = validate.page_count(req.query.get("count"))
    docs, token = req.store.collections(
        search=req.query.get("search") or None, count=count, token=req.view_token()
    )
    return 200, req.page([json.dumps(d) for d in docs], token, count)


def create_collection(req: Request) -> tuple[int, Any]:
    """Create a collection: 201 with it."""
    fields = validate.new_collection(req.body or {})
    return 201, {"data": req.store.create_collection(fields)}


def get_collection(req: Request) -> tuple[int, Any]:
    """One collection with its computed metadata."""
    return 200, {"data": req.store.collection(req.params["cid"])}


def update_collection(req: Request) -> tuple[int, Any]:
    """PUT a collection: name, s3Bucket, noData, band renames."""
    req.store.update_collection(req.params["cid"], validate.collection_update(req.body or {}))
    return 204, None


def delete_collection(req: Request) -> tuple[int, Any]:
    """Delete a collection and its tiles."""
    req.store.delete_collection(req.params["cid"])
    return 204, None


def copy_tiles(req: Request) -> tuple[int, Any]:
    """Copy INGESTED tiles to ``toCollection``."""
    target = req.query.get("toCollection")
    if not target:
        raise bad("toCollection is required")
    req.store.copy_tiles(req.params["cid"], target)
    return 204, None


def list_tiles(req: Request) -> tuple[int, Any]:
    """A page of tiles (``sort``, ``path``, ``status``, ``count``, ``viewtoken``)."""
    count = validate.page_count(req.query.get("count"))
    listing = validate.tile_listing(req.query)
    items, token = req.store.tiles_page(
        req.params["cid"], count=count, token=req.view_token(), **listing
    )
    return 200, req.page(items, token, count)


def create_tile(req: Request) -> tuple[int, Any]:
    """Create a WAITING tile, then start its ingestion."""
    doc = req.store.create_tile(req.params["cid"], validate.new_tile(req.body or {}))
    # ingestion starts after the commit and never fails the request (it fails the tile)
    req.ingestor.submit(req.params["cid"], json.loads(doc)["id"])
    return 201, b'{"data":' + doc.encode() + b"}"


def get_tile(req: Request) -> tuple[int, Any]:
    """One tile."""
    doc = req.store.tile(req.params["cid"], req.params["tid"])
    return 200, b'{"data":' + doc.encode() + b"}"


def update_tile(req: Request) -> tuple[int, Any]:
    """PUT a tile: sensing time and cover.

    A cover equal to the one the tile shows (a client sending the tile back with a new
    sensing time) is kept as stored, not read again.
    """
    body = req.body or {}
    cid, tid = req.params["cid"], req.params["tid"]
    cover = body.get("coverGeometry") if isinstance(body, dict) else None
    changes = None
    if isinstance(cover, dict):
        try:
            same = req.store.shown_cover(cid, tid) == cover
        except ApiProblem:
            same = False  # no such tile: the update says so, after checking the body
        if same:
            rest = {k: v for k, v in body.items() if k != "coverGeometry"}
            changes = {**validate.tile_update(rest), "cover": SameCover(cover)}
    if changes is None:
        changes = validate.tile_update(body)
    req.store.update_tile(cid, tid, changes)
    return 204, None


def delete_tile(req: Request) -> tuple[int, Any]:
    """Delete one tile."""
    req.store.delete_tile(req.params["cid"], req.params["tid"])
    return 204, None


def reingest(req: Request) -> tuple[int, Any]:
    """Send a finished tile back to WAITING and ingest it again."""
    req.store.reingest(req.params["cid"], req.params["tid"])
    req.ingestor.submit(req.params["cid"], req.params["tid"])
    return 204, None


def global_lookup(req: Request) -> tuple[int, Any]:
    """Where a collection lives (``/global/{id}``).

    The deployment is the store's ``location`` setting: ``aws-eu-central-1`` unless a
    test stands in for another.
    """
    doc = req.store.collection(req.params["cid"])
    location = req.store.get_meta("location") or "aws-eu-central-1"
    return 200, {"data": {"id": doc["id"], "s3Bucket": doc["s3Bucket"], "location": location}}


def register_files(req: Request) -> tuple[int, Any]:
    """Add files to a virtual bucket (emulator only)."""
    req.store.register_files(req.params["bucket"], validate.manifest_rows(req.body or {}))
    return 204, None


#: The BYOC API, relative to its root (``/api/v1/byoc`` or ``/byoc/v1``).
ROUTES: list[tuple[str, str, Endpoint]] = [
    ("GET", r"/collections", list_collections),
    ("POST", r"/collections", create_collection),
    ("GET", rf"/collections/{_CID}", get_collection),
    ("PUT", rf"/collections/{_CID}", update_collection),
    ("DELETE", rf"/collections/{_CID}", delete_collection),
    ("POST", rf"/collections/{_CID}/copyTiles", copy_tiles),
    ("GET", rf"/collections/{_CID}/tiles", list_tiles),
    ("POST", rf"/collections/{_CID}/tiles", create_tile),
    ("GET", rf"/collections/{_CID}/tiles/{_TID}", get_tile),
    ("PUT", rf"/collections/{_CID}/tiles/{_TID}", update_tile),
    ("DELETE", rf"/collections/{_CID}/tiles/{_TID}", delete_tile),
    ("POST", rf"/collections/{_CID}/tiles/{_TID}/reingest", reingest),
    ("GET", rf"/global/{_CID}", global_lookup),
]

#: The emulator's own endpoints (no injected faults): the virtual bucket manifest.
ADMIN_ROUTES: list[tuple[str, str, Endpoint]] = [
    ("PUT", r"/_emulator/buckets/(?P<bucket>[^/]+)", register_files),
]

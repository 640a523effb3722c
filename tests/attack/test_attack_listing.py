"""Attacks on the listing: a frame or file that looks complete but is not.

Each test documents one defect found by attacking the million-tile work (branch
``attack``, tests/attack/FINDINGS.md); all are fixed and the tests pass.
"""

from __future__ import annotations

import threading
import warnings

import pytest

import byocframe
from byocframe.io import listing


def test_both_ends_listing_keeps_every_tile_when_created_ties(demo_service):
    client = demo_service.client()
    cid = demo_service.demo_collection
    records = list(client.iter_tiles(cid, sort="created:asc"))
    # a bulk import: every tile created at the same instant. Sorting by `created` alone is
    # a valid order for both directions; a stable descending sort keeps the ties in the
    # ascending order (what Python's sorted(reverse=True) or many databases do)
    tied = [{**r, "created": "2024-01-01T00:00:00Z"} for r in records]
    desc_closed = threading.Event()

    def tile_pages(collection, *, status=None, path=None, sort=None, count=None, bad_ids="raise"):
        desc = sort == "created:desc"
        items = sorted(tied, key=lambda r: r["created"], reverse=desc)
        try:
            for start in range(0, len(items), 100):
                if start and not desc:
                    # both first pages in flight at once, as over a real network
                    desc_closed.wait(30)
                yield items[start : start + 100]
        finally:
            if desc:
                desc_closed.set()

    client.tile_pages = tile_pages  # the service, as the client sees it
    gdf = byocframe.read_tiles(client, cid, progress=False)
    assert gdf.attrs["byocframe"]["whole"] is True  # it says it is the whole collection
    assert len(gdf) == len(records)  # today: 200 of 400 tiles, no warning


def test_an_interrupted_write_listing_leaves_no_file_that_reads_as_a_listing(
    demo_service, tmp_path, monkeypatch
):
    client = demo_service.client()
    cid = demo_service.demo_collection
    target = tmp_path / "tiles.parquet"
    assert byocframe.write_listing(client, cid, target, batch_size=100, progress=False) == 400
    stamped = listing.stamp
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second batch of the final file
            raise KeyboardInterrupt
        return stamped(*args, **kwargs)

    monkeypatch.setattr(listing, "stamp", interrupted)
    with pytest.raises(KeyboardInterrupt):
        byocframe.write_listing(client, cid, target, batch_size=100, progress=False)
    monkeypatch.setattr(listing, "stamp", stamped)
    # either the complete file from before is still there, or reading is refused
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            back = byocframe.read_file(target)
    except byocframe.ValidationError:
        return
    assert len(back) == 400  # today: 100 rows, no attrs, no warning


def test_an_empty_page_with_a_next_token_does_not_end_the_listing(demo_service):
    client = demo_service.client()
    cid = demo_service.demo_collection
    real = client.request
    pages = []

    def request(method, path, **kwargs):
        body = real(method, path, **kwargs)
        if method == "GET" and path.endswith("/tiles"):
            pages.append(1)
            if len(pages) == 2:  # "nothing on this page yet, go on from here"
                token = (kwargs.get("params") or {}).get("viewtoken")
                return {**body, "data": [], "links": {**body["links"], "nextToken": token}}
        return body

    client.request = request
    try:
        gdf = byocframe.read_tiles(client, cid, progress=False, both_ends=False)
    except byocframe.TransportError:
        return  # refused: fine
    assert len(gdf) == 400  # today: 100 tiles, attrs "whole": True

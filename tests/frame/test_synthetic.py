"""The offline generator behind the demo collection and the benchmarks."""

from __future__ import annotations

import collections

import pytest

import byocframe
from byocframe.frame.synthetic import land, synthetic_tiles


@pytest.fixture(scope="module")
def listing():
    return synthetic_tiles(3000, seed=3)


def test_same_seed_same_records(listing):
    assert synthetic_tiles(3000, seed=3) == listing
    assert synthetic_tiles(3000, seed=4) != listing


def test_listing_looks_like_a_real_collection(listing):
    assert len(listing) == 3000
    assert len({r["id"] for r in listing}) == 3000
    assert len({r["path"] for r in listing}) == 3000
    statuses = collections.Counter(r["status"] for r in listing)
    assert statuses["INGESTED"] > 2800
    assert statuses["WAITING"] > 0
    assert statuses["FAILED"] > 0
    dates = {r["sensingTime"][:10] for r in listing}
    assert len(dates) == 4
    crs = {r["tileGeometry"]["crs"]["properties"]["name"] for r in listing if "tileGeometry" in r}
    assert "urn:ogc:def:crs:EPSG::3031" in crs
    assert "urn:ogc:def:crs:EPSG::3413" in crs
    assert (
        sum(c.startswith(("urn:ogc:def:crs:EPSG::326", "urn:ogc:def:crs:EPSG::327")) for c in crs)
        >= 5
    )
    failed = [r for r in listing if r["status"] == "FAILED"]
    assert all("failedIngestionCause" in r["additionalData"] for r in failed)


def test_tiles_are_over_land_and_some_cross_the_antimeridian(listing):
    gdf = byocframe.tiles_from_records(listing)
    ingested = gdf[gdf["status"] == "INGESTED"]
    assert ingested.geometry.is_valid.all()
    on_land = ingested.geometry.intersects(land())
    assert on_land.mean() > 0.95
    crossers = ingested.geometry.bounds.query("minx == -180 and maxx == 180")
    assert len(crossers) >= 4

"""Frames loaded in a CRS other than lon/lat: every cover drawn, coverage the same.

The independent truth is the same collection loaded in EPSG:4326 (the default): its
geodesic areas do not depend on the CRS the frame is shown in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import shapely

import byocframe
from byocframe.exceptions import ByocframeWarning


@pytest.fixture(scope="module")
def service() -> Iterator[Any]:
    with byocframe.local_service(demo=True, demo_tiles=300) as running:
        yield running


@pytest.mark.parametrize("crs", ["EPSG:3035", "EPSG:3857", "EPSG:32633"])
def test_a_regional_crs_draws_every_cover_and_counts_the_same_areas(service: Any, crs: str) -> None:
    """ETRS89-LAEA Europe (EPSG:3035) left 264 of 300 demo tiles (Brazil, India) empty."""
    client, cid = service.client(), service.demo_collection
    lonlat = byocframe.read_tiles(client, cid, progress=False)
    shown = byocframe.read_tiles(client, cid, crs=crs, progress=False)
    has = ~lonlat.geometry.isna().to_numpy()
    assert (~shown.geometry.isna().to_numpy() & ~shown.geometry.is_empty.to_numpy())[has].all()
    assert shown.geometry.is_valid.all()
    want = lonlat.byoc.coverage().iloc[0]
    got = shown.byoc.coverage().iloc[0]  # stopped in tools.depth on EPSG:3035 before
    for name in ("footprint_km2", "covered_km2", "overlap_km2"):
        assert got[name] == pytest.approx(want[name], rel=1e-3)


def test_a_cover_the_target_crs_cannot_draw_is_said() -> None:
    """Web Mercator has no poles: a cover above 85.06 degrees has no geometry there."""
    north = shapely.Polygon([(0, 0), (200_000, 0), (200_000, 200_000), (0, 200_000)])
    record = {
        "id": "6d3c1f9e-0000-4000-8000-000000000001",
        "path": "polar/(BAND).tif",
        "status": "INGESTED",
        "coverGeometry": {
            **shapely.geometry.mapping(north),
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3413"}},
        },
    }
    said = r"1 of 1 tiles' covers cannot be drawn in EPSG:3857 \(e\.g\. tile '6d3c1f9e-0000"
    with pytest.warns(ByocframeWarning, match=said):
        frame = byocframe.tiles_from_records([record], crs="EPSG:3857")
    assert frame.geometry.isna().all()
    assert np.asarray(frame.geometry.array, dtype=object)[0] is None

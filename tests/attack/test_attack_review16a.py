"""The fixes of findings 230 and 252 attacked (branch ``review16a``, findings 350 on).

230: a listing read from both ends trusts the cursors' meeting only while each cursor's
tiles come in the ``created`` order it asked for. 252: a lon/lat edge from -180 to 180
at one latitude is the whole parallel. Each ``xfail(strict=True)`` pins a defect seen
today; the unmarked tests pin what holds (see ``tests/attack/FINDINGS.md``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import shapely

import byocframe
from byocframe.geo.crs import WGS84
from byocframe.geo.geometry import reproject


@pytest.fixture
def service_450() -> Iterator[Any]:
    """A fresh local service with 450 demo tiles: five pages of 100."""
    with byocframe.local_service(demo=True, demo_tiles=450) as running:
        yield running


def test_a_peer_ignoring_the_sort_whose_first_page_ties_gives_every_tile(
    service_450: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 350: a peer ignoring ``sort`` whose first page holds one ``created``.

    Tiles stored in one batch (or times kept to the second) share their creation time.
    Both cursors then get the same first page, in order for either direction: that
    looked like a meeting, the descending cursor stopped and the ascending one stopped
    after its second page (newer than anything the descending cursor had seen, so
    newer than what an honest service lists first when asked for the newest first).
    """
    client = service_450.client()
    cid = service_450.demo_collection
    everything = {t["id"] for t in client.iter_tiles(cid)}
    real = client.tile_pages
    asc_read_one = threading.Event()  # the ascending cursor asked for its second page
    desc_moved = threading.Event()  # the descending cursor asked for more, or stopped

    def tile_pages(cid: str, **options: Any) -> Iterator[list[dict[str, Any]]]:
        ascending = options.get("sort") != "created:desc"
        options["sort"] = "created:asc"  # the peer ignores the sort asked for
        try:
            for number, page in enumerate(real(cid, **options)):
                if number == 0:
                    # the first page's tiles were stored at one instant
                    page = [dict(t, created=page[0]["created"]) for t in page]
                if ascending and number == 1:
                    asc_read_one.set()
                    assert desc_moved.wait(timeout=60)
                if not ascending and number == 0:
                    assert asc_read_one.wait(timeout=60)
                yield page
                if not ascending:
                    desc_moved.set()
        finally:
            desc_moved.set() if not ascending else asc_read_one.set()

    monkeypatch.setattr(client, "tile_pages", tile_pages)
    with pytest.warns(byocframe.ByocframeWarning, match="sort=created"):
        gdf = byocframe.read_tiles(client, cid, progress=False)
    assert gdf.attrs["byocframe"]["whole"] is True
    assert set(map(str, gdf.index)) == everything


# --------------------------------------------------------------------------- 252


@pytest.mark.parametrize("west", [-180.0, -np.nextafter(180.0, 0.0)])
def test_a_global_box_off_by_float_noise_is_still_global(west: float) -> None:
    """Finding 351: ``box(-180, -85, 179.99999999999997, 85)`` was reprojected to a sliver.

    A bound one float step inside 180 (what arithmetic on 180 often gives) made the edge
    along the parallel a jump of just under 360 degrees: read as the short way across
    the antimeridian, the near-global tile became a band a few metres wide.
    """
    east = np.nextafter(180.0, 0.0)
    drawn = shapely.box(west, -85, east, 85)
    exact = shapely.box(-180, -85, 180, 85)
    for target in (WGS84, "EPSG:3857", "EPSG:32633"):
        got, want = reproject(np.array([drawn, exact], dtype=object), np.array([WGS84] * 2), target)
        assert got.area == pytest.approx(want.area, rel=1e-9), target

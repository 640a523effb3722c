"""The session's change (``e2c050b..ea1e388``) reviewed both ways (branch ``review16``).

Findings 360 on: honest peers, files and users the new checks must not refuse, and
defects they let through. Each ``xfail(strict=True)`` pins a defect seen today; the
unmarked tests pin fixes and what holds (see ``tests/attack/FINDINGS.md``).
"""

from __future__ import annotations

from typing import Any

import pytest

from byocframe.stac.answers import outside


def _item(**properties: Any) -> dict[str, Any]:
    return {"id": "a", "bbox": [10, 40, 11, 41], "properties": properties}


def test_an_item_with_a_datetime_and_a_range_fits_a_period_meeting_its_range() -> None:
    """Finding 360: STAC API matches a period against an item's ``start/end_datetime``.

    An item may carry ``datetime`` (often its range's start) and its range together; a
    service gives it for any period meeting the range. The check read ``datetime`` only
    and ended the search ('lies outside the datetime searched').
    """
    item = _item(
        datetime="2024-06-01T00:00:00Z",
        start_datetime="2024-06-01T00:00:00Z",
        end_datetime="2024-06-30T00:00:00Z",
    )
    assert outside({"datetime": "2024-06-10T00:00:00Z/2024-06-20T00:00:00Z"})(item) is None
    # the range is still checked: a period after it is refused
    later = outside({"datetime": "2024-07-10T00:00:00Z/2024-07-20T00:00:00Z"})(item)
    assert later is not None
    assert "outside the datetime searched" in later


@pytest.mark.parametrize("text", ["2024-06-02t10:00:00z", "2024-06-02t10:00:00+00:00"])
def test_an_item_time_in_lower_case_is_read(text: str) -> None:
    """Finding 361: RFC 3339 (5.6) lets ``T`` and ``Z`` be lower case.

    ``datetime.fromisoformat`` reads neither: such an item was refused as 'which has no
    datetime, in a search by datetime'.
    """
    test = outside({"datetime": "2024-06-01T00:00:00Z/2024-06-03T00:00:00Z"})
    assert test(_item(datetime=text)) is None
    assert test(_item(datetime=text.replace("06-02", "08-02"))) is not None


def test_a_tile_asked_by_its_id_in_upper_case_is_not_taken_for_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding 362: a UUID is read case-insensitively (RFC 4122, section 3).

    A service that reads ``get_tile(cid, ID.upper())`` as the tile and answers with its
    id as it writes it (lower case) is honest; finding 277's check compared the texts
    and called it 'answered tile ..., not the one asked for'. Another tile is still
    refused.
    """
    import byocframe
    from byocframe.emulator import store

    real = store.Store.tile

    def tile(self: Any, cid: str, tid: str) -> str:
        return real(self, cid, tid.lower())  # ids read as UUIDs: any case

    monkeypatch.setattr(store.Store, "tile", tile)
    with byocframe.local_service(demo=True, demo_tiles=2) as service:
        client, cid = service.client(), service.demo_collection
        first, second = (t["id"] for t in client.iter_tiles(cid))
        assert client.get_tile(cid, first.upper())["id"] == first
        monkeypatch.setattr(store.Store, "tile", lambda self, c, t: real(self, c, second))
        with pytest.raises(byocframe.TransportError, match=f"answered tile '{second}'"):
            client.get_tile(cid, first.upper())


def test_an_item_whose_geometry_passes_its_box_fits_an_area_meeting_the_geometry() -> None:
    """Finding 363: a service tests an item's geometry; its ``bbox`` may be narrower.

    A box made from the four corners of a UTM tile, reprojected, misses the bulge of its
    edges in lon/lat (hundreds of metres for a 110 km tile at 60 degrees north). A
    search meeting only the bulge gets the item from an honest service; the check read
    the ``bbox`` alone and ended the search.
    """
    ring = [[10, 60], [12, 60], [12, 61], [11, 61.01], [10, 61], [10, 60]]
    item = {
        "id": "a",
        "bbox": [10, 60, 12, 61],
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"datetime": "2024-06-01T00:00:00Z"},
    }
    assert outside({"bbox": [10.9, 61.005, 11.1, 61.2]})(item) is None
    # neither reaches a box further north
    assert outside({"bbox": [10.9, 61.02, 11.1, 61.2]})(item) is not None

"""`renewed_checks`: the one rule for what a load's record holds after a push.

The frame's write-back and ``byocframe push``'s write-back of a table both renew the
record with it. Truths here are records built field by field by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from byocframe.edits.writeback import renewed_checks
from byocframe.frame.deletions import CHECK_FLAGS, DeleteChecks

COVER_WRITTEN, UNKNOWN, CREATED = (
    CHECK_FLAGS["cover_written"],
    CHECK_FLAGS["unknown"],
    CHECK_FLAGS["created"],
)


def _record(rows: dict[str, dict[str, int]]) -> tuple[pd.Index, np.ndarray]:
    checks = np.zeros(len(rows), dtype=DeleteChecks)
    for k, fields in enumerate(rows.values()):
        for name, value in fields.items():
            checks[k][name] = value
    return pd.Index(list(rows), dtype=object), checks


def _as_dicts(checks: np.ndarray) -> list[dict[str, int]]:
    return [{name: int(c[name]) for name in DeleteChecks.names} for c in checks]


def _row(**fields: int) -> dict[str, int]:
    return {name: fields.get(name, 0) for name in DeleteChecks.names}


def test_a_written_tile_renews_its_time_and_cover_only() -> None:
    before = _record(
        {
            "kept": {"path": 1, "sensing_time": 10, "native": 100, "status": 3},
            "timed": {"path": 2, "sensing_time": 20, "native": 200, "status": 3,
                      "flags": COVER_WRITTEN},
            "gone": {"path": 3, "sensing_time": 30, "native": 300, "status": 3},
        }
    )  # fmt: skip
    # the push's own record: the written tile as the server now holds it (another
    # status, say, after a reingest it never showed), and a tile it created
    pushed = _record(
        {
            "timed": {"path": 9, "sensing_time": 21, "native": 201, "status": 4},
            "made": {"path": 5, "sensing_time": 50, "native": 500, "status": 1,
                     "flags": CREATED | COVER_WRITTEN},
            "kept": {"path": 8, "sensing_time": 11, "native": 101, "status": 4},
        }
    )  # fmt: skip
    after = renewed_checks(["kept", "timed", "made", "lost"], before, pushed, {"timed", "made"})
    assert _as_dicts(after) == [
        _row(path=1, sensing_time=10, native=100, status=3),  # not written: as recorded
        _row(path=2, sensing_time=21, native=201, status=3),  # time and cover renewed
        _row(path=5, sensing_time=50, native=500, status=1, flags=CREATED | COVER_WRITTEN),
        _row(flags=UNKNOWN),  # in neither record: its deletion is refused
    ]


def test_the_cover_flag_follows_only_a_cover_the_push_wrote_or_read() -> None:
    flagged = {"path": 1, "sensing_time": 10, "native": 100, "flags": COVER_WRITTEN | UNKNOWN}
    before = _record({"a": flagged, "b": flagged})
    pushed = _record({"a": {"sensing_time": 11, "native": 101}, "b": {"sensing_time": 12}})
    after = renewed_checks(["a", "b"], before, pushed, ["a", "b"], covered=["a"])
    # a's cover was read back (flag cleared); b's time alone was written (flag kept);
    # the other flags stay as recorded
    assert [int(f) for f in after["flags"]] == [UNKNOWN, COVER_WRITTEN | UNKNOWN]
    assert [int(t) for t in after["sensing_time"]] == [11, 12]


def test_without_a_record_before_the_push_its_own_is_taken() -> None:
    pushed = _record({"a": {"path": 7, "native": 70}})
    after = renewed_checks(["a", "b"], None, pushed, ["a"])
    assert _as_dicts(after) == [_row(path=7, native=70), _row(flags=UNKNOWN)]


def test_a_time_edit_keeps_the_flag_of_a_cover_written_before_and_not_read_back() -> None:
    """A frame's write-back: its second push (the time alone) leaves the cover's flag.

    The first push writes x's cover, unread (no verify ran): the service keeps it with its
    own rounding, so a later deletion must not compare it exactly. The second push writes
    only x's time; its cover is still the one sent, unread.
    """
    import shapely

    import byocframe
    from byocframe.edits.batch import prepare
    from byocframe.edits.diff import plan
    from byocframe.edits.send import send
    from byocframe.edits.writeback import write_back
    from byocframe.frame.deletions import recorded_checks

    def pushed(gdf: pd.DataFrame, client: object) -> None:
        the_plan = plan(gdf)
        batch = prepare(the_plan, gdf, client)
        write_back(gdf, the_plan, batch, send(client, batch).done, client.base_url)

    def flags(gdf: pd.DataFrame, tid: str) -> int:
        ids, checks = recorded_checks(gdf.attrs["byocframe"])
        return int(checks[ids.get_loc(tid)]["flags"])

    with byocframe.local_service(demo=True, demo_tiles=3) as service:
        client = service.client()
        gdf = byocframe.read_tiles(client, service.demo_collection, progress=False)
        x = str(gdf.index[0])
        assert flags(gdf, x) == 0
        gdf.loc[x, "geometry"] = shapely.affinity.translate(gdf.geometry.loc[x], 0.001)
        pushed(gdf, client)
        assert flags(gdf, x) == COVER_WRITTEN
        gdf.loc[x, "sensing_time"] += pd.Timedelta(hours=1)
        pushed(gdf, client)
        assert flags(gdf, x) == COVER_WRITTEN

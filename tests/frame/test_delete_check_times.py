"""How a load's delete record keeps times (finding 144): folded modulo a prime, sealed."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

import byocframe
from byocframe.frame.deletions import (
    CHECK_FLAGS,
    TIME_MODULUS,
    checks_now,
    fold_time,
    recorded_checks,
)
from byocframe.frame.digests import ids_digest
from byocframe.frame.records import times_us
from byocframe.frame.synthetic import synthetic_tiles

SECOND = 10**6


def test_no_round_shift_of_a_time_folds_onto_it():
    # an independent truth: the shift k is unseen only if the modulus divides it
    assert all(TIME_MODULUS % p for p in range(2, int(TIME_MODULUS**0.5) + 1))  # a prime
    t = np.array([1_700_000_000 * SECOND, -86_400 * SECOND, 0, 12_345_678_901], dtype="<i8")
    shifts = [1, SECOND, 60 * SECOND, 3600 * SECOND, 86_400 * SECOND, 365 * 86_400 * SECOND]
    shifts += [2**k * SECOND for k in range(40)] + [2**k for k in range(1, 62)]
    for shift in shifts:
        for sign in (1, -1):
            moved = t + sign * shift
            assert (fold_time(moved) != fold_time(t)).all(), shift
    # what the low 32 bits missed (finding 144) is seen; a multiple of the modulus is not
    assert fold_time(t[0] + 2**26 * SECOND)[0] != fold_time(t[0])[0]
    assert fold_time(t[0] + TIME_MODULUS)[0] == fold_time(t[0])[0]
    assert fold_time(t).dtype == np.dtype("<u4")


def test_a_dropped_rows_record_tells_a_time_moved_by_two_to_the_26_seconds():
    gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=4))
    x = gdf.index[0]
    recorded = checks_now(gdf.iloc[1:], [x])[0]  # x's row dropped: the attrs' record
    assert int(recorded["flags"]) == 0
    moved = gdf.copy()
    moved.loc[x, "sensing_time"] += pd.Timedelta(seconds=2**26)
    now = fold_time(times_us(moved.loc[[x], "sensing_time"]))[0]
    assert now != recorded["sensing_time"]
    assert fold_time(times_us(gdf.loc[[x], "sensing_time"]))[0] == recorded["sensing_time"]


def test_a_record_of_the_old_layout_reads_as_none_and_its_deletions_are_refused():
    gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=4))
    settings = dict(gdf.attrs["byocframe"])
    ids, checks = recorded_checks(settings)
    # the layout written before 2026-12-07: times as their low 32 bits, sealed without
    # the layout's name
    old = checks.copy()
    for name in ("sensing_time", "ingestion_start"):
        full = times_us(gdf.loc[list(ids), name]).view("<u8")
        old[name] = full & np.uint64(0xFFFFFFFF)
    text = base64.b64encode(old.tobytes()).decode("ascii")
    settings["loaded_checks"] = text
    settings["loaded_checks_seal"] = ids_digest(settings["loaded_ids_seal"], [text])
    assert recorded_checks(settings) is None
    gdf.attrs["byocframe"] = settings
    dropped = checks_now(gdf.iloc[1:], [ids[0]])
    assert int(dropped[0]["flags"]) == CHECK_FLAGS["unknown"]

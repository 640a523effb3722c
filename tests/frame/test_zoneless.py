"""`zoneless_times`: which values are times without a time zone (UTC or local? unknown)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from byocframe.frame.records import zoneless_times

#: (value, whether it is a time without a zone), checked one by one below against what
#: pandas itself makes of each value (``pd.Timestamp(value).tzinfo``).
CASES = [
    ("2024-06-01T10:00:00Z", False),
    ("2024-06-01T10:00:00z", False),
    ("2024-06-01T10:00:00+05:30", False),
    ("2024-06-01T10:00:00+0530", False),
    ("2024-06-01T10:00:00+05", False),
    ("2024-06-01T10:00:00-00:00", False),
    ("2024-06-01T10:00:00.123456-03:00", False),
    ("2024-06-01 10:00:00 +05:30", False),
    ("2024-06-01 10:00 UTC", False),
    ("20240601T100000Z", False),
    (" 2024-06-01T10:00:00Z ", False),
    ("2024-06-01T10:00:00", True),
    ("2024-06-01 10:00", True),
    ("2024-06-01", True),  # a date only has no zone either (its "-01" is no offset)
    ("2024-06", True),
    ("not a time", False),  # not a time at all: refused elsewhere, by name
    (dt.datetime(2024, 6, 1, 10), True),
    (dt.datetime(2024, 6, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))), False),
    (pd.Timestamp("2024-06-01T10:00"), True),
    (pd.Timestamp("2024-06-01T10:00Z"), False),
    (dt.date(2024, 6, 1), True),
    (np.datetime64("2024-06-01T10:00"), True),
    ({"not": "a time"}, False),
]
MISSING = [None, np.nan, pd.NaT, pd.NA]


def _pandas_says(value: object) -> bool:
    """The independent truth: one value at a time, as pandas reads it."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return False
    return stamp is not pd.NaT and stamp.tzinfo is None


@pytest.mark.parametrize(("value", "expected"), CASES, ids=[repr(c[0]) for c in CASES])
def test_each_value_alone(value: object, expected: bool) -> None:
    column = pd.Series([value], dtype=object)
    assert zoneless_times(column).tolist() == [expected]
    if value != "2024-06" and value != "2024-06-01":
        assert _pandas_says(value) == expected


def test_a_mixed_column_with_missing_values() -> None:
    values = [c[0] for c in CASES] + MISSING
    expected = [c[1] for c in CASES] + [False] * len(MISSING)
    assert zoneless_times(pd.Series(values, dtype=object)).tolist() == expected


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_texts_in_any_text_dtype(dtype: object) -> None:
    texts = ["2024-06-01T10:00:00Z", None, "2024-06-01T10:00:00", "2024-06-01T10:00:00+05:30"]
    assert zoneless_times(pd.Series(texts, dtype=dtype)).tolist() == [False, False, True, False]


def test_datetime_dtypes() -> None:
    naive = pd.Series(pd.to_datetime(["2024-06-01T10:00", None]))
    assert zoneless_times(naive).tolist() == [True, False]
    assert not zoneless_times(naive.dt.tz_localize("Asia/Kolkata")).any()
    # every value missing: a clear, which needs no zone
    assert not zoneless_times(pd.Series([pd.NaT, pd.NaT])).any()
    assert not zoneless_times(pd.Series([None, None], dtype=object)).any()


def test_numbers_are_times_without_a_zone() -> None:
    # pandas reads a number as nanoseconds since the epoch, in no zone
    assert zoneless_times(pd.Series([1_717_236_000, None])).tolist() == [True, False]


def test_many_texts_agree_with_pandas_one_by_one() -> None:
    rng = np.random.default_rng(5)
    base = pd.Timestamp("2024-01-01")
    seconds = rng.integers(0, 10**8, 2000)
    zones = np.array(["Z", "+05:30", "-0800", "+01", "", " UTC", "-00:00"], dtype=object)
    picked = zones[rng.integers(0, len(zones), len(seconds))]
    texts = [
        (base + pd.Timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%S") + z
        for s, z in zip(seconds, picked, strict=True)
    ]
    got = zoneless_times(pd.Series(texts, dtype=object))
    assert got.tolist() == [_pandas_says(t) for t in texts]
    assert got.sum() == (picked == "").sum() > 0


# -- the two callers: a frame's edit check and a file's times ---------------------------


@pytest.fixture
def tiles():
    import byocframe
    from byocframe.frame.synthetic import synthetic_tiles

    return byocframe.tiles_from_records(synthetic_tiles(5, seed=4))


def test_changes_takes_times_as_texts_with_offsets(tiles) -> None:
    import byocframe

    edited = tiles.copy()
    shifted = edited["sensing_time"].dt.tz_convert("Asia/Kolkata")
    # the same instants, spelled with +05:30: no edit
    edited["sensing_time"] = shifted.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z").astype(object)
    assert byocframe.changes(edited).empty


@pytest.mark.parametrize("spelled", ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"])
def test_changes_refuses_times_without_a_zone(tiles, spelled: str) -> None:
    import byocframe

    edited = tiles.copy()
    texts = edited["sensing_time"].dt.strftime(spelled).astype(object)
    texts.iloc[:2] = None  # missing values lack no zone: the third row is named
    edited["sensing_time"] = texts
    with pytest.raises(byocframe.ValidationError, match=f"time zone \\(row {tiles.index[2]!r}"):
        byocframe.changes(edited)


def test_a_file_s_times_with_offsets_are_read_and_a_date_alone_is_refused(tiles, tmp_path):
    import byocframe

    path = tmp_path / "tiles.csv"
    byocframe.write_file(tiles, path)
    text = path.read_text()
    # one written time, spelled again with its offset from Kolkata
    first = tiles["sensing_time"].iloc[0]
    written = str(first)  # "2024-06-01 22:33:58+00:00"
    assert written in text
    local = first.tz_convert("Asia/Kolkata").strftime("%Y-%m-%dT%H:%M:%S+05:30")
    path.write_text(text.replace(written, local, 1))
    back = byocframe.read_file(path)
    assert back["sensing_time"].iloc[0] == first.floor("s")
    # a date alone is no time in a zone (its "-01" is the day, not an offset)
    path.write_text(text.replace(written, first.strftime("%Y-%m-%d"), 1))
    with pytest.raises(byocframe.ValidationError, match="time without a time zone"):
        byocframe.read_file(path)

"""The camelCase <-> snake_case table, datetimes and nested fields."""

from __future__ import annotations

import pandas as pd
import pytest

from byocframe.frame.records import (
    COLUMN_TO_WIRE,
    WIRE_TO_COLUMN,
    as_record,
    bands_summary,
    dumps,
    format_datetimes,
    loads,
    parse_datetimes,
)


def test_the_table_is_one_to_one():
    assert len(COLUMN_TO_WIRE) == len(WIRE_TO_COLUMN)
    for wire, column in WIRE_TO_COLUMN.items():
        assert column == column.lower()
        assert COLUMN_TO_WIRE[column] == wire


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-11-27T00:00:00Z", "2019-11-27T00:00:00Z"),
        ("2019-11-27T00:00:00.000", "2019-11-27T00:00:00Z"),
        ("2021-01-16T18:44:36.720Z", "2021-01-16T18:44:36.720Z"),
        ("2023-03-16T12:56:22.205845Z", "2023-03-16T12:56:22.205845Z"),
        ("2021-01-01T01:00:00+01:00", "2021-01-01T00:00:00Z"),
        (None, None),
    ],
)
def test_datetimes_round_trip_in_the_service_spelling(text, expected):
    assert format_datetimes(parse_datetimes([text])) == [expected]


def test_bad_datetime_raises():
    with pytest.raises(ValueError, match="yesterday"):
        parse_datetimes(["yesterday"])


def test_json_text_helpers():
    value = {"b": [1, 2.5, None], "a": {"x": "y"}}
    assert loads(dumps(value)) == value
    assert dumps(None) is None
    assert loads(None) is None
    assert loads(float("nan")) is None
    assert loads(pd.NA) is None
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps({"x": float("nan")})


def test_bands_summary_groups_by_format():
    bands = {
        "B01": {"bitDepth": 16},
        "SCL": {"bitDepth": 8},
        "NDVI": {"bitDepth": 32, "sampleFormat": "FLOAT"},
        "B02": {"bitDepth": 16, "sampleFormat": "UINT"},
    }
    assert bands_summary(bands) == "B01, B02 (UINT16); SCL (UINT8); NDVI (FLOAT32)"
    assert bands_summary({}) is None
    assert bands_summary(None) is None


def test_as_record_accepts_objects_with_to_dict():
    class Tile:
        def to_dict(self):
            return {"id": "t", "path": "p", "sensingTime": None, "otherData": {}}

    assert as_record(Tile()) == {"id": "t", "path": "p"}
    with pytest.raises(TypeError, match="must be a dict or a sentinelhub-py ByocCollection"):
        as_record(3, "collection")


def test_datetimes_are_written_as_python_spells_them():
    """Every precision and both sides of 1970, against datetime's own ISO spelling."""
    import datetime as dt

    import numpy as np

    rng = np.random.default_rng(3)
    micros = rng.integers(-1_500_000_000_000_000, 4_000_000_000_000_000, 2_000)
    micros[::3] -= micros[::3] % 1_000  # milliseconds
    micros[::5] -= micros[::5] % 1_000_000  # whole seconds
    values = pd.Series(pd.to_datetime(micros, unit="us", utc=True))
    values.iloc[7] = pd.NaT
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    expected = []
    for i, us in enumerate(micros.tolist()):
        when = epoch + dt.timedelta(microseconds=us)
        fraction = "" if not when.microsecond else f".{when.microsecond:06d}"
        fraction = fraction[:4] if fraction.endswith("000") else fraction
        expected.append(None if i == 7 else when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z")
    assert format_datetimes(values) == expected

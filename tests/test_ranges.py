"""The file objects over ranged reads behave as a file of the same bytes (`io.BytesIO`)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byocframe.bucket.access import RangeFile
from byocframe.bucket.headers import RangeReader

DATA = bytes(range(256)) * 5  # 1,280 bytes: several 100-byte blocks

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("seek"), st.integers(-1500, 1500), st.sampled_from([0, 1, 2])),
        st.tuples(st.just("read"), st.integers(-1, 400)),
        st.tuples(st.just("readinto"), st.integers(0, 400)),
        st.tuples(
            st.just("tell"),
        ),
    ),
    max_size=30,
)


def _apply(f, op):
    if op[0] == "seek":
        target = {0: 0, 1: f.tell(), 2: len(DATA)}[op[2]] + op[1]
        if target < 0:  # BytesIO refuses a negative position; ours stops at 0
            return f.seek(0)
        return f.seek(op[1], op[2])
    if op[0] == "read":
        return f.read(op[1])
    if op[0] == "readinto":
        buffer = bytearray(op[1])
        count = f.readinto(buffer)
        return count, bytes(buffer[:count])
    return f.tell()


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_a_range_file_reads_as_the_bytes_do(ops):
    truth = io.BytesIO(DATA)
    ranged = RangeFile(RangeReader(lambda s, n: DATA[s : s + n], block=100), len(DATA))
    for op in ops:
        assert _apply(ranged, op) == _apply(truth, op), op


def test_a_range_file_refuses_reads_past_its_budget_before_fetching():
    fetched = []

    def fetch(start, size):
        fetched.append((start, size))
        return DATA[start : start + size]

    f = RangeFile(RangeReader(fetch, block=100), len(DATA), max_bytes=150)
    assert f.read(100) == DATA[:100]
    before = list(fetched)
    with pytest.raises(OSError, match="past 150 bytes"):
        f.read(100)
    assert fetched == before
    assert f.breach == "more than 150 bytes"

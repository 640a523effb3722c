"""A misspelt ``by=`` names the column or period meant (a first-hour slip)."""

from __future__ import annotations

import pandas as pd
import pytest

from byocframe.tools.groups import group_labels

FRAME = pd.DataFrame(
    {"sensing_time": pd.to_datetime(["2024-06-03T10:00Z"]), "status": ["INGESTED"]}
)


@pytest.mark.parametrize(
    ("typo", "meant"), [("sensing_tim", "sensing_time"), ("stauts", "status"), ("mnth", "month")]
)
def test_a_misspelt_by_names_what_was_meant(typo, meant):
    with pytest.raises(ValueError, match=rf"did you mean '{meant}'\?"):
        group_labels(FRAME, typo)


def test_a_by_far_from_any_name_gets_no_guess():
    with pytest.raises(ValueError, match="neither a column") as caught:
        group_labels(FRAME, "zzzzzz")
    assert "did you mean" not in str(caught.value)

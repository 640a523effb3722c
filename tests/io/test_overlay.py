"""A table without tokens laid over the collection (`byocframe.io.overlay`).

The truth is the service's own listing after the push: another editor's change made
since the table was listed must still be there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.cli import main

COLUMNS = ["path", "sensing_time", "geometry"]


@pytest.fixture
def service() -> Iterator[Any]:
    with byocframe.local_service(demo=True, demo_tiles=10) as running:
        yield running


def _account(service: Any) -> list[str]:
    return [
        *("--base-url", service.base_url, "--token-url", service.token_url),
        *("--client-id", service.client_id, "--client-secret", service.client_secret),
    ]


def _load(service: Any) -> Any:
    return byocframe.read_tiles(service.client(), service.demo_collection, progress=False)


def test_a_row_pasted_from_a_later_load_leaves_the_other_rows_checked(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One row the listing did not record no longer switches every row's check off."""
    cid, client = service.demo_collection, service.client()
    mine = _load(service)
    x = str(mine.index[(mine["status"] == "INGESTED").to_numpy()][0])
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(mine[COLUMNS], table)
    # a colleague adds a tile; the table takes its row from a later load
    square = shapely.geometry.mapping(shapely.box(10, 45, 10.5, 45.5))
    record = {"path": "new/pasted/(BAND).tif", "coverGeometry": square}
    new = client.create_tile(cid, {**record, "sensingTime": "2024-06-01T00:00:00Z"})["id"]
    saved = byocframe.read_file(table)
    joined = pd.concat([saved, _load(service).loc[[new], COLUMNS]])
    joined.attrs = saved.attrs
    byocframe.write_file(joined, table)
    # another editor moves x's time; the table still holds x's time as listed
    theirs = _load(service)
    theirs.loc[x, "sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
    assert byocframe.push(theirs, client, progress=False)["outcome"].tolist() == ["ok"]
    main(["push", cid, str(table), *_account(service)])
    capsys.readouterr()
    assert _load(service).loc[x, "sensing_time"] == pd.Timestamp("2030-01-01T00:00:00Z")

"""Attack on the everyday in-memory edit path (branch ``attack11``, findings 91 on).

``read_tiles`` -> pandas edits -> ``changes()`` / ``push()`` / ``gdf.byoc.push``, the
command line's ``tiles`` / ``push``, file round trips, two editors on one collection and
a push killed with SIGKILL. Priority: nothing unseen, nothing deleted by mistake. Every
test runs against a fresh local service of a few dozen demo tiles (loopback only). A
test marked ``xfail(strict=True)`` pins a defect open today (its reason names the
finding in ``tests/attack/FINDINGS.md``) and must lose its mark once fixed; the unmarked
tests show what holds, each seen failing once with the code broken on purpose (the
FINDINGS section says how).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

import byocframe
from byocframe.cli import main


@pytest.fixture
def service() -> Iterator[Any]:
    """A fresh local service with 40 demo tiles (39 INGESTED, 1 FAILED)."""
    with byocframe.local_service(demo=True, demo_tiles=40) as running:
        yield running


def _account(service: Any) -> list[str]:
    return [
        *("--base-url", service.base_url, "--token-url", service.token_url),
        *("--client-id", service.client_id, "--client-secret", service.client_secret),
    ]


def _server(service: Any) -> dict[str, dict[str, Any]]:
    """Every tile on the service, by id, as its GET answers it (the independent truth)."""
    client = service.client()
    return {t["id"]: t for t in client.iter_tiles(service.demo_collection)}


def _load(service: Any, **filters: Any) -> gpd.GeoDataFrame:
    return byocframe.read_tiles(
        service.client(), service.demo_collection, progress=False, **filters
    )


def _ingested(frame: gpd.GeoDataFrame) -> list[str]:
    """The INGESTED tiles not shown cut at the antimeridian (plain covers to edit)."""
    width = frame.geometry.bounds["maxx"] - frame.geometry.bounds["minx"]
    return [str(t) for t in frame.index[(frame["status"] == "INGESTED") & (width < 90)]]


def _cover(record: dict[str, Any]) -> Any:
    """A tile's cover as the service answers it, as a shapely geometry in its own CRS."""
    return shapely.geometry.shape(record["coverGeometry"])


def _when(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text)


# --- 91. a table without tokens reverts what another editor pushed since it was saved ---


@pytest.mark.xfail(
    strict=True,
    reason="finding 91: `byocframe push` of a table without 'loaded' lays its stale "
    "sensing times and covers over the collection and writes them back over another "
    "editor's push (reported 'ok')",
)
def test_a_stale_table_without_tokens_never_reverts_another_editors_push(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = service.demo_collection
    client = service.client()
    mine = _load(service)
    x, y = _ingested(mine)[:2]
    # editor A saves a tidy table for a person: the columns to edit, no 'loaded'
    table = tmp_path / "mine.gpkg"
    byocframe.write_file(mine[["path", "sensing_time", "geometry"]], table)
    saved = byocframe.read_file(table)
    assert saved.attrs["byocframe"]["listed_at"]  # the file knows it was a listing
    # editor B loads, fixes x's sensing time, pushes
    theirs = _load(service)
    theirs.loc[x, "sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
    assert byocframe.push(theirs, client, progress=False)["outcome"].tolist() == ["ok"]
    # A edits another tile (y) in the table and pushes it
    saved.loc[y, "sensing_time"] = pd.Timestamp("2031-01-01T00:00:00Z")
    byocframe.write_file(saved, table)
    code = main(["push", cid, str(table), *_account(service)])
    capsys.readouterr()
    server = _server(service)
    if code == 1:  # refused: fine, as long as nothing was sent
        assert _when(server[x]["sensingTime"]) == pd.Timestamp("2030-01-01T00:00:00Z")
        return
    # A's own edit landed, and B's edit is still there
    assert _when(server[y]["sensingTime"]) == pd.Timestamp("2031-01-01T00:00:00Z")
    # today: x is back at its old time, reported as an 'update ok' of A's
    assert _when(server[x]["sensingTime"]) == pd.Timestamp("2030-01-01T00:00:00Z")


def test_a_stale_file_with_tokens_is_a_conflict_not_an_overwrite(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: the same flow with the file as ``write_file`` wrote it (tokens kept)."""
    cid = service.demo_collection
    client = service.client()
    mine = _load(service)
    x, y = _ingested(mine)[:2]
    path = tmp_path / "mine.gpkg"
    byocframe.write_file(mine, path)
    theirs = _load(service)
    theirs.loc[x, "sensing_time"] = pd.Timestamp("2030-01-01T00:00:00Z")
    byocframe.push(theirs, client, progress=False)
    # in another process: A moves x to another time and y too
    edit = textwrap.dedent(
        """
        import sys, pandas as pd, byocframe
        frame = byocframe.read_file(sys.argv[1])
        frame.loc[sys.argv[2], "sensing_time"] = pd.Timestamp("2031-01-01T00:00:00Z")
        frame.loc[sys.argv[3], "sensing_time"] = pd.Timestamp("2031-01-01T00:00:00Z")
        byocframe.write_file(frame, sys.argv[1])
        """
    )
    _child(edit, str(path), x, y)
    assert main(["push", cid, str(path), *_account(service)]) == 2  # one not carried out
    out = capsys.readouterr().out
    assert f"{x}: conflict" in out
    server = _server(service)
    assert _when(server[x]["sensingTime"]) == pd.Timestamp("2030-01-01T00:00:00Z")
    assert _when(server[y]["sensingTime"]) == pd.Timestamp("2031-01-01T00:00:00Z")


def _child(code: str, *args: str, kill_after: int | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a child Python of this checkout (killed if it kills itself)."""
    root = Path(byocframe.__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        timeout=300,
        check=False,
    )
    if kill_after is None:
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done


# --- 92. a frame shown by another geometry column pushes that column as the covers ---


@pytest.mark.xfail(
    strict=True,
    reason="finding 92: after set_geometry('tile_geometry') the push sends the tile "
    "outlines as covers: one sensing time edited, 11 covers replaced",
)
def test_a_frame_shown_by_its_tile_geometry_pushes_no_cover(service: Any) -> None:
    client = service.client()
    loaded = _load(service)
    ingested = loaded[loaded["status"] == "INGESTED"]  # the FAILED tile has no outline
    outlines = ingested.set_geometry("tile_geometry")  # to look at the tiles, say
    x = _ingested(loaded)[0]
    outlines.loc[x, "sensing_time"] += pd.Timedelta(hours=1)  # the one edit
    before = _server(service)
    try:
        result = byocframe.push(outlines, client, progress=False)
    except byocframe.ValidationError:
        assert _server(service) == before  # refused: nothing sent
        return
    after = _server(service)
    moved = [t for t in before if before[t]["coverGeometry"] != after[t]["coverGeometry"]]
    assert moved == []  # today: 11 covers replaced by the tile outlines
    assert result.index.tolist() == [x]


@pytest.mark.xfail(
    strict=True,
    reason="finding 92: after set_geometry('tile_geometry') an edit of the 'geometry' "
    "column (the covers) is neither pushed nor refused",
)
def test_an_edit_of_the_covers_is_seen_whichever_column_is_active(service: Any) -> None:
    loaded = _load(service)
    ingested = loaded[loaded["status"] == "INGESTED"]
    outlines = ingested.set_geometry("tile_geometry")
    # tiles whose outline is recognised as their cover: nothing differs until edited
    same = sorted(set(_ingested(loaded)) - set(byocframe.changes(outlines)["id"]))
    assert len(same) >= 3
    x = same[0]
    outlines.loc[same, "geometry"] = outlines.loc[same, "geometry"].scale(0.5, 0.5)  # halved
    try:
        found = byocframe.changes(outlines)
    except byocframe.ValidationError:
        return  # refused: fine
    assert x in set(found["id"])  # today: empty, the halved covers are never sent


def test_renaming_the_geometry_column_is_no_edit(service: Any) -> None:
    """Held: the cover column under another name (``rename_geometry``) is still the cover."""
    loaded = _load(service)
    renamed = loaded.rename_geometry("cover")
    assert byocframe.changes(renamed).empty
    x = _ingested(loaded)[0]
    renamed.loc[x, "cover"] = shapely.affinity.scale(renamed.loc[x, "cover"], 0.5, 0.5)
    found = byocframe.changes(renamed)
    assert found[["id", "field", "action"]].values.tolist() == [[x, "geometry", "update"]]


# --- 93. a filtered table that lost byocframe's metadata is taken for the collection ---


def _bare_failed_table(service: Any, where: Path, how: str) -> Path:
    """The FAILED tiles (a filtered load) as a tidy table without 'loaded', whose file
    keeps no byocframe metadata: FlatGeobuf (keeps no attrs), or a GeoPackage that
    geopandas saved again (as any GDAL tool does)."""
    failed = _load(service, status="FAILED")
    assert len(failed) == 1 and failed.attrs["byocframe"]["whole"] is False
    tidy = failed[["path", "status", "sensing_time", "geometry"]]
    if how == "fgb":
        path = where / "failed.fgb"
        byocframe.write_file(tidy, path)
        return path
    first, path = where / "failed.gpkg", where / "failed-saved-again.gpkg"
    byocframe.write_file(tidy, first)
    gpd.read_file(first).to_file(path)
    return path


@pytest.mark.xfail(
    strict=True,
    reason="finding 93: a filtered table without tokens in a file without byocframe "
    "metadata, pushed with --delete-missing, plans every tile outside the filter deleted "
    "(39 of 40; only --delete-limit stands in the way)",
)
@pytest.mark.parametrize("how", ["fgb", "gpkg-saved-again"])
def test_a_filtered_table_without_metadata_plans_no_deletion_outside_it(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    path = _bare_failed_table(service, tmp_path, how)
    before = _server(service)
    push = ["push", service.demo_collection, str(path), "--delete-missing", *_account(service)]
    code = main([*push, "--dry-run"])
    out = capsys.readouterr().out
    assert _server(service) == before
    if code == 1:
        return  # refused: fine
    # nothing was dropped from the table: a dry run of it deletes nothing
    assert "would delete 0" in out.splitlines()[0], out.splitlines()[0]


def test_the_same_filtered_table_with_its_metadata_deletes_nothing_outside_it(
    service: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held (finding 2's fix): the table as ``write_file`` wrote it, in a GeoPackage."""
    failed = _load(service, status="FAILED")
    path = tmp_path / "failed.gpkg"
    byocframe.write_file(failed[["path", "status", "sensing_time", "geometry"]], path)
    before = _server(service)
    push = ["push", service.demo_collection, str(path), "--delete-missing", *_account(service)]
    assert main(push) == 0
    assert "nothing to push" in capsys.readouterr().out
    assert _server(service) == before


# --- 94, 95. crashes instead of a refusal by name ---


@pytest.mark.xfail(
    strict=True,
    reason="finding 94: Client.update_tile with a sentinelhub-py ByocTile (as "
    "SentinelHubBYOC.update_tile takes it; create_tile accepts one) raises TypeError",
)
def test_update_tile_takes_a_sentinelhub_tile_as_create_tile_does(service: Any) -> None:
    from sentinelhub import ByocTile

    client, cid = service.client(), service.demo_collection
    tid = next(iter(_server(service)))
    record = client.get_tile(cid, tid)
    tile = ByocTile.from_dict({**record, "sensingTime": "2025-01-01T00:00:00Z"})
    try:
        client.update_tile(cid, tid, tile)
    except byocframe.ByocframeError:
        return  # refused by name: acceptable
    assert _when(client.get_tile(cid, tid)["sensingTime"]) == pd.Timestamp("2025-01-01T00:00Z")
    assert _cover(client.get_tile(cid, tid)).equals(_cover(record))  # the cover kept


def test_create_tile_with_a_sentinelhub_tile_keeps_its_time_and_cover(service: Any) -> None:
    """Held: a ``ByocTile`` with a time in another zone and a UTM cover is created as is."""
    from sentinelhub import CRS, ByocTile, Geometry

    client, cid = service.client(), service.demo_collection
    square = shapely.box(500_000, 5_000_000, 510_000, 5_010_000)
    zone = dt.timezone(dt.timedelta(hours=2))
    tile = ByocTile(
        path="new/dataclass/(BAND).tif",
        sensing_time=dt.datetime(2024, 6, 1, 12, 0, tzinfo=zone),
        cover_geometry=Geometry(square, CRS("32633")),
    )
    made = client.create_tile(cid, tile)
    back = client.get_tile(cid, made["id"])
    assert _when(back["sensingTime"]) == pd.Timestamp("2024-06-01T10:00:00Z")
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
    cover = _cover(back)
    if "32633" not in str(back["coverGeometry"].get("crs")):  # answered in CRS84
        cover = shapely.ops.transform(to_utm.transform, cover)
    assert cover.symmetric_difference(square).area < 1.0  # m^2 of a 10 km square


@pytest.mark.xfail(
    strict=True,
    reason="finding 95: a frame whose cover column was dropped makes changes()/push() "
    "raise geopandas' AttributeError, not a ValidationError naming the column",
)
def test_a_frame_without_its_cover_column_is_refused_by_name(service: Any) -> None:
    loaded = _load(service)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bare = loaded.drop(columns="geometry")  # geopandas keeps a GeoDataFrame
    with pytest.raises(byocframe.ValidationError, match="geometry"):
        byocframe.push(bare, service.client(), progress=False)

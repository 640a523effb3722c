"""Attacks on the fixes of findings 53-55: twins and wrong deletes, and false refusals.

Branch ``attack8`` (tests/attack/FINDINGS.md, findings 56 on). The same world as
``test_attack_reconcile.py`` (moto's S3 on 127.0.0.1, the embedded service), whose
fixtures and `World` are reused. A test marked ``xfail(strict=True)`` pins a defect open
today (its reason names the finding); it must lose its mark once fixed. Unmarked tests
show what holds, including everyday flows the guards must not refuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import test_attack_reconcile as base
from test_attack_reconcile import PATTERN, World

import byocframe
from byocframe.bucket.files import group_tiles
from byocframe.bucket.reconcile import apply_plan, reconcile
from byocframe.cli import main
from byocframe.exceptions import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")

# the fixtures of test_attack_reconcile, registered here under their own names
cog, service, world = base.cog, base.service, base.world


def days(n: int) -> list[str]:
    return [f"t/{d:02d}" for d in range(1, n + 1)]


def failed_then_fixed(world: Any, path: str) -> World:
    """A new collection whose one tile ``path`` FAILED (its file ``t/01/B01.tif`` was not
    a COG), so the collection has no bands yet; then the file is replaced by a COG."""
    w = world([], [])
    w.s3.put_object(Bucket=w.bucket, Key="t/01/B01.tif", Body=b"not a tiff")
    w.client.create_tile(w.cid, {"path": path, "sensingTime": "2024-06-01T00:00:00Z"})
    assert w.statuses() == ["FAILED"]
    assert not (w.client.get_collection(w.cid).get("additionalData") or {}).get("bands")
    w.put("t/01/B01.tif")  # fixed: a COG now
    return w


# --- 1. a FAILED tile whose path is a folder gets a twin on its own files --------------


def test_cli_reconcile_creates_no_twin_of_a_failed_folder_tile(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    w = failed_then_fixed(world, "t/01")
    url = f"s3://{w.bucket}/"
    main(["reconcile", w.cid, url, "--pattern", PATTERN, "--apply", *w.account()])
    capsys.readouterr()
    assert w.paths() == ["t/01"]  # today: ['t/01', 't/01/(BAND).tif']


def test_guide_flow_plans_no_twin_of_a_failed_folder_tile(world: Any) -> None:
    w = failed_then_fixed(world, "t/01")
    tiles, files = w.tiles(), w.files()
    bands = (w.client.get_collection(w.cid).get("additionalData") or {}).get("bands", {})
    plan = reconcile(tiles, files, pattern=PATTERN, bands=bands, s3_bucket=w.bucket)
    assert "create" not in set(plan["action"]), plan[["action", "reason", "path"]]
    # today: create new t/01/(BAND).tif, and apply_plan's own stem check lets it through


def test_a_failed_band_path_tile_gets_no_twin(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: the same flow for a FAILED ``t/01/(BAND)`` (no extension) tile: its stem
    claims ``t/01/(BAND).tif``, so nothing is created."""
    w = failed_then_fixed(world, "t/01/(BAND)")
    url = f"s3://{w.bucket}/"
    main(["reconcile", w.cid, url, "--pattern", PATTERN, "--apply", *w.account()])
    assert "the collection and the bucket agree" in capsys.readouterr().out
    assert w.paths() == ["t/01/(BAND)"]


def test_add_tiles_adds_no_twin_of_a_failed_folder_tile(world: Any) -> None:
    w = failed_then_fixed(world, "t/01")
    frame = byocframe.add_tiles(w.tiles(), group_tiles(w.files(), PATTERN))
    assert frame["path"].tolist() == ["t/01"]  # today: ['t/01', 't/01/(BAND).tif']


# --- 2. add_tiles on a load filtered at the service (finding 55, the guide's other flow) -


def failed_only(world: Any) -> tuple[World, Any]:
    """Tiles ``t/01..03/(BAND)`` (no extension: the service reads ``B01.tif``) ingested,
    ``t/04/(BAND)`` FAILED; the FAILED tiles loaded alone (``whole: False``)."""
    w = world([f"{d}/B01.tif" for d in days(3)], [f"{d}/(BAND)" for d in days(4)])
    assert sorted(w.statuses()) == ["FAILED", "INGESTED", "INGESTED", "INGESTED"]
    failed = byocframe.read_tiles(w.client, w.cid, status="FAILED", progress=False)
    assert failed.attrs["byocframe"]["whole"] is False
    return w, failed


def test_add_tiles_on_a_filtered_load_creates_no_twin(world: Any) -> None:
    w, failed = failed_only(world)
    before = w.paths()
    try:
        frame = byocframe.add_tiles(failed, group_tiles(w.files(), PATTERN))
        frame.byoc.push(w.client, progress=False)
    except ValidationError:
        pass  # refused (add_tiles or the push): fine
    assert w.paths() == before  # today: t/01..03/(BAND).tif created beside t/01..03/(BAND)


def test_reconcile_of_the_same_filtered_load_creates_nothing(world: Any) -> None:
    """Held (55's fix): the same load through reconcile + apply_plan creates no twin."""
    w, failed = failed_only(world)
    before, files = w.paths(), w.files()
    plan = reconcile(failed, files, pattern=PATTERN, s3_bucket=w.bucket)
    assert set(plan["reason"]) == {"partial-load"}
    apply_plan(plan, failed, w.client, candidates=group_tiles(files, PATTERN), progress=False)
    assert w.paths() == before


# --- 3. bands={} on a collection with bands: every tile deleted -----------------------


def test_empty_bands_on_a_collection_with_bands_deletes_nothing(world: Any) -> None:
    red = {"RED": {"source": "B04", "bitDepth": 8, "sampleFormat": "UINT"}}
    w = world([f"{d}/B04.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(3)], red)
    assert w.statuses() == ["INGESTED"] * 3  # every file is there
    tiles, files = w.tiles(), w.files()
    try:
        plan = reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket)
        apply_plan(plan, tiles, w.client, s3=w.s3, progress=False)
    except ValidationError:
        pass  # refused (reconcile or apply_plan): fine
    assert len(w.paths()) == 3  # today: [] (t/0N/RED.tif looked for, "gone")


def test_the_collections_own_bands_delete_nothing_there(world: Any) -> None:
    """Held: the same collection with its own bands (``source`` B04) plans no deletion."""
    red = {"RED": {"source": "B04", "bitDepth": 8, "sampleFormat": "UINT"}}
    w = world([f"{d}/B04.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(3)], red)
    bands = w.client.get_collection(w.cid)["additionalData"]["bands"]
    plan = reconcile(w.tiles(), w.files(), delete=True, bands=bands, s3_bucket=w.bucket)
    assert plan.empty, plan[["action", "reason", "path"]]


# --- 4. everyday flows that must not be refused ----------------------------------------


@pytest.mark.parametrize("how", ["geopandas", "byocframe"])
def test_a_whole_load_saved_to_geoparquet_reconciles_as_loaded(
    world: Any, tmp_path: Path, how: str
) -> None:
    """Held: a whole load saved to GeoParquet (geopandas' own ``to_parquet`` /
    ``read_parquet``, or `write_file` / `read_file`) and read back is still the whole
    collection as loaded: t/03's gone file deletes t/03 (only), and the new t/04 is a
    create, not ``partial-load``."""
    w = world([f"{d}/B01.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(3)])
    w.remove("t/03/B01.tif")
    w.put("t/04/B01.tif")
    where = tmp_path / "tiles.parquet"
    if how == "geopandas":
        w.tiles().to_parquet(where)
        back = gpd.read_parquet(where)
    else:
        byocframe.write_file(w.tiles(), where)
        back = byocframe.read_file(where)
    files = w.files()
    plan = reconcile(back, files, pattern=PATTERN, delete=True, bands={}, s3_bucket=w.bucket)
    acts = sorted(zip(plan["action"], plan["path"], strict=True))
    assert acts == [("create", "t/04/(BAND).tif"), ("delete", "t/03/(BAND).tif")]
    result = apply_plan(
        plan, back, w.client, candidates=group_tiles(files, PATTERN), progress=False
    )
    assert result["outcome"].tolist() == ["ok", "ok"]
    assert w.paths() == ["t/01/(BAND).tif", "t/02/(BAND).tif", "t/04/(BAND).tif"]

"""Attacks on the fixes of findings 56-58: twins, wrong deletes, false refusals.

Branch ``attack9`` (tests/attack/FINDINGS.md, findings 59 on). The same world as
``test_attack_reconcile.py`` (moto's S3 on 127.0.0.1, the embedded service), whose
fixtures and `World` are reused. A test marked ``xfail(strict=True)`` pins a defect open
today (its reason names the finding); it must lose its mark once fixed. Unmarked tests
show what holds, including everyday flows the guards must not refuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


# --- 1. a file with another TIFF extension than its tile's path is taken as the tile's ---


def tif_tile_with_a_tiff_file(world: Any) -> World:
    """Tile ``t/02/(BAND).tif`` ingested; tile ``t/01/(BAND).tif`` FAILED: its file was
    uploaded as ``t/01/B01.tiff``, which a path with the ``.tif`` extension never reads."""
    w = world(["t/02/B01.tif"], ["t/02/(BAND).tif"])
    w.put("t/01/B01.tiff")
    w.client.create_tile(w.cid, {"path": "t/01/(BAND).tif", "sensingTime": "2024-06-01T00:00:00Z"})
    status = {t["path"]: t["status"] for t in w.client.iter_tiles(w.cid)}
    assert status == {"t/01/(BAND).tif": "FAILED", "t/02/(BAND).tif": "INGESTED"}
    return w


def test_a_file_no_tile_reads_is_in_the_plan(world: Any) -> None:
    w = tif_tile_with_a_tiff_file(world)
    tiles, files = w.tiles(), w.files()
    bands = (w.client.get_collection(w.cid).get("additionalData") or {}).get("bands", {})
    plan = reconcile(tiles, files, pattern=r"t/(?P<day>\d\d)/(BAND)\.tiff?", bands=bands)
    named = {key for keys in plan["files"] for key in keys}
    assert "t/01/B01.tiff" in named, plan  # today: the plan is empty ("agree")


def test_cli_does_not_say_agree_over_a_file_no_tile_reads(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    w = tif_tile_with_a_tiff_file(world)
    pattern = r"t/(?P<day>\d\d)/(BAND)\.tiff?"
    main(["reconcile", w.cid, f"s3://{w.bucket}/", "--pattern", pattern, *w.account()])
    out = capsys.readouterr().out
    assert "agree" not in out, out  # today: "the collection and the bucket agree"
    assert "t/01/B01.tiff" in out, out


def test_a_tif_template_keeps_a_tif_file(world: Any) -> None:
    """Held (the control of 59): with the file at ``t/01/B01.tif`` the FAILED tile's own
    file is claimed and nothing is planned but its reingestion (``retry_failed``)."""
    w = world(["t/02/B01.tif"], ["t/02/(BAND).tif"])
    w.s3.put_object(Bucket=w.bucket, Key="t/01/B01.tif", Body=b"not a tiff")
    w.client.create_tile(w.cid, {"path": "t/01/(BAND).tif", "sensingTime": "2024-06-01T00:00:00Z"})
    w.put("t/01/B01.tif")  # fixed
    bands = (w.client.get_collection(w.cid).get("additionalData") or {}).get("bands", {})
    plan = reconcile(w.tiles(), w.files(), pattern=PATTERN, bands=bands, retry_failed=True)
    assert plan[["action", "reason", "path"]].values.tolist() == [
        ["reingest", "failed", "t/01/(BAND).tif"]
    ]


# --- 2. push(delete_missing=True) with original= a frame read back from a file -----------


@pytest.mark.parametrize("ext", ["gpkg", "csv"])
@pytest.mark.parametrize("changed", [False, True])
def test_push_checks_deletions_against_a_file_read_back(
    world: Any, tmp_path: Path, ext: str, changed: bool
) -> None:
    """Held: a whole load written by write_file and read back is a working ``original=``:
    the dropped tile is deleted, unless it was reingested since (then a conflict)."""
    w = world([f"{d}/B01.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(3)])
    tiles = w.tiles()
    byocframe.write_file(tiles, tmp_path / f"t.{ext}")
    back = byocframe.read_file(tmp_path / f"t.{ext}")
    victim = tiles.index[tiles["path"] == "t/03/(BAND).tif"][0]
    if changed:  # another editor reingests it after the load
        w.client.reingest_tile(w.cid, victim)
    result = byocframe.push(
        back.drop(index=victim), w.client, delete_missing=True, original=back, progress=False
    )
    assert result["outcome"].tolist() == ["conflict" if changed else "ok"]
    kept = ["t/03/(BAND).tif"] if changed else []
    assert w.paths() == ["t/01/(BAND).tif", "t/02/(BAND).tif", *kept]


def test_whole_load_read_back_from_gpkg_adds_only_the_new_tile(world: Any, tmp_path: Path) -> None:
    """Held: the guide's add_tiles flow on a whole load saved to GeoPackage and read back."""
    w = world([f"{d}/B01.tif" for d in days(3)], [f"{d}/(BAND).tif" for d in days(2)])
    byocframe.write_file(w.tiles(), tmp_path / "t.gpkg")
    back = byocframe.read_file(tmp_path / "t.gpkg")
    frame = byocframe.add_tiles(back, group_tiles(w.files(), PATTERN))
    assert frame["path"].tolist() == [f"{d}/(BAND).tif" for d in days(3)]
    frame.byoc.push(w.client, progress=False)
    assert w.paths() == [f"{d}/(BAND).tif" for d in days(3)]


# --- 3. a multi-band collection configured by its first tile (bands RGB_1..3, source RGB) -


def rgb_cog(path: Path) -> Path:
    """A three-band COG: auto-configured as bands RGB_1..RGB_3, each with source RGB."""
    import numpy as np
    import rasterio
    import rasterio.shutil
    from affine import Affine

    plain = path.with_suffix(".plain.tif")
    profile = {
        "driver": "GTiff", "width": 256, "height": 256, "count": 3, "dtype": "uint8",
        "crs": "EPSG:32633", "transform": Affine(10, 0, 5e5, 0, -10, 5e6),
    }  # fmt: skip
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(np.full((3, 256, 256), 7, dtype="uint8"))
    rasterio.shutil.copy(plain, path, driver="COG", compress="DEFLATE", blocksize=256)
    return path


def test_empty_bands_on_a_multiband_collection_deletes_nothing(world: Any, tmp_path: Path) -> None:
    """Held (58's fix): ``bands={}`` names the files after the bands (``RGB_1.tif``...),
    finds none and plans healthy tiles deleted; apply_plan refuses, as the collection's
    bands name them by source ``RGB``."""
    w = world([], [])
    rgb = rgb_cog(tmp_path / "rgb.tif")
    for d in days(3):
        w.s3.upload_file(str(rgb), w.bucket, f"{d}/RGB.tif")
        w.client.create_tile(
            w.cid, {"path": f"{d}/(BAND).tif", "sensingTime": "2024-06-01T00:00:00Z"}
        )
    bands = w.client.get_collection(w.cid)["additionalData"]["bands"]
    assert {b["source"] for b in bands.values()} == {"RGB"}
    assert len(bands) == 3
    tiles, files = w.tiles(), w.files()
    plan = reconcile(tiles, files, delete=True, bands={}, s3_bucket=w.bucket)
    assert (plan["action"] == "delete").any()  # the wrong plan
    with pytest.raises(ValidationError, match="bands"):
        apply_plan(plan, tiles, w.client, s3=w.s3, progress=False)
    own = reconcile(tiles, files, delete=True, bands=bands, s3_bucket=w.bucket)
    assert "delete" not in set(own["action"])
    assert w.paths() == [f"{d}/(BAND).tif" for d in days(3)]


# --- 4. a collection where every tile's path is a folder -------------------------------


def test_folder_tiles_cli_reconcile_creates_only_the_new_tile(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held: tiles created as folders (``t/01``: the service rewrites each to
    ``t/01/(BAND).tif`` once ingested) plus a new folder's file: ``reconcile --delete
    --apply`` creates the new tile only and deletes nothing."""
    w = world([f"{d}/B01.tif" for d in days(3)], days(2))
    assert w.paths() == ["t/01/(BAND).tif", "t/02/(BAND).tif"]
    url = f"s3://{w.bucket}/"
    main(["reconcile", w.cid, url, "--pattern", PATTERN, "--delete", "--apply", *w.account()])
    capsys.readouterr()
    assert w.paths() == [f"{d}/(BAND).tif" for d in days(3)]


def test_a_healthy_multiband_collection_plans_nothing(world: Any, tmp_path: Path) -> None:
    w = world([], [])
    rgb = rgb_cog(tmp_path / "rgb.tif")
    for d in days(3):
        w.s3.upload_file(str(rgb), w.bucket, f"{d}/RGB.tif")
        w.client.create_tile(
            w.cid, {"path": f"{d}/(BAND).tif", "sensingTime": "2024-06-01T00:00:00Z"}
        )
    assert w.statuses() == ["INGESTED"] * 3
    bands = w.client.get_collection(w.cid)["additionalData"]["bands"]
    # finding 60: every tile's filesMetadata is keyed by the bands, the first's included
    for tile in w.client.iter_tiles(w.cid):
        assert sorted(tile["additionalData"]["filesMetadata"]) == sorted(bands), tile["path"]
    plan = reconcile(w.tiles(), w.files(), pattern=PATTERN, bands=bands)
    assert plan.empty, plan[["action", "reason", "path"]]  # was: none unknown-band t/01

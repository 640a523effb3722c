"""The local service ingests real files from the local S3; bulk create and reconcile.

The service judges files with its own code (`byocframe.emulator.judge`); these tests
check that the client's tools (`read_bucket`, `failure_causes`, `reconcile`) agree with
it. What the service does per documented rule is pinned in `test_service_file_rules.py`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

import byocframe
from byocframe.bucket.files import read_bucket
from byocframe.bucket.outlines import trace_covers
from byocframe.bucket.reconcile import add_tiles, apply_plan, failure_causes, reconcile
from byocframe.edits.route import push
from byocframe.emulator.cogs import SAMPLE_CASES, SAMPLE_PATTERN, write_cog
from byocframe.file_rules import SERVICE_MESSAGES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")
BANDS = {
    "B01": {"sampleFormat": "UINT", "bitDepth": 8},
    "B02": {"sampleFormat": "UINT", "bitDepth": 8},
}
_names = (f"bucket-{n}" for n in itertools.count())


@pytest.fixture(scope="module")
def service(local_s3: Any) -> Iterator[Any]:
    with byocframe.local_service(s3=local_s3) as running:
        yield running


def _collection(service: Any, folder: Path, *, bands: Any = BANDS) -> tuple[str, str]:
    """A fresh bucket holding the sample files, and a collection on it."""
    name = next(_names)
    service.s3.upload_folder(folder, name)
    body: dict[str, Any] = {"name": name, "s3Bucket": name}
    if bands:
        body["additionalData"] = {"bands": bands}
    return name, service.client().create_collection(body)["id"]


def _create_all(service: Any, name: str, cid: str) -> pd.DataFrame:
    client = service.client()
    tiles = byocframe.read_tiles(client, cid, progress=False)
    candidates = read_bucket(
        f"s3://{name}/", pattern=SAMPLE_PATTERN, s3=service.s3.client(), progress=False
    )
    frame = add_tiles(tiles, candidates)
    result = push(frame, client, progress=False)
    assert (result["outcome"] == "ok").all()
    return byocframe.read_tiles(client, cid, progress=False)


@pytest.fixture(scope="module")
def ingested(service: Any, sample_folder: tuple[Path, dict[str, str]]) -> Any:
    name, cid = _collection(service, sample_folder[0])
    return name, cid, _create_all(service, name, cid)


def test_ingestion_fails_exactly_the_violations(
    ingested: Any, sample_folder: tuple[Path, dict[str, str]]
) -> None:
    _, _, tiles = ingested
    by_path = tiles.set_index("path")
    paths = sample_folder[1]
    assert len(tiles) == len(SAMPLE_CASES)
    for case, rule in SAMPLE_CASES.items():
        assert by_path.loc[paths[case], "status"] == ("FAILED" if rule else "INGESTED"), case
    assert {r for r in SAMPLE_CASES.values() if r} <= set(SERVICE_MESSAGES)
    causes = failure_causes(tiles)
    expected = pd.Series([r for r in SAMPLE_CASES.values() if r]).value_counts()
    assert causes["tiles"].sort_index().to_dict() == expected.sort_index().to_dict()
    assert "unknown" not in causes.index
    assert causes.loc["overviews", "fix"].startswith("add overviews: gdal_translate -of COG")
    assert (
        by_path.loc[paths["overview-blocks"], "failed_ingestion_cause"]
        == "Ensure tiles of image at index 1 have width and height between 256 and 2048"
    )


def test_ingested_metadata_comes_from_the_files(
    ingested: Any, service: Any, sample_folder: tuple[Path, dict[str, str]]
) -> None:
    name, _, tiles = ingested
    folder, paths = sample_folder
    tile = tiles.set_index("path").loc[paths["valid"]]
    meta = byocframe.to_records(tiles[tiles["path"] == paths["valid"]])[0]
    files = meta["additionalData"]["filesMetadata"]
    s3 = service.s3.client()
    for band in ("B01", "B02"):
        key = paths["valid"].replace("(BAND)", band)
        assert files[band]["etag"] == s3.head_object(Bucket=name, Key=key)["ETag"]
        assert 0 < files[band]["headerSize"] < 4096
    with rasterio.open(folder / paths["valid"].replace("(BAND)", "B01")) as src:
        box = src.bounds
    assert shapely.from_wkb(tile["native_tile"]).bounds == pytest.approx(tuple(box))
    assert tile["min_meters_per_pixel"] == 10
    assert tile["max_meters_per_pixel"] == 500


def test_bands_configured_from_the_first_files(
    service: Any, sample_folder: tuple[Path, dict[str, str]]
) -> None:
    _name, cid = _collection(service, sample_folder[0], bands=None)
    client = service.client()
    client.create_tile(cid, {"path": "tiles/valid/2024-06-01/(BAND).tif"})
    bands = client.get_collection(cid)["additionalData"]["bands"]
    assert {b: (s["bitDepth"], s["sampleFormat"]) for b, s in bands.items()} == {
        "B01": (8, "UINT"),
        "B02": (8, "UINT"),
    }
    # a folder path: the band files are found by listing it
    client.create_tile(cid, {"path": "tiles/valid-nodata-corner/2024-06-01"})
    tile = next(t for t in client.iter_tiles(cid) if "nodata" in t["path"])
    assert (tile["status"], tile["path"]) == (
        "INGESTED",
        "tiles/valid-nodata-corner/2024-06-01/(BAND).tif",
    )


def test_existing_paths_are_not_created_twice(service: Any, ingested: Any) -> None:
    name, _, tiles = ingested
    candidates = read_bucket(
        f"s3://{name}/", pattern=SAMPLE_PATTERN, s3=service.s3.client(), progress=False
    )
    assert len(add_tiles(tiles, candidates)) == len(tiles)


def test_fix_reingest_and_reconcile(
    service: Any, sample_folder: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    folder, paths = sample_folder
    name, cid = _collection(service, folder)
    tiles = _create_all(service, name, cid)
    client, s3 = service.client(), service.s3.client()
    files = read_bucket(f"s3://{name}/", s3=s3, progress=False)
    assert reconcile(tiles, files, pattern=SAMPLE_PATTERN).empty  # all in step
    # fix the JPEG file; overwrite a valid file; add a tile's files; delete a tile's file
    jpeg = paths["jpeg"].replace("(BAND)", "B01")
    s3.upload_file(str(write_cog(tmp_path / "fixed.tif")), name, jpeg)
    changed = paths["valid"].replace("(BAND)", "B02")
    s3.upload_file(str(write_cog(tmp_path / "new.tif", seed=7)), name, changed)
    for band in ("B01", "B02"):
        s3.upload_file(
            str(write_cog(tmp_path / f"{band}.tif")), name, f"tiles/new/2024-06-02/{band}.tif"
        )
    s3.delete_object(Bucket=name, Key=paths["valid-nodata-corner"].replace("(BAND)", "B01"))
    files = read_bucket(f"s3://{name}/", s3=s3, progress=False)
    plan = reconcile(tiles, files, pattern=SAMPLE_PATTERN, bands=BANDS, delete=True,
                     retry_failed=True, s3_bucket=name)  # fmt: skip
    by_reason = {r: sorted(g["path"]) for r, g in plan.groupby("reason")}
    assert by_reason["stale"] == [paths["valid"]]
    assert by_reason["files-gone"] == [paths["valid-nodata-corner"]]
    assert by_reason["new"] == ["tiles/new/2024-06-02/(BAND).tif"]
    assert paths["jpeg"] in by_reason["failed"]
    assert plan.set_index("reason").loc["stale", "files"] == [changed]
    candidates = read_bucket(f"s3://{name}/", pattern=SAMPLE_PATTERN, s3=s3, progress=False)
    result = apply_plan(plan, tiles, client, candidates=candidates, s3=s3, progress=False)
    assert (result["outcome"] == "ok").all()
    after = byocframe.read_tiles(client, cid, progress=False).set_index("path")
    assert after.loc[paths["jpeg"], "status"] == "INGESTED"
    assert after.loc["tiles/new/2024-06-02/(BAND).tif", "status"] == "INGESTED"
    assert after.loc["tiles/new/2024-06-02/(BAND).tif", "sensing_time"] == pd.Timestamp(
        "2024-06-02", tz="UTC"
    )
    assert paths["valid-nodata-corner"] not in after.index
    again = reconcile(after.reset_index(), files, pattern=SAMPLE_PATTERN, bands=BANDS)
    # in step again, but for the deleted tile's remaining file: a tile without B01
    assert again[["action", "reason", "path", "detail"]].values.tolist() == [
        ["none", "incomplete", paths["valid-nodata-corner"], "no file for B01"]
    ]


def test_duplicate_paths_and_unused_files(
    service: Any, sample_folder: tuple[Path, dict[str, str]]
) -> None:
    folder, paths = sample_folder
    name, cid = _collection(service, folder)
    client = service.client()
    client.create_tile(cid, {"path": paths["valid"]})
    client.create_tile(cid, {"path": paths["valid"].replace(".tif", ".TIF")})
    tiles = byocframe.read_tiles(client, cid, progress=False)
    files = read_bucket(f"s3://{name}/", s3=service.s3.client(), progress=False)
    plan = reconcile(tiles, files)
    # S3 keys are case-sensitive: the two paths name different files, so neither tile is
    # the other's duplicate (the .TIF one FAILED: its files do not exist)
    assert "duplicate-path" not in set(plan["reason"])
    assert sorted(plan.loc[plan["id"].notna(), "path"]) == []  # neither tile is touched
    unused = plan.loc[plan["reason"] == "unused-file", "files"].sum()
    assert len(unused) == len(files) - 2  # every file but the valid tile's two


def test_traced_covers(
    service: Any, ingested: Any, sample_folder: tuple[Path, dict[str, str]]
) -> None:
    name, _, _ = ingested
    folder, paths = sample_folder
    candidates = read_bucket(
        f"s3://{name}/tiles/valid", pattern=SAMPLE_PATTERN, s3=service.s3.client(),
        progress=False, crs="EPSG:32633",
    )  # fmt: skip
    covers = trace_covers(f"s3://{name}", candidates, s3=service.s3.client())
    by_path = dict(zip(candidates["path"], covers, strict=True))
    boxes = dict(zip(candidates["path"], candidates.geometry, strict=True))
    full = by_path[paths["valid"]]
    assert full.area / boxes[paths["valid"]].area == pytest.approx(1, abs=1e-6)
    corner = by_path[paths["valid-nodata-corner"]]
    with rasterio.open(folder / paths["valid-nodata-corner"].replace("(BAND)", "B01")) as src:
        valid_share = float(np.mean(src.read(1) != src.nodata))
    assert corner.area / boxes[paths["valid-nodata-corner"]].area == pytest.approx(
        valid_share, abs=0.02
    )
    assert shapely.get_num_coordinates(corner) <= 100
    assert corner.is_valid
    shrunk = trace_covers(f"s3://{name}", candidates, buffer=-50, s3=service.s3.client())
    assert (shrunk.area < covers.area).all()


def test_manifest_mode_when_the_bucket_is_not_in_s3(service: Any) -> None:
    client = service.client()
    service.register_files(
        "virtual-only",
        {"t/B01.tif": {"crs": "EPSG:32633", "bounds": [5e5, 5e6, 5.1e5, 5.01e6]}},
    )
    cid = client.create_collection({"name": "v", "s3Bucket": "virtual-only"})["id"]
    client.create_tile(cid, {"path": "t/(BAND).tif"})
    assert [t["status"] for t in client.iter_tiles(cid)] == ["INGESTED"]


def test_trace_a_file_whose_overview_follows_the_pixels(service: Any, ingested: Any) -> None:
    # GTiff layout: the overview's IFD and data come after the full image (a second read)
    name = ingested[0]
    candidates = read_bucket(
        f"s3://{name}/tiles/overview-blocks", pattern=SAMPLE_PATTERN, crs="EPSG:32633",
        s3=service.s3.client(), progress=False,
    )  # fmt: skip
    cover = trace_covers(f"s3://{name}", candidates, s3=service.s3.client()).iloc[0]
    assert cover.area == pytest.approx(candidates.geometry.iloc[0].area)


def test_a_missing_bucket_is_named(local_s3: Any) -> None:
    with pytest.raises(FileNotFoundError, match="s3://no-such-bucket-here: no such bucket"):
        read_bucket("s3://no-such-bucket-here/", s3=local_s3.client(), progress=False)


def test_an_unreadable_bucket_fails_the_tile_not_the_request(
    service: Any, sample_folder: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import EndpointConnectionError

    _name, cid = _collection(service, sample_folder[0])
    client = service.client()
    tid = client.create_tile(cid, {"path": sample_folder[1]["valid"]})["id"]
    assert client.get_tile(cid, tid)["status"] == "INGESTED"

    def down(**_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url=service.s3.endpoint_url)

    # the service reads with the same (shared) boto3 client: the endpoint goes down
    monkeypatch.setattr(service.s3.client(), "list_objects_v2", down)
    client.reingest_tile(cid, tid)
    tile = client.get_tile(cid, tid)
    assert tile["status"] == "FAILED"
    assert (
        tile["additionalData"]["failedIngestionCause"]
        == "Unexpected error occurred while ingesting the tile"
    )
    monkeypatch.undo()
    client.reingest_tile(cid, tid)
    assert client.get_tile(cid, tid)["status"] == "INGESTED"

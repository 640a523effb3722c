"""The command line on files: check, bucket, reconcile (in-process, against loopback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import byocframe
from byocframe.cli import main
from byocframe.emulator.cogs import SAMPLE_CASES, SAMPLE_PATTERN

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")


def test_check_folder_exit_code_and_findings(
    sample_folder: tuple[Path, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sample_folder[0]
    out = tmp_path / "findings.csv"
    code = main(["check", str(folder), "--pattern", SAMPLE_PATTERN, "-o", str(out)])
    assert code == 1
    findings = pd.read_csv(out)
    assert set(findings.loc[findings["severity"] == "error", "rule"]) == {
        r for r in SAMPLE_CASES.values() if r
    }
    printed = capsys.readouterr().out
    assert "ERROR   crs: tiles/crs-2056/2024-06-01/B01.tif: EPSG:2056 is not a CRS" in printed
    assert "fix: reproject: gdalwarp -t_srs EPSG:32632" in printed
    # the valid tiles alone pass
    code = main(["check", str(folder / "tiles" / "valid"), "--pattern", r"[^/]+/(BAND)\.tif"])
    assert code == 0
    assert "no findings" in capsys.readouterr().out


def test_check_with_an_extra_crs(
    sample_folder: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sample_folder[0] / "tiles" / "crs-2056"
    assert main(["check", str(folder), "--pattern", r"[^/]+/(BAND)\.tif"]) == 1
    capsys.readouterr()
    assert (
        main(["check", str(folder), "--pattern", r"[^/]+/(BAND)\.tif", "--crs", "EPSG:2056"]) == 0
    )


def test_bucket_to_parquet_from_s3(
    local_s3: Any, sample_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in local_s3.environment().items():
        monkeypatch.setenv(name, value)  # credentials and endpoint as a user would set them
    out = tmp_path / "files.parquet"
    assert main(["bucket", f"s3://{sample_bucket}/tiles/valid/", "-o", str(out)]) == 0
    files = pd.read_parquet(out)
    assert files["key"].tolist() == [
        "tiles/valid/2024-06-01/B01.tif",
        "tiles/valid/2024-06-01/B02.tif",
    ]
    assert files["image_blocks"].map(len).tolist() == [2, 2]
    tiles_out = tmp_path / "tiles.gpkg"
    args = ["bucket", f"s3://{sample_bucket}/", "-o", str(tiles_out), "--pattern", SAMPLE_PATTERN]
    assert main(args) == 0


def test_reconcile_plan_and_apply(
    local_s3: Any,
    sample_folder: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in local_s3.environment().items():
        monkeypatch.setenv(name, value)
    local_s3.upload_folder(sample_folder[0] / "tiles" / "valid", "cli-reconcile", prefix="v/")
    with byocframe.local_service(s3=local_s3) as service:
        cid = service.client().create_collection({"name": "c", "s3Bucket": "cli-reconcile"})["id"]
        account = [
            *("--base-url", service.base_url, "--token-url", service.token_url),
            *("--client-id", service.client_id, "--client-secret", service.client_secret),
        ]
        pattern = r"v/(?P<sensing_time>[^/]+)/(BAND)\.tif"
        base = ["reconcile", cid, "s3://cli-reconcile/", "--pattern", pattern]
        assert main(base + account) == 0
        assert "create   new            v/2024-06-01/(BAND).tif" in capsys.readouterr().out
        assert main([*base, "--apply", *account]) == 0
        tiles = list(service.client().iter_tiles(cid))
        assert [(t["path"], t["status"]) for t in tiles] == [
            ("v/2024-06-01/(BAND).tif", "INGESTED")
        ]
        capsys.readouterr()
        assert main(base + account) == 0
        assert "agree" in capsys.readouterr().out

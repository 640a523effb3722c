"""Pre-flight checks: every rule of COG_RULES.md found on real files, and only there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from byocframe.bucket.checks import (
    DEFAULT_RULES,
    FINDING_COLUMNS,
    RULES,
    check,
    predict,
    rule_table,
)
from byocframe.bucket.files import files_from_headers, read_bucket
from byocframe.emulator.cogs import SAMPLE_CASES, SAMPLE_PATTERN

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:botocore.*")
UINT8 = {"sampleFormat": "UINT", "bitDepth": 8}


@pytest.fixture(scope="module")
def sample_files(sample_folder: tuple[Path, dict[str, str]]) -> Any:
    return read_bucket(sample_folder[0], progress=False)


def _rules_by_tile(findings: Any, paths: dict[str, str]) -> dict[str, set[str]]:
    errors = findings[findings["severity"] == "error"]
    return {case: set(errors.loc[errors["tile"] == path, "rule"]) for case, path in paths.items()}


def test_each_violation_found_exactly(
    sample_files: Any, sample_folder: tuple[Path, dict[str, str]]
) -> None:
    findings = check(sample_files, pattern=SAMPLE_PATTERN)
    assert tuple(findings.columns) == FINDING_COLUMNS
    found = _rules_by_tile(findings, sample_folder[1])
    expected = {case: {rule} if rule else set() for case, rule in SAMPLE_CASES.items()}
    assert found == expected
    assert findings["message"].str.len().min() > 20
    assert findings["fix"].str.contains(r"gdal|upload|rename|split", regex=True).all()


def test_same_findings_from_s3(
    local_s3: Any, sample_bucket: str, sample_files: Any, sample_folder: tuple[Path, Any]
) -> None:
    from_s3 = check(f"s3://{sample_bucket}/", pattern=SAMPLE_PATTERN, s3=local_s3.client())
    from_folder = check(sample_files, pattern=SAMPLE_PATTERN)
    assert from_s3[["file", "tile", "rule"]].equals(from_folder[["file", "tile", "rule"]])
    missing = from_s3[from_s3["rule"] == "missing-band"]
    assert missing["service_message"].tolist() == [
        "File s3://samples/tiles/missing-band/2024-06-01/B02.tif not found."
    ]


def test_rule_table_is_data(sample_files: Any, sample_folder: tuple[Path, Any]) -> None:
    paths = sample_folder[1]
    swiss = DEFAULT_RULES.replace(supported_crs=DEFAULT_RULES.supported_crs | {"EPSG:2056"})
    found = _rules_by_tile(check(sample_files, pattern=SAMPLE_PATTERN, rules=swiss), paths)
    assert found["crs-2056"] == set()
    assert found["jpeg"] == {"compression"}
    lenient = DEFAULT_RULES.replace(severities={"overviews": "warning"})
    findings = check(sample_files, pattern=SAMPLE_PATTERN, rules=lenient)
    assert findings.loc[findings["rule"] == "overviews", "severity"].tolist() == ["warning"]
    table = rule_table()
    assert list(table.index) == [r.id for r in RULES]
    assert set(table["scope"]) == {"file", "tile"}


def test_collection_bands_decide_the_sample_type(
    sample_files: Any, sample_folder: tuple[Path, Any]
) -> None:
    bands = {"B01": UINT8, "B02": {"sampleFormat": "UINT", "bitDepth": 16}}
    found = _rules_by_tile(
        check(sample_files, pattern=SAMPLE_PATTERN, bands=bands), sample_folder[1]
    )
    assert found["mixed-bit-depth"] == set()  # its B02 is uint16, as the collection says
    assert found["valid"] == {"bit-depth"}


def _write(path: Path, **profile: Any) -> Path:
    count = profile.pop("count", 1)
    dtype = profile.pop("dtype", "uint8")
    path.parent.mkdir(parents=True, exist_ok=True)
    base = {
        "driver": "GTiff", "width": 256, "height": 256, "count": count, "dtype": dtype,
        "crs": "EPSG:32633", "transform": Affine(10.0, 0.0, 5e5, 0.0, -10.0, 5e6),
        "tiled": True, "blockxsize": 256, "blockysize": 256,
    }  # fmt: skip
    with rasterio.open(path, "w", **{**base, **profile}) as dst:
        dst.write(np.ones((count, 256, 256), dtype=dtype))
    return path


@pytest.mark.parametrize(
    ("profile", "rule"),
    [
        ({"dtype": "float64"}, "sample-type"),
        ({"count": 11, "interleave": "pixel"}, "interleave-bands"),
        ({"compress": "lzw", "photometric": "miniswhite"}, "compression-photometric"),
        ({"dtype": "float32", "nodata": float("nan")}, "nodata-nan"),
        ({"compress": "webp", "count": 3, "interleave": "pixel"}, "compression"),
    ],
    ids=["float64", "11-chunky-bands", "lzw-miniswhite", "nan-nodata", "webp"],
)
def test_file_rules_on_real_files(tmp_path: Path, profile: dict[str, Any], rule: str) -> None:
    _write(tmp_path / "t" / "B01.tif", **profile)
    findings = check(read_bucket(tmp_path, progress=False), pattern=r"t/(BAND)\.tif")
    assert findings["rule"].tolist() == [rule]


def test_band_interleaved_may_hold_many_bands(tmp_path: Path) -> None:
    _write(tmp_path / "t" / "B01.tif", count=11, interleave="band")
    assert check(read_bucket(tmp_path, progress=False), pattern=r"t/(BAND)\.tif").empty


def _row(**changes: Any) -> dict[str, Any]:
    row = {
        "key": "t/B01.tif", "crs": "EPSG:32633", "xmin": 5e5, "ymin": 4.8e6, "xmax": 7e5,
        "ymax": 5e6, "width": 20000, "height": 20000, "res_x": 10.0, "res_y": 10.0,
        "bands": 1, "dtype": "uint16", "block_width": 1024, "block_height": 1024,
        "image_sizes": [[20000 // 2**k] * 2 for k in range(8)],
        "image_blocks": [[1024, 1024]] * 8, "overviews": 7, "compression": "DEFLATE",
        "photometric": 1, "header_size": 4000, "interleave": "BAND",
    }  # fmt: skip
    return {**row, **changes}


def test_header_size_limit() -> None:
    files = files_from_headers([_row(header_size=2_000_000)])
    findings = check(files, pattern=r"t/(BAND)\.tif")
    assert findings["rule"].tolist() == ["header-size"]
    assert "2,000,000 bytes" in findings["message"].iloc[0]


def test_unmatched_files_are_warned() -> None:
    files = files_from_headers([_row(), _row(key="elsewhere/B01.tif")])
    findings = check(files, pattern=r"t/(BAND)\.tif")
    assert findings[["file", "rule", "severity"]].values.tolist() == [
        ["elsewhere/B01.tif", "unmatched", "warning"]
    ]


def test_predicted_meters_per_pixel() -> None:
    files = files_from_headers([_row()])
    predicted = predict(files, r"t/(BAND)\.tif").iloc[0]
    # the lowest overview of at least 256 px is 312 px wide: 10 m x 20000 / 312, times 5
    assert predicted["max_meters_per_pixel"] == pytest.approx(5 * 10 * 20000 / 312)
    assert predicted["min_meters_per_pixel"] == 10
    assert predicted["tile_box"] == [5e5, 4.8e6, 7e5, 5e6]
    coarse = _row(res_x=200.0, res_y=200.0, image_sizes=[[20000, 20000]])
    small = predict(files_from_headers([coarse]), r"t/(BAND)\.tif")
    assert small["max_meters_per_pixel"].iloc[0] == 5 * 200  # no overviews: the full image
    tiny = files_from_headers([_row(width=512, height=512, image_sizes=[[512, 512], [256, 256]])])
    assert predict(tiny, r"t/(BAND)\.tif")["max_meters_per_pixel"].iloc[0] == 500  # the floor


def test_files_of_a_tile_in_two_crs() -> None:
    files = files_from_headers([_row(), _row(key="t/B02.tif", crs="EPSG:32634")])
    findings = check(files, pattern=r"t/(BAND)\.tif")
    assert findings[["file", "rule"]].values.tolist() == [["t/B02.tif", "band-crs"]]
    assert "EPSG:32634" in findings["message"].iloc[0]


def test_rotated_and_unreadable_files() -> None:
    files = files_from_headers([_row(rotated=True), _row(key="u/B01.tif", error="not a TIFF")])
    findings = check(files, pattern=r"[tu]/(BAND)\.tif")
    assert findings[["file", "rule"]].values.tolist() == [
        ["t/B01.tif", "rotated"],
        ["u/B01.tif", "header"],
    ]
    header = findings[findings["rule"] == "header"].iloc[0]
    assert header["service_message"] == "Unexpected error occurred while ingesting the tile"

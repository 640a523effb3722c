"""check's patterns (a typo is an error, a plain layout needs none) and exact fix commands."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import byocframe
from byocframe.cli import main
from byocframe.emulator.cogs import SAMPLE_CASES, SAMPLE_PATTERN, write_cog
from byocframe.exceptions import ValidationError


def test_a_pattern_with_a_typo_is_an_error(
    sample_folder: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sample_folder[0]
    typo = SAMPLE_PATTERN.replace("tiles/", "tile/")
    assert main(["check", str(folder), "--pattern", typo]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "matches 0 of 27 GeoTIFFs" in err
    # the suggested pattern works as printed
    suggested = err.split("--pattern '", 1)[1].split("'", 1)[0]
    assert main(["check", str(folder), "--pattern", suggested]) == 1  # the broken samples
    out = capsys.readouterr().out
    assert "unmatched" not in out
    assert "bounds-off" in out


def test_a_pattern_leaving_most_files_unmatched_is_an_error(
    sample_folder: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sample_folder[0]
    only_valid = r"tiles/valid/(?P<sensing_time>[^/]+)/(BAND)\.tif"  # 2 of 27 files
    assert main(["check", str(folder), "--pattern", only_valid]) == 1
    err = capsys.readouterr().err
    assert "matches 2 of 27 GeoTIFFs" in err
    assert "--max-unmatched" in err
    # raised on purpose: the other files are reported one by one, as warnings
    assert main(["check", str(folder), "--pattern", only_valid, "--max-unmatched", "1"]) == 0
    out = capsys.readouterr().out
    assert "0 error(s), 25 warning(s)" in out
    with pytest.raises(ValidationError, match=r"max_unmatched=0\.5"):
        byocframe.check(str(folder), pattern=only_valid, progress=False)


def test_check_infers_the_pattern_of_a_plain_layout(
    sample_folder: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sample_folder[0]
    inferred = byocframe.check(str(folder), progress=False)
    given = byocframe.check(str(folder), pattern=SAMPLE_PATTERN, progress=False)
    assert inferred.attrs["byocframe"]["pattern"] == (
        r"tiles/[^/]+/(?P<sensing_time>\d{4}-\d\d-\d\d)/(BAND)\.(?i:tiff?)"
    )
    pd.testing.assert_frame_equal(inferred, given)
    assert set(inferred.loc[inferred["severity"] == "error", "rule"]) == {
        r for r in SAMPLE_CASES.values() if r
    }
    assert main(["check", str(folder)]) == 1
    assert "pattern (inferred): tiles/[^/]+/" in capsys.readouterr().out


def test_an_ambiguous_layout_says_how_to_write_a_pattern(tmp_path: Path) -> None:
    for name in ("a/scene_one.tif", "b/scene_two.tif", "c/scene_three.tif"):
        write_cog(tmp_path / name, size=256)
    with pytest.raises(ValidationError, match=r"cannot infer a tile pattern: .*--pattern '"):
        byocframe.check(str(tmp_path), progress=False)


@pytest.mark.parametrize(
    ("origin", "box"),
    [
        # the common box's southern edge is 5,000,005 - 5,120 = 4,994,885 (%g: 4.99488e+06)
        ((500_030.0, 5_000_005.0), "500030 4994885 505120 5000000"),
        ((500_030.25, 5_000_005.5), "500030.25 4994885.5 505120 5000000"),
    ],
)
def test_fix_commands_carry_exact_coordinates(
    tmp_path: Path, origin: tuple[float, float], box: str
) -> None:
    # B01 and B02 are 512 px of 10 m: their boxes are independent truths
    write_cog(tmp_path / "t1" / "B01.tif", origin=origin)
    write_cog(tmp_path / "t1" / "B02.tif", origin=(500_000.0, 5_000_000.0))
    findings = byocframe.check(str(tmp_path), pattern=r"t1/(BAND)\.tif", progress=False)
    fixes = findings.loc[findings["rule"] == "band-bounds", "fix"]
    assert len(fixes) == 2
    for fix in fixes:
        assert f"gdalwarp -te {box} -of COG" in fix
    numbers = [float(v) for v in box.split()]
    assert numbers == [origin[0], origin[1] - 5120.0, 505_120.0, 5_000_000.0]

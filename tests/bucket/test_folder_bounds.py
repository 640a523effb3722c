"""A folder bucket never reads outside its root: links leaving it and ``..`` are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from byocframe.bucket.checks import check
from byocframe.bucket.files import open_bucket, read_bucket
from byocframe.bucket.reconcile import trace_covers
from byocframe.emulator.cogs import write_cog


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """``root`` with one COG, and a readable COG ``outside`` it, next to it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    write_cog(root / "t/B01.tif", nodata_corner=True)
    write_cog(outside / "B01.tif")
    return root, outside


def test_a_link_out_of_the_folder_is_a_row_with_the_reason(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    (root / "t/B02.tif").symlink_to(outside / "B01.tif")
    (root / "passwd.tif").symlink_to("/etc/passwd")
    files = read_bucket(root, progress=False).set_index("key")
    assert files.index.tolist() == ["passwd.tif", "t/B01.tif", "t/B02.tif"]
    assert files["error"].isna()["t/B01.tif"]
    for key in ("t/B02.tif", "passwd.tif"):
        assert "leads outside the folder" in files.loc[key, "error"], key
        assert files.loc[key, "bytes_read"] == 0  # nothing was read from the target
        assert files.loc[key, "size"] == len(str((root / key).readlink()))  # the link's own


def test_check_names_the_link(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    (root / "t/B02.tif").symlink_to(outside / "B01.tif")
    findings = check(str(root), pattern=r"(?P<tile>t)/(BAND)\.tif", progress=False)
    header = findings[findings["rule"] == "header"]
    assert header["file"].tolist() == ["t/B02.tif"]
    assert "leads outside the folder" in header["message"].iloc[0]


def test_links_inside_the_folder_are_followed(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "t/B02.tif").symlink_to(root / "t/B01.tif")
    (root / "alias").symlink_to(root / "t", target_is_directory=True)
    files = read_bucket(root, progress=False)
    assert files["error"].isna().all()
    assert open_bucket(root).head("alias/B01.tif") is not None


@pytest.mark.parametrize(
    "key",
    ["../outside/B01.tif", "t/../../outside/B01.tif", "out/B01.tif", "/etc/passwd"],
    ids=["dotdot", "nested-dotdot", "linked-folder", "absolute"],
)
def test_keys_leaving_the_folder_are_refused(layout: tuple[Path, Path], key: str) -> None:
    root, outside = layout
    (root / "out").symlink_to(outside, target_is_directory=True)
    bucket = open_bucket(root)
    assert all(not item.key.startswith("out/") for item in bucket.list())  # not walked into
    with pytest.raises(PermissionError, match="leads outside the folder"):
        bucket.head(key)
    with pytest.raises(PermissionError, match="leads outside the folder"):
        bucket.ranged(key).read(0, 16)


def test_trace_covers_refuses_a_path_outside(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    candidates = read_bucket(
        root, pattern=r"(?P<tile>t)/(BAND)\.tif", crs="EPSG:32633", progress=False
    )
    assert trace_covers(str(root), candidates).notna().all()
    candidates.loc[0, "path"] = "../outside/(BAND).tif"
    with pytest.raises(PermissionError, match=r"'\.\./outside/B01\.tif' leads outside the folder"):
        trace_covers(str(root), candidates)


def _speckled(path: Path, size: int) -> None:
    """A GeoTIFF without overviews whose valid pixels form a checkerboard (no-data 0)."""
    import numpy as np
    import rasterio
    from affine import Affine

    data = ((np.indices((size, size)).sum(axis=0) % 2) * 7).astype("uint8")
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint8"}
    transform = Affine(10, 0, 500_000, 0, -10, 5_000_000)  # 10 m pixels, north up
    with rasterio.open(path, "w", **profile, crs="EPSG:32633", transform=transform, nodata=0) as f:
        f.write(data, 1)


def test_trace_covers_bounds_pixels_and_shapes(tmp_path: Path, monkeypatch) -> None:
    """Both limits are settings named when reached: pixels before reading, shapes as traced.

    Today: the lowest overview is read whole however large its header says it is, and
    its valid pixels are joined however many pieces they form (a checkerboard of
    800 x 800 pixels: 320,000 squares to join).
    """
    import byocframe.bucket.outlines
    from byocframe import ValidationError

    _speckled(tmp_path / "t/B01.tif", 64)
    candidates = read_bucket(
        tmp_path, pattern=r"(?P<tile>t)/(BAND)\.tif", crs="EPSG:32633", progress=False
    )
    monkeypatch.setattr(byocframe.bucket.outlines, "MAX_TRACE_PIXELS", 64 * 64 - 1)
    with pytest.raises(ValidationError, match=r"4,096 pixels.*MAX_TRACE_PIXELS"):
        trace_covers(str(tmp_path), candidates)
    monkeypatch.setattr(byocframe.bucket.outlines, "MAX_TRACE_PIXELS", 64 * 64)
    monkeypatch.setattr(byocframe.bucket.outlines, "MAX_TRACE_SHAPES", 100)
    with pytest.raises(ValidationError, match=r"more than 100 .*MAX_TRACE_SHAPES"):
        trace_covers(str(tmp_path), candidates)
    monkeypatch.setattr(byocframe.bucket.outlines, "MAX_TRACE_SHAPES", 64 * 64 // 2)
    cover = trace_covers(str(tmp_path), candidates, max_points=20_000).iloc[0]
    assert cover.area == pytest.approx(64 * 64 // 2 * 100)  # half the 10 m pixels

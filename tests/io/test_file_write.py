"""write_file never leaves a half-written or mixed file: threads, kill -9, power loss.

The truths are the bytes and rows of the file read back, the folder's listing, and the
order of the system calls (``os.fsync`` of the new file before ``os.replace``, of the
folder after it) as they reach the operating system.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import renamed_durably

import byocframe
from byocframe.frame.synthetic import synthetic_tiles

SUFFIXES = [".parquet", ".gpkg", ".geojson", ".fgb", ".csv"]


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two frames told apart by their ids (different seeds, different sizes)."""
    one = byocframe.tiles_from_records(synthetic_tiles(40, seed=1))
    two = byocframe.tiles_from_records(synthetic_tiles(25, seed=2))
    return one, two


def _beside(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_two_threads_writing_one_file_each_write_it_whole(
    tmp_path: Path, suffix: str, frames: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both threads' files are complete when either renames: one of them wins, whole.

    The seam holds each thread at its rename until both have written their file, the
    interleaving that made two threads of one process share one scratch name.
    """
    target = tmp_path / f"tiles{suffix}"
    both_written = threading.Barrier(2, timeout=120)
    rename = os.replace

    def held(source: Any, destination: Any) -> None:
        if Path(destination) == target:
            both_written.wait()
        rename(source, destination)

    monkeypatch.setattr(os, "replace", held)
    errors: list[BaseException] = []

    def write(frame: pd.DataFrame) -> None:
        try:
            byocframe.write_file(frame, target)
        except BaseException as err:
            errors.append(err)
            both_written.abort()

    threads = [threading.Thread(target=write, args=(f,)) for f in frames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    back = byocframe.read_file(target)
    assert any(list(back.index) == list(f.index) for f in frames)
    assert _beside(tmp_path) == [target.name]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_new_file_and_its_folder_reach_the_disk_around_the_rename(
    tmp_path: Path, suffix: str, frames: Any, disk_calls: list[tuple[str, str]]
) -> None:
    target = tmp_path / f"tiles{suffix}"
    byocframe.write_file(frames[0], target)
    disk_calls.clear()
    byocframe.write_file(frames[1], target)
    assert [kind for kind, _ in disk_calls].count("replace") == 1, disk_calls
    assert renamed_durably(disk_calls, target), disk_calls
    assert list(byocframe.read_file(target).index) == list(frames[1].index)


def test_a_new_file_gets_the_folders_usual_permissions(tmp_path: Path, frames: Any) -> None:
    """As a file opened for writing gets them (the umask's), not a scratch file's 0600."""
    usual = tmp_path / "usual.txt"
    usual.write_text("x")
    for suffix in SUFFIXES:
        target = tmp_path / f"new{suffix}"
        byocframe.write_file(frames[0], target)
        assert target.stat().st_mode & 0o777 == usual.stat().st_mode & 0o777, suffix


_WRITER = """
import os, sys
import byocframe
from byocframe.frame.synthetic import synthetic_tiles

frame = byocframe.tiles_from_records(synthetic_tiles(30, seed=5))
rename = os.replace

def held(source, destination):
    # the new file is written whole: say so, then wait for a line before renaming it
    print("written", flush=True)
    sys.stdin.readline()
    rename(source, destination)

os.replace = held
byocframe.write_file(frame, sys.argv[1])
print("renamed", flush=True)
"""


def _writer(target: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "written"  # blocks until then: no sleep
    return child


@pytest.mark.skipif(os.name != "posix", reason="kill -9 and process ids: POSIX")
@pytest.mark.parametrize("suffix", [".csv", ".gpkg", ".parquet"])
def test_a_writer_killed_halfway_leaves_the_file_and_its_scratch_goes_next_time(
    tmp_path: Path, suffix: str, frames: Any
) -> None:
    target = tmp_path / f"tiles{suffix}"
    byocframe.write_file(frames[0], target)
    kept = target.read_bytes()

    # a writer that is alive keeps its scratch while another writes the same file
    with _writer(target) as alive:
        scratch = [n for n in _beside(tmp_path) if n != target.name]
        assert len(scratch) == 1
        assert scratch[0].startswith(f".{target.name}.")
        byocframe.write_file(frames[1], target)
        assert scratch[0] in _beside(tmp_path)
        assert alive.stdin is not None
        assert alive.stdout is not None
        alive.stdin.write("\n")
        alive.stdin.flush()
        assert alive.stdout.readline().strip() == "renamed"
        assert alive.wait() == 0
    assert _beside(tmp_path) == [target.name]
    kept = target.read_bytes()

    # a writer killed before its rename leaves the file as it was, and its scratch
    with _writer(target) as killed:
        killed.send_signal(signal.SIGKILL)
        assert killed.wait() == -signal.SIGKILL
    assert target.read_bytes() == kept
    assert len(_beside(tmp_path)) == 2
    # ... which a write of another file leaves, and the next write of this one removes
    byocframe.write_file(frames[0], tmp_path / f"other{suffix}")
    assert len(_beside(tmp_path)) == 3
    (tmp_path / f"other{suffix}").unlink()
    byocframe.write_file(frames[1], target)
    assert _beside(tmp_path) == [target.name]
    assert list(byocframe.read_file(target).index) == list(frames[1].index)


def test_another_files_scratch_and_a_lookalike_are_left(tmp_path: Path, frames: Any) -> None:
    """Only the scratch of this file's dead writers goes: names are matched exactly."""
    target = tmp_path / "tiles.csv"
    other = tmp_path / "tiles.csv.bak"
    mine = tmp_path / ".notes.txt"
    for path in (other, mine):
        path.write_text("keep me")
    byocframe.write_file(frames[0], target)
    assert _beside(tmp_path) == sorted([".notes.txt", "tiles.csv", "tiles.csv.bak"])


def test_every_write_then_rename_goes_through_scratch() -> None:
    """One place renames a written file over another: `byocframe.atomic.Scratch`."""
    package = Path(byocframe.__file__).parent
    renaming = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if any(word in path.read_text() for word in ("os.replace(", "os.rename(", ".rename(tar"))
    )
    assert renaming == ["atomic.py"]


@pytest.mark.skipif(os.name != "posix", reason="process ids: POSIX")
def test_a_dataset_write_removes_dead_writers_scratch_once_and_keeps_the_rest(
    tmp_path: Path, frames: Any
) -> None:
    """`write_partitions` looks for stale scratch once (`byocframe.atomic.swept`, finding
    297): what dead writers left of any partition goes, a live writer's and lookalikes stay."""
    from byocframe.atomic import Scratch
    from byocframe.scale.dataset import write_partitions

    with Scratch(tmp_path / "probe.csv") as probe:  # .probe.csv.HOST.PID.HEX.partial.csv
        host = probe.path.name.split(".")[3]

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(gone.stdout)
    stale = [f".part.{k:05d}.parquet.{host}.{dead}.0123abcd.partial.parquet" for k in (1, 7)]
    live = f".part.00002.parquet.{host}.{os.getpid()}.89abcdef.partial.parquet"
    lookalikes = [".notes.txt", f".x.{host}.{dead}.nothex!.partial.parquet"]
    for name in (*stale, live, *lookalikes):
        (tmp_path / name).write_text("x")
    write_partitions(frames[0], tmp_path, by="id", partitions=3)
    left = set(_beside(tmp_path))
    assert not left & set(stale)
    assert {live, *lookalikes} <= left

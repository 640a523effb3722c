"""Progress bars: shown when asked or interactive, a clear error without tqdm."""

from __future__ import annotations

import sys

import pytest

from byocframe.progress import ProgressBar


def test_asked_for_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"pip install 'byocframe\[progress\]'"):
        ProgressBar(10, True, "pushing")
    with ProgressBar(10, None, "pushing") as bar:  # not asked: silently none
        bar.update(10)


def test_counts_on_stderr(capsys):
    pytest.importorskip("tqdm")
    with ProgressBar(None, True, "listing tiles") as bar:
        bar.update(7)
    assert "listing tiles: 7 tiles" in capsys.readouterr().err
    with ProgressBar(0, True, "nothing") as bar:
        bar.update(0)
    assert capsys.readouterr().err == ""

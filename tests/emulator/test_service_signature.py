"""`local_service` and `create_service` have one signature, written once.

``help()``, type checkers and the API reference must all show the keywords, not
``**options``: at run time through ``__wrapped__``, in the docs through the griffe
extension ``docs/griffe_keywords.py``.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest

import byocframe
from byocframe.emulator import create_service

ROOT = Path(__file__).resolve().parents[2]


def test_local_service_has_create_service_s_signature() -> None:
    shown = inspect.signature(byocframe.local_service)
    assert shown == inspect.signature(create_service)
    assert "host" in shown.parameters
    assert "options" not in shown.parameters
    assert byocframe.local_service.__name__ == "local_service"
    assert "background thread" in (byocframe.local_service.__doc__ or "")


def test_an_unknown_keyword_is_refused_before_anything_starts() -> None:
    with pytest.raises(TypeError, match="hots"):
        byocframe.local_service(hots="127.0.0.1")


def test_the_api_reference_reads_the_same_parameters() -> None:
    griffe = pytest.importorskip("griffe")
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from griffe_keywords import KeywordsOf
    finally:
        sys.path.remove(str(ROOT / "docs"))
    plain = griffe.load("byocframe.emulator.service", search_paths=[str(ROOT)])
    assert [p.name for p in plain["local_service"].parameters] == ["options"]
    loaded = griffe.load(
        "byocframe.emulator.service",
        search_paths=[str(ROOT)],
        extensions=griffe.load_extensions(KeywordsOf()),
    )
    names = [p.name for p in loaded["local_service"].parameters]
    assert names == list(inspect.signature(create_service).parameters)
    defaults = {p.name: p.default for p in loaded["local_service"].parameters}
    assert defaults["port"] == "0"

"""The public surface: what `import byocframe` gives and what it costs."""

from __future__ import annotations

import subprocess
import sys

import byocframe


def test_all_names_exist_and_are_sorted():
    assert byocframe.__all__ == sorted(byocframe.__all__)
    for name in byocframe.__all__:
        assert hasattr(byocframe, name), name


def test_public_functions_have_examples():
    for name in byocframe.__all__:
        obj = getattr(byocframe, name)
        if callable(obj) and not isinstance(obj, type):
            assert "Examples" in (obj.__doc__ or ""), f"{name} has no example"


def test_exception_hierarchy():
    assert issubclass(byocframe.ValidationError, byocframe.ByocframeError)
    assert issubclass(byocframe.ValidationError, ValueError)
    for name in ("AuthenticationError", "NotFoundError", "ConflictError", "RateLimitError"):
        assert issubclass(getattr(byocframe, name), byocframe.APIError)
    assert issubclass(byocframe.APIError, byocframe.ByocframeError)


def test_import_does_not_load_plotting_libraries():
    code = (
        "import sys, byocframe\n"
        "heavy = [m for m in ('matplotlib', 'contextily', 'sentinelhub', 'tqdm', 'cql2') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""

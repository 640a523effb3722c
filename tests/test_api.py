"""The public surface: what `import byocframe` gives and what it costs."""

from __future__ import annotations

import importlib
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


def test_import_loads_no_part_of_the_local_service():
    """The client alone: no emulator module, no sqlite3, no http.server (a fresh process)."""
    import subprocess
    import sys

    code = (
        "import sys, byocframe; "
        "loaded = [m for m in sys.modules if m.startswith('byocframe.emulator') "
        "or m in ('sqlite3', 'http.server', 'cql2')]; print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from byocframe import LocalS3, local_service  # still importable by name

    assert callable(local_service)
    assert LocalS3.__name__ == "LocalS3"


def test_the_streaming_loader_is_public():
    # a listing larger than memory goes straight to a file (issue 24)
    assert byocframe.write_listing is byocframe.io.listing.write_listing
    assert "write_listing" in byocframe.__all__


def test_the_stac_loader_sits_beside_the_records_loader():
    """A geopandas / STAC user guesses byocframe.tiles_from_stac from tiles_from_records."""
    assert byocframe.tiles_from_stac is byocframe.stac.tiles_from_stac
    old_home = importlib.import_module("byocframe.io.stac")  # it only hands the name on
    assert old_home.tiles_from_stac is byocframe.tiles_from_stac
    assert "tiles_from_stac" in byocframe.__all__

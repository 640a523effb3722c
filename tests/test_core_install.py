"""The README's first command installs the core only (``pip install -e .``, no extras).

Whatever that command then runs must not need a package that only an extra brings in.
The packages of the extras are hidden from a subprocess (an import of one fails as if it
were not installed) and the demo runs there, as the README's first command runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def closure(requirements: list[str]) -> set[str]:
    """Names of the installed distributions these requirements pull in, transitively."""
    seen: set[tuple[str, str]] = set()
    stack = [Requirement(text) for text in requirements]
    while stack:
        requirement = stack.pop()
        name = canonicalize_name(requirement.name)
        if name == "byocframe":  # byocframe[all]: the requirements of those extras
            extras = PROJECT["optional-dependencies"]
            stack.extend(Requirement(t) for wanted in requirement.extras for t in extras[wanted])
            continue
        wanted = {"", *requirement.extras} - {
            extra for seen_name, extra in seen if seen_name == name
        }
        if not wanted:
            continue
        seen.update((name, extra) for extra in wanted)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:  # an optional package not installed here
            continue
        for text in requires:
            needed = Requirement(text)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in wanted):
                stack.append(needed)
    return {name for name, _ in seen}


def extra_only_modules() -> list[str]:
    """Top-level modules that only an extra installs (in this test environment)."""
    core = closure(PROJECT["dependencies"])
    optional = closure(
        [text for texts in PROJECT["optional-dependencies"].values() for text in texts]
    )
    only = optional - core
    return sorted(
        module
        for module, dists in metadata.packages_distributions().items()
        if dists and all(canonicalize_name(d) in only for d in dists)
    )


HIDE = textwrap.dedent(
    """
    import sys
    from importlib.abc import MetaPathFinder

    HIDDEN = set(sys.argv[1].split(","))

    class Hidden(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hidden())
    sys.argv = ["byocframe", *sys.argv[2:]]
    from byocframe.cli import main

    sys.exit(main())
    """
)


def test_the_extras_modules_are_found():
    hidden = extra_only_modules()
    # what the extras bring and the core does not (the test hides at least these)
    assert {"pystac", "boto3", "moto"} <= set(hidden)
    assert "tqdm" not in hidden  # a core dependency: the demo shows its progress
    assert not {"geopandas", "shapely", "numpy"} & set(hidden)


@pytest.mark.slow
def test_the_demo_runs_on_the_core_install(tmp_path, monkeypatch):
    monkeypatch.setenv("BYOCFRAME_OFFLINE", "1")
    out = tmp_path / "map.png"
    command = ["demo", "--tiles", "300", "--no-basemap", "-o", str(out)]
    done = subprocess.run(
        [sys.executable, "-c", HIDE, ",".join(extra_only_modules()), *command],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.stat().st_size > 10_000

"""pyproject.toml: features are extras, development tools a PEP 735 group, and the one
install-and-test command reads the same in the README, the docs and CI."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TOOLS = {"pytest", "ruff", "mypy", "hypothesis", "mkdocs", "nbclient", "sentinelhub"}


def names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements if isinstance(r, str)}


def test_no_published_extra_carries_development_tools():
    extras = PROJECT["project"]["optional-dependencies"]
    published = {name for deps in extras.values() for name in names(deps)}
    assert published & TOOLS == set()
    assert "test" not in extras
    assert names(PROJECT["dependency-groups"]["test"]) >= TOOLS
    # the group pulls in every optional feature the suite exercises
    assert "byocframe[all]" in PROJECT["dependency-groups"]["test"]
    assert set(Requirement(extras["all"][0]).extras) == {"progress", "stac", "bucket", "local-s3"}


def test_notebook_extra_draws_progress_bars_as_widgets():
    notebook = names(PROJECT["project"]["optional-dependencies"]["notebook"])
    # byocframe.progress draws in a kernel only with ipywidgets importable, via tqdm
    assert {"jupyter", "ipywidgets", "tqdm"} <= notebook
    source = (ROOT / "byocframe" / "progress.py").read_text()
    assert 'find_spec("ipywidgets")' in source


def test_the_test_command_is_the_same_everywhere_and_can_install_groups():
    command = re.compile(r"^python3 -m venv \.venv && .*-m pytest -n auto$", re.M)
    readme = command.findall((ROOT / "README.md").read_text())
    started = command.findall((ROOT / "docs" / "getting-started.md").read_text())
    ci = command.findall((ROOT / ".ci" / "run").read_text())
    assert len(readme) == len(started) == len(ci) == 1
    assert readme == started == ci
    steps = readme[0].split(" && ")
    upgrade = next(i for i, step in enumerate(steps) if '-U "pip>=25.1"' in step)
    group = next(i for i, step in enumerate(steps) if "--group test" in step)
    assert upgrade < group  # pip learnt --group in 25.1; a fresh 3.11 venv has 23.x
    assert "docs/design/dependencies.md" in (ROOT / "README.md").read_text()
    assert (ROOT / "docs" / "design" / "dependencies.md").exists()


def test_a_hung_test_fails_alone_within_the_configured_timeout(tmp_path):
    # the suite's per-test bound (pytest-timeout, `timeout` in pyproject.toml): a test
    # that waits forever fails with a timeout instead of holding CI to its own limit
    assert int(PROJECT["tool"]["pytest"]["ini_options"]["timeout"]) > 0
    (tmp_path / "test_hang.py").write_text(
        "import threading\n\ndef test_hangs():\n    threading.Event().wait()\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout
    assert "Timeout (>2.0s) from pytest-timeout" in done.stdout


def _stub(path, body):
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.mark.parametrize("failing", ["pip", "python"])
def test_ci_stops_when_the_install_or_the_tests_fail(tmp_path, failing):
    # CI must fail when a step of the README's command fails, not go on to the linters
    # with the suite unrun: stand-ins for python3 and the venv's tools record each call
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text((ROOT / ".ci" / "run").read_text())
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    calls = tmp_path / "calls"
    _stub(stubs / "chromium", "exit 0")
    venv = ["pip", "python", "ruff", "mypy", "mkdocs"]
    makers = "\n".join(
        f"printf '#!/bin/sh\\necho {tool} >> {calls}\\nexit {int(tool == failing)}\\n' "
        f"> .venv/bin/{tool}; chmod +x .venv/bin/{tool}"
        for tool in venv
    )
    _stub(stubs / "python3", f"mkdir -p .venv/bin\n{makers}")
    done = subprocess.run(
        ["bash", str(tmp_path / ".ci" / "run")],
        env={"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    ran = calls.read_text().split()
    assert done.returncode != 0, ran
    assert ran[-1] == failing  # nothing ran after the failed step

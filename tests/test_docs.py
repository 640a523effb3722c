"""Every code block of the README and the guides runs as written.

Python blocks of one page run in order in one namespace; shell blocks run in bash. Both
see the variables a reader would have after ``byocframe serve --demo`` in another shell:
``SH_BASE_URL``, ``SH_CLIENT_ID``, ``SH_CLIENT_SECRET``, and ``COLLECTION`` (the demo
collection's id). Blocks that install the package (``pip install``) are what CI itself
runs, and ``byocframe serve`` runs until stopped: those two are not run here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

import byocframe

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "README.md",
    ROOT / "docs" / "getting-started.md",
    *sorted((ROOT / "docs" / "guide").glob("*.md")),
]
#: A fenced block, also one indented under a list item (its indent is taken off the code).
FENCE = re.compile(r"^([ \t]*)```(\w+)[^\n]*\n(.*?)^\1```", re.S | re.M)
NOT_RUN = ("pip install", "byocframe serve")


def blocks(page: Path) -> list[tuple[str, str]]:
    """(language, code) of each fenced block of a Markdown page."""
    return [(m.group(2), textwrap.dedent(m.group(3))) for m in FENCE.finditer(page.read_text())]


@pytest.fixture(scope="module")
def service():
    with byocframe.local_service(demo=True, demo_tiles=1500) as running:
        yield running


@pytest.fixture
def reader_env(service, tmp_path, monkeypatch):
    env = {
        "SH_BASE_URL": service.base_url,
        "SH_CLIENT_ID": service.client_id,
        "SH_CLIENT_SECRET": service.client_secret,
        "COLLECTION": service.demo_collection,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return env


def test_indented_blocks_are_found_and_dedented():
    page = "* a list item:\n\n  ```python\n  x = 1\n  ```\n\n```bash\necho\n```\n"
    found = [(m.group(2), textwrap.dedent(m.group(3))) for m in FENCE.finditer(page)]
    assert found == [("python", "x = 1\n"), ("bash", "echo\n")]


def test_every_page_has_code():
    assert all(blocks(page) for page in PAGES), [p.name for p in PAGES if not blocks(p)]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_runs_as_written(page, reader_env):
    namespace: dict[str, object] = {"__name__": f"docs:{page.name}"}
    ran = 0
    for number, (language, code) in enumerate(blocks(page), start=1):
        if any(skip in code for skip in NOT_RUN):
            continue
        label = f"{page.relative_to(ROOT)} block {number}"
        if language == "python":
            exec(compile(code, label, "exec"), namespace)
            plt.close("all")
        elif language in ("bash", "sh", "shell"):
            bin_dir = str(Path(sys.executable).parent)
            done = subprocess.run(
                ["bash", "-e", "-c", code],
                env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"]},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, f"{label}:\n{code}\n{done.stderr[-3000:]}"
        else:
            continue
        ran += 1
    assert ran or page.name == "README.md"


# An AOI the way the pages write it: aoi=(w, s, e, n), aoi = (...), gaps((w, s, e, n)),
# --aoi=w,s,e,n
AOI = re.compile(
    r"(?:aoi\s*=\s*\(|gaps\(\(|--aoi[= ])\s*"
    r"(-?[\d.]+),\s*(-?[\d.]+),\s*(-?[\d.]+),\s*(-?[\d.]+)"
)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_documented_aoi_shows_tiles_of_the_demo(service):
    """An example AOI over no demo tile would print zeros and a gap the size of the AOI."""
    docstrings = sorted((ROOT / "byocframe").rglob("*.py"))
    texts = {p.relative_to(ROOT).as_posix(): p.read_text() for p in [*PAGES, *docstrings]}
    texts |= {p.relative_to(ROOT).as_posix(): p.read_text() for p in (ROOT / "docs").glob("*.md")}
    for notebook in NOTEBOOKS:  # the code cells of those on the demo collection
        cells = json.loads(notebook.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if "demo=True" in code:
            texts[notebook.relative_to(ROOT).as_posix()] = code
    aois = {
        tuple(float(v) for v in match.groups()): name
        for name, text in texts.items()
        for match in AOI.finditer(text)
    }
    assert (-60, -30, -45, -15) in aois  # the pattern finds the examples
    assert AOI.search(texts["notebooks/byoc_with_byocframe.ipynb"])  # and the notebook's
    gdf = byocframe.read_tiles(service.client(), service.demo_collection)
    for aoi, name in aois.items():
        row = gdf.byoc.coverage(aoi=aoi).iloc[0]
        assert row["tiles"] > 0, f"{aoi} in {name}: no demo tile"
        assert row["covered_fraction"] > 0.05, f"{aoi} in {name}: {row['covered_fraction']:.3f}"
        left = gdf.byoc.gaps(aoi)["area_km2"].sum()
        assert left < 0.95 * row["aoi_km2"], f"{aoi} in {name}: the gap is the whole AOI"


def test_plain_to_file_stops_as_the_loading_guide_says(tmp_path):
    """The guide quotes geopandas' refusal of a tile frame's two geometry columns."""
    from byocframe.frame.synthetic import synthetic_tiles

    guide = (ROOT / "docs" / "guide" / "loading.md").read_text()
    quoted = re.search(r'geopandas\' "([^"]+)"', guide)
    assert quoted is not None
    gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    with pytest.raises(ValueError, match=quoted.group(1).replace("\n", " ")):
        gdf.to_file(tmp_path / "tiles.gpkg")


def test_the_reference_documents_every_public_name():
    """Each name `byocframe` exports has a ``:::`` entry, or its module has one."""
    import importlib

    entries = set(re.findall(r"^::: ([\w.]+)$", (ROOT / "docs" / "reference.md").read_text(), re.M))
    for entry in entries:  # each resolves (mkdocstrings would fail the strict build)
        module, _, name = entry.rpartition(".")
        parent = importlib.import_module(module)
        if not hasattr(parent, name):  # a module is an attribute only once imported
            importlib.import_module(entry)  # raises for a name that is neither
    missing = []
    for name in byocframe.__all__:
        if name == "__version__":
            continue
        home = getattr(getattr(byocframe, name), "__module__", "")
        if not {f"byocframe.{name}", home, f"{home}.{name}"} & entries:
            missing.append(name)
    assert missing == [], f"add '::: byocframe.<name>' to docs/reference.md for {missing}"


def test_no_page_writes_the_readers_configuration():
    """Copying a page's code never saves a sentinelhub-py profile (``SHConfig.save``)."""
    saving = re.compile(r"\b(?!m\.)\w+\.save\(")  # m.save("tiles.html") writes a web map
    for page in PAGES:
        for number, (language, code) in enumerate(blocks(page), start=1):
            found = [line.strip() for line in code.splitlines() if saving.search(line)]
            assert language != "python" or not found, f"{page.name} block {number}: {found}"

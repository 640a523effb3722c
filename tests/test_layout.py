"""The package's layout: imports run down the parts, and the local service stands apart.

The parts and their order are in ``docs/design/layout.md``. Only imports that run count
(those under ``if TYPE_CHECKING:`` do not).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import byocframe

PACKAGE = Path(byocframe.__file__).parent
#: Each part's floor: a module may import its own part and parts on lower floors only.
FLOORS = {
    "exceptions": 0, "ids": 1, "atomic": 1, "moved": 1, "progress": 1, "file_rules": 1,
    "typing": 1, "log_capture": 1, "ranges": 1,
    "geo": 2, "tools": 3, "frame": 4, "client": 4, "stac": 5, "io": 6, "edits": 7,
    "bucket": 8, "maps": 8, "scale": 8, "testing": 9, "accessor": 9, "cli": 10, "__main__": 10,
}  # fmt: skip
#: What the local service may use of the client's side: geometry, the data-only file
#: rules, the errors, progress bars, tifffile's collected log (`log_capture`), the file
#: object over ranged reads that tifffile is handed (`ranges`), the demo's
#: synthetic listings, `Client` (for
#: ``service.client()``), `to_records` (``service.seed`` takes a tile frame) and
#: `check_parquet_rows` (a seeding file gets `read_file`'s bounds; finding 123).
SERVICE_MAY_USE = {
    "byocframe", "byocframe.exceptions", "byocframe.file_rules", "byocframe.progress",
    "byocframe.log_capture", "byocframe.ranges",
    "byocframe.geo", "byocframe.geo.crs", "byocframe.geo.geojson", "byocframe.geo.geometry",
    "byocframe.frame.synthetic", "byocframe.frame.convert", "byocframe.client.api",
    "byocframe.io.files",
}  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _runtime_imports(path: Path) -> set[str]:
    """The byocframe modules ``path`` imports when it runs (not for type checking)."""
    tree = ast.parse(path.read_text())
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for n in ast.walk(stmt)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "byocframe":
                found |= {f"byocframe.{a.name}" for a in node.names}
            elif node.module.startswith("byocframe."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("byocframe.")}
    return found


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


MODULES = _modules()


@pytest.mark.parametrize(
    "name", sorted(m for m in MODULES if _part(m) not in (None, "emulator", "data"))
)
def test_imports_run_down_the_parts(name):
    part = _part(name)
    assert part in FLOORS, f"{name}: a part with no floor; add it to FLOORS and layout.md"
    for target in _runtime_imports(MODULES[name]):
        other = _part(target)
        if other is None or other == part or other not in FLOORS:
            continue
        assert FLOORS[other] < FLOORS[part] or FLOORS[part] >= 10, f"{name} imports {target}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if _part(m) == "emulator"))
def test_the_local_service_uses_only_what_it_may(name):
    used = {t for t in _runtime_imports(MODULES[name]) if not t.startswith("byocframe.emulator")}
    assert used <= SERVICE_MAY_USE, f"{name} imports {sorted(used - SERVICE_MAY_USE)}"


def test_no_module_imports_an_underscore_name_of_another():
    offenders = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and module != name and module.startswith("byocframe"):
                offenders += [f"{name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert offenders == []


def test_tests_import_no_underscore_name():
    offenders = []
    for path in Path(__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("byocframe"):
                offenders += [
                    f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")
                ]
    assert offenders == []


def test_import_byocframe_loads_no_part_of_the_local_service():
    code = (
        "import sys, byocframe\n"
        "bad = [m for m in sys.modules if m.startswith('byocframe.emulator')"
        " or m in ('sqlite3', 'http.server')]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "part", ["geo", "tools", "frame", "client", "stac", "io", "edits", "bucket", "maps"]
)
def test_each_face_hands_on_what_it_lists(part):
    import importlib

    face = importlib.import_module(f"byocframe.{part}")
    assert face.__all__, f"byocframe.{part} lists no public names"
    for name in face.__all__:
        assert getattr(face, name) is not None
        assert not isinstance(getattr(face, name), type(sys)), (
            f"byocframe.{part}.{name} is a module"
        )

"""The layout as installed: one import root, the layer contracts (import-linter), nothing built at import.

The contracts are checked on a real (non-editable) install, because grimp finds a package's modules by walking its
folder, and in the editable install ``crimelink.streams`` and its siblings live in other folders of the repository.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = {"crimelink": REPO / "crimelink", "crimelink.schemas": REPO / "schemas",
                "crimelink.streams": REPO / "streams", "crimelink.sinks": REPO / "sinks"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(REPO)],
                   check=True, capture_output=True)
    return target


def _run(target: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Python with only ``target`` (and the standard library and the venv's packages) to import from."""
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, "-P", "-c", code], cwd=target, env=env, capture_output=True, text=True)


def test_an_install_adds_nothing_but_crimelink(installed: Path) -> None:
    top_level = {path.name for path in installed.iterdir() if path.name != "bin" and not path.name.endswith(".dist-info")}
    assert top_level == {"crimelink"}
    for name in ("streams", "sinks", "schemas"):
        assert "ModuleNotFoundError" in _run(installed, f"import {name}").stderr
    shipped = _run(installed, "import crimelink.streams.web, crimelink.schemas.reference as r; "
                              "print(r.REFERENCE_DIR.is_dir(), (r.REFERENCE_DIR / 'stores.csv').is_file())")
    assert shipped.stdout.split() == ["True", "True"], shipped.stderr


def test_the_layer_contracts_hold(installed: Path) -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache", str(REPO / "pyproject.toml")], cwd=installed, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(installed)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_package_folder_is_installed() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for package, folder in SOURCE_ROOTS.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((package, *relative)))
    assert found == listed


def test_importing_every_module_builds_no_app_and_reads_no_settings(installed: Path) -> None:
    code = """
import gc, importlib, pkgutil
import crimelink
from crimelink.settings import get_settings
names = [m.name for m in pkgutil.walk_packages(crimelink.__path__, "crimelink.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
import faust
apps = [o for o in gc.get_objects() if isinstance(o, faust.App)]
print(len(names), get_settings.cache_info().currsize, len(apps))
"""
    result = _run(installed, code)  # the installed copy, whose folders are its packages' (pkgutil walks folders)
    assert result.returncode == 0, result.stderr
    modules, settings_read, apps = map(int, result.stdout.split())
    assert modules > 60 and (settings_read, apps) == (0, 0)


def test_only_the_command_line_reads_the_settings() -> None:
    """Everything below the command line is handed its settings (crimelink.settings), so tests and tools can pass
    their own."""
    callers = []
    for folder in SOURCE_ROOTS.values():
        for path in folder.rglob("*.py"):
            if REPO / "crimelink" / "cli" in path.parents or path == REPO / "crimelink" / "settings.py":
                continue
            tree = ast.parse(path.read_text())
            callers += [f"{path.relative_to(REPO)}:{node.lineno}" for node in ast.walk(tree)
                        if isinstance(node, ast.Name) and node.id == "get_settings"]
    assert callers == []

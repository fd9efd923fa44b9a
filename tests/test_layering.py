"""The architecture rules, checked on the source so they stay true: the
import-linter contracts in pyproject.toml (layers, the core without adapters
or Textual, widgets without sources, sources and demo independent, no import
circles). `make test` runs lint-imports too; this puts a broken contract in
the pytest run as well."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )


def test_the_import_contracts_are_kept():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    for name in ("console", "widgets"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_a_core_module_importing_a_source_breaks_a_contract(tmp_path):
    root = _copy(tmp_path)
    _append(root / "console/model/fleet.py", "import console.sources.kube  # noqa")
    result = lint(root)
    assert result.returncode != 0
    assert "The core reaches no adapter, no UI and no I/O library BROKEN" in result.stdout


def test_a_widget_importing_the_demo_breaks_a_contract(tmp_path):
    root = _copy(tmp_path)
    _append(root / "widgets/board.py", "import console.demo.fleet  # noqa")
    result = lint(root)
    assert result.returncode != 0
    assert "Widgets show data: no adapter, no I/O library BROKEN" in result.stdout


def test_an_import_circle_breaks_a_contract(tmp_path):
    root = _copy(tmp_path)
    _append(root / "console/incident/store.py", "import console.incident.journal  # noqa")
    result = lint(root)
    assert result.returncode != 0
    assert "No import circles between the modules of a package BROKEN" in result.stdout

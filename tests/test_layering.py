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


@pytest.mark.parametrize("module, line, broken", [
    ("console/model/fleet.py", "import console.sources.kube  # noqa",
     "The core reaches no adapter, no UI and no I/O library"),
    ("widgets/board.py", "import console.demo.fleet  # noqa",
     "Widgets show data: no adapter, no I/O library"),
    ("console/incident/store.py", "import console.incident.journal  # noqa",
     "No import circles between the modules of a package"),
], ids=["core-imports-a-source", "widget-imports-the-demo", "import-circle"])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, line, broken):
    root = _copy(tmp_path)
    _append(root / module, line)
    result = lint(root)
    assert result.returncode != 0
    assert f"{broken} BROKEN" in result.stdout

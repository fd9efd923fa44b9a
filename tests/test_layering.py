"""The architecture rules, checked on the source so they stay true:
widgets know nothing of the sources; the model, the sources and the non-UI
logic in console/ run without Textual."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
# The only console/ modules allowed to import Textual or widgets.
UI_MODULES = {"console/app.py", "console/app_mitigate.py", "console/app_incident.py",
              "console/app_journal.py"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(package: str) -> list[Path]:
    found = sorted((ROOT / package).rglob("*.py"))
    assert found, f"no modules under {package}/"
    return found


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# The data the widgets may receive: plain models, no source, no I/O.
DATA_MODULES = ("console.model.fleet", "console.mitigations.plan", "console.mitigations.recorder", "console.diagnosis.gather",
                "console.model.probe", "console.text")


def _data_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in DATA_MODULES)


@pytest.mark.parametrize("path", modules("widgets"), ids=rel)
def test_widgets_import_only_data_from_console(path):
    bad = {name for name in imports(path) if name.startswith("console") and not _data_module(name)}
    assert not bad, f"{rel(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("module", DATA_MODULES)
def test_data_modules_reach_no_source(module):
    path = ROOT / (module.replace(".", "/") + ".py")
    bad = {n for n in imports(path) if n.startswith(("console.sources", "console.demo", "httpx"))}
    assert not bad, f"{module} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path", [p for p in modules("console") if rel(p) not in UI_MODULES], ids=rel
)
def test_console_core_does_not_import_textual(path):
    bad = {n for n in imports(path) if n.split(".")[0] in ("textual", "widgets")}
    assert not bad, f"{rel(path)} imports {sorted(bad)}"


def test_the_rule_catches_a_violation(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("from textual.widgets import DataTable\nimport console.sources.base\n")
    assert {"textual.widgets", "console.sources.base"} <= imports(sample)

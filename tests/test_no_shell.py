"""No shell anywhere: the application starts no process (the cluster is
reached through its API, the exec check through the API's exec endpoint)
except where the user's own config names a program to run (a kubeconfig's
exec credential plugin, as kubectl runs it), git log of the service map's
repo and the console's own poll process, and nothing, tests and tools
included, ever goes through a shell."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("console", "widgets")
PROCESS_MODULES = {"subprocess", "os.system", "os.popen", "os.spawn", "pty", "commands"}
OS_PROCESS_CALLS = {"system", "popen", "execl", "execle", "execlp", "execv", "execve",
                    "execvp", "execvpe", "spawnl", "spawnv", "spawnve", "posix_spawn",
                    "posix_spawnp", "startfile"}


def python_files(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def problems(path: Path, *, app: bool) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if app and isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                node.module or ""]
            found += [f"line {node.lineno}: imports {n}" for n in names
                      if n.split(".")[0] in ("subprocess", "pty")]
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in OS_PROCESS_CALLS and isinstance(
                func.value, ast.Name) and func.value.id == "os":
            found.append(f"line {node.lineno}: os.{func.attr}()")
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant)
                                          and kw.value.value is False):
                found.append(f"line {node.lineno}: shell={ast.unparse(kw.value)}")
        if isinstance(func, ast.Attribute) and func.attr in ("getoutput", "getstatusoutput"):
            found.append(f"line {node.lineno}: subprocess.{func.attr}() runs a shell")
    return found


#: The modules that run a program, as an argument list (their shell check
#: still applies: see the test below): the kubeconfig's exec plugin, git log
#: for the recent commits (runbook Diagnosis 3, issue 17), and the poll
#: process (the console's own Python running console.sources.pollproc).
RUNS_A_PROGRAM = {"console/sources/kubecreds.py", "console/sources/git.py",
                  "console/sources/pollproc/proxy.py"}


@pytest.mark.parametrize("path", python_files(*APP_PACKAGES), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_application_starts_no_process(path):
    allowed = str(path.relative_to(ROOT)) in RUNS_A_PROGRAM
    assert problems(path, app=not allowed) == []


@pytest.mark.parametrize("path", python_files("tests", "screenshots"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_tests_and_tools_never_use_a_shell(path):
    assert problems(path, app=False) == []


def test_the_check_catches_each_kind(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text(
        "import subprocess, os\n"
        "subprocess.run('ls', shell=True)\n"
        "os.system('ls')\n"
        "subprocess.getoutput('ls')\n"
    )
    found = problems(sample, app=True)
    assert len(found) == 4, found

"""Issue 15's "Must show" table for one checkout: the App class, the largest
class and file, private Textual names, import-linter contracts, import circles.

  App class      lines of CBConsoleApp, and with the project's own base
                 classes (mixins) added;
  largest        class and file in console/ and widgets/ (lines, decorators
                 and docstrings included); how many are over 300 / 400;
  private        a use of a Textual private name in console/, widgets/,
  Textual names  tests/, screenshots/: an import of a private Textual module,
                 or of a _name from textual; `x._name` where Textual binds _name and
                 the project nowhere does; a method or attribute _name bound
                 in a class with a Textual base whose own classes bind _name
                 (an override of Textual's internals). `x._name` where both
                 bind it is listed apart as "ambiguous", for a human to judge;
  contracts      what `lint-imports` (run in ROOT) says: kept / broken;
  circles        strongly connected groups of modules in the import graph
                 of console and widgets (grimp, lazy imports included).

Usage: python tests/bench/house.py [ROOT] [--touched BASE..BRANCH]
(--touched: the files a branch changed, e.g. a throwaway mitigation's.)
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import textual

CODE = ("console", "widgets")
SCANNED = ("console", "widgets", "tests", "screenshots")


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name != "_"


def bound_names(tree: ast.AST, own_only: bool = False) -> set[str]:
    """Every private name a module binds: defs, classes, assignments (to
    attributes too), imports. `own_only`: attributes set on self or cls only
    (a test setting a private attribute on the app binds no name of its own)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if not own_only or (isinstance(node.value, ast.Name)
                                and node.value.id in ("self", "cls")):
                names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {n for n in names if private(n)}


def textual_names() -> set[str]:
    names: set[str] = set()
    for path in Path(inspect.getfile(textual)).parent.rglob("*.py"):
        names |= bound_names(ast.parse(path.read_text(encoding="utf-8")))
    return names


def class_private_names(cls: type) -> set[str]:
    """The private names Textual's own classes in `cls`'s MRO bind."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("textual"):
            continue
        names |= {n for n in vars(klass) if private(n)}
        try:
            tree = ast.parse(inspect.cleandoc("\n" + inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        # Its instances' attributes: self._x set in its methods (no locals).
        names |= {node.attr for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id == "self"
                  and private(node.attr)}
    return names


def textual_bases(tree: ast.Module) -> dict[str, type]:
    """Names this module imports from textual that are classes."""
    found: dict[str, type] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("textual"):
            try:
                module = importlib.import_module(node.module)
            except ImportError:
                continue
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if inspect.isclass(value):
                    found[alias.asname or alias.name] = value
    return found


def private_textual_uses(root: Path) -> tuple[list[str], list[str]]:
    files = [p for d in SCANNED for p in sorted((root / d).rglob("*.py"))]
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in files}
    ours = set().union(*(bound_names(t, own_only=True) for t in trees.values()))
    theirs = textual_names()
    # Project classes by name -> the Textual classes they derive from, through
    # project bases too (a board subclassing a project ScrollView subclass).
    bases_of: dict[str, tuple[list[type], list[str]]] = {}
    for tree in trees.values():
        imported = textual_bases(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = [b.id for b in node.bases if isinstance(b, ast.Name)]
                bases_of[node.name] = ([imported[n] for n in names if n in imported],
                                       [n for n in names if n not in imported])

    def inherited(name: str, seen: frozenset = frozenset()) -> set[str]:
        klasses, projects = bases_of.get(name, ([], []))
        names = set().union(set(), *(class_private_names(k) for k in klasses))
        for base in projects:
            if base in bases_of and base not in seen:
                names |= inherited(base, seen | {name})
        return names

    definite, ambiguous = [], []
    for path, tree in trees.items():
        where = path.relative_to(root)
        selfs: dict[int, tuple[str, set[str]]] = {}  # id(self attribute) -> its class
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = inherited(node.name)
                for inner in ast.walk(node):
                    if (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
                            and inner.value.id in ("self", "cls")):
                        selfs[id(inner)] = (node.name, names)
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("textual"):
                if any(private(part) for part in node.module.split(".")):
                    definite.append(f"{where}:{line}: from {node.module} import")
                definite += [f"{where}:{line}: from {node.module} import {a.name}"
                             for a in node.names if private(a.name)]
            elif isinstance(node, ast.Import):
                definite += [f"{where}:{line}: import {a.name}" for a in node.names
                             if a.name.startswith("textual.")
                             and any(private(p) for p in a.name.split("."))]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and private(node.name):
                owner = next((c for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
                              and node in c.body), None)
                if owner is not None and node.name in inherited(owner.name):
                    definite.append(f"{where}:{line}: {owner.name} overrides Textual's {node.name}")
            elif isinstance(node, ast.Attribute) and private(node.attr) and node.attr in theirs:
                if id(node) in selfs:
                    owner, names = selfs[id(node)]
                    if node.attr in names:
                        definite.append(f"{where}:{line}: {owner}: self.{node.attr} is Textual's")
                elif node.attr not in ours:
                    definite.append(f"{where}:{line}: .{node.attr}")
                else:
                    ambiguous.append(node.attr)
    return sorted(set(definite)), ambiguous


def sizes(root: Path):
    classes, files = [], []
    for path in (p for d in CODE for p in sorted((root / d).rglob("*.py"))):
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(root))
        files.append((len(text.splitlines()), where))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
                classes.append((node.end_lineno - first + 1, f"{where}:{node.name}", bases))
    return sorted(classes, reverse=True), sorted(files, reverse=True)


def contracts(root: Path) -> str:
    """`lint-imports` in ROOT, its own code first on the path."""
    tool = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(root)}
    run = subprocess.run([str(tool), "--no-cache"], cwd=root, env=env, capture_output=True,
                         text=True, check=False)
    found = re.search(r"Contracts: (\d+) kept, (\d+) broken", run.stdout)
    if found:
        return f"{found[1]} kept, {found[2]} broken"
    return "none (" + (run.stdout + run.stderr).strip().splitlines()[-1][:80] + ")"


def circles(root: Path) -> list[list[str]]:
    """Import cycles as strongly connected groups (Tarjan), in a child process
    so that ROOT's packages, not this checkout's, are the ones read."""
    code = (
        "import grimp, json, sys\n"
        "g = grimp.build_graph(*sys.argv[1:], cache_dir=None)\n"
        "print(json.dumps({m: sorted(g.find_modules_directly_imported_by(m)) for m in g.modules}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code, *CODE], cwd=root, env=env,
                         capture_output=True, text=True, check=True).stdout
    import json

    edges = json.loads(out)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []
    sys.setrecursionlimit(10000)

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in edges.get(module, ()):
            if other not in edges:
                continue
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return groups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=".", type=Path)
    parser.add_argument("--touched", metavar="BASE..BRANCH")
    args = parser.parse_args()
    root = args.root.resolve()
    classes, files = sizes(root)
    by_name = {where.split(":")[1]: (n, bases) for n, where, bases in classes}
    app = by_name.get("CBConsoleApp")
    print(f"house of {root}")
    if app:
        mixins = [b for b in app[1] if b in by_name]
        total = app[0] + sum(by_name[b][0] for b in mixins)
        print(f"  App class              {app[0]} lines; with its own bases {mixins}: {total}")
    print(f"  largest class          {classes[0][0]} lines  {classes[0][1]}")
    print(f"  largest file           {files[0][0]} lines  {files[0][1]}")
    print(f"  classes over 300       {sum(n > 300 for n, _, _ in classes)}"
          f"   files over 400 {sum(n > 400 for n, _ in files)}")
    definite, ambiguous = private_textual_uses(root)
    distinct = {re.findall(r"\b(_[A-Za-z]\w*)", d)[-1] for d in definite}
    print(f"  private Textual names  {len(definite)} uses of {len(distinct)} names"
          + "".join(f"\n    {d}" for d in definite))
    if ambiguous:
        print(f"    and {len(ambiguous)} uses of names both the project and Textual bind, on"
              f" objects not known to be Textual's (judge by hand):"
              f" {', '.join(sorted(set(ambiguous)))}")
    print(f"  contracts              {contracts(root)}")
    groups = circles(root)
    print(f"  import circles         {len(groups)}" + "".join(f"\n    {g}" for g in groups))
    if args.touched:
        names = subprocess.run(["git", "diff", "--name-only", args.touched], cwd=root,
                               capture_output=True, text=True, check=True).stdout.split()
        print(f"  files touched {args.touched}: {len(names)}" + "".join(f"\n    {n}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The house: layers import only downward, no import cycles, dependencies match imports.

The layers are written down as import-linter contracts in ``pyproject.toml``
(README, "Architecture"); these tests run them, as ruff and mypy run in
``test_quality.py``. Each checker is also shown a planted violation, so a
checker that stopped seeing anything would fail here rather than pass quietly.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import grimp
import pytest

pytestmark = pytest.mark.slow  # linters and import checks run as processes

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "plugins" / "promptdrift"

# Third-party modules that may be imported inside a function: optional extras or slow imports
# that most runs never need. Each such import carries a comment saying which (see STYLE, "The house").
LATE_IMPORTS_ALLOWED = frozenset(
    {
        "openai",
        "anthropic",
        "httpx2",
        "vcr",
        "hypothesis",
        "bm25s",
        "vaderSentiment",
        "textstat",
        "jsonschema",
        "jsonpath_ng",
    }
    | {"statistics"}  # stdlib, but it imports fractions and decimal
    | {"pytest_httpserver", "werkzeug"}
)


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return found


def test_import_contracts_hold() -> None:
    result = subprocess.run([_tool("lint-imports")], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "Layers: each imports only downward KEPT" in result.stdout


def test_a_broken_layer_contract_is_reported(tmp_path: Path) -> None:
    """The same layers contract on a package where a low layer imports a high one: lint-imports fails."""
    root = tmp_path / "pkg"
    for layer in ("high", "low"):
        (root / layer).mkdir(parents=True)
        (root / layer / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "low" / "bad.py").write_text("from pkg.high import x\n")
    (root / "high" / "x.py").write_text("")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = pkg\n\n[importlinter:contract:layers]\nname = layers\ntype = layers\n"
        "containers = pkg\nlayers =\n    high\n    low\n"
    )
    result = subprocess.run(
        [_tool("lint-imports")], cwd=tmp_path, capture_output=True, text=True, check=False, env={"PYTHONPATH": "."}
    )
    assert result.returncode == 1 and "pkg.low.bad -> pkg.high.x" in result.stdout, result.stdout


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import cycles of a module graph: its strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the package is small enough to recurse
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_sees_a_cycle() -> None:
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert cycles({"a": ["b"], "b": []}) == []


def test_no_import_cycles_in_the_package() -> None:
    """No module imports itself back through others, TYPE_CHECKING imports included (grimp sees them)."""
    graph = grimp.build_graph("promptdrift", cache_dir=None)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert cycles(edges) == []


def late_imports(source: str, filename: str) -> Iterator[str]:
    """Imports inside functions that are not an allowed optional or slow dependency with a comment naming why."""
    lines = source.splitlines()
    tree = ast.parse(source, filename)
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            where = f"{filename}:{node.lineno}"
            for name in names:
                top = name.split(".")[0]
                if isinstance(node, ast.ImportFrom) and node.level:
                    yield f"{where}: relative import inside a function"
                elif top == "promptdrift":
                    # Allowed for a module that wraps a slow dependency (the pytest11 module loading the layers,
                    # the record layer loading httpx2), said with "# slow"; no loop can hide behind one: the
                    # cycle test sees imports inside functions too.
                    if "# slow" not in _comment(lines, node.lineno - 1):
                        yield f"{where}: promptdrift module {name} imported inside a function (an import loop?)"
                elif top not in LATE_IMPORTS_ALLOWED:
                    yield f"{where}: {name} imported inside a function, and it is not an optional or slow dependency"
            if not _comment(lines, node.lineno - 1):
                yield f"{where}: an import inside a function needs a comment naming why (optional extra, slow)"


def _comment(lines: list[str], at: int) -> str:
    """The comments covering the import at line ``at``: on its line, or above it in its run of imports."""
    found = []
    while at >= 0:
        text = lines[at].strip()
        if "#" in text:
            found.append(text)
        elif text and not text.startswith(("import ", "from ")):
            break
        at -= 1
    return " ".join(found)


def test_own_modules_load_late_only_when_marked_slow() -> None:
    late = "def f():\n    from promptdrift.run import case  # slow: the runner and its templates\n"
    assert list(late_imports(late, "x.py")) == []
    assert list(late_imports(late.replace("# slow: the runner", "# to break a loop"), "x.py"))


def test_late_import_rule_flags_what_it_should() -> None:
    bad = textwrap.dedent(
        """
        def f():
            from promptdrift.run import case  # to break a loop
            import json  # stdlib
            x = 1
            import openai
            import vcr  # slow
            # slow: both
            from hypothesis import given
            from hypothesis import strategies
        """
    )
    problems = list(late_imports(bad, "x.py"))
    assert any("promptdrift module promptdrift.run" in p for p in problems)
    assert any("json imported inside a function" in p for p in problems)
    assert any("x.py:6: an import inside a function needs a comment" in p for p in problems)
    assert not any(f"x.py:{line}" in p for p in problems for line in (7, 9, 10))


def test_imports_inside_functions_are_only_commented_optional_or_slow_dependencies() -> None:
    problems = [
        problem
        for path in sorted(PACKAGE.rglob("*.py"))
        for problem in late_imports(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    ]
    assert problems == []


def test_dependencies_match_imports() -> None:
    """deptry: no missing, unused or transitive-only dependency (tools of the dev extra are listed as such)."""
    result = subprocess.run([_tool("deptry"), "plugins"], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hooks_are_thin_and_the_run_state_is_one_object() -> None:
    """Every hook hands off to the run's state object in a few lines; that object is the one config stash key."""
    source = (PACKAGE / "plugin" / "hooks.py").read_text(encoding="utf-8")
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef)
        and node.name.startswith("pytest_")
        and node.end_lineno - node.lineno + 1 > 12
    ]
    assert long == []
    keys = (PACKAGE / "plugin" / "keys.py").read_text(encoding="utf-8")
    assert re.findall(r"^(\w+_KEY): pytest\.StashKey", keys, flags=re.M) == ["RUN_KEY", "CALL_PASSED_KEY"]
    assert "item's call phase" in keys  # the one item key, not run state

"""``promptdrift init [DIR]``: start prompt regression tests in an existing repository.

Writes an example suite with its recorded cassette (``pytest`` is green offline at once, with no key), the
suite schema beside it for editors, a GitHub workflow that gates pull requests through promptdrift's action
(a copy of this repository's ``action.yml`` in ``.github/actions/promptdrift``), ``.gitignore`` lines, and
the settings in the repository's ``pyproject.toml``, added without rewriting what is there (tomlkit keeps
its formatting and comments). It never overwrites a file it did not write: a file that exists is left as it
is and said so, so a second run changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from promptdrift.suite.schema import suite_schema

TEMPLATES = Path(__file__).with_name("templates")
IGNORED = ["# promptdrift: run records, reports and the recording lock", ".promptdrift.lock", "promptdrift-report.*"]


@dataclass
class Init:
    """What one run of ``init`` did, file by file."""

    root: Path
    done: list[str] = field(default_factory=list)  # what it wrote or changed
    kept: list[str] = field(default_factory=list)  # what was there already and was left alone

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        if path.exists():
            self.kept.append(relative)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.done.append(f"wrote {relative}")

    def amend(self, relative: str, change: Callable[[str], str | None], what: str) -> None:
        """Apply ``change`` to a file's text (``None``: nothing to change); a missing file starts empty."""
        path = self.root / relative
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        after = change(before)
        if after is None or after == before:
            self.kept.append(relative)
            return
        path.write_text(after, encoding="utf-8")
        self.done.append(f"{'added ' + what + ' to' if before else 'wrote'} {relative}")


def init(root: Path) -> Init:
    """Set up ``root`` (an existing repository) for promptdrift; see the module docstring."""
    run = Init(root)
    run.write("suites/support_reply.yaml", (TEMPLATES / "suite.yaml").read_text(encoding="utf-8"))
    run.write("suites/suite.schema.json", json.dumps(suite_schema(), indent=2) + "\n")
    run.write("cassettes/support-reply/late-delivery.yaml", (TEMPLATES / "cassette.yaml").read_text(encoding="utf-8"))
    run.write(".github/workflows/promptdrift.yml", (TEMPLATES / "workflow.yml").read_text(encoding="utf-8"))
    run.write(".github/actions/promptdrift/action.yml", (TEMPLATES / "action.yml").read_text(encoding="utf-8"))
    run.amend(".gitignore", _ignore, "promptdrift's lines")
    run.amend("pyproject.toml", _settings, "the promptdrift settings")
    return run


def _ignore(text: str) -> str | None:
    missing = [line for line in IGNORED[1:] if line not in text.splitlines()]
    if not missing:
        return None
    return text + ("" if not text or text.endswith("\n") else "\n") + "\n".join([IGNORED[0], *missing]) + "\n"


def _settings(text: str) -> str | None:
    """``[tool.promptdrift]`` (record mode none: CI never calls a model), and ``suites`` in the pytest testpaths
    when the project lists its test paths (otherwise pytest finds the suites by itself)."""
    document = tomlkit.parse(text)
    tool = document.setdefault("tool", tomlkit.table(is_super_table=True))
    changed = False
    if "promptdrift" not in tool:
        table = tomlkit.table()
        table.add(tomlkit.comment("promptdrift's defaults: the command line beats pytest's ini, which beats these"))
        table.add("record", "none")
        table["record"].comment("replay only (CI); record with --prompt-record=new")
        tool["promptdrift"] = table
        changed = True
    pytest_options = tool.get("pytest", {}).get("ini_options", {})
    paths = pytest_options.get("testpaths")
    if paths is not None and "suites" not in paths:
        paths.append("suites")
        changed = True
    return tomlkit.dumps(document) if changed else None


NEXT = """Next:
  OPENAI_API_KEY=sk-... pytest suites --prompt-record=new     # record your suites against your model
  pytest suites                                                # replay offline, as CI does (no key)
  OPENAI_API_KEY=sk-... pytest suites --prompt-record=all --prompt-model gpt-4.1-mini --prompt-report drift.html
                                                               # re-record against a new model: what got worse"""

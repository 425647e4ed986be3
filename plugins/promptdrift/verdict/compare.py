"""``promptdrift compare --base REF``: the drift report for what a branch re-recorded.

Reads every cassette at a git ref (say ``origin/main``) and in the working
tree, and compares their recorded answers and check results, exactly as a
re-recording run does, so a reviewer sees what a pull request's new cassettes
change without running anything.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptdrift.cassettes import format as cassettes
from promptdrift.core.errors import PromptdriftError
from promptdrift.text import yamlio
from promptdrift.verdict.drift import CaseRecord, baseline_summary, compare_checks


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PromptdriftError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def cassettes_at(root: Path, ref: str, folder: str) -> dict[str, str]:
    """Cassette texts at a git ref, by path."""
    names = _git(root, "ls-tree", "-r", "--name-only", ref, "--", folder).splitlines()
    return {name: _git(root, "show", f"{ref}:{name}") for name in names if name.endswith((".yaml", ".yml"))}


def cassettes_in_tree(root: Path, folder: str) -> dict[str, str]:
    """Cassette texts in the working tree, by path relative to the root."""
    base = root / folder
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(base.rglob("*.y*ml"))
        if p.is_file()
    }


def _meta(text: str, name: str) -> dict[str, Any]:
    try:
        data = yamlio.loads(text, path=name)
    except PromptdriftError:
        return {}
    meta = ((data or {}).get("metadata") or {}).get("promptdrift") if isinstance(data, Mapping) else None
    return dict(meta or {})


def _state(text: str, name: str) -> str | None:
    """``edited`` or ``no digest`` for a cassette text (``None``: intact, or not a cassette at all)."""
    try:
        integrity = cassettes.loads(text, display=name).integrity
    except PromptdriftError:
        return None
    return None if integrity == cassettes.INTACT else integrity


def compare(old: Mapping[str, str], new: Mapping[str, str], tolerance: float) -> list[CaseRecord]:
    """One record per cassette in the new tree that differs from the old one."""
    records = []
    for name in sorted(new):
        if old.get(name) == new[name]:
            continue
        meta = _meta(new[name], name)
        checks = list(meta.get("checks") or [])
        suite = str(meta.get("suite") or Path(name).parent.name)
        if meta.get("variant"):  # labelled like a run's records; no decision matrix from changed cassettes alone
            suite = f"{suite}[{meta['variant']}]"
        case = str(meta.get("case") or meta.get("test") or Path(name).stem)
        calls = meta.get("interactions") or [{}]
        record = CaseRecord(
            suite=suite,
            case=case,
            nodeid=name,
            status="recorded",
            passed=all(c.get("passed") for c in checks),
            answer=str(meta.get("answer", "")),
            model=calls[0].get("model_returned"),
            usage=dict(calls[0].get("usage") or {}),
            latency_ms=calls[0].get("latency_ms"),
            checks=checks,
        )
        record.cassette, record.cassette_state = name, _state(new[name], name)
        if name in old:
            old_meta = _meta(old[name], name)
            record.baseline = baseline_summary(old_meta)
            record.deltas = compare_checks(old_meta.get("checks") or [], checks, tolerance)
            record.passed = record.passed and not record.regressions
        records.append(record)
    return records

"""Resolving the file paths a suite names, confined to the repository."""

from __future__ import annotations

from pathlib import Path

from promptdrift.core.errors import SuiteError
from promptdrift.text.yamlio import read_bounded


def resolve_in_root(rootdir: Path, name: str, *, what: str, suite: str | None = None, line: int | None = None) -> Path:
    """Resolve ``name`` relative to ``rootdir``; refuse paths that leave the repository.

    Suites may arrive in pull requests from anyone, so a fixture path such as
    ``../../etc/passwd``, an absolute path, or a symlink pointing outside the
    repository is refused rather than read.
    """
    if not isinstance(name, str) or not name.strip():
        raise SuiteError(f"{what}: expected a file path, got {name!r}", path=suite, line=line)
    candidate = Path(name)
    if candidate.is_absolute():
        raise SuiteError(
            f"{what}: absolute path {name!r} refused; use a path relative to the repository root",
            path=suite,
            line=line,
        )
    root = rootdir.resolve()
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise SuiteError(
            f"{what}: path {name!r} leaves the repository ({root}); keep fixtures inside it",
            path=suite,
            line=line,
        )
    if not resolved.exists():
        raise SuiteError(
            f"{what}: file {name!r} not found (paths resolve from the repository root {root})",
            path=suite,
            line=line,
        )
    if resolved.is_dir():
        raise SuiteError(
            f"{what}: {name!r} is a folder; give a file (or a glob where one is allowed)", path=suite, line=line
        )
    return resolved


def read_text(path: Path, *, what: str, suite: str | None = None, line: int | None = None) -> str:
    """A fixture file's text; an unreadable, oversized or non-UTF-8 file is a :class:`SuiteError` naming it."""
    try:
        return read_bounded(path, display=path.name)
    except SuiteError as exc:
        raise SuiteError(f"{what}: {exc}", path=suite, line=line) from None

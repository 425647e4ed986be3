"""Resolving the file paths a suite names, confined to the repository."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .errors import SuiteError


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
    """A fixture file's text; an unreadable or non-UTF-8 file is a :class:`SuiteError` naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{what}: cannot read {path.name} as UTF-8 text ({exc})", path=suite, line=line) from None


_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]+")
_MAX_NAME = 80


def safe_name(name: str) -> str:
    """A file-name-safe form of a case or suite id, capped in length with a hash suffix.

    Ids that are already safe and short are kept as they are, so cassette names
    stay readable; anything else gets a short hash so that two ids never share a file.
    """
    if not _UNSAFE.search(name) and len(name) <= _MAX_NAME and not name.startswith("."):
        return name
    cleaned = _UNSAFE.sub("_", name).strip("._")[:_MAX_NAME] or "_"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}-{digest}"

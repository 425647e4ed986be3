"""Where cassettes live: every cassette file name comes from :func:`cassette_file`.

* a suite's case: ``cassettes/<suite>/<case>.yaml``, or ``cassettes/<suite>/<variant>/<case>.yaml``;
* a code-first test: ``cassettes/<test file path without .py>/<test name>.yaml``.

Each part is made file-safe and length-capped with a hash (:func:`safe_name`),
so distinct ids never share a file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]+")
_HASHED = re.compile(r"-[0-9a-f]{8}$")  # how a name made safe ends
_MAX_NAME = 80


def safe_name(name: str) -> str:
    """A file-name-safe form of a case or suite id, capped in length with a hash suffix.

    Ids that are already safe and short are kept as they are, so cassette names
    stay readable; anything else gets a short hash of the id. An id that merely
    looks like a made-safe name (``a_b-15eb0a79``) is hashed too, so it never
    shares a file with the id it looks like (``a*b``).
    """
    if not _UNSAFE.search(name) and len(name) <= _MAX_NAME and not name.startswith(".") and not _HASHED.search(name):
        return name
    cleaned = _UNSAFE.sub("_", name).strip("._")[:_MAX_NAME] or "_"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}-{digest}"


def cassette_file(folder: Path, parts: Sequence[str]) -> Path:
    """``folder/<part>/.../<last part>.yaml``, each part file-safe."""
    *dirs, name = [safe_name(p) for p in parts]
    return folder.joinpath(*dirs, f"{name}.yaml")


def case_cassette(folder: Path, suite: str, variant: str | None, case_id: str) -> Path:
    """A suite case's cassette: ``<suite>/<case>.yaml`` or ``<suite>/<variant>/<case>.yaml`` under ``folder``."""
    return cassette_file(folder, [suite, *([variant] if variant else []), case_id])


def test_cassette(folder: Path, rootdir: Path, test_file: Path, test_name: str) -> Path:
    """A code-first test's cassette: ``<test file path without .py>/<test name>.yaml`` under ``folder``."""
    try:
        relative = test_file.resolve().relative_to(rootdir.resolve()).with_suffix("")
    except ValueError:
        relative = Path(test_file.stem)
    return cassette_file(folder, [*relative.parts, test_name])

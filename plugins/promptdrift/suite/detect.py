"""Which YAML files are suites: a ``.yaml``/``.yml`` file whose top level has a ``suite:`` key.

On a line of its own, at column 0. Workflow files, fixtures and cassettes never
have one, so they are never collected. Kept apart from the reader: every
``pytest`` run asks it of each YAML file, and a run with no suite must not pay
for loading the reader.
"""

from __future__ import annotations

import re
from pathlib import Path

SUITE_MARKER = re.compile(rb"^suite\s*:", re.MULTILINE)


def _head(path: Path) -> bytes | None:
    """The first 64 KiB of a YAML file (``None`` for another file, or one that cannot be read)."""
    if path.suffix not in (".yaml", ".yml"):
        return None
    try:
        with path.open("rb") as fh:
            return fh.read(64 * 1024)
    except OSError:
        return None


def is_suite_file(path: Path) -> bool:
    """The documented rule: a YAML file with a top-level ``suite:`` key."""
    head = _head(path)
    return head is not None and SUITE_MARKER.search(head) is not None


TOP_KEY = re.compile(rb"^([A-Za-z_][\w-]*)[ \t]*:", re.MULTILINE)
SUITE_SHAPE = {b"prompt", b"cases", b"generate"}  # a suite has a prompt and cases (or generated cases)


def looks_like_suite(path: Path) -> bool:
    """A YAML file shaped like a suite (a ``prompt:`` with ``cases:`` or ``generate:``) but with no ``suite:``
    key, such as one whose ``suite:`` is misspelt: reported as a broken suite, never skipped silently."""
    head = _head(path)
    if head is None:
        return False
    keys = set(TOP_KEY.findall(head))
    return b"suite" not in keys and b"prompt" in keys and bool(keys & {b"cases", b"generate"})

"""Checks: what a good answer is.

:mod:`.registry` holds the registry, the :class:`CheckSpec` a suite declares
and :func:`evaluate`; each other module is one family of checks, registered
with the :func:`check` decorator. A check reaches the run (files, settings,
model calls for graders and embeddings) only through :class:`CheckContext`.
"""

from __future__ import annotations

from promptdrift.checks.registry import (
    ENTRY_POINT_GROUP,
    CheckContext,
    CheckDef,
    CheckSpec,
    check,
    check_definition,
    evaluate,
    known_checks,
    load_all,
    parse_check,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "CheckContext",
    "CheckDef",
    "CheckSpec",
    "check",
    "check_definition",
    "evaluate",
    "known_checks",
    "load_all",
    "parse_check",
]

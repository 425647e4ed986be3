"""Checks: what a good answer is. See :mod:`promptdrift.checks.base` for the registry."""

from __future__ import annotations

from importlib.metadata import entry_points

from .base import Answer, CheckContext, CheckDef, CheckResult, CheckSpec, check, evaluate, parse_check, registry

ENTRY_POINT_GROUP = "promptdrift.checks"

_loaded = False


def load_all() -> None:
    """Import the built-in check modules and every ``promptdrift.checks`` entry point, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from . import structure, text  # noqa: F401 - registering side effect

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


__all__ = [
    "Answer",
    "CheckContext",
    "CheckDef",
    "CheckResult",
    "CheckSpec",
    "check",
    "evaluate",
    "load_all",
    "parse_check",
    "registry",
]

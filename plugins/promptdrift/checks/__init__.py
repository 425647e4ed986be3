"""Checks: what a good answer is. See :mod:`promptdrift.checks.base` for the registry."""

from __future__ import annotations

from importlib.metadata import entry_points

from ..errors import ConfigError
from .base import Answer, CheckContext, CheckDef, CheckResult, CheckSpec, check, evaluate, parse_check, registry

ENTRY_POINT_GROUP = "promptdrift.checks"

_loaded = False


def load_all() -> None:
    """Import the built-in check modules and every ``promptdrift.checks`` entry point, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from . import accuracy, graded, operational, structure, tactics, text, tone  # noqa: F401 - registering side effect

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:
            raise ConfigError(
                f"check plugin {ep.name!r} ({ep.value}, entry point group {ENTRY_POINT_GROUP}) failed to load: "
                f"{type(exc).__name__}: {exc}. Fix or uninstall the package that provides it."
            ) from None


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

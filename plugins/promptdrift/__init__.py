"""promptdrift: prompt regression testing for pytest.

Prompt cases live in YAML suites (or Python tests); each answer is recorded
once through the ``openai`` SDK (or ``anthropic``'s) into a vcrpy cassette and replayed offline;
a prompt that changed since its recording fails as prompt drift.

The public names are importable from here; the layers they live in are
described in docs/architecture.md. They load on first use
(PEP 562): pytest imports this package in every run of a project that has
promptdrift installed, and a run without suites should not pay for the check
registry.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptdrift.checks.registry import check
    from promptdrift.core.answers import Answer, CheckResult
    from promptdrift.core.errors import (
        CassetteError,
        ConfigError,
        DriftError,
        ErrorAnswer,
        MissingCassetteError,
        PromptdriftError,
        RecordingError,
        RecordingGapWarning,
        SuiteError,
        TemplateError,
    )

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "CassetteError",
    "CheckResult",
    "ConfigError",
    "DriftError",
    "ErrorAnswer",
    "MissingCassetteError",
    "PromptdriftError",
    "RecordingError",
    "RecordingGapWarning",
    "SuiteError",
    "TemplateError",
    "__version__",
    "check",
]


# Where each public name lives; the rest of __all__ are the error types.
_HOMES = {
    "check": "promptdrift.checks.registry",
    "Answer": "promptdrift.core.answers",
    "CheckResult": "promptdrift.core.answers",
}


def __getattr__(name: str) -> Any:
    """The public names, imported from their layer on first use."""
    if name in __all__:
        return getattr(importlib.import_module(_HOMES.get(name, "promptdrift.core.errors")), name)
    if name == "PromptDriftError":  # renamed: one capital away from the base class
        warnings.warn("promptdrift.PromptDriftError is now promptdrift.DriftError", DeprecationWarning, stacklevel=2)
        return importlib.import_module("promptdrift.core.errors").DriftError
    raise AttributeError(f"module 'promptdrift' has no attribute {name!r}")


# Modules renamed in 0.2 (CHANGELOG): the old names still import, for one release, with a DeprecationWarning.
MOVED = {
    "promptdrift.spec": "promptdrift.suite",  # "spec" read as tests (RSpec) or as pluggy's hook specifications
    "promptdrift.spec.steps": "promptdrift.suite.transform",  # the same stem as run.transform, which applies it
    "promptdrift.run.explore": "promptdrift.run.generate",  # the same stem as suite.generate, which declares it
    "promptdrift.testing.batches": "promptdrift.testing.batch",  # the demo's side of record.batch
    "promptdrift.verdict.records": "promptdrift.verdict.ledger",  # not the record/ layer: the run's ledger
    "promptdrift.checks.text": "promptdrift.checks.phrases",  # not the text/ layer: checks on phrases
    "promptdrift.plugin.session": "promptdrift.plugin.prompter",  # pytest's word for pytest.Session
}


def _new_name(old: str) -> str | None:
    if old in MOVED:
        return MOVED[old]
    package, _, rest = old.rpartition(".")
    return f"{MOVED[package]}.{rest}" if package in MOVED else None


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a module under its old name as the module it became (the same module object), with a warning."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        new = _new_name(fullname)
        return None if new is None else importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        new = _new_name(spec.name)
        warnings.warn(f"{spec.name} is now {new}", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(str(new))
        self._own = module.__spec__  # put back once the import system has written the old name's over it
        return module

    def exec_module(self, module: Any) -> None:
        module.__spec__ = self._own


if importlib.import_module("promptdrift.core.workarounds").enabled("MOVED_MODULES"):  # docs/workarounds.md
    sys.meta_path.insert(0, _MovedFinder())  # before the path finder, which would load a second copy

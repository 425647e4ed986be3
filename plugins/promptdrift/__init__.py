"""promptdrift: prompt regression testing for pytest.

Prompt cases live in YAML suites (or Python tests); each answer is recorded
once through the ``openai`` SDK into a vcrpy cassette and replayed offline;
a prompt that changed since its recording fails as prompt drift.

The public names are importable from here; the layers they live in are
described in the README's "Architecture" section. They load on first use
(PEP 562): pytest imports this package in every run of a project that has
promptdrift installed, and a run without suites should not pay for the check
registry.
"""

from __future__ import annotations

import importlib
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

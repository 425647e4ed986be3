"""promptdrift: prompt regression testing for pytest.

Prompt cases live in YAML suites (or Python tests); each answer is recorded
once through the ``openai`` SDK into a vcrpy cassette and replayed offline;
a prompt that changed since its recording fails as prompt drift.

The public names are importable from here; the layers they live in are
described in the README's "Architecture" section.
"""

from __future__ import annotations

import warnings
from typing import Any

from promptdrift.checks.registry import check
from promptdrift.core.answers import Answer, CheckResult
from promptdrift.core.errors import (
    CassetteError,
    ConfigError,
    DriftError,
    MissingCassetteError,
    PromptdriftError,
    RecordingError,
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
    "MissingCassetteError",
    "PromptdriftError",
    "RecordingError",
    "SuiteError",
    "TemplateError",
    "__version__",
    "check",
]


def __getattr__(name: str) -> Any:
    """``PromptDriftError`` was renamed ``DriftError`` (one capital away from the base class)."""
    if name == "PromptDriftError":
        warnings.warn("promptdrift.PromptDriftError is now promptdrift.DriftError", DeprecationWarning, stacklevel=2)
        return DriftError
    raise AttributeError(f"module 'promptdrift' has no attribute {name!r}")

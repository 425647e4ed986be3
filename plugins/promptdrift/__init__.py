"""promptdrift: prompt regression testing for pytest.

Prompt cases live in YAML suites (or Python tests); each answer is recorded
once through the ``openai`` SDK into a vcrpy cassette and replayed offline;
a prompt that changed since its recording fails as prompt drift.
"""

from __future__ import annotations

from .checks import Answer, CheckResult, check
from .errors import (
    CassetteError,
    MissingCassetteError,
    PromptDriftError,
    PromptdriftError,
    RecordingError,
    SuiteError,
)

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "CassetteError",
    "CheckResult",
    "MissingCassetteError",
    "PromptDriftError",
    "PromptdriftError",
    "RecordingError",
    "SuiteError",
    "__version__",
    "check",
]

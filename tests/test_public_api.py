"""The names a user imports from ``promptdrift`` stay there, whatever layer they live in."""

from __future__ import annotations

import pytest

import promptdrift
from promptdrift.core.errors import DriftError, PromptdriftError


def test_public_names_are_importable_from_the_package() -> None:
    for name in promptdrift.__all__:
        assert getattr(promptdrift, name) is not None
    assert {"check", "CheckResult", "Answer", "DriftError", "PromptdriftError", "SuiteError"} <= set(
        promptdrift.__all__
    )
    assert issubclass(promptdrift.DriftError, promptdrift.PromptdriftError)


def test_the_old_drift_error_name_still_imports_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="PromptDriftError is now promptdrift.DriftError"):
        old = promptdrift.PromptDriftError  # type: ignore[attr-defined]
    assert old is DriftError and issubclass(old, PromptdriftError)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        promptdrift.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018

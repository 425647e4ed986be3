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


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("promptdrift.spec.model", "promptdrift.suite.model"),
        ("promptdrift.spec.steps", "promptdrift.suite.transform"),
        ("promptdrift.run.explore", "promptdrift.run.generate"),
        ("promptdrift.testing.batches", "promptdrift.testing.batch"),
        ("promptdrift.verdict.records", "promptdrift.verdict.ledger"),
        ("promptdrift.checks.text", "promptdrift.checks.phrases"),
        ("promptdrift.plugin.session", "promptdrift.plugin.prompter"),
    ],
)
def test_renamed_modules_still_import_as_the_same_module_with_a_warning(old: str, new: str) -> None:
    import importlib
    import sys

    for name in (old, old.rpartition(".")[0]):
        sys.modules.pop(name, None)
    with pytest.warns(DeprecationWarning, match=" is now promptdrift\\."):
        moved = importlib.import_module(old)
    assert moved is importlib.import_module(new) and moved.__spec__.name == new


def test_the_prompt_fixtures_old_class_name_still_imports_with_a_warning() -> None:
    from promptdrift.plugin.prompter import Prompter

    with pytest.warns(DeprecationWarning, match="PromptSession is now promptdrift.plugin.prompter.Prompter"):
        from promptdrift.plugin.prompter import PromptSession  # type: ignore[attr-defined]
    assert PromptSession is Prompter

"""Suite files as pytest collectors, and each case as a pytest item."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from .config import Settings
from .errors import PromptDriftError, PromptdriftError
from .runner import Outcome, run_case
from .suite import Case, Suite, load_suite

STATUS_PROPERTY = "promptdrift"  # user property on each case: replayed / recorded / drift / error
ANSWER_LINES = 30


class CaseFailed(Exception):
    """A case's answer failed one or more checks."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        super().__init__(f"{len(outcome.failures)} check(s) failed")


def settings_of(config: pytest.Config) -> Settings:
    from .plugin import SETTINGS_KEY

    return config.stash[SETTINGS_KEY]


class SuiteFile(pytest.File):
    """A YAML prompt suite; its cases are the items."""

    def collect(self) -> Iterator[pytest.Item]:
        settings = settings_of(self.config)
        try:
            suite = load_suite(self.path, settings.rootdir)
        except PromptdriftError as exc:
            # One bad suite must not stop the others: report it as a failing item of its own.
            yield InvalidSuiteItem.from_parent(self, name="suite", error=exc)
            return
        for case in suite.cases:
            yield CaseItem.from_parent(self, name=case.id, suite=suite, case=case)


class InvalidSuiteItem(pytest.Item):
    """Stands for a suite file that could not be loaded; fails with the reason."""

    def __init__(self, *, error: PromptdriftError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return f"invalid suite: {self.error}"

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, (self.error.line or 1) - 1, f"invalid suite {self.path.name}"


class CaseItem(pytest.Item):
    """One case of a suite: calls the model (recorded or replayed) and applies its checks."""

    def __init__(self, *, suite: Suite, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case
        self.outcome: Outcome | None = None

    def runtest(self) -> None:
        try:
            self.outcome = run_case(self.suite, self.case, settings_of(self.config), self.nodeid)
        except PromptDriftError:
            self.user_properties.append((STATUS_PROPERTY, "drift"))
            raise
        except PromptdriftError:
            self.user_properties.append((STATUS_PROPERTY, "error"))
            raise
        self.user_properties.append((STATUS_PROPERTY, "recorded" if self.outcome.recorded else "replayed"))
        if not self.outcome.passed:
            raise CaseFailed(self.outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        error = excinfo.value
        if isinstance(error, CaseFailed):
            return format_failure(error.outcome)
        if isinstance(error, PromptdriftError):
            return str(error)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = (self.case.line or 1) - 1
        return self.path, line, f"{self.suite.name}::{self.case.id}"


def format_failure(outcome: Outcome) -> str:
    """The failure text: each failed check with its reason, then the answer and where it came from."""
    lines = [f"{len(outcome.failures)} of {len(outcome.results)} checks failed:"]
    for result in outcome.results:
        mark = "PASS" if result.passed else "FAIL"
        score = f" [score {result.score:.3g}]" if result.score is not None else ""
        reason = f": {result.reason}" if result.reason and not result.passed else ""
        lines.append(f"  {mark} {result.name}{score}{reason}")
    answer = outcome.answer.text.splitlines() or ["<empty answer>"]
    shown = answer[:ANSWER_LINES]
    lines.append("answer:")
    lines.extend(textwrap.indent("\n".join(shown), "  | ").splitlines())
    if len(answer) > ANSWER_LINES:
        lines.append(f"  | … ({len(answer) - ANSWER_LINES} more lines)")
    for call in outcome.answer.tool_calls:
        lines.append(f"tool call: {call['name']}({call['arguments']})")
    how = "recorded now" if outcome.recorded else "replayed"
    lines.append(f"cassette: {outcome.cassette} ({how})")
    return "\n".join(lines)

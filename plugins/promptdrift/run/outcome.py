"""What a case produced: its answers (:class:`Sample`), check results and the verdict over them (:class:`Outcome`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from promptdrift.checks import CheckSpec
from promptdrift.core.answers import Answer, CheckResult
from promptdrift.core.stats import wilson_lower
from promptdrift.suite.model import Sampling


@dataclass(slots=True)
class Sample:
    """One answer of a case and its check results."""

    answer: Answer
    results: list[CheckResult]
    messages: list[dict[str, Any]] = field(default_factory=list)  # the prompt as sent for the final answer

    def to_meta(self) -> dict[str, Any]:
        """What the cassette keeps of this answer: the model's text (and what the checks saw, if shaped)."""
        meta: dict[str, Any] = {"answer": self.answer.model_text}
        if self.answer.raw is not None:
            meta["checked_text"] = self.answer.text
        meta["checks"] = [r.to_dict() for r in self.results]
        meta["usage"] = dict(self.answer.usage)  # every call of the answer (turns, tool rounds), not graders
        return meta


@dataclass(slots=True)
class Outcome:
    """What a case produced: its answer(s), the check results, and how they were obtained.

    A case with ``samples: N`` has N samples; :attr:`answer` and :attr:`results`
    are the first one's, and it passes on its pass rate (see :attr:`passed`).
    """

    answer: Answer
    results: list[CheckResult]
    recorded: bool = False
    cassette: str = ""
    baseline: dict[str, Any] = field(default_factory=dict)
    min_score: float | None = None
    specs: Sequence[CheckSpec] = ()
    samples: list[Sample] = field(default_factory=list)
    sampling: Sampling | None = None  # set for a sampled case

    examples: list[dict[str, Any]] | None = None  # generated cases: the inputs, one per sample
    falsifying: int | None = None  # generated cases: the example shown (Hypothesis's shrunk one when recorded)
    cassette_state: str | None = None  # the replayed cassette was "edited" by hand, or has "no digest"
    messages: list[dict[str, Any]] = field(default_factory=list)  # the rendered prompt (the reports show it)

    def _score(self, results: Sequence[CheckResult]) -> float:
        return weighted_score(results, self.specs)

    def _passes(self, results: Sequence[CheckResult]) -> bool:
        return passes(results, self.specs, self.min_score)

    @property
    def score(self) -> float:
        """The weighted share of passed checks (1.0 with no checks)."""
        return self._score(self.results)

    @property
    def sample_passes(self) -> int:
        return sum(self._passes(s.results) for s in self.samples) if self.samples else int(self._passes(self.results))

    @property
    def pass_rate(self) -> float:
        return self.sample_passes / (len(self.samples) or 1)

    @property
    def pass_bound(self) -> float | None:
        """The Wilson lower bound of the pass rate, when the case asks for a confidence."""
        if self.sampling is None or self.sampling.confidence is None:
            return None
        return wilson_lower(self.sample_passes, len(self.samples), self.sampling.confidence)

    @property
    def required_rate(self) -> float:
        rate = self.sampling.min_pass_rate if self.sampling is not None else None
        return 1.0 if rate is None else rate

    @property
    def passed(self) -> bool:
        """All checks pass (or the weighted share reaches ``min_score``); sampled: the pass rate or its bound."""
        if self.sampling is None:
            return self._passes(self.results)
        bound = self.pass_bound
        return (bound if bound is not None else self.pass_rate) >= self.required_rate

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]


def weighted_score(results: Sequence[CheckResult], specs: Sequence[CheckSpec]) -> float:
    """The weighted share of passed checks (1.0 with no checks); implicit results (truncation) weigh 1."""
    weights = [spec.weight for spec in specs][: len(results)]
    weights = [1.0] * (len(results) - len(weights)) + weights  # turn and implicit results come first
    total = sum(weights)
    return sum(w for w, r in zip(weights, results, strict=True) if r.passed) / total if total else 1.0


def passes(results: Sequence[CheckResult], specs: Sequence[CheckSpec], min_score: float | None) -> bool:
    """All checks pass, or (with ``min_score``) their weighted share reaches it."""
    if min_score is not None:
        return weighted_score(results, specs) >= min_score
    return all(r.passed for r in results)

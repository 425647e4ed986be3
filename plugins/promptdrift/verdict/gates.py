"""Evaluating a suite's gates (declared in :mod:`promptdrift.suite.gates`) over its cases' outcomes.

Each gate is a pytest item of its own. It reads the outcomes of the suite's
cases that ran in this process and replays (or runs) the others itself, so
under pytest-xdist, where the cases may have run on other workers, a gate
reaches the same verdict as in a single process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from promptdrift.run.outcome import Outcome
from promptdrift.suite.gates import Gate
from promptdrift.verdict.drift import CaseRecord


@dataclass
class GateResult:
    """A gate's verdict with the measured value and what it was computed from."""

    gate: Gate
    passed: bool
    value: float | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def _verdict(gate: Gate, value: float, what: str) -> tuple[bool, str]:
    problems = []
    if gate.min is not None and value < gate.min:
        problems.append(f"{value:.3g} < min {gate.min:g}")
    if gate.max is not None and value > gate.max:
        problems.append(f"{value:.3g} > max {gate.max:g}")
    return not problems, (f"{gate.label} {'; '.join(problems)} ({what})" if problems else "")


@dataclass(frozen=True)
class GateCase:
    """What a gate reads of one case: did it pass, its check scores, its label predictions.

    Built from an outcome in the process that ran the case, or from the case's
    record (``promptdrift merge``, the end of an xdist or sharded run): one
    evaluation serves both, so a gate's verdict does not depend on where its
    cases ran.
    """

    case: str
    passed: bool
    scores: tuple[tuple[str, float], ...] = ()
    labels: tuple[tuple[str | None, str], ...] = ()

    @classmethod
    def from_outcome(cls, case: str, outcome: Outcome | None) -> GateCase:
        if outcome is None:  # the case errored: it counts as failed
            return cls(case, False)
        scores = tuple((r.name, float(r.score)) for r in outcome.results if r.score is not None)
        labels = tuple(
            (r.details.get("predicted"), str(r.details["expected"]))
            for r in outcome.results
            if r.name == "label" and "expected" in r.details
        )
        return cls(case, outcome.passed, scores, labels)

    @classmethod
    def from_record(cls, record: CaseRecord) -> GateCase:
        scores = tuple(
            (str(c["check"]), float(c["score"])) for c in record.checks if isinstance(c.get("score"), int | float)
        )
        labels = tuple((p, str(e)) for p, e in record.labels)
        return cls(record.case, record.outcome_passed and not record.error, scores, labels)


def evaluate_gate(gate: Gate, cases: Sequence[GateCase]) -> GateResult:
    """Apply a gate to the suite's cases; a case that errored counts as failed."""
    if gate.kind == "pass_rate":
        passed = [c.case for c in cases if c.passed]
        failing = [c.case for c in cases if not c.passed]
        rate = len(passed) / len(cases) if cases else 0.0
        what = f"{len(passed)} of {len(cases)} cases passed" + (f"; failing: {', '.join(failing)}" if failing else "")
        ok, reason = _verdict(gate, rate, what)
        return GateResult(gate, ok, rate, reason, {"passed": len(passed), "total": len(cases), "failing": failing})
    if gate.kind == "mean":
        scores = [score for c in cases for name, score in c.scores if name in (gate.check, f"not_{gate.check}")]
        if not scores:
            return GateResult(gate, False, None, f"no case has a scored {gate.check!r} check to average")
        mean = sum(scores) / len(scores)
        ok, reason = _verdict(gate, mean, f"mean of {len(scores)} {gate.check} scores")
        return GateResult(gate, ok, mean, reason, {"n": len(scores)})
    return _accuracy(gate, [pair for c in cases for pair in c.labels])


def gate_record(suite: str, variant: str | None, result: GateResult, candidate: bool = False) -> dict[str, Any]:
    """A gate's verdict as the run's records and the reports keep it (``candidate``: of a variant the suite does
    not ship, so its failure is expected, not the run's)."""
    return {
        "suite": suite,
        "variant": variant,
        "candidate": candidate,
        "gate": result.gate.label,
        "passed": result.passed,
        "value": result.value,
        "reason": result.reason,
        "details": result.details,
    }


def _accuracy(gate: Gate, pairs: Sequence[tuple[str | None, str]]) -> GateResult:
    if not pairs:
        return GateResult(gate, False, None, "no case has a label check: accuracy needs label checks")
    correct = sum(p == e for p, e in pairs)
    accuracy = correct / len(pairs)
    labels = sorted({e for _, e in pairs} | {p for p, _ in pairs if p is not None})
    predicted = Counter(p for p, _ in pairs)
    expected = Counter(e for _, e in pairs)
    hits = Counter(e for p, e in pairs if p == e)
    per_label = {
        label: {
            "precision": hits[label] / predicted[label] if predicted[label] else 0.0,
            "recall": hits[label] / expected[label] if expected[label] else 0.0,
            "support": expected[label],
        }
        for label in labels
    }
    table = ", ".join(f"{k}: P {v['precision']:.2f} R {v['recall']:.2f}" for k, v in per_label.items())
    ok, reason = _verdict(gate, accuracy, f"{correct} of {len(pairs)} labels correct; {table}")
    return GateResult(gate, ok, accuracy, reason, {"per_label": per_label, "correct": correct, "total": len(pairs)})

"""Evaluating a suite's gates (declared in :mod:`promptdrift.spec.gates`) over its cases' outcomes.

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
from promptdrift.spec.gates import Gate


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


def evaluate_gate(gate: Gate, outcomes: Sequence[tuple[str, Outcome | None]]) -> GateResult:
    """Apply a gate to the suite's case outcomes; a case that errored (``None``) counts as failed."""
    if gate.kind == "pass_rate":
        passed = [cid for cid, o in outcomes if o is not None and o.passed]
        failing = [cid for cid, o in outcomes if o is None or not o.passed]
        rate = len(passed) / len(outcomes) if outcomes else 0.0
        what = f"{len(passed)} of {len(outcomes)} cases passed" + (
            f"; failing: {', '.join(failing)}" if failing else ""
        )
        ok, reason = _verdict(gate, rate, what)
        return GateResult(gate, ok, rate, reason, {"passed": len(passed), "total": len(outcomes), "failing": failing})
    if gate.kind == "mean":
        scores = [
            r.score
            for _, o in outcomes
            if o is not None
            for r in o.results
            if r.name in (gate.check, f"not_{gate.check}") and r.score is not None
        ]
        if not scores:
            return GateResult(gate, False, None, f"no case has a scored {gate.check!r} check to average")
        mean = sum(scores) / len(scores)
        ok, reason = _verdict(gate, mean, f"mean of {len(scores)} {gate.check} scores")
        return GateResult(gate, ok, mean, reason, {"n": len(scores)})
    return _accuracy(gate, outcomes)


def _accuracy(gate: Gate, outcomes: Sequence[tuple[str, Outcome | None]]) -> GateResult:
    pairs: list[tuple[str | None, str]] = []
    for _, outcome in outcomes:
        if outcome is None:
            continue
        for result in outcome.results:
            if result.name == "label" and "expected" in result.details:
                pairs.append((result.details.get("predicted"), str(result.details["expected"])))
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

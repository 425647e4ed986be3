"""Accuracy against a reference: fuzzy ratio, token F1, ROUGE-L, and classification labels."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from promptdrift.checks.registry import CheckContext, check
from promptdrift.checks.shared import quote, reference_arg, tokens
from promptdrift.core.answers import Answer, CheckResult


def _scored(name: str, score: float, answer: Answer, reference: str) -> CheckResult:
    """A score against a reference; the suite's min/max (or the default) decide the verdict."""
    return CheckResult(name, True, score, f"reference {quote(reference)}, answer {quote(answer.text)}")


@check(
    "fuzzy",
    description="Edit-distance similarity ratio to the reference (rapidfuzz), 0-1; default min 0.8.",
    example='fuzzy: {to: "{{ reference }}", min: 0.8}',
    family="accuracy",
    scored=True,
    validate=reference_arg,
    default_min=0.8,
    quality=True,
)
def fuzzy(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    reference = arg["to"]
    score = fuzz.ratio(answer.text.strip(), reference.strip()) / 100.0
    return _scored("fuzzy", score, answer, reference)


def f1_score(candidate: list[str], reference: list[str]) -> float:
    """Token-overlap F1 (bag of words)."""
    if not candidate or not reference:
        return float(candidate == reference)
    common = sum((Counter(candidate) & Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(candidate), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def rouge_l_score(candidate: list[str], reference: list[str]) -> float:
    """ROUGE-L F-measure: longest common token subsequence, balanced precision and recall."""
    if not candidate or not reference:
        return float(candidate == reference)
    lcs = LCSseq.similarity(candidate, reference)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(candidate), lcs / len(reference)
    return 2 * precision * recall / (precision + recall)


@check(
    "f1",
    description="Token-overlap F1 against the reference, 0-1; default min 0.5.",
    example='f1: {to: "{{ reference }}", min: 0.6}',
    family="accuracy",
    scored=True,
    validate=reference_arg,
    default_min=0.5,
    quality=True,
)
def f1(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    return _scored("f1", f1_score(tokens(answer.text), tokens(arg["to"])), answer, arg["to"])


@check(
    "rouge_l",
    description="ROUGE-L F-measure (longest common token subsequence) against the reference, 0-1; default min 0.5.",
    example='rouge_l: {to: "{{ reference }}", min: 0.5}',
    family="accuracy",
    scored=True,
    validate=reference_arg,
    default_min=0.5,
    quality=True,
)
def rouge_l(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    return _scored("rouge_l", rouge_l_score(tokens(answer.text), tokens(arg["to"])), answer, arg["to"])


def _label_arg(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("expected {labels: [a, b, ...], expected: label}")
    labels = value.get("labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
        raise ValueError("labels must be a list of at least two names")
    if not isinstance(value.get("expected"), str):
        raise ValueError("expected must be the correct label, e.g. expected: '{{ label }}'")
    unknown = set(value) - {"labels", "expected"}
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}")
    return dict(value)


def normalise_label(text: str, labels: list[str]) -> str | None:
    """The declared label an answer names: an exact match, or the only label it mentions."""
    folded = " ".join(tokens(text))
    by_key = {" ".join(tokens(label)): label for label in labels}
    if folded in by_key:
        return by_key[folded]
    mentioned = [label for key, label in by_key.items() if key and re.search(rf"\b{re.escape(key)}\b", folded)]
    return mentioned[0] if len(mentioned) == 1 else None


@check(
    "label",
    description="Classification: the answer names exactly one declared label and it is the expected one.",
    example='label: {labels: [billing, shipping, other], expected: "{{ label }}"}',
    family="accuracy",
    validate=_label_arg,
)
def label(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    labels, expected = arg["labels"], arg["expected"]
    if expected not in labels:
        return CheckResult("label", False, 0.0, f"expected label {expected!r} is not one of {labels}")
    predicted = normalise_label(answer.text, labels)
    ok = predicted == expected
    if predicted is None:
        reason = f"answer names none (or several) of {labels}: {quote(answer.text)}"
    else:
        reason = "" if ok else f"predicted {predicted!r}, expected {expected!r}"
    return CheckResult("label", ok, float(ok), reason, {"predicted": predicted, "expected": expected})

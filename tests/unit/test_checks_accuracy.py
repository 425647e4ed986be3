"""Unit tests for fuzzy, f1, rouge_l and label."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptdrift.checks import parse_check
from promptdrift.checks.accuracy import f1_score, normalise_label, rouge_l_score
from promptdrift.checks.shared import tokens
from promptdrift.config import Settings
from promptdrift.core.errors import SuiteError
from promptdrift.run.context import Context
from tests.helpers import apply_check

CTX = Context(Settings(rootdir=Path.cwd()))


def test_f1_and_rouge_l_match_values_computed_by_hand() -> None:
    # candidate: the cat sat on the mat (6), reference: the cat is on the mat (6)
    cand, ref = tokens("The cat sat on the mat."), tokens("the cat is on the mat")
    # overlap: the x2, cat, on, mat = 5 -> P = R = 5/6
    assert f1_score(cand, ref) == pytest.approx(5 / 6)
    # LCS: the cat on the mat = 5 -> F = 5/6
    assert rouge_l_score(cand, ref) == pytest.approx(5 / 6)
    # Order matters to ROUGE-L but not to F1.
    shuffled = tokens("mat the on sat cat the")
    assert f1_score(shuffled, ref) == pytest.approx(5 / 6)
    assert rouge_l_score(shuffled, ref) == pytest.approx(3 / 6)  # LCS "the on the"


@pytest.mark.parametrize(
    ("spec", "text", "passed", "score"),
    [
        ({"fuzzy": {"to": "Offer an exchange", "min": 0.8}}, "Offer an exchange.", True, None),
        ({"fuzzy": "Offer an exchange"}, "Completely different", False, None),
        ({"fuzzy": {"to": "", "min": 0.5}}, "", True, 1.0),
        ({"f1": {"to": "the cat is on the mat"}}, "The cat sat on the mat.", True, 5 / 6),
        ({"f1": {"to": "abc"}}, "", False, 0.0),
        ({"rouge_l": {"to": "Zoë's café is open", "min": 0.9}}, "ZOË'S CAFÉ IS OPEN!", True, 1.0),
        ({"rouge_l": {"to": "a b c", "max": 0.5}}, "a b c", False, 1.0),
    ],
)
def test_reference_scores(spec: dict, text: str, passed: bool, score: float | None) -> None:
    result = apply_check(spec, text, ctx=CTX)
    assert result.passed is passed
    if score is not None:
        assert result.score == pytest.approx(score)


def test_scored_failure_reason_names_bound_reference_and_answer() -> None:
    result = apply_check({"fuzzy": {"to": "Offer an exchange", "min": 0.9}}, "We can swap them", ctx=CTX)
    assert (
        result.reason.startswith("score ")
        and "< min 0.9: reference 'Offer an exchange', answer 'We can swap them'" in result.reason
    )


def test_long_answers_are_scored_exactly() -> None:
    """A 200,000-word answer (speed is measured in benchmarks/, not here): the scores are the closed forms."""
    text = "word " * 200_000
    # LCS = 1000 tokens: precision 1000/200000, recall 1
    assert apply_check({"rouge_l": {"to": "word " * 1000}}, text, ctx=CTX).score == pytest.approx(2 * 0.005 / 1.005)
    # one common token: precision 1/200000, recall 1
    assert apply_check({"f1": {"to": "word"}}, text, ctx=CTX).score == pytest.approx(2 / 200_001)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("billing", "billing"),
        ("Billing.", "billing"),
        ("  SHIPPING\n", "shipping"),
        ("This is a billing question.", "billing"),
        ("billing or shipping", None),
        ("refund", None),
        ("", None),
        ("Lieferung", None),
    ],
)
def test_normalise_label(text: str, expected: str | None) -> None:
    assert normalise_label(text, ["billing", "shipping", "other"]) == expected


def test_label_check() -> None:
    spec = {"label": {"labels": ["billing", "shipping", "other"], "expected": "billing"}}
    ok = apply_check(spec, "Billing", ctx=CTX)
    assert ok.passed and ok.details == {"predicted": "billing", "expected": "billing"}
    wrong = apply_check(spec, "shipping", ctx=CTX)
    assert not wrong.passed and wrong.reason == "predicted 'shipping', expected 'billing'"
    vague = apply_check(spec, "billing or shipping?", ctx=CTX)
    assert not vague.passed and "names none (or several)" in vague.reason


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"fuzzy": {"too": "x"}}, "expected the reference text"),
        ({"fuzzy": {"to": "x", "case": True}}, "unknown option"),
        ({"label": {"labels": ["a"], "expected": "a"}}, "at least two"),
        ({"label": {"labels": ["a", "b"]}}, "expected must be the correct label"),
        ({"f1": {"to": "x", "min": "high"}}, "min must be a number"),
    ],
)
def test_bad_accuracy_arguments(spec: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_check(spec, path="t.yaml", default_line=1)

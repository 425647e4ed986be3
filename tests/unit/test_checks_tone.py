"""Unit tests for sentiment, readability, style limits and phrases."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptdrift.checks import parse_check
from promptdrift.checks.tone import all_caps, emoji, exclamations, reading_grade, sentences, sentiment
from promptdrift.config import Settings
from promptdrift.core.errors import SuiteError
from promptdrift.run.context import Context
from tests.helpers import apply_check

CTX = Context(Settings(rootdir=Path.cwd()))


def test_measures() -> None:
    assert sentiment("I'm so happy to help, this is wonderful!") > 0.5
    assert sentiment("This is terrible and I hate it.") < -0.5
    assert sentiment("") == 0.0
    assert reading_grade("The cat sat.") < reading_grade(
        "Notwithstanding contractual obligations, reimbursement eligibility necessitates comprehensive documentation."
    )
    assert exclamations("Wow! Great!!") == 3
    assert emoji("Thanks 😀👍 ok ✅") == 3
    assert all_caps("This is VERY IMPORTANT, see FAQ and OK") == 3  # OK has two letters
    assert sentences("One. Two! Three? Four") == 3


@pytest.mark.parametrize(
    ("spec", "text", "passed"),
    [
        ({"sentiment": {"min": 0.2}}, "Thanks so much, happy to help!", True),
        ({"sentiment": {"min": 0.2}}, "No. That is wrong and bad.", False),
        ({"reading_grade": {"max": 9}}, "We will send a new pair today.", True),
        ({"exclamations": {"max": 1}}, "Great!!!", False),
        ({"emoji": {"max": 0}}, "Sure 🙂", False),
        ({"all_caps": {"max": 0}}, "PLEASE WAIT", False),
        ({"tone": {"sentiment": {"min": 0.2}, "exclamations": {"max": 1}}}, "Happy to help! Thanks.", True),
        ({"tone": {"sentiment": {"min": 0.2}, "exclamations": {"max": 1}}}, "Happy to help!! Thanks!", False),
        ({"tone": {"sentences": {"max": 2}}}, "", True),
        ({"banned_phrases": ["as an AI"]}, "As an AI, I cannot", False),
        ({"banned_phrases": ["AI"]}, "She said it plainly.", True),  # whole words only
        ({"required_phrases": ["order number"]}, "Your Order  Number is A-1.", True),
        ({"required_phrases": ["order number", "date"]}, "Your order number", False),
    ],
)
def test_tone_checks(spec: dict, text: str, passed: bool) -> None:
    assert apply_check(spec, text, ctx=CTX).passed is passed


def test_tone_reason_names_each_broken_limit() -> None:
    result = apply_check({"tone": {"sentiment": {"min": 0.5}, "exclamations": {"max": 0}}}, "Fine!", ctx=CTX)
    assert "exclamations 1 > max 0" in result.reason
    assert result.details["measured"]["exclamations"] == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"tone": {"loudness": {"max": 1}}}, "unknown tone measure 'loudness'"),
        ({"tone": {"sentiment": 0.2}}, "give bounds as"),
        ({"tone": {"rubric": "warm", "style": "x"}}, "a tone rubric takes"),
        ({"sentiment": 0.2}, "write bounds only"),
        ({"banned_phrases": []}, "expected a list of phrases"),
    ],
)
def test_bad_tone_arguments(spec: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_check(spec, path="t.yaml", default_line=1)

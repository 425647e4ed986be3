"""Unit tests for the text checks (equality, phrases, length limits, regex)."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptdrift.checks import evaluate, parse_check
from promptdrift.config import Settings
from promptdrift.core.answers import Answer
from promptdrift.core.errors import SuiteError
from promptdrift.run.context import Context
from tests.helpers import apply_check


@pytest.mark.parametrize(
    ("spec", "text", "passed"),
    [
        ({"contains": "30 days"}, "Returns within 30 days.", True),
        ({"contains": "30 Days"}, "Returns within 30 days.", False),
        ({"icontains": "30 DAYS"}, "Returns within 30 days.", True),
        ({"contains": ["a", "b"]}, "a only", False),
        ({"contains_all": ["order", "date"]}, "the order ships today", False),
        ({"icontains_all": ["order", "date"]}, "Order date: today", True),
        ({"contains_any": ["sorry", "apolog"]}, "We apologise", True),
        ({"contains_any": ["sorry", "apolog"]}, "", False),
        ({"not_contains": ["guarantee"]}, "No promises.", True),
        ({"not_contains": ["guarantee"]}, "Refund guaranteed", False),
        ({"not_icontains": "GUARANTEE"}, "refund guaranteed", False),
        ({"contains": "café"}, "Un café, s'il vous plaît", True),
        ({"icontains": "STRASSE"}, "Hauptstraße", True),  # full Unicode case folding: ß -> ss
        ({"equals": "refund"}, "  refund\n", True),
        ({"equals": "refund"}, "Refund", False),
        ({"iequals": "refund"}, "REFUND", True),
        ({"max_words": 3}, "one two three", True),
        ({"max_words": 3}, "one two three four", False),
        ({"min_words": 1}, "", False),
        ({"max_chars": 5}, "ééééé", True),
        ({"max_lines": 1}, "a\nb", False),
        ({"regex": r"^Order [A-Z]-\d{4}"}, "Hi\nOrder A-1234 shipped", True),
        ({"regex": r"^Order [A-Z]-\d{4}"}, "order a-1234", False),
        ({"contains": "x"}, "y" * 1_000_000 + "x", True),
    ],
)
def test_text_checks(spec: dict, text: str, passed: bool) -> None:
    assert apply_check(spec, text).passed is passed


def test_reason_quotes_the_failing_part() -> None:
    result = apply_check({"not_contains": ["guaranteed"]}, "Hello. " * 20 + "Your refund is guaranteed today.")
    assert result.reason.startswith("found 'guaranteed' at …'")
    assert "refund is guaranteed today" in result.reason
    assert len(result.reason) < 120


def test_negation_by_prefix_and_option() -> None:
    assert apply_check({"not_regex": r"\d"}, "no digits").passed
    assert not apply_check({"not_regex": r"\d"}, "4 digits").passed


def test_not_option_on_mapping_argument() -> None:
    spec = parse_check({"json_path": {"path": "$.a", "equals": 1, "not": True}}, path="t", default_line=1)
    assert spec.negate
    result = evaluate(spec, Answer('{"a": 2}'), spec.arg, Context(Settings(rootdir=Path.cwd())))
    assert result.passed and result.name == "not_json_path"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"contains": 3}, "expected a phrase or a list of phrases"),
        ({"contains": []}, "expected a phrase or a list of phrases"),
        ({"max_words": -1}, "expected a whole number >= 0"),
        ({"max_words": True}, "expected a whole number >= 0"),
        ({"regex": "("}, "invalid regular expression"),
        ({"nope": 1}, "unknown check 'nope'. Known checks:"),
        ({"contains": "a", "equals": "b"}, "one-key mapping"),
        ("contains", "one-key mapping"),
    ],
)
def test_bad_arguments_are_suite_errors(spec, message: str) -> None:
    with pytest.raises(SuiteError, match=message) as info:
        parse_check(spec, path="suites/x.yaml", default_line=7)
    assert str(info.value).startswith("suites/x.yaml:7: ")

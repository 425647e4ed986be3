"""Every built-in check through a real suite: it passes on a fitting answer and, negated, fails."""

from __future__ import annotations

import pytest
import yaml

from promptdrift.checks import known_checks
from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import DEFAULT_SCRIPT, write

ANSWER = "I'm so sorry your order is late. We'll fix it today."
# One spec per check that holds for ANSWER (reference: "We're sorry the order is late; we'll fix it today.").
SPECS = {
    "json": {"json": True},  # case "invoice" answers JSON
    "schema": {"schema": {"type": "object", "required": ["total"]}},
    "json_path": {"json_path": {"path": "$.total", "equals": 42.5}},
    "regex": {"regex": r"^I'm so sorry"},
    "equals": {"equals": ANSWER},
    "iequals": {"iequals": ANSWER.upper()},
    "contains": {"contains": "order is late"},
    "icontains": {"icontains": "ORDER IS LATE"},
    "contains_all": {"contains_all": ["sorry", "today"]},
    "icontains_all": {"icontains_all": ["SORRY", "TODAY"]},
    "contains_any": {"contains_any": ["sorry", "apolog"]},
    "icontains_any": {"icontains_any": ["SORRY", "APOLOG"]},
    "not_contains": {"not_contains": ["refund"]},
    "not_icontains": {"not_icontains": ["REFUND"]},
    "max_words": {"max_words": 20},
    "min_words": {"min_words": 5},
    "max_chars": {"max_chars": 100},
    "min_chars": {"min_chars": 10},
    "max_lines": {"max_lines": 1},
    "min_lines": {"min_lines": 1},
    "fuzzy": {"fuzzy": {"to": "{{ reference }}", "min": 0.6}},
    "f1": {"f1": {"to": "{{ reference }}", "min": 0.5}},
    "rouge_l": {"rouge_l": {"to": "{{ reference }}", "min": 0.5}},
    "similar": {"similar": {"to": "{{ reference }}", "min": 0.5}},
    "judge": {"judge": {"rubric": "Apologises", "min": 0.8}},
    "factuality": {"factuality": {"reference": "{{ reference }}", "min": 0.8}},
    "label": {"label": {"labels": ["late", "refund"], "expected": "late"}},
    "sentiment": {"sentiment": {"min": -0.5}},
    "reading_grade": {"reading_grade": {"max": 9}},
    "reading_ease": {"reading_ease": {"min": 60}},
    "exclamations": {"exclamations": {"max": 0}},
    "emoji": {"emoji": {"max": 0}},
    "all_caps": {"all_caps": {"max": 0}},
    "sentences": {"sentences": {"max": 2}},
    "tone": {"tone": {"exclamations": {"max": 0}, "sentences": {"min": 1}}},
    "banned_phrases": {"banned_phrases": ["as an AI"]},
    "required_phrases": {"required_phrases": ["fix it"]},
    "latency": {"latency": {"max_ms": 60000}},
    "tokens": {"tokens": {"max": 1000}},
    "cost": {"cost": {"max_usd": 0.01}},
    "tool_call": {"tool_call": {"name": "lookup_order", "arguments": {"equals": {"order_id": "A-1"}}}},
    "grounded": {"grounded": {"min": 1.0}},  # the suite's context holds ANSWER's sentences
    "faithfulness": {"faithfulness": {"min": 0.8}},
}
QUESTION = {"json": "invoice", "schema": "invoice", "json_path": "invoice", "tool_call": "lookup"}


def test_the_table_covers_every_registered_check() -> None:
    assert set(SPECS) == set(known_checks())


def test_each_check_passes_and_its_negation_fails(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    grader = {"when": {"system": "impartial grader"}, "reply": {"json": {"score": 0.9, "reason": "Fine."}}}
    tool = {"when": {"contains": "lookup"}, "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1"}}]}
    demo.script = Script.from_data({**DEFAULT_SCRIPT, "rules": [grader, tool, *DEFAULT_SCRIPT["rules"]]})
    write(pytester, "fixtures/policy.md", "Delays happen.\n\n" + ANSWER)
    write(pytester, "pyproject.toml", '[tool.promptdrift.prices]\n"gpt-4o-mini" = {input = 0.15, output = 0.6}\n')
    cases = []
    for name, spec in SPECS.items():
        q = QUESTION.get(name, "late")
        negated = {name[4:] if name.startswith("not_") else f"not_{name}": spec[name]}
        for kind, check in (("pass", spec), ("fail", negated)):
            cases.append(
                {
                    "id": f"{kind}-{name}",
                    "vars": {"q": q},
                    "reference": "We're sorry the order is late; we'll fix it today.",
                    "expect": [check],
                }
            )
    suite = {
        "suite": "all",
        "model": "gpt-4o-mini",
        "prompt": {"user": "{{ q }}"},
        "context": {"documents": "fixtures/policy.md"},
        "cases": cases,
    }
    write(pytester, "suites/all.yaml", yaml.safe_dump(suite, sort_keys=False))
    result = pytester.runpytest("--prompt-record=new", "-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == len(SPECS) and outcomes.get("failed") == len(SPECS), result.stdout.str()[-3000:]
    for name in SPECS:
        result.stdout.no_fnmatch_line(f"*::pass-{name} FAILED*")
    failed = {line.split("::")[1].split()[0] for line in result.stdout.lines if line.startswith("FAILED ")}
    assert failed == {f"fail-{name}" for name in SPECS}
    # Replays offline with the same verdicts.
    demo.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    again = pytester.runpytest("-q")
    again.assert_outcomes(passed=len(SPECS), failed=len(SPECS))

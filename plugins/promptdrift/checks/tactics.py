"""Checks for prompting tactics: which tool the model called and how, and whether an answer is grounded.

``grounded`` is lexical and free: the share of answer sentences whose words
mostly appear in one passage of the retrieved context. ``faithfulness`` asks a
grader model (recorded like every call) whether each claim is supported by
the context. Both read the documents the case's prompt was given (``context:``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from promptdrift.checks.grader import GRADED_DEFAULT_MIN, GRADER_KEYS, grade, graded_result, grader_options
from promptdrift.checks.registry import CheckContext, check
from promptdrift.checks.schemas import schema_errors
from promptdrift.checks.shared import quote, tokens, values_equal
from promptdrift.core.answers import Answer, CheckResult


def _tool_call_arg(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise ValueError("expected a tool name, or {name: tool, arguments: {schema: file, equals: {...}}}")
    unknown = set(value) - {"name", "arguments"}
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; use name, arguments")
    arguments = value.get("arguments") or {}
    if not isinstance(arguments, Mapping) or set(arguments) - {"schema", "equals"}:
        raise ValueError("arguments takes {schema: file or inline schema} and/or {equals: {key: value}}")
    if "equals" in arguments and not isinstance(arguments["equals"], Mapping):
        raise ValueError("arguments.equals is a mapping of argument names to expected values")
    return {"name": value.get("name"), "arguments": dict(arguments)}


def _argument_problems(call: Mapping[str, Any], arguments: Mapping[str, Any], ctx: CheckContext) -> list[str]:
    try:
        given = json.loads(call.get("arguments") or "{}")
    except ValueError as exc:
        return [f"arguments are not JSON ({exc}): {quote(str(call.get('arguments')))}"]
    problems = []
    if "schema" in arguments:
        problems += schema_errors(given, arguments["schema"], ctx)
    for key, expected in (arguments.get("equals") or {}).items():
        actual = given.get(key) if isinstance(given, Mapping) else None
        if not values_equal(actual, expected, 0.0):
            problems.append(f"{key} is {actual!r}, expected {expected!r}")
    return problems


@check(
    "tool_call",
    description="The model called a tool (by name), with arguments valid against a schema and/or equal to values.",
    example="tool_call: {name: lookup_order, arguments: {schema: fixtures/tools/lookup.json, equals: {order_id: A-1001}}}",
    family="structure",
    validate=_tool_call_arg,
)
def tool_call(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    name = arg["name"]
    calls = [c for c in answer.tool_calls if name is None or c.get("name") == name]
    made = ", ".join(f"{c.get('name')}({c.get('arguments')})" for c in answer.tool_calls) or "none"
    if not calls:
        wanted = f"a call to {name!r}" if name else "a tool call"
        return CheckResult("tool_call", False, 0.0, f"expected {wanted}; calls made: {made}")
    problems: list[str] = []
    for call in calls:  # passes when any call to the tool has fitting arguments
        problems = _argument_problems(call, arg["arguments"], ctx)
        if not problems:
            return CheckResult("tool_call", True, 1.0, f"called {call.get('name')}({call.get('arguments')})")
    return CheckResult("tool_call", False, 0.0, f"{calls[-1].get('name')} arguments: " + "; ".join(problems[:3]))


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "you",
        "your",
        "we",
        "our",
        "they",
        "their",
        "he",
        "she",
        "his",
        "her",
        "i",
        "me",
        "my",
        "not",
        "no",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "so",
        "than",
        "then",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
    ]
)


def _content_words(text: str) -> set[str]:
    return {t for t in tokens(text) if t not in _STOPWORDS}


def passages(documents: list[dict[str, str]]) -> list[set[str]]:
    """The context split into paragraphs, each as its set of content words."""
    out = []
    for doc in documents:
        for paragraph in re.split(r"\n\s*\n", doc.get("text", "")):
            words = _content_words(paragraph)
            if words:
                out.append(words)
    return out


def _grounded_arg(value: Any) -> dict[str, Any]:
    if value in (None, True):
        return {"overlap": 0.6}
    if isinstance(value, Mapping) and set(value) <= {"overlap"}:
        overlap = value.get("overlap", 0.6)
        if isinstance(overlap, bool) or not isinstance(overlap, int | float) or not 0 < overlap <= 1:
            raise ValueError(f"overlap must be a number in (0, 1], got {overlap!r}")
        return {"overlap": float(overlap)}
    raise ValueError("write 'grounded: true' or {min: 0.8, overlap: 0.6}")


@check(
    "grounded",
    description="Share of answer sentences whose content words mostly (overlap, default 0.6) appear in one "
    "context passage; lexical, no model call. Default min 0.8.",
    example="grounded: {min: 0.8}",
    family="accuracy",
    scored=True,
    validate=_grounded_arg,
    default_min=0.8,
    quality=True,
)
def grounded(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    if not answer.context:
        return CheckResult("grounded", False, None, "the case has no retrieval context (add context: to the suite)")
    supports = passages(answer.context)
    sentences = [s for s in _SENTENCE.split(answer.text) if _content_words(s)]
    if not sentences:
        return CheckResult("grounded", False, 0.0, "the answer has no sentences to check")
    unsupported = []
    for sentence in sentences:
        words = _content_words(sentence)
        best = max((len(words & passage) / len(words) for passage in supports), default=0.0)
        if best < arg["overlap"]:
            unsupported.append(sentence.strip())
    score = 1 - len(unsupported) / len(sentences)
    reason = f"{len(sentences) - len(unsupported)} of {len(sentences)} sentences supported by the context"
    if unsupported:
        reason += "; not supported: " + "; ".join(quote(s, 0, 80) for s in unsupported[:3])
    return CheckResult("grounded", True, score, reason)


FAITHFULNESS_CRITERIA = (
    "Is the answer faithful to the context? Score 1 when every claim in the answer is supported by the "
    "context, 0 when the answer's main claims are not in the context or contradict it, and in between when "
    "some claims are unsupported. Saying that the context does not cover a question is faithful."
)


def _faithfulness_arg(value: Any) -> dict[str, Any]:
    if value in (None, True):
        return {}
    if isinstance(value, Mapping) and set(value) <= GRADER_KEYS:
        return grader_options(value)
    raise ValueError("write 'faithfulness: true' or {min: 0.7, model: grader-model} (or grader: {provider, model})")


@check(
    "faithfulness",
    description="A grader model scores how well the answer is supported by the retrieval context, 0-1 "
    "(recorded); default min 0.7.",
    example="faithfulness: {min: 0.7}",
    family="accuracy",
    scored=True,
    validate=_faithfulness_arg,
    default_min=GRADED_DEFAULT_MIN,
    quality=True,
)
def faithfulness(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    if not answer.context:
        return CheckResult("faithfulness", False, None, "the case has no retrieval context (add context: to the suite)")
    context = "\n\n".join(f"[{d['name']}]\n{d['text']}" for d in answer.context)
    score, reason = grade(ctx, FAITHFULNESS_CRITERIA, answer.text, context=context, options=arg)
    return graded_result("faithfulness", score, reason, answer)

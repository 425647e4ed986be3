"""Checks that call a model: embedding similarity and model-graded rubrics.

Their calls go through the case's own channel, so they are recorded in the
case's cassette like the answer and replay offline with the same scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from promptdrift.checks.grader import GRADED_DEFAULT_MIN, GRADER_KEYS, grade, graded_result, grader_options
from promptdrift.checks.registry import CheckContext, check
from promptdrift.checks.shared import quote, reference_arg
from promptdrift.core.answers import Answer, CheckResult


def _judge_arg(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"rubric": value}
    if not isinstance(value, Mapping) or not isinstance(value.get("rubric"), str) or not value["rubric"].strip():
        raise ValueError("expected {rubric: 'what a good answer does', min: 0.7}")
    unknown = set(value) - {"rubric", *GRADER_KEYS}
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; use rubric, model, params, grader, min, max, weight")
    return {"rubric": value["rubric"], **grader_options(value)}


@check(
    "judge",
    description="A grader model scores the answer against a rubric, 0-1 (recorded); default min 0.7.",
    example='judge: {rubric: "Answers the question and cites the policy", min: 0.7}',
    family="accuracy",
    scored=True,
    validate=_judge_arg,
    default_min=GRADED_DEFAULT_MIN,
    quality=True,
)
def judge(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    score, reason = grade(ctx, arg["rubric"], answer.text, options=arg)
    return graded_result("judge", score, reason, answer)


def _factuality_arg(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"reference": value}
    if not isinstance(value, Mapping) or not isinstance(value.get("reference"), str):
        raise ValueError("expected {reference: '{{ reference }}', min: 0.7}")
    unknown = set(value) - {"reference", *GRADER_KEYS}
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}")
    return {"reference": value["reference"], **grader_options(value)}


FACTUALITY_CRITERIA = (
    "Is the answer factually consistent with the reference answer? Score 1 when every claim in the "
    "answer agrees with the reference and it covers the reference's key facts, 0 when it contradicts "
    "the reference, and in between for omissions."
)


@check(
    "factuality",
    description="A grader model scores factual agreement with a reference answer, 0-1 (recorded); default min 0.7.",
    example='factuality: {reference: "{{ reference }}", min: 0.7}',
    family="accuracy",
    scored=True,
    validate=_factuality_arg,
    default_min=GRADED_DEFAULT_MIN,
    quality=True,
)
def factuality(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    score, reason = grade(
        ctx,
        FACTUALITY_CRITERIA,
        answer.text,
        reference=arg["reference"],
        options=arg,
    )
    return graded_result("factuality", score, reason, answer)


def _similar_arg(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping) and "model" in value:
        rest = {k: v for k, v in value.items() if k != "model"}
        return {**reference_arg(rest), "model": str(value["model"])}
    return reference_arg(value)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


@check(
    "similar",
    description="Cosine similarity of the answer's and the reference's embeddings (recorded), 0-1; default min 0.8.",
    example='similar: {to: "{{ reference }}", min: 0.85}',
    family="accuracy",
    scored=True,
    validate=_similar_arg,
    default_min=0.8,
    quality=True,
)
def similar(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    model = arg.get("model") or ctx.settings.embedding_model
    texts = [answer.text or " ", arg["to"] or " "]  # the endpoint refuses empty input
    vectors = ctx.embed(model, texts, f"embeddings ({model})")
    score = max(0.0, min(1.0, cosine(vectors[0], vectors[1])))
    return CheckResult("similar", True, score, f"reference {quote(arg['to'])}, answer {quote(answer.text)}")

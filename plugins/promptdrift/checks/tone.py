"""Tone: sentiment (VADER), readability (textstat), style limits, phrases, and tone rubrics.

Sentiment and readability need the ``tone`` extra (``pip install 'promptdrift[tone]'``);
the libraries are imported when a check first runs, and a suite that uses them
without the extra fails at collection saying what to install.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from promptdrift.checks.grader import GRADED_DEFAULT_MIN, GRADER_KEYS, grade, graded_result, grader_options
from promptdrift.checks.registry import CheckContext, check
from promptdrift.checks.shared import quote
from promptdrift.core.answers import Answer, CheckResult

_EMOJI = re.compile(
    "[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\U0001f900-\U0001f9ff\U00002b00-\U00002bff]"
)
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z0-9]{2,}\b")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ValueError(f"needs the 'tone' extra ({module} is not installed): pip install 'promptdrift[tone]'")


# Loading VADER's lexicon or textstat's dictionaries takes a second; with cases checked in
# several threads at once (concurrent recording) it must happen once, not once per thread.
_LOADING = threading.Lock()


@cache
def _vader() -> Any:
    with _LOADING:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # optional: the tone extra

        return SentimentIntensityAnalyzer()


@cache
def _textstat() -> Any:
    with _LOADING:
        import textstat  # optional: the tone extra

        textstat.flesch_kincaid_grade("Loads the dictionaries once.")
        return textstat


def sentiment(text: str) -> float:
    """VADER compound score in [-1, 1]."""
    return float(_vader().polarity_scores(text)["compound"])


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade level."""
    return float(_textstat().flesch_kincaid_grade(text)) if text.strip() else 0.0


def reading_ease(text: str) -> float:
    """Flesch reading ease (higher is easier)."""
    return float(_textstat().flesch_reading_ease(text)) if text.strip() else 100.0


def exclamations(text: str) -> float:
    return float(text.count("!"))


def emoji(text: str) -> float:
    return float(len(_EMOJI.findall(text)))


def all_caps(text: str) -> float:
    """Words of three or more letters written in capitals (shouting)."""
    return float(len(_CAPS_WORD.findall(text)))


def sentences(text: str) -> float:
    return float(len(_SENTENCE_END.findall(text.strip()))) if text.strip() else 0.0


# name -> (measure, module it needs, description)
MEASURES: dict[str, tuple[Callable[[str], float], str | None, str]] = {
    "sentiment": (sentiment, "vaderSentiment", "VADER compound sentiment, -1 (negative) to 1 (positive)"),
    "reading_grade": (reading_grade, "textstat", "Flesch-Kincaid grade level"),
    "reading_ease": (reading_ease, "textstat", "Flesch reading ease, higher is easier"),
    "exclamations": (exclamations, None, "number of exclamation marks"),
    "emoji": (emoji, None, "number of emoji"),
    "all_caps": (all_caps, None, "number of ALL-CAPS words"),
    "sentences": (sentences, None, "number of sentences"),
}


def _bounds(name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value or not set(value) <= {"min", "max"}:
        raise ValueError(f"{name}: give bounds as {{min: x}} and/or {{max: y}}")
    for key, bound in value.items():
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise ValueError(f"{name}.{key} must be a number, got {bound!r}")
    return {k: float(v) for k, v in value.items()}


def _measure_check(name: str, measure: Callable[[str], float], module: str | None, description: str) -> None:
    def validate(value: Any) -> None:
        if module:
            _needs(module)
        if value is not None:
            raise ValueError(f"write bounds only, e.g. {name}: {{max: 1}}")

    def run(answer: Answer, arg: Any, ctx: CheckContext) -> CheckResult:
        return CheckResult(name, True, measure(answer.text), f"answer {quote(answer.text)}")

    check(
        name,
        description=f"Bounds on the answer's {description}.",
        example=f"{name}: {{max: 1}}" if name != "sentiment" else "sentiment: {min: 0.2}",
        family="tone",
        scored=True,
        validate=validate,
    )(run)


for _name, (_measure, _module, _description) in MEASURES.items():
    _measure_check(_name, _measure, _module, _description)


def _tone_arg(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError("expected measures with bounds, e.g. {sentiment: {min: 0.2}}, or {rubric: '...', min: 0.7}")
    if "rubric" in value:
        unknown = set(value) - {"rubric", *GRADER_KEYS}
        if unknown:
            raise ValueError(f"a tone rubric takes rubric, model, params, grader, min, max; not {sorted(unknown)}")
        return {"rubric": str(value["rubric"]), **grader_options(value)}
    limits = {}
    for name, bounds in value.items():
        if name not in MEASURES:
            raise ValueError(f"unknown tone measure {name!r}; known: {', '.join(MEASURES)}, or rubric")
        module = MEASURES[name][1]
        if module:
            _needs(module)
        limits[name] = _bounds(name, bounds)
    return {"limits": limits}


TONE_CRITERIA = "Does the answer's tone match this description? {rubric}"


@check(
    "tone",
    description="Tone limits in one check (sentiment, reading_grade, exclamations, ...), or a tone rubric graded by the judge model.",
    example="tone: {sentiment: {min: 0.2}, reading_grade: {max: 9}, exclamations: {max: 1}}",
    family="tone",
    scored=True,
    validate=_tone_arg,
    quality=True,
)
def tone(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    if "rubric" in arg:
        criteria = TONE_CRITERIA.format(rubric=arg["rubric"])
        score, reason = grade(ctx, criteria, answer.text, options=arg)
        result = graded_result("tone", score, reason, answer)
        # Without min/max in the suite a rubric passes at the judge's default; limits decide themselves.
        if result.score is not None and result.score < GRADED_DEFAULT_MIN:
            reason = f"score {result.score:.3g} < min {GRADED_DEFAULT_MIN:g}: {result.reason}"
            return CheckResult("tone", False, result.score, reason)
        return result
    problems, measured = [], {}
    for name, bounds in arg["limits"].items():
        value = MEASURES[name][0](answer.text)
        measured[name] = value
        if "min" in bounds and value < bounds["min"]:
            problems.append(f"{name} {value:.3g} < min {bounds['min']:g}")
        if "max" in bounds and value > bounds["max"]:
            problems.append(f"{name} {value:.3g} > max {bounds['max']:g}")
    reason = "; ".join(problems) + (f": {quote(answer.text)}" if problems else "")
    share = 1.0 - len(problems) / len(measured)
    return CheckResult("tone", not problems, share, reason, {"measured": measured})


def _phrase_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError("expected a list of phrases")
    return list(value)


def _find_phrase(text: str, phrase: str) -> re.Match[str] | None:
    """Case-insensitive whole-word match, so 'AI' does not match inside 'said'."""
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(word) for word in phrase.split()) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE)


@check(
    "banned_phrases",
    description="None of the phrases appears (case-insensitive, whole words).",
    example='banned_phrases: ["as an AI", "I cannot"]',
    family="tone",
    validate=_phrase_list,
)
def banned_phrases(answer: Answer, arg: list[str], ctx: CheckContext) -> CheckResult:
    for phrase in arg:
        match = _find_phrase(answer.text, phrase)
        if match:
            return CheckResult(
                "banned_phrases", False, 0.0, f"banned {phrase!r} at {quote(answer.text, match.start(), match.end())}"
            )
    return CheckResult("banned_phrases", True, 1.0)


@check(
    "required_phrases",
    description="Every phrase appears (case-insensitive, whole words).",
    example='required_phrases: ["order number"]',
    family="tone",
    validate=_phrase_list,
)
def required_phrases(answer: Answer, arg: list[str], ctx: CheckContext) -> CheckResult:
    missing = [p for p in arg if not _find_phrase(answer.text, p)]
    score = 1.0 - len(missing) / len(arg)
    reason = f"missing {missing!r} in {quote(answer.text)}" if missing else ""
    return CheckResult("required_phrases", not missing, score, reason)

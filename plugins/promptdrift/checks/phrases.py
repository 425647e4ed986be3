"""Accuracy checks on the answer text: equality, phrases, length limits."""

from __future__ import annotations

import re
from typing import Any

from promptdrift.checks.registry import CheckContext, check
from promptdrift.checks.shared import quote
from promptdrift.core.answers import Answer, CheckResult


def _phrases(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"expected a phrase or a list of phrases, got {value!r}")


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected text, got {value!r}")
    return str(value)


def _find(answer: str, phrase: str, fold: bool) -> int:
    if fold:
        return answer.casefold().find(phrase.casefold())
    return answer.find(phrase)


def _presence(name: str, answer: Answer, phrases: list[str], fold: bool, mode: str) -> CheckResult:
    text = answer.text
    found = {p: _find(text, p, fold) for p in phrases}
    present = [p for p, at in found.items() if at >= 0]
    missing = [p for p, at in found.items() if at < 0]
    if mode == "all":
        ok = not missing
        reason = "" if ok else f"missing {missing!r} in {quote(text)}"
    elif mode == "any":
        ok = bool(present)
        reason = "" if ok else f"none of {phrases!r} in {quote(text)}"
    else:  # none
        ok = not present
        first = present[0] if present else ""
        at = found.get(first, 0)
        reason = "" if ok else f"found {first!r} at {quote(text, at, at + len(first))}"
    share = len(present) / len(phrases)
    return CheckResult(name, ok, 1.0 - share if mode == "none" else share, reason)


def _register_presence(name: str, fold: bool, mode: str, example: str, description: str) -> None:
    def run(answer: Answer, arg: list[str], ctx: CheckContext) -> CheckResult:
        return _presence(name, answer, arg, fold, mode)

    check(name, description=description, example=example, family="accuracy", validate=_phrases)(run)


for _fold, _prefix, _note in ((False, "", ""), (True, "i", " (case-insensitive)")):
    _register_presence(
        f"{_prefix}contains",
        _fold,
        "all",
        f'{_prefix}contains: "30 days"',
        f"The answer contains the phrase(s){_note}.",
    )
    _register_presence(
        f"{_prefix}contains_all",
        _fold,
        "all",
        f'{_prefix}contains_all: ["order", "date"]',
        f"The answer contains every phrase{_note}.",
    )
    _register_presence(
        f"{_prefix}contains_any",
        _fold,
        "any",
        f'{_prefix}contains_any: ["sorry", "apolog"]',
        f"The answer contains at least one phrase{_note}.",
    )
    _register_presence(
        f"not_{_prefix}contains",
        _fold,
        "none",
        f'not_{_prefix}contains: ["guarantee"]',
        f"The answer contains none of the phrases{_note}.",
    )


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _register_equals(name: str, fold: bool, description: str, example: str) -> None:
    def run(answer: Answer, arg: str, ctx: CheckContext) -> CheckResult:
        got, want = _normalise(answer.text), _normalise(arg)
        ok = got.casefold() == want.casefold() if fold else got == want
        return CheckResult(name, ok, float(ok), "" if ok else f"expected {arg!r}, got {quote(answer.text)}")

    check(name, description=description, example=example, family="accuracy", validate=_text)(run)


_register_equals(
    "equals", False, "The answer equals the value, ignoring surrounding and repeated whitespace.", 'equals: "refund"'
)
_register_equals("iequals", True, "Like equals, ignoring case.", 'iequals: "Refund"')


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number >= 0, got {value!r}")
    return value


def _measure(kind: str, text: str) -> int:
    if kind == "words":
        return len(text.split())
    if kind == "chars":
        return len(text)
    return len(text.splitlines())


def _register_limit(kind: str, bound: str) -> None:
    name = f"{bound}_{kind}"

    def run(answer: Answer, arg: int, ctx: CheckContext) -> CheckResult:
        count = _measure(kind, answer.text)
        ok = count <= arg if bound == "max" else count >= arg
        relation = "more than" if bound == "max" else "fewer than"
        reason = "" if ok else f"{count} {kind}, {relation} {arg}: {quote(answer.text)}"
        return CheckResult(name, ok, float(count), reason)

    check(
        name,
        description=f"The answer has at {'most' if bound == 'max' else 'least'} N {kind}.",
        example=f"{name}: 80",
        family="structure",
        validate=_limit,
    )(run)


for _kind in ("words", "chars", "lines"):
    for _bound in ("max", "min"):
        _register_limit(_kind, _bound)


def _pattern(value: Any) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise ValueError(f"expected a regular expression string, got {value!r}")
    try:
        return re.compile(value, re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None


@check(
    "regex",
    description="The answer matches the regular expression (searched, multi-line).",
    example="regex: '^Order [A-Z]-\\d{4}'",
    family="structure",
    validate=_pattern,
)
def regex(answer: Answer, arg: re.Pattern[str], ctx: CheckContext) -> CheckResult:
    match = arg.search(answer.text)
    reason = "" if match else f"/{arg.pattern}/ does not match {quote(answer.text)}"
    return CheckResult("regex", match is not None, float(match is not None), reason)

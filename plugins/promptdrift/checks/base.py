"""The check registry, specs and results.

A check is a function ``(answer, arg, ctx) -> CheckResult`` registered under
a name with :func:`check`. Suites spell a check as a one-key mapping,
``{name: argument}``; the argument may be a mapping of options, of which
``min``/``max`` (bounds on the score), ``not`` (negation) and ``weight`` are
understood by every check; ``{value: x, weight: 2}`` puts them around a plain
argument (``contains: {value: "refund", weight: 2}``). ``not_<name>`` is the negation of ``<name>`` unless a check is registered
under that exact name (``not_contains`` is: "none of these", not "not all").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from ..errors import PromptdriftError, SuiteError
from ..yamlio import line_of


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check on one answer.

    ``score`` is in [0, 1] where the check has a natural score, a raw value
    (a word count, a latency) where it has a measure, or ``None``.
    """

    name: str
    passed: bool
    score: float | None = None
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    turn: int | None = None  # in a conversation: the turn whose answer was checked (None: the final answer)

    @property
    def label(self) -> str:
        """``name``, or ``name (turn N)`` for a check on an earlier turn of a conversation."""
        return self.name if self.turn is None else f"{self.name} (turn {self.turn})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "passed": self.passed}
        if self.turn is not None:
            out["turn"] = self.turn
        if self.score is not None:
            out["score"] = round(self.score, 6)
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Answer:
    """What the model answered, as the checks see it."""

    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    model: str | None = None
    usage: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    requested_model: str | None = None
    raw: str | None = None  # the model's own text, when extract / transform changed what the checks see
    context: list[dict[str, str]] = field(default_factory=list)  # retrieval documents the prompt was given

    @property
    def model_text(self) -> str:
        """What the model said, before any extract / transform (the report and the cassette keep this)."""
        return self.text if self.raw is None else self.raw

    @cached_property
    def json(self) -> Any:
        """The answer parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.text)


def total_usage(usages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Token counts added up over several calls (or answers); non-numeric entries are left out."""
    total: dict[str, Any] = {}
    for usage in usages:
        for key, value in usage.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return total


class CheckContext(Protocol):
    """What a check may use besides the answer.

    ``client()`` is an ``openai`` client recording into the case's own cassette
    (for model-graded checks and embeddings); ``settings`` the run's settings.
    """

    rootdir: Path
    settings: Any

    def resolve(self, name: str, *, what: str) -> Path: ...

    def load_json_file(self, name: str, *, what: str) -> Any: ...

    def chat(self, body: Mapping[str, Any], where: str) -> Answer: ...

    def client(self) -> Any: ...


CheckFunc = Callable[[Answer, Any, CheckContext], CheckResult]
Validator = Callable[[Any], Any]


@dataclass(frozen=True)
class CheckDef:
    """A registered check: its function, docs and what its argument must be."""

    name: str
    func: CheckFunc
    description: str
    example: str
    family: str
    scored: bool = False
    validate: Validator | None = None
    default_min: float | None = None
    quality: bool = False  # the score is in [0, 1] and a fall means a worse answer (drift regressions)


_REGISTRY: dict[str, CheckDef] = {}


def check(
    name: str,
    *,
    description: str,
    example: str,
    family: str = "custom",
    scored: bool = False,
    validate: Validator | None = None,
    default_min: float | None = None,
    quality: bool = False,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check under ``name``.

    A ``scored`` check returns a score and lets the suite bound it with
    ``min``/``max`` (``default_min`` applies when the suite gives neither);
    its result's ``reason`` should then describe what was compared.

    Example::

        @promptdrift.check("mentions_brand", description="Names the brand.",
                           example='mentions_brand: "Acme"')
        def mentions_brand(answer, arg, ctx):
            ok = arg.lower() in answer.text.lower()
            return CheckResult("mentions_brand", ok, reason="" if ok else f"no {arg!r}")
    """

    def decorate(func: CheckFunc) -> CheckFunc:
        known = _REGISTRY.get(name)
        if known is not None and _origin(known.func) != _origin(func):
            raise ValueError(f"a check named {name!r} is already registered by {_origin(known.func)}")
        _REGISTRY[name] = CheckDef(name, func, description, example, family, scored, validate, default_min, quality)
        return func

    return decorate


def _origin(func: Callable[..., Any]) -> str:
    """Where a check function is defined; a re-imported module registers the same origin again."""
    return f"{func.__module__}.{func.__qualname__}"


def registry() -> Mapping[str, CheckDef]:
    """All registered checks, built-in ones and those from plugins."""
    global _complete
    if not _complete:
        from . import load_all

        load_all()
        _complete = True
    return _REGISTRY


_complete = False  # load_all() has run


@dataclass(frozen=True)
class CheckSpec:
    """One check as a suite declares it."""

    name: str
    arg: Any
    negate: bool = False
    min: float | None = None
    max: float | None = None
    weight: float = 1.0
    line: int | None = None
    tolerance: float | None = None  # how far its score may fall against a baseline before it is a regression

    @property
    def label(self) -> str:
        return f"not_{self.name}" if self.negate else self.name


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(value)


def parse_check(item: Any, *, path: str, default_line: int | None) -> CheckSpec:
    """Turn one ``expect`` entry into a :class:`CheckSpec`, validating name and argument."""
    line = line_of(item) or default_line
    if not isinstance(item, Mapping) or len(item) != 1:
        raise SuiteError(
            f"each check is a one-key mapping such as '- contains: \"refund\"', got {item!r}",
            path=path,
            line=line,
        )
    ((raw_name, arg),) = item.items()
    name = str(raw_name)
    negate = False
    checks = registry()
    if name not in checks and name.startswith("not_") and name[4:] in checks:
        name, negate = name[4:], True
    if name not in checks:
        known = ", ".join(sorted(checks))
        raise SuiteError(f"unknown check {name!r}. Known checks: {known}", path=path, line=line)
    definition = checks[name]
    lo = hi = tolerance = None
    weight = 1.0
    try:
        if isinstance(arg, Mapping):
            options = dict(arg)
            if "not" in options:
                if not isinstance(options["not"], bool):
                    raise ValueError(f"'not' must be true or false, got {options['not']!r}")
                negate = negate != options.pop("not")
            if "weight" in options:
                weight = _number(options.pop("weight"), "weight")
            if "drift_tolerance" in options:
                tolerance = _number(options.pop("drift_tolerance"), "drift_tolerance")
            if definition.scored:
                if "min" in options:
                    lo = _number(options.pop("min"), "min")
                if "max" in options:
                    hi = _number(options.pop("max"), "max")
            if set(options) == {"value"}:  # {value: x, weight: 2}: options around a plain argument
                arg = options["value"]
            else:
                arg = options if options or not definition.scored else None
        if definition.validate is not None:
            arg = definition.validate(arg)
    except (ValueError, TypeError) as exc:
        raise SuiteError(f"check {name!r}: {exc}. Example: {definition.example}", path=path, line=line) from None
    return CheckSpec(name, arg, negate, lo, hi, weight, line, tolerance)


def evaluate(spec: CheckSpec, answer: Answer, arg: Any, ctx: CheckContext) -> CheckResult:
    """Run one check, apply its bounds and negation; a crash in a check is a failed result."""
    definition = registry()[spec.name]
    try:
        result = definition.func(answer, arg, ctx)
    except PromptdriftError:
        raise  # bad input, drift or a missing recording: not a verdict on the answer
    except Exception as exc:  # a check must never take the whole run down
        result = CheckResult(spec.name, False, reason=f"check raised {type(exc).__name__}: {exc}")
    lo, hi = spec.min, spec.max
    if lo is None and hi is None:
        lo = definition.default_min
    if lo is not None or hi is not None:
        result = _bounded(spec.name, result, lo, hi)
    if spec.negate:
        reason = f"expected the opposite of {spec.name}" + (f" ({result.reason})" if result.reason else "")
        result = CheckResult(
            spec.label, not result.passed, result.score, reason if result.passed else "", result.details
        )
    return result


def _bounded(name: str, result: CheckResult, lo: float | None, hi: float | None) -> CheckResult:
    if result.score is None:
        return CheckResult(name, False, None, result.reason or "no score to compare with min/max", result.details)
    score = result.score
    problems = []
    if lo is not None and score < lo:
        problems.append(f"score {score:.3g} < min {lo:g}")
    if hi is not None and score > hi:
        problems.append(f"score {score:.3g} > max {hi:g}")
    reason = "; ".join(problems)
    if problems and result.reason:
        reason = f"{reason}: {result.reason}"
    return CheckResult(name, not problems, score, reason, result.details)

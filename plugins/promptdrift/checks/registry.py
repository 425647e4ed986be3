"""The check registry and check specs: registering, parsing and evaluating checks.

A check is a function ``(answer, arg, ctx) -> CheckResult`` registered under
a name with :func:`check`. Suites spell a check as a one-key mapping,
``{name: argument}``; the argument may be a mapping of options, of which
``min``/``max`` (bounds on the score), ``not`` (negation) and ``weight`` are
understood by every check; ``{value: x, weight: 2}`` puts them around a plain
argument (``contains: {value: "refund", weight: 2}``). ``not_<name>`` is the negation of ``<name>`` unless a check is registered
under that exact name (``not_contains`` is: "none of these", not "not all").
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from promptdrift.core.answers import Answer, CheckResult
from promptdrift.core.errors import ConfigError, PromptdriftError, SuiteError
from promptdrift.text.yamlio import line_of


class CheckContext(Protocol):
    """What a check may use besides the answer.

    ``chat()`` and ``embed()`` call a model (graders, embeddings) through the
    case's own cassette, recorded and replayed like the case's own calls;
    ``client()`` is an ``openai`` client on the same cassette, for custom
    checks; ``settings`` the run's settings.
    """

    rootdir: Path
    settings: Any

    def resolve(self, name: str, *, what: str) -> Path: ...

    def load_json_file(self, name: str, *, what: str) -> Any: ...

    def chat(self, body: Mapping[str, Any], where: str, provider: str = "openai") -> Answer: ...

    def embed(self, model: str, texts: Sequence[str], where: str) -> list[list[float]]: ...

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


ENTRY_POINT_GROUP = "promptdrift.checks"
# The built-in families, one module each (promptdrift.checks.<name>); each registers its checks when imported.
FAMILIES = ("accuracy", "graded", "operational", "phrases", "structure", "tactics", "tone")
_loaded = False
# Which built-in family registers each check name: a suite"s checks load only their own families
# (structure pulls in jsonschema; tone, vaderSentiment). tests/test_registry.py keeps this in step.
BUILTIN_FAMILY = {
    **dict.fromkeys(["f1", "fuzzy", "label", "rouge_l"], "accuracy"),
    **dict.fromkeys(["factuality", "judge", "similar"], "graded"),
    **dict.fromkeys(["cost", "latency", "tokens"], "operational"),
    **dict.fromkeys(["json", "json_path", "schema"], "structure"),
    **dict.fromkeys(["faithfulness", "grounded", "tool_call"], "tactics"),
    **dict.fromkeys(
        [
            "contains",
            "contains_all",
            "contains_any",
            "equals",
            "icontains",
            "icontains_all",
            "icontains_any",
            "iequals",
            "max_chars",
            "max_lines",
            "max_words",
            "min_chars",
            "min_lines",
            "min_words",
            "not_contains",
            "not_icontains",
            "regex",
        ],
        "phrases",
    ),
    **dict.fromkeys(
        [
            "all_caps",
            "banned_phrases",
            "emoji",
            "exclamations",
            "reading_ease",
            "reading_grade",
            "required_phrases",
            "sentences",
            "sentiment",
            "tone",
        ],
        "tone",
    ),
}


def load_all() -> None:
    """Import the built-in check families and every ``promptdrift.checks`` entry point, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for family in FAMILIES:
        importlib.import_module(f"promptdrift.checks.{family}")
    _load_plugins()


_plugins_loaded = False


def _load_plugins() -> None:
    """Import every ``promptdrift.checks`` entry point, once; a broken one is a clear error naming it."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:
            raise ConfigError(
                f"check plugin {ep.name!r} ({ep.value}, entry point group {ENTRY_POINT_GROUP}) failed to load: "
                f"{type(exc).__name__}: {exc}. Fix or uninstall the package that provides it."
            ) from None


def known_checks() -> Mapping[str, CheckDef]:
    """All registered checks, built-in ones and those from plugins (every family loaded)."""
    load_all()
    return _REGISTRY


def check_definition(name: str) -> CheckDef | None:
    """The check registered as ``name``, loading only its built-in family (and, once, the check plugins)."""
    _load_plugins()
    if name not in _REGISTRY:
        family = BUILTIN_FAMILY.get(name)
        if family is not None:
            importlib.import_module(f"promptdrift.checks.{family}")
        else:
            load_all()
    return _REGISTRY.get(name)


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
    found = check_definition(name)
    if found is None and name.startswith("not_"):
        found = check_definition(name[4:])
        if found is not None:
            name, negate = name[4:], True
    if found is None:
        names = sorted(known_checks())
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SuiteError(f"unknown check {name!r}.{hint} Known checks: {', '.join(names)}", path=path, line=line)
    definition = found
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
    definition = check_definition(spec.name)
    assert definition is not None, f"check {spec.name!r} was parsed, so it is registered"
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

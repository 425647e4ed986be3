"""Generated cases: Hypothesis strategies declared in a suite's ``generate:`` block.

::

    generate:
      max_examples: 25
      vars:
        name: {text: {alphabet: "abcdefghij' -", min_size: 1, max_size: 30}}
        qty: {integers: {min: 1, max: 99}}
        sku: {from_regex: '[A-Z]{3}-\\d{3}'}
        city: {sampled_from: fixtures/cities.txt}

Hypothesis explores the examples only while recording (and shrinks a failing
one); the examples it ran are stored in the cassette and a replay runs exactly
those, in order, without importing Hypothesis. This module parses and checks
the block when the suite loads (no Hypothesis import), builds the strategies,
and runs the exploration.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptdrift.core.errors import PromptdriftError, SuiteError
from promptdrift.text.paths import read_text, resolve_in_root
from promptdrift.text.yamlio import line_of, load_file

GENERATED = "generated"  # the item and cassette name of a suite's generated cases

STRATEGIES = {
    "integers": "{min, max}",
    "floats": "{min, max}",
    "text": "{alphabet, min_size, max_size}",
    "from_regex": "a regular expression the whole value matches (\\d, \\w are ASCII)",
    "sampled_from": "a list, or a file with one value per line (.txt) or a list (.json / .yaml)",
    "dates": "{min: 2024-01-01, max: 2026-12-31, format: '%d.%m.%Y'} (format: render as text)",
    "booleans": "true",
    "just": "a fixed value",
    "from_schema": "a JSON Schema (a file or inline): values valid against it",
}
GENERATE_KEYS = {"vars", "max_examples", "seed", "shrink"}
DEFAULT_EXAMPLES = 25


@dataclass(frozen=True)
class Generate:
    """A parsed ``generate:`` block; ``declaration`` is what the cassette stores to detect a changed block."""

    vars: tuple[tuple[str, str, Any], ...]  # (variable, strategy, argument with files loaded)
    declaration: Mapping[str, Any]
    max_examples: int = DEFAULT_EXAMPLES
    seed: int | None = None
    shrink: bool = True


def parse_generate(value: Any, *, path: str, rootdir: Path, line: int | None) -> Generate:
    """Validate a ``generate:`` block; every problem names the suite file and line."""
    where = line_of(value) or line

    def fail(message: str) -> SuiteError:
        return SuiteError(f"generate: {message}", path=path, line=where)

    if not isinstance(value, Mapping):
        raise fail("expected a mapping with vars (and max_examples, seed, shrink)")
    unknown = sorted(set(value) - GENERATE_KEYS)
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(GENERATE_KEYS))}")
    variables = value.get("vars")
    if not isinstance(variables, Mapping) or not variables:
        raise fail("vars: give each generated variable a strategy, e.g. qty: {integers: {min: 1, max: 99}}")
    count = value.get("max_examples", DEFAULT_EXAMPLES)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise fail(f"max_examples must be a whole number from 1 to 10000, got {count!r}")
    seed = value.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise fail(f"seed must be a whole number, got {seed!r}")
    shrink = value.get("shrink", True)
    if not isinstance(shrink, bool):
        raise fail(f"shrink must be true or false, got {shrink!r}")
    parsed = []
    for name, spec in variables.items():
        if not isinstance(spec, Mapping) or len(spec) != 1:
            raise fail(f"vars.{name}: one strategy as a one-key mapping, e.g. {{integers: {{min: 1, max: 9}}}}")
        ((kind, arg),) = spec.items()
        if kind not in STRATEGIES:
            known = "; ".join(f"{k}: {v}" for k, v in STRATEGIES.items())
            raise fail(f"vars.{name}: unknown strategy {kind!r}. Strategies: {known}")
        try:
            parsed.append((str(name), str(kind), _argument(str(kind), arg, rootdir)))
        except (ValueError, TypeError, re.error) as exc:
            raise fail(f"vars.{name}: {kind}: {exc}. Expected {STRATEGIES[kind]}") from None
        except PromptdriftError as exc:
            raise fail(f"vars.{name}: {kind}: {exc.message}") from None
    declaration = json.loads(json.dumps(value, default=str))  # plain data: compared with the recorded one
    return Generate(tuple(parsed), declaration, count, seed, shrink)


def _bounds(arg: Any, allowed: set[str], number: type | tuple[type, ...]) -> dict[str, Any]:
    if not isinstance(arg, Mapping):
        raise ValueError(f"expected a mapping, got {arg!r}")
    unknown = sorted(set(arg) - allowed)
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r}")
    for key in ("min", "max"):
        if key in arg and (isinstance(arg[key], bool) or not isinstance(arg[key], number)):
            raise ValueError(f"{key} must be a {getattr(number, '__name__', 'number')}, got {arg[key]!r}")
    if "min" in arg and "max" in arg and arg["min"] > arg["max"]:
        raise ValueError(f"min {arg['min']!r} is above max {arg['max']!r}")
    return dict(arg)


def _argument(kind: str, arg: Any, rootdir: Path) -> Any:
    """The strategy's argument, checked (and with fixture files read) without importing Hypothesis."""
    if kind == "integers":
        return _bounds(arg, {"min", "max"}, int)
    if kind == "floats":
        return _bounds(arg, {"min", "max"}, (int, float))
    if kind == "dates":
        out = _bounds(arg or {}, {"min", "max", "format"}, dt.date)
        if "format" in out and not isinstance(out["format"], str):
            raise ValueError("format is a strftime pattern such as '%d.%m.%Y'")
        return out
    if kind == "text":
        out = _bounds(arg or {}, {"alphabet", "min_size", "max_size"}, int)
        for key in ("min_size", "max_size"):
            if key in out and (isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < 0):
                raise ValueError(f"{key} must be a whole number, got {out[key]!r}")
        if "alphabet" in out and (not isinstance(out["alphabet"], str) or not out["alphabet"]):
            raise ValueError("alphabet is the text of the allowed characters")
        return out
    if kind == "from_regex":
        if not isinstance(arg, str):
            raise ValueError("expected a pattern")
        re.compile(arg)
        return arg
    if kind == "sampled_from":
        values = _sample_file(arg, rootdir) if isinstance(arg, str) else arg
        if not isinstance(values, list) or not values:
            raise ValueError("expected a non-empty list or a file of values")
        return values
    if kind == "booleans":
        if arg is not True:
            raise ValueError("write 'booleans: true'")
        return True
    if kind == "from_schema":
        schema = _schema_file(arg, rootdir) if isinstance(arg, str) else arg
        if not isinstance(schema, Mapping):
            raise ValueError("expected a JSON Schema file path or an inline schema")
        schema_strategy(schema, check=True)  # unsupported keywords fail now, at load time
        return dict(schema)
    return arg  # just


def _sample_file(name: str, rootdir: Path) -> Any:
    path = resolve_in_root(rootdir, name, what="sampled_from")
    if path.suffix in (".yaml", ".yml"):
        return load_file(path, display=name)
    text = read_text(path, what="sampled_from")
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{name} is not valid JSON ({exc})") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _schema_file(name: str, rootdir: Path) -> Any:
    path = resolve_in_root(rootdir, name, what="from_schema")
    try:
        return json.loads(read_text(path, what="from_schema"))
    except ValueError as exc:
        raise ValueError(f"{name} is not valid JSON ({exc})") from None


# -- strategies (Hypothesis imported from here on) -----------------------------------------

SCHEMA_KEYWORDS = {
    "$schema", "$id", "title", "description", "examples", "default", "$comment",
    "type", "enum", "const", "anyOf", "oneOf",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "format",
    "items", "minItems", "maxItems", "uniqueItems",
    "properties", "required", "additionalProperties",
}  # fmt: skip


def schema_strategy(schema: Mapping[str, Any], *, check: bool = False) -> Any:
    """A strategy for values valid against a JSON Schema (the common keywords; others are refused).

    ``hypothesis-jsonschema`` does this in general, but its last release does
    not work with current Hypothesis, so promptdrift covers the keywords prompt
    inputs use and filters every value through ``jsonschema`` to be sure.
    ``check`` only validates the keywords (no Hypothesis import).
    """
    unsupported = sorted(set(schema) - SCHEMA_KEYWORDS)
    if unsupported:
        raise ValueError(f"JSON Schema keyword {unsupported[0]!r} is not supported for generation")
    if check:
        import jsonschema  # slow to import: only for suites that generate from a schema

        try:
            jsonschema.Draft202012Validator.check_schema(dict(schema))
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        nested = [*(schema.get("properties") or {}).values(), schema.get("items")]
        for sub in [*nested, *(schema.get("anyOf") or []), *(schema.get("oneOf") or [])]:
            if isinstance(sub, Mapping):
                schema_strategy(sub, check=True)
        return None
    import jsonschema  # slow to import, like hypothesis: only while exploring
    from hypothesis import strategies as st  # slow: replay never imports Hypothesis

    return _schema(schema, st).filter(jsonschema.Draft202012Validator(dict(schema)).is_valid)


def _schema(schema: Mapping[str, Any], st: Any) -> Any:
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    choices = schema.get("anyOf") or schema.get("oneOf")
    if choices:
        return st.one_of([_schema(sub, st) for sub in choices])
    kinds = schema.get("type", ["null", "boolean", "integer", "number", "string"])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    return st.one_of([_typed(kind, schema, st) for kind in kinds])


def _typed(kind: str, schema: Mapping[str, Any], st: Any) -> Any:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if kind == "integer":
            return st.integers(min_value=low, max_value=high)
        return st.floats(
            min_value=low,
            max_value=high,
            allow_nan=False,
            allow_infinity=False,
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
        )
    if kind == "string":
        if "pattern" in schema:
            # JSON Schema patterns are ECMA-262: \d is ASCII and $ is the very end (no trailing newline).
            return st.from_regex(re.compile(re.sub(r"(?<!\\)\$", r"\\Z", schema["pattern"]), re.ASCII))
        if schema.get("format") == "date":
            return st.dates().map(dt.date.isoformat)
        if schema.get("format") == "email":
            return st.emails()
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength"))
    if kind == "array":
        items = _schema(schema.get("items") or {}, st)
        return st.lists(
            items,
            min_size=schema.get("minItems", 0),
            max_size=schema.get("maxItems"),
            unique=bool(schema.get("uniqueItems")),
        )
    if kind == "object":
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        return st.fixed_dictionaries(
            {k: _schema(v, st) for k, v in properties.items() if k in required},
            optional={k: _schema(v, st) for k, v in properties.items() if k not in required},
        )
    raise ValueError(f"unknown JSON Schema type {kind!r}")


def strategy(kind: str, arg: Any) -> Any:
    """The Hypothesis strategy for one declared variable."""
    from hypothesis import strategies as st  # slow: replay never imports Hypothesis

    if kind == "integers":
        return st.integers(min_value=arg.get("min"), max_value=arg.get("max"))
    if kind == "floats":
        return st.floats(min_value=arg.get("min"), max_value=arg.get("max"), allow_nan=False, allow_infinity=False)
    if kind == "text":
        alphabet = arg.get("alphabet")
        return st.text(
            alphabet=st.sampled_from(alphabet) if alphabet else st.characters(exclude_categories=["Cs", "Cc"]),
            min_size=arg.get("min_size", 0),
            max_size=arg.get("max_size"),
        )
    if kind == "from_regex":
        return st.from_regex(re.compile(arg, re.ASCII), fullmatch=True)  # \d and \w: ASCII, as in an order number
    if kind == "sampled_from":
        return st.sampled_from(arg)
    if kind == "dates":
        dates = st.dates(min_value=arg.get("min", dt.date.min), max_value=arg.get("max", dt.date.max))
        return dates.map(lambda d: d.strftime(arg["format"])) if "format" in arg else dates
    if kind == "booleans":
        return st.booleans()
    if kind == "from_schema":
        return schema_strategy(arg)
    return st.just(arg)

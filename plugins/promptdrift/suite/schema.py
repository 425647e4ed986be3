"""The suite format as a JSON Schema (draft 2020-12), made from the definitions the reader uses.

``promptdrift schema`` prints it; editors point to it with a
``# yaml-language-server: $schema=...`` first line. Every key, its description
and the keys of its parts come from :mod:`promptdrift.suite.reader`; the check
names from the check registry (entry-point checks included), so the schema
cannot fall behind the loader. The reader still decides what loads: the schema
describes the shape, it does not replace the reader's checks of values.

:func:`problems` validates a suite file's YAML against the schema and reports
every problem at once, each at its line and column, with a "did you mean".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptdrift.checks import known_checks
from promptdrift.suite import reader
from promptdrift.suite.model import API_NAMES, PROVIDER_APIS
from promptdrift.text import yamlio

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ANY: dict[str, Any] = {}
TEXT = {"type": "string"}
NUMBER = {"type": "number"}


def _object(keys: Mapping[str, Any] | set[str] | frozenset[str], **types: Any) -> dict[str, Any]:
    """An object with exactly these keys: each typed by ``types`` (any value otherwise), described when known."""
    described = keys if isinstance(keys, Mapping) else dict.fromkeys(keys, "")
    properties = {}
    for key in sorted(described):
        shape = dict(types.get(key, ANY))
        if described[key]:
            shape["description"] = described[key]
        properties[key] = shape
    return {"type": "object", "properties": properties, "additionalProperties": False}


def suite_schema() -> dict[str, Any]:
    """The JSON Schema of a suite file."""
    names = sorted(known_checks())
    checks = {
        "type": "array",
        "items": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "propertyNames": {"enum": [*names, *(f"not_{n}" for n in names)]},
            "description": "a check: its name, then its argument or a mapping of options",
        },
    }
    handling = {"extract": ANY, "transform": ANY, "tool_results": {"type": "object"}, "truncation": TEXT}
    turn = _object(reader.TURN_KEYS, user=TEXT, expect={"$ref": "#/$defs/checks"})
    case = _object(
        reader.CASE_KEYS,
        id={"type": ["string", "integer"]},
        vars={"type": "object"},
        expect={"$ref": "#/$defs/checks"},
        turns={"type": "array", "items": turn},
        reference=ANY,
        params={"$ref": "#/$defs/params"},
        samples={"type": "integer", "minimum": 1},
        min_pass_rate=NUMBER,
        confidence=NUMBER,
        min_score=NUMBER,
        **handling,
    )
    prompt = _object(
        reader.PROMPT_KEYS,
        system=TEXT,
        user=TEXT,
        few_shot={"type": ["string", "array", "null"]},
        messages={"type": "array", "items": {"type": "object"}},
    )
    provider_names = {"enum": list(PROVIDER_APIS), "description": "the SDK requests go through"}
    provider = {
        "oneOf": [
            provider_names,
            _object(
                reader.PROVIDER_KEYS,
                name=provider_names,
                base_url=TEXT,
                api_key_env=TEXT,
                organization_env=TEXT,
                api={"enum": list(API_NAMES)},
                azure=_object(reader.AZURE_KEYS, endpoint=TEXT, deployment=TEXT, api_version=TEXT),
            ),
        ]
    }
    shared = {
        "model": TEXT,
        "params": {"$ref": "#/$defs/params"},
        "prompt": {"$ref": "#/$defs/prompt"},
        "provider": {"$ref": "#/$defs/provider"},
        "expect": {"$ref": "#/$defs/checks"},
        "context": _object(reader.CONTEXT_KEYS, top_k={"type": "integer", "minimum": 1}, query=TEXT, separator=TEXT),
        "stream": {"type": "boolean"},
        "api": {"enum": list(API_NAMES)},
        "samples": {"type": "integer", "minimum": 1},
        "min_pass_rate": NUMBER,
        "confidence": NUMBER,
        "min_score": NUMBER,
        "description": TEXT,
        **handling,
    }
    variant = _object(reader.VARIANT_KEYS, **{k: v for k, v in shared.items() if k in reader.VARIANT_KEYS})
    schema = _object(
        reader.SUITE_KEYS,
        suite=TEXT,
        cases={"oneOf": [TEXT, {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/case"}}]},
        variants={"type": "object", "additionalProperties": {"oneOf": [variant, {"type": "null"}]}},
        ship=TEXT,
        cluster=TEXT,
        **shared,
    )
    return {
        "$schema": DRAFT,
        "title": "promptdrift suite",
        "description": "A prompt regression suite for pytest: prompt, cases, checks (promptdrift schema).",
        **schema,
        "required": ["suite"],
        "$defs": {
            "checks": checks,
            "case": case,
            "prompt": prompt,
            "provider": provider,
            "params": _object({*reader.PARAM_KEYS, "extra_body"}),
        },
    }


@dataclass(frozen=True)
class Problem:
    """One way a suite file departs from the schema: where, and what to do."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


def problems(path: Path, shown: str) -> list[Problem]:
    """Every schema problem of the suite file at ``path`` at once, in file order (``shown``: its name)."""
    import jsonschema  # slow: jsonschema, only for validate and the schema check

    text = yamlio.read_bounded(path, display=shown)
    data = yamlio.loads_data(text, path=shown)  # bounded: an alias bomb is an error before anything walks it
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None or not isinstance(data, dict):
        return [Problem(shown, 1, 1, "a suite is a mapping with a suite: key")]
    validator = jsonschema.Draft202012Validator(suite_schema())
    found = []
    for error in _leaves(validator.iter_errors(data)):
        for place, message in _explain(error):
            mark = _mark(node, place)
            found.append(Problem(shown, mark.line + 1, mark.column + 1, message))
    return sorted(set(found), key=lambda p: (p.line, p.column, p.message))


def _leaves(errors: Iterator[Any]) -> Iterator[Any]:
    """The errors that say what is wrong: inside a oneOf, the branch that got furthest."""
    for error in errors:
        if error.validator in ("oneOf", "anyOf") and error.context:
            branches: dict[Any, list[Any]] = {}
            for inner in error.context:
                branches.setdefault(inner.relative_schema_path[0], []).append(inner)
            chosen = max(branches.values(), key=lambda group: max(len(e.absolute_path) for e in group))
            yield from _leaves(iter(chosen))
        else:
            yield error


def _explain(error: Any) -> Iterator[tuple[list[Any], str]]:
    """Where an error is (a path of keys and indexes; a key's own name last for an unknown key) and its message."""
    place = list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed), key=str):
            yield [*place, ("key", key)], _unknown("key", key, allowed)
    elif "propertyNames" in error.schema_path:  # a check's name: the enum of known checks
        yield [*place, ("key", error.instance)], _unknown("check", error.instance, sorted(known_checks()))
    elif error.validator == "required":
        yield place, f"missing key: {error.message.split(' ')[0]}"
    else:
        where = ".".join(str(p) for p in place) or "the suite"
        yield place, f"{where}: {error.message}"


def _unknown(kind: str, name: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(allowed)}"
    return f"unknown {kind} {name!r}{hint}"


def _mark(node: yaml.Node, place: list[Any]) -> yaml.Mark:
    """The position of the value (or, for ``("key", name)``, of the key) at ``place`` in the composed document."""
    for step in place:
        if isinstance(step, tuple) and isinstance(node, yaml.MappingNode):
            for key, _ in node.value:
                if key.value == str(step[1]):
                    return key.start_mark
            return node.start_mark
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == str(step)), node)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
    return node.start_mark

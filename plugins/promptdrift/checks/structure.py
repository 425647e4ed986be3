"""Structure checks: JSON, JSON Schema, JSON path values."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonpath_ng import parse as parse_jsonpath  # type: ignore[import-untyped]
from jsonpath_ng.exceptions import JsonPathParserError  # type: ignore[import-untyped]

from promptdrift.checks.registry import CheckContext, check
from promptdrift.checks.text import quote
from promptdrift.core.answers import Answer, CheckResult
from promptdrift.core.errors import SuiteError
from promptdrift.text.paths import resolve_in_root


def _parse_json(answer: Answer) -> tuple[Any, str]:
    try:
        return answer.json, ""
    except ValueError as exc:
        return None, f"not JSON ({exc}): {quote(answer.text)}"


def _true(value: Any) -> bool:
    if value is not True:
        raise ValueError("write 'json: true'")
    return True


@check("json", description="The answer parses as JSON.", example="json: true", family="structure", validate=_true)
def json_check(answer: Answer, arg: bool, ctx: CheckContext) -> CheckResult:
    _, problem = _parse_json(answer)
    return CheckResult("json", not problem, float(not problem), problem)


def _schema_arg(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise ValueError(f"expected a schema file path or an inline schema mapping, got {value!r}")


def _retriever(rootdir: Path, base: Path | None) -> Any:
    """Resolve ``$ref`` to files under the repository (relative to the referring schema)."""

    @lru_cache(maxsize=256)
    def retrieve(uri: str) -> referencing.Resource[Any]:
        name = uri.removeprefix("file://")
        if base is not None and not name.startswith("/"):
            name = os.path.relpath(base / name, rootdir.resolve())
        path = resolve_in_root(rootdir, name, what=f"$ref {uri!r}")
        contents = json.loads(path.read_text(encoding="utf-8"))
        return referencing.Resource.from_contents(contents, default_specification=referencing.jsonschema.DRAFT202012)

    return retrieve


@lru_cache(maxsize=256)
def _validator_for(schema_json: str, rootdir: str, base: str | None) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise SuiteError(f"invalid JSON schema: {exc.message}", path=base) from None
    registry: referencing.Registry[Any] = referencing.Registry(  # type: ignore[call-arg]
        retrieve=_retriever(Path(rootdir), Path(base) if base else None)
    )
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)  # type: ignore[call-arg]


def validator(arg: Any, ctx: CheckContext) -> jsonschema.protocols.Validator:
    """A cached validator for a schema file path or inline schema."""
    if isinstance(arg, str):
        schema = ctx.load_json_file(arg, what="schema")
        base = str(ctx.resolve(arg, what="schema").parent)
    else:
        schema, base = arg, None
    return _validator_for(json.dumps(schema, sort_keys=True), str(ctx.rootdir), base)


def schema_errors(instance: Any, arg: Any, ctx: CheckContext) -> list[str]:
    """Validation errors of ``instance`` against a schema, each with the failing location."""
    try:
        errors = sorted(validator(arg, ctx).iter_errors(instance), key=lambda e: list(e.absolute_path))
    except (referencing.exceptions.Unresolvable, jsonschema.exceptions.SchemaError) as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, SuiteError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        raise SuiteError(f"schema $ref cannot be resolved: {exc}") from None
    return [f"at {e.json_path}: {e.message}" for e in errors]


@check(
    "schema",
    description="The answer is JSON valid against a JSON Schema (Draft 2020-12 unless $schema says otherwise).",
    example="schema: fixtures/schemas/reply.json",
    family="structure",
    validate=_schema_arg,
)
def schema_check(answer: Answer, arg: Any, ctx: CheckContext) -> CheckResult:
    instance, problem = _parse_json(answer)
    if problem:
        return CheckResult("schema", False, 0.0, problem)
    errors = schema_errors(instance, arg, ctx)
    reason = "" if not errors else "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
    return CheckResult("schema", not errors, float(not errors), reason, {"errors": errors})


def _json_path_arg(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("path"), str):
        raise ValueError("expected {path: '$.field', equals: value} (optional: tolerance, exists)")
    unknown = set(value) - {"path", "equals", "tolerance", "exists"}
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; use path, equals, tolerance, exists")
    try:
        compiled = parse_jsonpath(value["path"])
    except (JsonPathParserError, Exception) as exc:
        raise ValueError(f"invalid JSON path {value['path']!r}: {exc}") from None
    if "tolerance" in value and not isinstance(value["tolerance"], int | float):
        raise ValueError(f"tolerance must be a number, got {value['tolerance']!r}")
    return {**value, "_compiled": compiled}


def _values_equal(actual: Any, expected: Any, tolerance: float) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected  # JSON true is not the number 1
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return math.isclose(float(actual), float(expected), rel_tol=0.0, abs_tol=tolerance)
    return bool(actual == expected)


@check(
    "json_path",
    description="A value inside the JSON answer, by JSON path: present, equal, or within a numeric tolerance.",
    example='json_path: {path: "$.total", equals: 59.9, tolerance: 0.01}',
    family="accuracy",
    validate=_json_path_arg,
)
def json_path(answer: Answer, arg: dict[str, Any], ctx: CheckContext) -> CheckResult:
    instance, problem = _parse_json(answer)
    if problem:
        return CheckResult("json_path", False, 0.0, problem)
    matches = [m.value for m in arg["_compiled"].find(instance)]
    path = arg["path"]
    if not matches:
        ok = arg.get("exists") is False
        return CheckResult("json_path", ok, float(ok), "" if ok else f"{path} not found in the answer")
    if arg.get("exists") is False:
        return CheckResult("json_path", False, 0.0, f"{path} exists: {matches[0]!r}")
    if "equals" not in arg:
        return CheckResult("json_path", True, 1.0)
    expected, tolerance = arg["equals"], float(arg.get("tolerance", 0.0))
    ok = any(_values_equal(value, expected, tolerance) for value in matches)
    shown = matches[0] if len(matches) == 1 else matches
    within = f" (tolerance {tolerance:g})" if tolerance else ""
    reason = "" if ok else f"{path} is {shown!r}, expected {expected!r}{within}"
    return CheckResult("json_path", ok, float(ok), reason)

"""Structure checks: JSON, JSON Schema, JSON path values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonpath_ng import parse as parse_jsonpath  # type: ignore[import-untyped]
from jsonpath_ng.exceptions import JsonPathParserError  # type: ignore[import-untyped]

from promptdrift.checks.registry import CheckContext, check
from promptdrift.checks.schemas import schema_errors
from promptdrift.checks.shared import quote, values_equal
from promptdrift.core.answers import Answer, CheckResult


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
    ok = any(values_equal(value, expected, tolerance) for value in matches)
    shown = matches[0] if len(matches) == 1 else matches
    within = f" (tolerance {tolerance:g})" if tolerance else ""
    reason = "" if ok else f"{path} is {shown!r}, expected {expected!r}{within}"
    return CheckResult("json_path", ok, float(ok), reason)

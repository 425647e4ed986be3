"""Unit tests for json, schema (with $ref to fixture files) and json_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptdrift.checks import parse_check
from promptdrift.core.errors import SuiteError
from tests.helpers import apply_check


@pytest.fixture
def root(tmp_path: Path) -> Path:
    schemas = tmp_path / "fixtures" / "schemas"
    schemas.mkdir(parents=True)
    (schemas / "money.json").write_text(json.dumps({"type": "number", "minimum": 0}))
    (schemas / "invoice.json").write_text(
        json.dumps(
            {
                "type": "object",
                "required": ["total", "currency"],
                "properties": {"total": {"$ref": "money.json"}, "currency": {"enum": ["EUR", "USD"]}},
            }
        )
    )
    return tmp_path


@pytest.mark.parametrize(
    ("text", "passed"),
    [('{"a": 1}', True), ("[1, 2]", True), ("", False), ("not json", False), ('{"a": 1', False), ('"ü"', True)],
)
def test_json(text: str, passed: bool, root: Path) -> None:
    assert apply_check({"json": True}, text, root=root).passed is passed


def test_schema_with_ref_to_a_fixture_file(root: Path) -> None:
    spec = {"schema": "fixtures/schemas/invoice.json"}
    assert apply_check(spec, '{"total": 12.5, "currency": "EUR"}', root=root).passed
    bad = apply_check(spec, '{"total": -1, "currency": "GBP"}', root=root)
    assert not bad.passed
    assert "at $.currency: 'GBP' is not one of ['EUR', 'USD']" in bad.reason
    assert "at $.total: -1 is less than the minimum of 0" in bad.reason
    empty = apply_check(spec, "", root=root)
    assert not empty.passed and empty.reason.startswith("not JSON")


def test_inline_schema_and_draft_2020_12_default(root: Path) -> None:
    spec = {"schema": {"type": "array", "prefixItems": [{"type": "string"}], "items": False}}
    assert apply_check(spec, '["a"]', root=root).passed
    assert not apply_check(spec, '["a", "b"]', root=root).passed  # Draft 2020-12 semantics of items: false


def test_invalid_schema_is_a_suite_error(root: Path) -> None:
    (root / "fixtures/schemas/broken.json").write_text('{"type": "nonsense"}')
    with pytest.raises(SuiteError, match="invalid JSON schema"):
        apply_check({"schema": "fixtures/schemas/broken.json"}, "{}", root=root)


def test_schema_ref_outside_the_repository_is_refused(root: Path) -> None:
    (root / "fixtures/schemas/escape.json").write_text('{"$ref": "../../../etc/passwd.json"}')
    with pytest.raises(SuiteError, match="leaves the repository"):
        apply_check({"schema": "fixtures/schemas/escape.json"}, "{}", root=root)


@pytest.mark.parametrize(
    ("spec", "text", "passed"),
    [
        ({"path": "$.total", "equals": 59.9, "tolerance": 0.01}, '{"total": 59.905}', True),
        ({"path": "$.total", "equals": 59.9, "tolerance": 0.01}, '{"total": 59.92}', False),
        ({"path": "$.total", "equals": 59.9}, '{"total": 59.9}', True),
        ({"path": "$.items[*].sku", "equals": "B-2"}, '{"items": [{"sku": "A-1"}, {"sku": "B-2"}]}', True),
        ({"path": "$.name", "equals": "Zoë"}, '{"name": "Zoë"}', True),
        ({"path": "$.missing"}, "{}", False),
        ({"path": "$.missing", "exists": False}, "{}", True),
        ({"path": "$.flag", "equals": 1}, '{"flag": true}', False),
        ({"path": "$.a"}, "not json", False),
    ],
)
def test_json_path(spec: dict, text: str, passed: bool, root: Path) -> None:
    assert apply_check({"json_path": spec}, text, root=root).passed is passed


def test_json_path_reason_names_path_and_values(root: Path) -> None:
    result = apply_check(
        {"json_path": {"path": "$.total", "equals": 59.9, "tolerance": 0.01}}, '{"total": 61}', root=root
    )
    assert result.reason == "$.total is 61, expected 59.9 (tolerance 0.01)"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"json_path": "$.a"}, "expected {path:"),
        ({"json_path": {"path": "$.a", "equal": 1}}, "unknown option"),
        ({"json_path": {"path": "$[[", "equals": 1}}, "invalid JSON path"),
        ({"schema": 5}, "schema file path or an inline schema"),
        ({"json": "yes"}, "json: true"),
    ],
)
def test_bad_structure_arguments(spec: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_check(spec, path="t.yaml", default_line=1)

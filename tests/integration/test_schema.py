"""The suite format's JSON Schema: made from the loader's own definitions, published, and used by validate
to report every problem of a file at once, at its line and column, with "did you mean"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from promptdrift.cli.main import main
from promptdrift.suite.schema import suite_schema
from tests.helpers import write

REPO = Path(__file__).resolve().parents[2]

TWO_MISTAKES = """\
suite: two
model: gpt-4o-mini
prompt:
  user: "{{ message }}"
expekt:
  - contains: hi
cases:
  - id: a
    vars: {message: hi}
    expect:
      - contians: x
      - max_words: 5
"""


def test_the_schema_is_draft_2020_12_and_the_published_copy_is_current() -> None:
    jsonschema.Draft202012Validator.check_schema(suite_schema())
    # In a process of its own: this one's registry also holds the checks other tests registered.
    printed = subprocess.run(
        [sys.executable, "-m", "promptdrift.cli.main", "schema"], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(printed) == json.loads((REPO / "docs" / "suite.schema.json").read_text(encoding="utf-8")), (
        "docs/suite.schema.json is behind: promptdrift schema > docs/suite.schema.json"
    )


def test_the_example_suites_validate_and_an_unknown_key_does_not() -> None:
    validator = jsonschema.Draft202012Validator(suite_schema())
    for path in sorted((REPO / "suites").glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
        assert errors == [], (path, [e.message for e in errors])
    assert list(validator.iter_errors({"suite": "a", "promt": {}}))
    assert list(validator.iter_errors({"suite": "a", "expect": [{"no_such_check": 1}]}))


def test_validate_reports_every_problem_at_once_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "two.yaml").write_text(TWO_MISTAKES)
    assert main(["validate", str(tmp_path / "suites"), "--rootdir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL suites/two.yaml:5:1: unknown key 'expekt'; did you mean 'expect'?" in out
    assert "FAIL suites/two.yaml:11:9: unknown check 'contians'; did you mean 'contains'?" in out
    assert "Traceback" not in out


def test_collection_shows_every_problem_too(pytester: pytest.Pytester) -> None:
    write(pytester, "suites/two.yaml", TWO_MISTAKES)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*suites/two.yaml:5:1: unknown key 'expekt'; did you mean 'expect'?",
            "suites/two.yaml:11:9: unknown check 'contians'; did you mean 'contains'?",
        ]
    )


def test_the_pre_commit_hook_passes_a_valid_suite_and_fails_a_broken_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "promptdrift-validate"]
    assert hook["entry"] == "promptdrift validate" and hook["types"] == ["yaml"]
    (tmp_path / "good.yaml").write_text("suite: good\nmodel: m\nprompt: {user: hi}\ncases: [{id: a}]\n")
    (tmp_path / "bad.yaml").write_text(TWO_MISTAKES)
    (tmp_path / "other.yaml").write_text("name: a workflow, not a suite\n")
    argv = hook["entry"].split()[1:]
    assert main([*argv, str(tmp_path / "good.yaml"), str(tmp_path / "other.yaml"), "--rootdir", str(tmp_path)]) == 0
    assert main([*argv, str(tmp_path / "other.yaml"), "--rootdir", str(tmp_path)]) == 0  # no suite among them
    assert main([*argv, str(tmp_path / "bad.yaml"), "--rootdir", str(tmp_path)]) == 1
    assert "unknown check 'contians'" in capsys.readouterr().out

"""An answer cut off by the token limit fails, in both APIs, unless the case expects it."""

from __future__ import annotations

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import script, write

TRUNCATED = """
suite: essays
model: gpt-4o-mini
params: {max_tokens: 5}
prompt: {user: "Write an essay about {{ topic }}."}
cases:
  - {id: cut, vars: {topic: rain}}
  - {id: allowed, vars: {topic: snow}, truncation: expected}
"""


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_an_answer_cut_off_by_the_token_limit_fails_unless_expected(
    pytester: pytest.Pytester, demo: DemoServer, api: str
) -> None:
    script(demo, {"when": {"contains": "essay"}, "reply": "Rain falls on the", "finish_reason": "length"})
    write(pytester, "suites/essays.yaml", TRUNCATED + f"api: {api}\n")
    result = pytester.runpytest("--prompt-record=new", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*essays.yaml::cut FAILED*",
            "*FAIL truncation: the answer was cut off by the token limit (max_tokens=5, finish_reason 'length'); "
            "raise the limit, or declare 'truncation: expected' on the case*",
        ]
    )
    if api == "responses":
        body = cassettes.load(pytester.path / "cassettes/essays/cut.yaml").interactions[0].request_json
        assert body["max_output_tokens"] == 5 and "max_tokens" not in body


# -- the Responses API -------------------------------------------------------------------------

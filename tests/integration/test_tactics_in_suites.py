"""Tactics as suite declarations: malformed ones name file and line; variants switch api, context and tactics."""

from __future__ import annotations

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import FAQ, assert_invalid_suite, record_and_replay, script, write, write_policies


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ("extract: {before: x}\n", "*extract: unknown step 'before'. Steps: after*"),
        ("transform: [strip, {regex: '('}]\n", "*transform: regex: invalid pattern*"),
        ("transform: [{function: 'no colon'}]\n", "*transform: function: give 'package.module:function'*"),
        ("context: {documents: 'fixtures/none/*.md'}\n", "*context.documents: no file matches 'fixtures/none/*.md'*"),
        ("context: {documents: '../*.md'}\n", "*context.documents: '../*.md' must stay inside the repository*"),
        ("context: {documents: fixtures/a.md, top_k: 2}\n", "*context.top_k needs a query template*"),
        ("api: completions\n", "*api must be one of chat, responses, messages, got 'completions'*"),
        ("truncation: maybe\n", "*truncation must be 'expected' or 'fail'*"),
        ("tool_results: [a]\n", "*tool_results (tool name: result) must be a mapping*"),
    ],
)
def test_malformed_tactics_name_the_file_and_line(pytester: pytest.Pytester, fragment: str, message: str) -> None:
    write(pytester, "fixtures/a.md", "A document.")
    text = "suite: bad\nmodel: m\nprompt: {user: hi}\ncases: [{id: a}]\n" + fragment
    assert_invalid_suite(pytester, text, "*suites/bad.yaml:5: " + message.lstrip("*"))


def test_variants_can_switch_api_context_and_tactics(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo, {"when": {"contains": "returns"}, "reply": "Returns are accepted within 30 days of delivery.\nAnswer: 30"}
    )
    write_policies(pytester)
    suite = FAQ.replace("expect:\n  - grounded: {min: 1.0}\n  - faithfulness: {min: 0.7}\n", "")
    suite += """
variants:
  chat-all-documents: {context: {documents: "fixtures/policies/*.md"}}
  responses-extracted: {api: responses, extract: {after: "Answer:"}, expect: [{equals: "30"}]}
"""
    write(pytester, "suites/faq.yaml", suite)
    record_and_replay(pytester, demo, passed=2)
    folder = pytester.path / "cassettes/faq"
    chat = cassettes.load(folder / "chat-all-documents/return-window.yaml").interactions[0]
    assert (
        chat.uri.endswith("/chat/completions") and chat.request_json["messages"][0]["content"].count("[fixtures/") == 3
    )
    responses = cassettes.load(folder / "responses-extracted/return-window.yaml")
    assert responses.interactions[0].uri.endswith("/responses") and responses.meta["checked_text"] == "30"

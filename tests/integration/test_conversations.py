"""Conversations and revision loops: turns recorded in order in one cassette, checks per turn, drift per turn."""

from __future__ import annotations

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import drift_after_edit, record_and_replay, script, write

# -- conversations and revision loops ---------------------------------------------------------

REVISION = """
suite: blurbs
model: gpt-4o-mini
prompt:
  system: You write product copy.
cases:
  - id: polish
    vars: {product: "trail boots"}
    turns:
      - user: "Write a product blurb for {{ product }}."
        expect: [{icontains: "boots"}]
      - user: "Now polish the above text to at most 12 words."
        expect: [{max_words: 12}]
    expect: [{not_contains: "!!"}]
"""
LONG_BLURB = "These trail boots grip every rock, shrug off rain and keep your feet fresh mile after long mile."


def test_a_revision_loop_records_its_turns_in_order_in_one_cassette(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    script(
        demo,
        {"when": {"contains": "blurb"}, "reply": LONG_BLURB},
        {"when": {"contains": "polish"}, "reply": "Trail boots that grip rock and stay dry."},
    )
    write(pytester, "suites/blurbs.yaml", REVISION)
    record_and_replay(pytester, demo, passed=1)
    tape = cassettes.load(pytester.path / "cassettes/blurbs/polish.yaml")
    first, second = (i.request_json["messages"] for i in tape.interactions)
    assert [m["role"] for m in first] == ["system", "user"]
    # The second turn carries the model's first answer, so "the above text" refers to it.
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == LONG_BLURB and "polish" in second[3]["content"]
    assert tape.meta["answer"] == "Trail boots that grip rock and stay dry."
    assert [c.get("turn") for c in tape.meta["checks"]] == [1, None, None]


def test_a_turn_check_failing_names_its_turn(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo, {"when": {"contains": "blurb"}, "reply": "Shoes."}, {"when": {"contains": "polish"}, "reply": LONG_BLURB}
    )
    write(pytester, "suites/blurbs.yaml", REVISION)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FAIL icontains (turn 1)*", "*FAIL max_words*18 words, more than 12*"])


def test_an_edited_turn_is_prompt_drift(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo, {"when": {"contains": "blurb"}, "reply": LONG_BLURB}, {"when": {"contains": "polish"}, "reply": "Short."}
    )
    write(pytester, "suites/blurbs.yaml", REVISION)
    result = drift_after_edit(pytester, "suites/blurbs.yaml", "at most 12 words", "at most 10 words")
    result.stdout.fnmatch_lines(["*-*at most 12 words*", "*+*at most 10 words*"])


# -- reasoning with answer extraction -----------------------------------------------------


def test_turns_must_be_a_list_of_user_messages(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        "suites/bad.yaml",
        "suite: bad\nmodel: m\nprompt: {system: s}\ncases:\n  - {id: a, turns: [{assistant: x}]}\n",
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        ["*suites/bad.yaml:5: case 'a' turn 1: unknown key 'assistant'; valid keys: expect, user*"]
    )
    write(pytester, "suites/bad.yaml", "suite: bad\nmodel: m\nprompt: {system: s}\ncases:\n  - {id: a}\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*prompt.user (the user message template) is required, unless every case has turns*"])


def test_prompt_run_in_python_runs_a_conversation_case(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo,
        {"when": {"contains": "blurb"}, "reply": LONG_BLURB},
        {"when": {"contains": "polish"}, "reply": "Trail boots that grip rock and stay dry."},
    )
    write(pytester, "suites/blurbs.yaml", REVISION)
    pytester.makepyfile(
        test_blurb="""
        def test_polish(prompt):
            out = prompt.run("suites/blurbs.yaml", case="polish")
            assert out.text == "Trail boots that grip rock and stay dry."
            out.check()
        """
    )
    record_and_replay(pytester, demo, passed=2)  # the suite's own item, and the Python test
    assert len(cassettes.load(pytester.path / "cassettes/test_blurb/test_polish.yaml").interactions) == 2

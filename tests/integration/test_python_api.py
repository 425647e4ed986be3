"""The prompt and openai_client fixtures: code-first tests get the same recording and checks."""

from __future__ import annotations

import pytest
import yaml

from promptdrift.testing.demo import DemoServer
from tests.helpers import write

TEST_FILE = """
import pytest

def test_invoice_total(prompt):
    out = prompt.run("suites/support.yaml", vars={"message": "Send my invoice"})
    out.check(json=True, json_path={"path": "$.total", "equals": 42.5})
    assert out.json["total"] == 42.5

def test_suite_case_with_its_checks(prompt):
    prompt.run("suites/support.yaml", case="late").check()

def test_adhoc_messages(prompt):
    out = prompt.run(messages=[{"role": "user", "content": "is my order late?"}], model="gpt-4o-mini", temperature=0)
    assert "sorry" in out.text

def test_failing_check(prompt):
    prompt.run("suites/support.yaml", vars={"message": "refund?"}).check(not_icontains="guarantee")

def test_client(openai_client):
    reply = openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "late"}])
    assert reply.choices[0].message.content.startswith("I'm so sorry")
"""


def test_fixtures_record_then_replay(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, "tests/test_api.py", TEST_FILE)
    result = pytester.runpytest("--prompt-record=new", "tests")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*1 check(s) failed:*", "*FAIL not_icontains: found 'guarantee'*"])
    cassette = pytester.path / "cassettes/tests/test_api/test_invoice_total.yaml"
    meta = yaml.safe_load(cassette.read_text())["metadata"]["promptdrift"]
    assert meta["test"] == "tests/test_api.py::test_invoice_total"
    assert [c["check"] for c in meta["checks"]] == ["json", "json_path"]
    assert (pytester.path / "cassettes/tests/test_api/test_client.yaml").exists()
    demo.stop()
    monkeypatch.delenv("OPENAI_API_KEY")
    pytester.runpytest("tests").assert_outcomes(passed=4, failed=1)


def test_missing_cassette_in_a_python_test_says_how_to_record(
    pytester: pytest.Pytester, support_suite, offline
) -> None:
    write(pytester, "tests/test_api.py", TEST_FILE)
    result = pytester.runpytest("tests", "-k", "client")
    result.assert_outcomes(failed=1, deselected=4)
    result.stdout.fnmatch_lines(
        [
            "*no recording at cassettes/tests/test_api/test_client.yaml. Record it with: "
            "pytest tests/test_api.py::test_client --prompt-record=new*"
        ]
    )


def test_drift_in_a_python_test(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    write(pytester, "tests/test_api.py", TEST_FILE)
    pytester.runpytest("--prompt-record=new", "tests", "-k", "adhoc").assert_outcomes(passed=1, deselected=4)
    write(pytester, "tests/test_api.py", TEST_FILE.replace("is my order late?", "is my parcel late?"))
    result = pytester.runpytest("tests", "-k", "adhoc")
    result.assert_outcomes(failed=1, deselected=4)
    result.stdout.fnmatch_lines(["*prompt drift*", "*-  content: is my order late?", "*+  content: is my parcel late?"])


TWO_CALLS = """
def test_two_calls(prompt):
    for question in QUESTIONS:
        prompt.run(messages=[{"role": "user", "content": question}], model="gpt-4o-mini")
"""


def test_a_python_test_that_no_longer_makes_a_recorded_call_is_drift(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    write(pytester, "tests/test_calls.py", 'QUESTIONS = ["is my order late?", "where is my refund?"]\n' + TWO_CALLS)
    pytester.runpytest("--prompt-record=new", "tests").assert_outcomes(passed=1)
    write(pytester, "tests/test_calls.py", 'QUESTIONS = ["is my order late?"]\n' + TWO_CALLS)
    result = pytester.runpytest("tests")
    result.assert_outcomes(passed=1, errors=1)  # the body passed; the drift is reported at teardown
    result.stdout.fnmatch_lines(
        [
            "*prompt drift: cassettes/tests/test_calls/test_two_calls.yaml holds 1 recorded request(s) that this run "
            "did not make. If the change is intended, re-record: pytest tests/test_calls.py::test_two_calls "
            "--prompt-record=changed"
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    pytester.runpytest("tests", "--prompt-record=changed").assert_outcomes(passed=1)  # trims the cassette
    pytester.runpytest("tests").assert_outcomes(passed=1)

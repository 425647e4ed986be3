"""A prompt that changed since its recording fails as prompt drift, with a readable diff."""

from __future__ import annotations

import pytest

from promptdrift.testing.demo import DemoServer
from tests.helpers import SUPPORT_SUITE, write


@pytest.fixture
def recorded(pytester: pytest.Pytester, demo: DemoServer, support_suite, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    demo.stop()
    monkeypatch.delenv("OPENAI_API_KEY")


def test_edited_system_message_gives_a_unified_diff(pytester: pytest.Pytester, recorded) -> None:
    cassette = pytester.path / "cassettes/support/late.yaml"
    before = cassette.read_bytes()
    write(pytester, "suites/support.yaml", SUPPORT_SUITE.replace("Be warm.", "Be formal and brief."))
    result = pytester.runpytest("-k", "late", "--junitxml=report.xml")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*prompt drift: the request differs from the one recorded in cassettes/support/late.yaml.",
            "--- recorded",
            "+++ current",
            "-  content: You are a support assistant. Be warm.",
            "+  content: You are a support assistant. Be formal and brief.",
            "*re-record: pytest suites/support.yaml::late --prompt-record=changed",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    # Reported as drift (not as a failed check or an error), and the recording is left exactly as it was.
    assert '<property name="promptdrift" value="drift" />' in (pytester.path / "report.xml").read_text()
    assert cassette.read_bytes() == before


def test_changed_parameter_is_drift(pytester: pytest.Pytester, recorded) -> None:
    write(pytester, "suites/support.yaml", SUPPORT_SUITE.replace("temperature: 0", "temperature: 0.7"))
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["-temperature: 0", "+temperature: 0.7"])


def test_changed_model_is_drift(pytester: pytest.Pytester, recorded) -> None:
    result = pytester.runpytest("--prompt-model=gpt-5")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["-model: gpt-4o-mini", "+model: gpt-5"])


def test_unchanged_yaml_formatting_is_not_drift(pytester: pytest.Pytester, recorded) -> None:
    # Reordering keys and reformatting the suite does not change the request.
    text = SUPPORT_SUITE.replace(
        "params: {temperature: 0, max_tokens: 100}", "params:\n  max_tokens: 100\n  temperature: 0"
    )
    write(pytester, "suites/support.yaml", text)
    pytester.runpytest().assert_outcomes(passed=2)


def test_drift_status_in_summary(pytester: pytest.Pytester, recorded) -> None:
    write(pytester, "suites/support.yaml", SUPPORT_SUITE.replace("My order is late", "Order late"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*promptdrift (none): 1 replayed, 1 drifted prompt*"])


def test_a_replay_whose_only_failures_are_drift_and_missing_recordings_prints_the_table(
    pytester: pytest.Pytester, recorded
) -> None:
    """Every failure drift or a missing cassette: the header names both kinds, and the table is there."""
    text = SUPPORT_SUITE.replace("My order is late", "Order late").replace("Send my invoice", "Invoice?")
    text += "  - id: new-one\n    vars: {message: hello}\n  - id: new-two\n    vars: {message: hi}\n"
    write(pytester, "suites/support.yaml", text)
    result = pytester.runpytest()
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*promptdrift (none): 2 drifted prompts, 2 missing recordings*",
            "suite * cases passed failed drifted regressions * cost",
            "support * 4 * 0 * 4 * 2 * 0 *",
        ]
    )

"""--prompt-record (ini promptdrift_record, [tool.promptdrift] record): none / new / changed / all."""

from __future__ import annotations

import pytest
import yaml

from promptdrift.testing.demo import DemoServer
from tests.helpers import SUPPORT_SUITE, write


def _meta(pytester: pytest.Pytester, case: str) -> dict:
    return yaml.safe_load((pytester.path / f"cassettes/support/{case}.yaml").read_text())["metadata"]["promptdrift"]


def test_none_is_the_default_and_a_missing_cassette_says_how_to_record(
    pytester: pytest.Pytester, support_suite, offline
) -> None:
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*no recording at cassettes/support/late.yaml. Record it with: pytest suites/support.yaml::late --prompt-record=new*"
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    assert not (pytester.path / "cassettes").exists()


def test_new_records_only_what_is_missing(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new", "-k", "late").assert_outcomes(passed=1, deselected=1)
    assert len(demo.requests) == 1
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*promptdrift (new): 1 replayed, 1 recorded*"])
    assert len(demo.requests) == 2  # 'late' replayed, 'invoice' recorded


def test_new_fails_on_drift_and_keeps_the_recording(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    before = (pytester.path / "cassettes/support/late.yaml").read_text()
    write(pytester, "suites/support.yaml", SUPPORT_SUITE.replace("Be warm.", "Be formal."))
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*prompt drift*", "*--prompt-record=changed*"])
    assert len(demo.requests) == 2
    assert (pytester.path / "cassettes/support/late.yaml").read_text() == before


def test_changed_rerecords_only_changed_requests(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    old_invoice = (pytester.path / "cassettes/support/invoice.yaml").read_text()
    write(pytester, "suites/support.yaml", SUPPORT_SUITE.replace("My order is late", "My order is very late"))
    result = pytester.runpytest("--prompt-record=changed")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*promptdrift (changed): 1 replayed, 1 recorded*"])
    assert len(demo.requests) == 3
    assert (pytester.path / "cassettes/support/invoice.yaml").read_text() == old_invoice
    assert "very late" in (pytester.path / "cassettes/support/late.yaml").read_text()


def test_all_rerecords_everything(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    result = pytester.runpytest("--prompt-record=all")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*promptdrift (all): 2 recorded*"])
    assert len(demo.requests) == 4


def test_ini_twin_and_pyproject_table(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.makeini("[pytest]\npromptdrift_record = new\n")
    pytester.runpytest().assert_outcomes(passed=2)
    assert len(demo.requests) == 2
    # The command line beats the ini file.
    write(pytester, "suites/support.yaml", SUPPORT_SUITE.replace("Be warm.", "Be formal."))
    pytester.runpytest("--prompt-record=none").assert_outcomes(failed=2)


def test_pyproject_tool_table_is_read(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    write(pytester, "pyproject.toml", '[tool.promptdrift]\nrecord = "new"\n')
    pytester.runpytest().assert_outcomes(passed=2)
    assert len(demo.requests) == 2


def test_bad_mode_is_a_usage_error(pytester: pytest.Pytester, support_suite) -> None:
    result = pytester.runpytest("--prompt-record=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice: 'sometimes'*none*new*changed*all*"])


def test_bad_pyproject_value_is_a_usage_error(pytester: pytest.Pytester, support_suite) -> None:
    write(pytester, "pyproject.toml", '[tool.promptdrift]\nrecord = "sometimes"\nbogus = 1\n')
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*promptdrift*unknown key 'bogus'*"])


def test_prompt_model_overrides_every_suite(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new", "--prompt-model=gpt-5-mini").assert_outcomes(passed=2)
    assert {r["json"]["model"] for r in demo.requests} == {"gpt-5-mini"}
    assert _meta(pytester, "late")["model_returned"] == "gpt-5-mini-demo"


def test_recording_without_a_key_says_what_to_set(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*OPENAI_API_KEY is not set, and recording cassettes/support/late.yaml needs an API key*"]
    )
    assert demo.requests == []

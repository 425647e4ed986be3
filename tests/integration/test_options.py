"""The remaining --prompt-* options, each through a real run: endpoint, timeout, retries, cassette folder,
embedding model, tolerance."""

from __future__ import annotations

import pytest
import yaml

from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import SUPPORT_SUITE, write


def test_base_url_option_beats_the_environment_and_a_suite_provider_beats_both(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    write(pytester, "suites/support.yaml", SUPPORT_SUITE)
    pytester.runpytest("--prompt-record=new", f"--prompt-base-url={demo.base_url}").assert_outcomes(passed=2)
    assert len(demo.requests) == 2
    write(
        pytester,
        "suites/p.yaml",
        f"""
        suite: p
        model: gpt-4o-mini
        provider: {{base_url: "{demo.base_url}"}}
        prompt: {{user: "{{{{ q }}}}"}}
        cases: [{{id: a, vars: {{q: late}}}}]
        """,
    )
    pytester.runpytest(
        "--prompt-record=new", "--prompt-base-url=http://127.0.0.1:9/v1", "suites/p.yaml"
    ).assert_outcomes(passed=1)
    assert len(demo.requests) == 3


def test_timeout_and_max_retries(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    demo.latency = 1.5
    result = pytester.runpytest(
        "--prompt-record=new",
        "--prompt-timeout=0.3",
        "--prompt-max-retries=1",
        "--prompt-retry-backoff=0.01",
        "-k",
        "late",
    )
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*recording cassettes/support/late.yaml failed on all 2 attempts: ReadTimeout*"])
    assert len(demo.requests) == 2  # one try and one retry
    assert not (pytester.path / "cassettes/support/late.yaml").exists()


def test_code_first_client_retries_while_recording(pytester: pytest.Pytester, demo: DemoServer) -> None:
    """The ``openai_client`` fixture gets promptdrift's retry policy (the SDK's own retries are off)."""
    write(
        pytester,
        "tests/test_retries.py",
        """
        def test_retries(openai_client):
            assert openai_client.max_retries == 0
            reply = openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "late"}]
            )
            assert "sorry" in reply.choices[0].message.content
        """,
    )
    demo.fail_next(503)
    pytester.runpytest("tests", "--prompt-record=new", "--prompt-retry-backoff=0.01").assert_outcomes(passed=1)
    assert len(demo.requests) == 2
    demo.fail_next(503)  # replay never reaches the server, so never retries
    pytester.runpytest("tests").assert_outcomes(passed=1)
    assert len(demo.requests) == 2


def test_numeric_options_refuse_impossible_values(pytester: pytest.Pytester) -> None:
    for flag in ("--prompt-concurrency=0", "--prompt-max-retries=-1", "--prompt-timeout=-2"):
        result = pytester.runpytest(flag)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*{flag.split('=')[0]}: must be at least*"])


def test_cassette_dir_option(pytester: pytest.Pytester, demo: DemoServer, support_suite, tmp_path) -> None:
    scratch = tmp_path / "scratch"
    pytester.runpytest("--prompt-record=new", f"--prompt-cassette-dir={scratch}").assert_outcomes(passed=2)
    assert sorted(p.name for p in (scratch / "support").iterdir()) == ["invoice.yaml", "late.yaml"]
    assert not (pytester.path / "cassettes").exists()
    pytester.makeini("[pytest]\npromptdrift_cassette_dir = recorded\n")
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    assert (pytester.path / "recorded/support/late.yaml").exists()


def test_embedding_model_option(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(
        pytester,
        "suites/e.yaml",
        """
        suite: e
        model: gpt-4o-mini
        prompt: {user: "{{ q }}"}
        cases: [{id: a, vars: {q: late}, expect: [{similar: {to: "sorry your order is late", min: 0.1}}]}]
        """,
    )
    pytester.runpytest("--prompt-record=new", "--prompt-embedding-model=embed-large").assert_outcomes(passed=1)
    assert demo.requests[-1]["path"] == "/v1/embeddings" and demo.requests[-1]["json"]["model"] == "embed-large"


UPGRADE_SCRIPT = {
    "rules": [
        {"when": {"model": "v1"}, "reply": "the parcel left the warehouse on monday and arrives on friday"},
        {"when": {"model": "v2"}, "reply": "the parcel arrives on friday"},
    ]
}
UPGRADE_SUITE = """
suite: u
model: v1
prompt: {user: "{{ q }}"}
cases:
  - id: run
    vars: {q: "where is it"}
    expect: [{rouge_l: {to: "the parcel left the warehouse on monday and arrives on friday", min: 0.1TOL}}]
"""


@pytest.mark.parametrize(
    ("args", "tolerance_option", "regressed"),
    [
        ((), "", True),  # rouge_l falls 1.0 -> 0.62, more than the default 0.05
        (("--prompt-tolerance=0.5",), "", False),
        (("--prompt-tolerance=0.5",), ", drift_tolerance: 0.1", True),  # the check's own tolerance wins
    ],
)
def test_tolerance_option_and_per_check_drift_tolerance(
    pytester: pytest.Pytester, demo: DemoServer, args: tuple[str, ...], tolerance_option: str, regressed: bool
) -> None:
    demo.script = Script.from_data(UPGRADE_SCRIPT)
    write(pytester, "suites/u.yaml", UPGRADE_SUITE.replace("TOL", tolerance_option))
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    result = pytester.runpytest("--prompt-record=all", "--prompt-model=v2", "--prompt-report=r.json", *args)
    if regressed:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*REGRESSION rouge_l*score fell*"])
    else:
        result.assert_outcomes(passed=1)
    record = yaml.safe_load((pytester.path / "r.json").read_text())["cases"][0]
    assert record["regressions"] == int(regressed)


def test_a_corrupt_cassette_is_replaced_by_rerecording_all(
    pytester: pytest.Pytester, demo: DemoServer, support_suite
) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    cassette = pytester.path / "cassettes/support/late.yaml"
    cassette.write_text("version: 1\ninteractions: [\n")
    result = pytester.runpytest("--prompt-record=new", "-k", "late")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*Re-record it: pytest suites/support.yaml::late --prompt-record=all*"])
    pytester.runpytest("--prompt-record=all", "-k", "late").assert_outcomes(passed=1, deselected=1)
    assert yaml.safe_load(cassette.read_text())["version"] == 1


def test_every_option_shows_a_meaningful_placeholder_and_its_default(pytester: pytest.Pytester) -> None:
    from promptdrift.config import OPTIONS

    text = pytester.runpytest("--help").stdout.str()
    assert "=PROMPTDRIFT_" not in text  # argparse's placeholder from the dest
    for opt in OPTIONS:
        if opt.kind is not bool and not opt.choices:
            assert f"{opt.flag}={opt.metavar}" in text, opt.flag
        if opt.default not in (None, False):
            assert "default" in opt.described, opt.flag
    assert text.count("(default: ") >= sum(
        1 for o in OPTIONS if o.default not in (None, False) and "default" not in o.help
    )


def test_the_records_option_has_a_name_that_cannot_be_misread_and_the_old_one_still_works(
    pytester: pytest.Pytester, support_suite, offline
) -> None:
    result = pytester.runpytest("--prompt-records-dir", "recs", "-k", "nothing")
    assert (pytester.path / "recs" / "shard-1-of-1" / "run.json").exists()
    old = pytester.runpytest("--prompt-records", "old-recs", "-k", "nothing", "-W", "always::DeprecationWarning")
    assert (pytester.path / "old-recs" / "shard-1-of-1" / "run.json").exists()
    old.stdout.fnmatch_lines(["*--prompt-records (ini promptdrift_records) is now --prompt-records-dir*"])
    assert result.ret == old.ret

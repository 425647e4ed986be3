"""The check registry: consistent, documented, and open to user checks."""

from __future__ import annotations

import re

import pytest
import yaml

from promptdrift.checks import known_checks, parse_check
from promptdrift.testing.demo import DemoServer
from tests.helpers import documentation, write

README = documentation()  # the README and docs/ (the checks reference is docs/checks.md)


def test_every_check_has_description_example_and_readme_entry() -> None:
    documented = set(re.findall(r"`([a-z_0-9]+)`", README))
    for name, definition in known_checks().items():
        assert definition.description.endswith("."), name
        assert name in documented, f"{name} is not in the README's check table"
        # The example is valid suite YAML for that very check.
        spec = parse_check(yaml.safe_load(definition.example), path="example", default_line=None)
        assert spec.name == name or spec.label == name


def test_custom_check_from_conftest(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(
        pytester,
        "conftest.py",
        """
        import promptdrift
        from promptdrift import CheckResult

        @promptdrift.check("mentions", description="Mentions a word.", example='mentions: "x"')
        def mentions(answer, arg, ctx):
            ok = arg.lower() in answer.text.lower()
            return CheckResult("mentions", ok, reason="" if ok else f"{arg!r} not mentioned")
        """,
    )
    write(
        pytester,
        "suites/c.yaml",
        """
        suite: c
        model: gpt-4o-mini
        prompt: {user: "{{ q }}"}
        cases:
          - {id: 'yes', vars: {q: late}, expect: [{mentions: sorry}]}
          - {id: 'no', vars: {q: late}, expect: [{mentions: banana}]}
          - {id: negated, vars: {q: late}, expect: [{not_mentions: banana}]}
        """,
    )
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAIL mentions: 'banana' not mentioned*"])


@pytest.mark.slow
def test_xdist_gives_the_same_verdicts(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new", "-n", "2").assert_outcomes(passed=2)
    assert len(list((pytester.path / "cassettes/support").glob("*.yaml"))) == 2
    demo.stop()
    result = pytester.runpytest("-n", "2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*promptdrift (none): 2 replayed*"])


@pytest.mark.slow
def test_checks_from_an_entry_point(
    pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tiny installed distribution that provides a check through the promptdrift.checks group.
    site = pytester.path / "site"
    (site / "shout_checks-1.0.dist-info").mkdir(parents=True)
    (site / "shout_checks-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: shout-checks\nVersion: 1.0\n"
    )
    (site / "shout_checks-1.0.dist-info" / "entry_points.txt").write_text(
        "[promptdrift.checks]\nshout = shout_checks\n"
    )
    (site / "shout_checks.py").write_text(
        "import promptdrift\n"
        "from promptdrift import CheckResult\n\n"
        "@promptdrift.check('shouts', description='Has an exclamation mark.', example='shouts: true')\n"
        "def shouts(answer, arg, ctx):\n"
        "    return CheckResult('shouts', '!' in answer.text)\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    write(
        pytester,
        "suites/s.yaml",
        """
        suite: s
        model: gpt-4o-mini
        prompt: {user: "{{ q }}"}
        cases:
          - {id: calm, vars: {q: late}, expect: [{shouts: true}]}
          - {id: loud, vars: {q: refund}, expect: [{shouts: true}]}
        """,
    )
    result = pytester.runpytest_subprocess("--prompt-record=new")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED suites/s.yaml::calm*"])


@pytest.mark.slow
def test_a_broken_check_plugin_is_a_clear_usage_problem(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = pytester.path / "site"
    (site / "broken-1.0.dist-info").mkdir(parents=True)
    (site / "broken-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (site / "broken-1.0.dist-info" / "entry_points.txt").write_text("[promptdrift.checks]\nbroken = no_such_module\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    write(pytester, "suites/s.yaml", "suite: s\nprompt: {user: hi}\ncases: [{id: a, expect: [{json: true}]}]\n")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(
        ["*check plugin 'broken' (no_such_module, entry point group promptdrift.checks) failed to load*"]
    )

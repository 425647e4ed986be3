"""The check registry: consistent, documented, and open to user checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from promptdrift.checks import parse_check, registry
from promptdrift.demo import DemoServer

from .conftest import write

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_check_has_description_example_and_readme_entry() -> None:
    documented = set(re.findall(r"`([a-z_0-9]+)`", README))
    for name, definition in registry().items():
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


def test_xdist_gives_the_same_verdicts(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new", "-n", "2").assert_outcomes(passed=2)
    assert len(list((pytester.path / "cassettes/support").glob("*.yaml"))) == 2
    demo.stop()
    result = pytester.runpytest("-n", "2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*promptdrift (none): 2 replayed*"])

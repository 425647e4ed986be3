"""Suite files: which YAML is collected, case tables, templates, and clear errors for bad input."""

from __future__ import annotations

import pytest

from promptdrift.testing.demo import DemoServer
from tests.helpers import write

GOOD = """
suite: good
model: gpt-4o-mini
prompt: {user: "{{ q }}"}
cases:
  - id: one
    vars: {q: "late order"}
"""


def test_only_suite_files_are_collected(pytester: pytest.Pytester, support_suite) -> None:
    write(pytester, ".github/workflows/ci.yml", "name: ci\non: [push]\njobs: {}\n")
    write(pytester, "fixtures/support/examples.yaml", "- {user: hi, assistant: hello}\n")
    write(pytester, "fixtures/notes.yaml", "title: not a suite\nsuites: [a]\n")
    result = pytester.runpytest("--collect-only", "-q", ".")
    result.stdout.fnmatch_lines(["suites/support.yaml::late", "suites/support.yaml::invoice", "*2 tests collected*"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("suite: bad\nmodel: m\nprompt: {user: hi}\ncases: [\n", "*bad.yaml:5: invalid YAML*"),
        ("suite: bad\nprompt: {user: hi}\n", "*bad.yaml:1: cases is required*"),
        (
            "suite: bad\nprompt: {user: hi}\ncases:\n  - id: a\n    vars: {q: x}\n    expect:\n      - contaiins: x\n",
            "*bad.yaml:7: unknown check 'contaiins'. Did you mean 'contains'? Known checks:*contains*",
        ),
        (
            "suite: bad\nprompt: {user: hi}\ncases: [{id: a}]\nparams: {temprature: 0}\n",
            "*bad.yaml:4: params: unknown API parameter 'temprature'*",
        ),
        ("suite: bad\nprompt: {user: hi}\ncases: [{id: a}, {id: a}]\n", "*duplicate case id 'a'*"),
        (
            "suite: bad\nprompt: {user: hi}\ncases: [{id: a}]\ngenerate: {vars: {}}\n",
            "*generate: vars: give each generated variable a strategy*",
        ),
        (
            "suite: bad\nprompt: {user: hi}\ncases: [{id: a}]\ncontext: {files: docs}\n",
            "*context: unknown key 'files'; valid keys: documents*",
        ),
        (
            "suite: bad\nprompt: {user: hi}\ncases: [{id: a}]\nexpect: [{regex: '('}]\n",
            "*check 'regex': invalid regular expression*",
        ),
        (
            "suite: bad\nprompt: {user: hi}\ncases: [{id: a}]\nexpect: [{max_words: many}]\n",
            "*check 'max_words': expected a whole number*Example: max_words: 80*",
        ),
        (
            "suite: bad\nprompt: {user: hi, few_shot: fixtures/missing.yaml}\ncases: [{id: a}]\n",
            "*prompt.few_shot: file 'fixtures/missing.yaml' not found*",
        ),
        (
            "suite: bad\nprompt: {user: hi, few_shot: ../../etc/passwd}\ncases: [{id: a}]\n",
            "*path '../../etc/passwd' leaves the repository*",
        ),
        ("suite: bad\nprompt: {user: hi}\ncases: [{id: a}]\nfoo: 1\n", "*unknown key 'foo'; valid keys:*"),
        ("suite: !!python/object/apply:os.system [echo hi]\nprompt: {user: hi}\ncases: [{id: a}]\n", "*invalid YAML*"),
    ],
)
def test_malformed_suites_fail_clearly_and_others_still_run(
    pytester: pytest.Pytester, demo: DemoServer, text: str, message: str
) -> None:
    write(pytester, "suites/good.yaml", GOOD)
    write(pytester, "suites/bad.yaml", text)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*invalid suite: " + message])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_missing_template_variable_names_case_and_variable(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(
        pytester,
        "suites/t.yaml",
        """
        suite: t
        model: gpt-4o-mini
        prompt: {user: "Hello {{ name }}, about {{ topic }}"}
        cases:
          - id: no-topic
            vars: {name: Ada}
        """,
    )
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*suites/t.yaml: case 'no-topic': template variable missing: 'topic' is undefined*"])
    assert demo.requests == []


def test_sandbox_refuses_unsafe_templates(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(
        pytester,
        "suites/t.yaml",
        """
        suite: t
        model: gpt-4o-mini
        prompt: {user: "{{ q.__class__.__mro__[1].__subclasses__() }}"}
        cases: [{id: evil, vars: {q: x}}]
        """,
    )
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*case 'evil'*"])
    assert demo.requests == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("cases.csv", "id,message,reference\nlate,My order is late,sorry\ninvoice,Send my invoice,42.5\n"),
        (
            "cases.jsonl",
            '{"id": "late", "message": "My order is late", "reference": "sorry"}\n'
            '{"id": "invoice", "vars": {"message": "Send my invoice"}, "reference": "42.5"}\n',
        ),
        (
            "cases.yaml",
            "- {id: late, vars: {message: My order is late}, reference: sorry}\n"
            "- {id: invoice, vars: {message: Send my invoice}, reference: '42.5'}\n",
        ),
    ],
)
def test_cases_from_a_table(pytester: pytest.Pytester, demo: DemoServer, name: str, content: str) -> None:
    write(pytester, f"fixtures/{name}", content)
    write(
        pytester,
        "suites/table.yaml",
        f"""
        suite: table
        model: gpt-4o-mini
        prompt: {{user: "{{{{ message }}}}"}}
        expect: [{{icontains: "{{{{ reference }}}}"}}]
        cases: fixtures/{name}
        """,
    )
    result = pytester.runpytest("--prompt-record=new", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*suites/table.yaml::late PASSED*", "*suites/table.yaml::invoice PASSED*"])


def test_messages_form_and_few_shot_file(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(pytester, "fixtures/examples.yaml", "- {user: 'Hi', assistant: 'Hello!'}\n")
    write(
        pytester,
        "suites/m.yaml",
        """
        suite: m
        model: gpt-4o-mini
        prompt:
          system: "Be brief."
          few_shot: fixtures/examples.yaml
          user: "{{ q }}"
        cases: [{id: a, vars: {q: "late parcel"}}]
        """,
    )
    write(
        pytester,
        "suites/raw.yaml",
        """
        suite: raw
        model: gpt-4o-mini
        prompt:
          messages:
            - {role: developer, content: "Be brief."}
            - {role: user, content: "{{ q }}"}
        cases: [{id: a, vars: {q: "late parcel"}}]
        """,
    )
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    roles = sorted(tuple(m["role"] for m in r["json"]["messages"]) for r in demo.requests)
    assert roles == [("developer", "user"), ("system", "user", "assistant", "user")]


def test_structured_output_schema_shorthand(pytester: pytest.Pytester, demo: DemoServer) -> None:
    write(pytester, "fixtures/schemas/invoice.json", '{"type": "object", "required": ["total"]}')
    write(
        pytester,
        "suites/x.yaml",
        """
        suite: x
        model: gpt-4o-mini
        response_format: {schema: fixtures/schemas/invoice.json}
        prompt: {user: "{{ q }}"}
        expect: [{schema: fixtures/schemas/invoice.json}]
        cases: [{id: a, vars: {q: "invoice please"}}]
        """,
    )
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    fmt = demo.requests[0]["json"]["response_format"]
    assert fmt == {
        "type": "json_schema",
        "json_schema": {"name": "invoice", "schema": {"type": "object", "required": ["total"]}, "strict": False},
    }


def test_pytest_selection_options_work(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    write(
        pytester,
        "suites/refund.yaml",
        GOOD.replace("good", "refund").replace("late order", "refund now") + "expect: [{not_icontains: guarantee}]\n",
    )
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2, failed=1)
    pytester.runpytest("--lf").assert_outcomes(failed=1)
    pytester.runpytest("-x").assert_outcomes(failed=1)  # refund.yaml runs first and stops the run
    pytester.runpytest("-k", "invoice").assert_outcomes(passed=1, deselected=2)
    result = pytester.runpytest("--junitxml=report.xml")
    xml = (pytester.path / "report.xml").read_text()
    assert 'name="late"' in xml and 'classname="suites.support.yaml"' in xml
    assert '<property name="promptdrift" value="replayed"' in xml
    assert result.ret == 1

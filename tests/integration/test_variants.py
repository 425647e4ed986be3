"""Variants (the same cases across prompt variants and models), samples, and the decision matrix."""

from __future__ import annotations

import json
import math
import re

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.core.stats import wilson_lower
from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import assert_invalid_suite, write


def lit(pattern: str) -> str:
    """An fnmatch pattern whose brackets are literal (item names look like ``case[variant]``)."""
    return re.sub(r"([\[\]])", r"[\1]", pattern)


SCRIPT = {
    "rules": [
        # The fine-tuned model and the few-shot prompt answer well; zero-shot does not.
        {"when": {"model": "ft:gpt-4o-mini:acme:support:x1"}, "reply": "Sorry about that! Refund sent."},
        {"when": {"system": "Examples follow"}, "reply": "Sorry! Refund on its way."},
        {"when": {"contains": "sample"}, "replies": ["good one", "bad one", "good two", "good three", "good four"]},
    ],
    "default": "Please contact support.",
}

VARIANTS = """
suite: tactics
model: gpt-4o-mini
params: {temperature: 0.2}
prompt:
  system: You are a support agent.
  user: "{{ message }}"
expect: [{contains: "Sorry"}]
gate: {pass_rate: {min: 1.0}}
variants:
  zero-shot: {}
  few-shot:
    prompt: {system: "You are a support agent. Examples follow."}
  fine-tuned:
    model: ft:gpt-4o-mini:acme:support:x1
    params: {max_tokens: 50}
cases:
  - {id: refund, vars: {message: "I want a refund"}}
  - {id: late, vars: {message: "My order is late"}}
"""

PRICES = """
[tool.promptdrift.prices]
"gpt-4o-mini" = {input = 0.15, output = 0.6}
"ft:gpt-4o-mini:acme:support:x1" = {input = 0.3, output = 1.2}
"""


@pytest.fixture
def scripted(demo: DemoServer) -> DemoServer:
    demo.script = Script.from_data(SCRIPT)
    return demo


def test_every_case_runs_once_per_variant_with_its_own_cassette(
    pytester: pytest.Pytester, scripted: DemoServer
) -> None:
    write(pytester, "suites/tactics.yaml", VARIANTS)
    result = pytester.runpytest("--prompt-record=new", "-v")
    result.assert_outcomes(passed=6, failed=3)  # zero-shot's two cases and its gate fail
    result.stdout.fnmatch_lines(
        [
            lit("*suites/tactics.yaml::refund[zero-shot] FAILED*"),
            lit("*suites/tactics.yaml::refund[few-shot] PASSED*"),
            lit("*suites/tactics.yaml::gate[pass_rate][fine-tuned] PASSED*"),
        ]
    )
    folder = pytester.path / "cassettes/tactics"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.yaml")) == [
        "few-shot/late.yaml",
        "few-shot/refund.yaml",
        "fine-tuned/late.yaml",
        "fine-tuned/refund.yaml",
        "zero-shot/late.yaml",
        "zero-shot/refund.yaml",
    ]
    fine = cassettes.load(folder / "fine-tuned/refund.yaml")
    body = fine.interactions[0].request_json
    assert body["model"] == "ft:gpt-4o-mini:acme:support:x1"
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50  # params merge
    assert fine.meta["variant"] == "fine-tuned"
    few = cassettes.load(folder / "few-shot/refund.yaml").interactions[0].request_json
    assert few["messages"][0]["content"].endswith("Examples follow.") and few["model"] == "gpt-4o-mini"
    assert few["messages"][-1]["content"] == "I want a refund"  # the base user template stays
    scripted.stop()
    pytester.runpytest().assert_outcomes(passed=6, failed=3)


def test_variant_selection_on_the_command_line_and_in_ini(pytester: pytest.Pytester, scripted: DemoServer) -> None:
    write(pytester, "suites/tactics.yaml", VARIANTS)
    write(pytester, "suites/plain.yaml", "suite: plain\nmodel: m\nprompt: {user: hi}\ncases: [{id: a}]\n")
    result = pytester.runpytest("--prompt-record=new", "--prompt-variant", "few-shot", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "suites/plain.yaml::a",
            lit("suites/tactics.yaml::refund[few-shot]"),
            lit("suites/tactics.yaml::late[few-shot]"),
            lit("suites/tactics.yaml::gate[pass_rate][few-shot]"),
            "4 tests collected*",
        ]
    )
    pytester.makeini("[pytest]\npromptdrift_variant = few-shot fine-tuned\n")
    pytester.runpytest("--prompt-record=new", "suites/tactics.yaml").assert_outcomes(passed=6)
    result = pytester.runpytest("--prompt-variant", "nope", "suites/tactics.yaml", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*no variant 'nope' in suite 'tactics' (its variants: zero-shot, few-shot, fine-tuned)*"]
    )


def test_decision_matrix_names_the_cheapest_variant_meeting_every_gate(
    pytester: pytest.Pytester, scripted: DemoServer
) -> None:
    write(pytester, "suites/tactics.yaml", VARIANTS)
    pytester.makepyprojecttoml(PRICES)
    result = pytester.runpytest(
        "--prompt-record=new", "--prompt-report=out/r.json", "--prompt-report=out/r.md", "--prompt-report=out/r.html"
    )
    result.stdout.fnmatch_lines(
        [
            "decision matrix: tactics",
            "  variant * pass rate * gates * tokens * cost * latency",
            "  zero-shot * 0/2 (0%) * 0/1 pass*",
            lit("  few-shot * * 2/2 (100%) * 1/1 pass*"),
            "  fine-tuned * 2/2 (100%) * 1/1 pass*",
            "  cheapest variant that meets every gate: few-shot ($0.0000*); its pass rate against fine-tuned "
            "(+0 points, 95% CI -66 to +66) is within noise: with 2 cases this comparison cannot reliably detect "
            "even a 100-point drop*",
        ]
    )
    report = json.loads((pytester.path / "out/r.json").read_text())
    (decision,) = report["decisions"]
    assert decision["chosen"] == "few-shot"
    rows = {row["variant"]: row for row in decision["variants"]}
    assert rows["zero-shot"]["missed"] and not rows["few-shot"]["missed"]
    assert rows["fine-tuned"]["cost_usd"] > rows["few-shot"]["cost_usd"]  # same tokens, dearer model
    assert decision["reference"] == "zero-shot"  # no ship: the first variant; each other one paired against it
    assert decision["versus"]["few-shot"]["rate"]["diff"] == 1.0 and decision["lead"]["before"] == "fine-tuned"
    assert "## Decision matrix: tactics" in (pytester.path / "out/r.md").read_text()
    page = (pytester.path / "out/r.html").read_text()
    for chart in ("pass-rate", "cost", "latency"):  # bars per variant, one chart each
        assert page.count(f'data-chart="{chart}"') == 1, chart
    bars = re.search(r'<svg[^>]*data-chart="pass-rate".*?</svg>', page, re.S).group(0)
    assert [m for m in re.findall(r'<g data-row="([^"]+)"', bars)] == ["zero-shot", "few-shot", "fine-tuned"]
    # The paired chart has a row per variant compared with the reference (zero-shot).
    paired = re.search(r'<svg[^>]*data-chart="paired".*?</svg>', page, re.S).group(0)
    assert re.findall(r'<g data-row="([^"]+)"', paired) == [
        "tactics: few-shot vs zero-shot",
        "tactics: fine-tuned vs zero-shot",
    ]


def test_decision_matrix_says_which_gate_each_variant_misses_when_none_passes(
    pytester: pytest.Pytester, scripted: DemoServer
) -> None:
    write(pytester, "suites/tactics.yaml", VARIANTS.replace('contains: "Sorry"', 'contains: "Apologies"'))
    result = pytester.runpytest("--prompt-record=new", "--prompt-report=out/r.json")
    result.assert_outcomes(failed=9)
    result.stdout.fnmatch_lines(
        [
            "  no variant meets every gate: zero-shot misses pass_rate (*); few-shot misses pass_rate (*); fine-tuned misses*"
        ]
    )
    (decision,) = json.loads((pytester.path / "out/r.json").read_text())["decisions"]
    assert decision["chosen"] is None
    assert all(row["missed"] for row in decision["variants"])


def sampled(pytester: pytest.Pytester, extra: str) -> None:
    """A suite with one case of five samples; ``extra`` holds top-level lines (``;``-separated)."""
    lines = "\n".join(part.strip() for part in extra.split(";"))
    write(
        pytester,
        "suites/sampled.yaml",
        'suite: sampled\nmodel: gpt-4o-mini\nprompt: {user: "sample {{ n }}"}\n'
        f"expect: [{{contains: good}}]\nsamples: 5\n{lines}\ncases: [{{id: a, vars: {{n: 1}}}}]\n",
    )


def test_samples_are_recorded_and_replayed_in_order(pytester: pytest.Pytester, scripted: DemoServer) -> None:
    sampled(pytester, "min_pass_rate: 1.0")
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    expected = [
        "4 of 5 samples passed (pass rate 0.8 < min_pass_rate 1):",
        "  sample 1: PASS",
        "  sample 2: FAIL contains: *",
        "    | bad one",
        "  sample 3: PASS",
    ]
    result.stdout.fnmatch_lines(expected)
    cassette = cassettes.load(pytester.path / "cassettes/sampled/a.yaml")
    answers = [json.loads(i.response_body)["choices"][0]["message"]["content"] for i in cassette.interactions]
    assert answers == ["good one", "bad one", "good two", "good three", "good four"]
    assert cassette.meta["pass_rate"] == "4/5"
    scripted.stop()
    replay = pytester.runpytest()
    replay.assert_outcomes(failed=1)
    replay.stdout.fnmatch_lines(expected)  # the same answers in the same order, not the first one five times


@pytest.mark.parametrize(("required", "verdict"), [(0.8, "passed"), (0.81, "failed")])
def test_pass_rate_boundary(pytester: pytest.Pytester, scripted: DemoServer, required: float, verdict: str) -> None:
    sampled(pytester, f"min_pass_rate: {required}")
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(**{verdict: 1})


def independent_wilson(k: int, n: int, z: float) -> float:
    """The textbook formula, written out separately from promptdrift's."""
    phat = k / n
    return (phat + z**2 / (2 * n) - z * math.sqrt((phat * (1 - phat) + z**2 / (4 * n)) / n)) / (1 + z**2 / n)


@pytest.mark.parametrize(("k", "n"), [(0, 5), (4, 5), (5, 5), (9, 10), (50, 100), (97, 100)])
def test_wilson_lower_bound_matches_the_textbook_formula(k: int, n: int) -> None:
    assert wilson_lower(k, n, 0.95) == pytest.approx(max(0.0, independent_wilson(k, n, 1.959963984540054)), abs=1e-9)
    assert wilson_lower(k, n, 0.90) == pytest.approx(max(0.0, independent_wilson(k, n, 1.6448536269514722)), abs=1e-9)


@pytest.mark.parametrize(("offset", "verdict"), [(-0.001, "passed"), (0.001, "failed")])
def test_confidence_uses_the_wilson_bound_at_its_boundary(
    pytester: pytest.Pytester, scripted: DemoServer, offset: float, verdict: str
) -> None:
    bound = independent_wilson(4, 5, 1.959963984540054)  # 0.3755...
    sampled(pytester, f"min_pass_rate: {bound + offset:.6f}; confidence: 0.95")
    result = pytester.runpytest("--prompt-record=new", "--prompt-report=out/r.json")
    result.assert_outcomes(**{verdict: 1})
    (record,) = json.loads((pytester.path / "out/r.json").read_text())["cases"]
    assert (record["passes"], record["samples"]) == (4, 5)
    assert record["pass_rate"] == 0.8 and record["pass_bound"] == pytest.approx(bound)


def test_samples_option_overrides_the_suite(pytester: pytest.Pytester, scripted: DemoServer) -> None:
    sampled(pytester, "min_pass_rate: 1.0")
    pytester.runpytest("--prompt-record=new", "--prompt-samples=1").assert_outcomes(passed=1)
    assert len(cassettes.load(pytester.path / "cassettes/sampled/a.yaml").interactions) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("variants: {a: {cases: []}}", "variant 'a': unknown key 'cases'"),
        ("variants: []", "variants must be a mapping"),
        ("samples: 0", "samples must be a whole number from 1 to 1000"),
        ("min_pass_rate: 2", "min_pass_rate must be a number from 0 to 1"),
        ("confidence: 1", "confidence must be a number between 0 and 1"),
    ],
)
def test_bad_variant_and_sample_settings_are_clear_errors(pytester: pytest.Pytester, extra: str, message: str) -> None:
    text = f"suite: bad\nmodel: m\nprompt: {{user: hi}}\n{extra}\ncases: [{{id: a}}]\n"
    assert_invalid_suite(pytester, text, f"*suites/bad.yaml:*{message}*")


def test_ship_gates_the_run_on_the_shipped_variant_only(pytester: pytest.Pytester, scripted: DemoServer) -> None:
    write(pytester, "suites/tactics.yaml", VARIANTS.replace("variants:", "ship: few-shot\nvariants:"))
    result = pytester.runpytest("--prompt-record=new", "-rx", "--prompt-report=out/r.json", "--prompt-report=out/r.md")
    result.assert_outcomes(passed=6, xfailed=3)  # zero-shot's misses are expected of a candidate
    assert result.ret == 0
    report = json.loads((pytester.path / "out/r.json").read_text())
    assert report["verdict"].startswith("Passes: 6 cases in 3 suites, 2 expected to fail")  # the run passed
    xfailed = sorted(c["case"] for c in report["cases"] if c["verdict"] == "xfail")
    assert xfailed and all(c["variant"] == "zero-shot" for c in report["cases"] if c["verdict"] == "xfail")
    assert "| xfail (a candidate variant) " in (pytester.path / "out/r.md").read_text()
    result.stdout.fnmatch_lines(["*candidate variant 'zero-shot' (the suite ships 'few-shot'): gate pass_rate failed*"])
    write(pytester, "suites/tactics.yaml", VARIANTS.replace("variants:", "ship: zero-shot\nvariants:"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=6, failed=3)  # the shipped variant's misses fail the run
    write(pytester, "suites/tactics.yaml", VARIANTS.replace("variants:", "ship: nope\nvariants:"))
    pytester.runpytest().stdout.fnmatch_lines(
        ["*ship: 'nope' is not one of the variants (zero-shot, few-shot, fine-tuned)*"]
    )

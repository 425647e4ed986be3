"""Generated cases (``generate:`` and ``@given``): explored with Hypothesis while recording, replayed as stored."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from promptdrift.cassettes import format as cassettes
from promptdrift.run.generate import explore
from promptdrift.suite.generate import parse_generate
from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import assert_invalid_suite, block_sockets, documentation, drift_after_edit, write

# The demo "model" extracts the order from the message, except that an apostrophe in the name breaks it.
ORDER = r"this is (?P<name>.*)\. Please send (?P<qty>\d+) x (?P<sku>[A-Z]{3}-\d{3}) to (?P<city>.+) on (?P<day>\S+)\."
GOOD = {"when": {"pattern": ORDER}, "reply": {"json": {"customer": "{name}", "quantity": "{qty}", "sku": "{sku}"}}}
BROKEN = {"when": {"contains": "'"}, "reply": "Sorry, I could not read that name."}

SUITE = """
suite: intake
model: gpt-4o-mini
prompt:
  system: Extract the order as JSON.
  user: "Hi, this is {{ name }}. Please send {{ qty }} x {{ sku }} to {{ city }} on {{ day }}."
generate:
  max_examples: 12
  vars:
    name: {text: {alphabet: "abcdefghij' -", min_size: 1, max_size: 20}}
    qty: {integers: {min: 1, max: 99}}
    sku: {from_regex: '[A-Z]{3}-\\d{3}'}
    city: {sampled_from: fixtures/cities.txt}
    day: {dates: {min: 2026-12-01, max: 2027-03-31, format: "%d.%m.%Y"}}
expect:
  - schema: {type: object, required: [customer, quantity, sku], properties: {quantity: {type: integer}}}
  - contains: "{{ sku }}"
"""


@pytest.fixture
def intake(pytester: pytest.Pytester, demo: DemoServer) -> DemoServer:
    write(pytester, "fixtures/cities.txt", "Lisbon\nOslo\nSão Paulo\n")
    write(pytester, "suites/intake.yaml", SUITE)
    demo.script = Script.from_data({"rules": [GOOD]})
    return demo


def stored(pytester: pytest.Pytester) -> dict:
    return cassettes.load(pytester.path / "cassettes/intake/generated.yaml").meta["generate"]


def replay_offline(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Replay in a subprocess where importing Hypothesis fails: nothing may be generated again."""
    block_sockets(pytester)
    conftest = pytester.path / "conftest.py"
    conftest.write_text(
        conftest.read_text() + "\n\nimport sys\n\nclass _NoHypothesis:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'hypothesis' or name.startswith('hypothesis.'):\n"
        "            raise ImportError('replay must not import Hypothesis')\n\n"
        "sys.meta_path.insert(0, _NoHypothesis())\n"
    )
    return pytester.runpytest_subprocess("-p", "no:hypothesispytest", "-p", "no:cacheprovider", "-v", *args)


def test_record_generates_examples_and_replay_runs_exactly_those(pytester: pytest.Pytester, intake: DemoServer) -> None:
    recording = pytester.runpytest("--prompt-record=new", "-v")
    recording.assert_outcomes(passed=1)
    recording.stdout.fnmatch_lines(["*suites/intake.yaml::generated PASSED*"])
    meta = stored(pytester)
    examples = meta["examples"]
    assert len(examples) == 12 and meta["falsifying"] is None and meta["declaration"]["max_examples"] == 12
    assert all(e["city"] in ("Lisbon", "Oslo", "São Paulo") and 1 <= e["qty"] <= 99 for e in examples)
    assert all(dt.datetime.strptime(e["day"], "%d.%m.%Y").date() >= dt.date(2026, 12, 1) for e in examples)
    tape = cassettes.load(pytester.path / "cassettes/intake/generated.yaml")
    assert len(tape.interactions) == 12  # one call per example, in the order of the examples
    assert [
        e["sku"] in i.request_json["messages"][-1]["content"] for e, i in zip(examples, tape.interactions, strict=True)
    ] == [True] * 12
    intake.stop()
    replay = replay_offline(pytester)
    replay.assert_outcomes(passed=1)
    replay.stdout.fnmatch_lines(["*suites/intake.yaml::generated PASSED*", "*promptdrift (none): 1 replayed*"])


def test_replay_ignores_the_hypothesis_seed_profile_and_version(pytester: pytest.Pytester, intake: DemoServer) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    intake.stop()
    block_sockets(pytester)
    with open(pytester.path / "conftest.py", "a") as conftest:  # another profile, and another version
        conftest.write(
            "\nimport hypothesis\nhypothesis.__version__ = '99.0.0'\n"
            "hypothesis.settings.register_profile('other', max_examples=3, derandomize=False)\n"
            "hypothesis.settings.load_profile('other')\n"
        )
    result = pytester.runpytest("--hypothesis-seed=424242", "-v")
    result.assert_outcomes(passed=1)
    assert stored(pytester)["hypothesis"] != "99.0.0"  # replay did not rewrite the cassette


def test_a_failing_property_reports_the_shrunk_input_and_replay_reproduces_it(
    pytester: pytest.Pytester, intake: DemoServer
) -> None:
    intake.script = Script.from_data({"rules": [BROKEN, GOOD]})
    recording = pytester.runpytest("--prompt-record=new")
    recording.assert_outcomes(failed=1)
    expected = [
        "*the suite's checks failed for * of * generated examples; falsifying example (recorded now: Hypothesis's shrunk example):",
        "  name: ''''",  # the smallest name that breaks the model: a lone apostrophe
        "  qty: 1",
        "  sku: AAA-000",
        "*FAIL schema*not JSON*",
        "answer:",
        "  | Sorry, I could not read that name.",
    ]
    recording.stdout.fnmatch_lines(expected)
    meta = stored(pytester)
    assert meta["examples"][meta["falsifying"]]["name"] == "'"
    intake.stop()
    replay = replay_offline(pytester)
    replay.assert_outcomes(failed=1)
    replay.stdout.fnmatch_lines(
        [expected[0].replace("recorded now: Hypothesis's shrunk example", "replayed from the cassette"), *expected[1:]]
    )


def test_a_changed_generate_block_is_drift_with_both_declarations(
    pytester: pytest.Pytester, intake: DemoServer
) -> None:
    result = drift_after_edit(pytester, "suites/intake.yaml", "max: 99", "max: 500")
    result.stdout.fnmatch_lines(
        [
            "*prompt drift: the generate: block changed since cassettes/intake/generated.yaml was recorded.",
            "*-*max: 99",
            "*+*max: 500",
            "*re-record: pytest suites/intake.yaml::generated --prompt-record=changed",
        ]
    )
    pytester.runpytest("--prompt-record=changed").assert_outcomes(passed=1)  # explores again
    assert stored(pytester)["declaration"]["vars"]["qty"] == {"integers": {"min": 1, "max": 500}}


def test_an_edited_prompt_replays_the_same_examples_as_drift(pytester: pytest.Pytester, intake: DemoServer) -> None:
    result = drift_after_edit(pytester, "suites/intake.yaml", "Extract the order as JSON.", "Extract the order.")
    result.stdout.fnmatch_lines(["*prompt drift: the request differs*", "*-*Extract the order as JSON.*"])
    assert len(stored(pytester)["examples"]) == 12  # the stored examples were replayed, not new ones
    # The diff is of the system message only: the user message was rendered from the first stored example.
    first = stored(pytester)["examples"][0]
    changed = [line for line in result.stdout.lines if line.startswith(("+ ", "- ", "+  ", "-  "))]
    assert changed and not [line for line in changed if "Please send" in line]
    result.stdout.fnmatch_lines([f"*Please send {first['qty']} x {first['sku']} to*"])


def test_without_a_recording_replay_says_how_to_record(pytester: pytest.Pytester) -> None:
    write(pytester, "fixtures/cities.txt", "Oslo\n")
    write(pytester, "suites/intake.yaml", SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no recording at cassettes/intake/generated.yaml. Record it with: pytest suites/intake.yaml::generated --prompt-record=new*"
        ]
    )


def test_generated_cases_with_variants_and_cases(pytester: pytest.Pytester, intake: DemoServer) -> None:
    text = (
        SUITE.replace("max_examples: 12", "max_examples: 3")
        + """
cases:
  - id: written
    vars: {name: Ann, qty: 2, sku: ABC-123, city: Oslo, day: 01.12.2026}
variants:
  terse: {prompt: {system: "JSON only."}}
  polite: {}
"""
    )
    write(pytester, "suites/intake.yaml", text)
    result = pytester.runpytest("--prompt-record=new", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*intake.yaml::written?terse? PASSED*", "*intake.yaml::generated?terse? PASSED*"])
    assert (pytester.path / "cassettes/intake/polite/generated.yaml").exists()


PYTHON_GIVEN = """
from hypothesis import HealthCheck, given, settings, strategies as st


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(sku=st.from_regex(r"[A-Z]{3}-[0-9]{3}", fullmatch=True), qty=st.integers(1, 99))
def test_order_number_survives(prompt, sku, qty):
    out = prompt.run(
        messages=[{"role": "user", "content": f"Hi, this is Ann. Please send {qty} x {sku} to Oslo on 01.12.2026."}],
        model="gpt-4o-mini",
    )
    assert out.json["sku"] == sku
    assert out.json["quantity"] < 60, "large orders are refused"
"""


def test_given_with_the_prompt_fixture_records_each_example_and_replays_them(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    demo.script = Script.from_data({"rules": [GOOD]})
    pytester.makepyfile(test_orders=PYTHON_GIVEN)
    recording = pytester.runpytest("--prompt-record=new")
    recording.assert_outcomes(failed=1)
    recording.stdout.fnmatch_lines(
        ["*large orders are refused*", "*Failing test case: test_order_number_survives(*", "*qty=60,*"]
    )
    meta = cassettes.load(pytester.path / "cassettes/test_orders/test_order_number_survives.yaml").meta
    assert meta["examples"][-1]["qty"] == 60  # Hypothesis's shrunk example is the last one it ran
    assert len(meta["examples"]) == len(meta["interactions"])  # one call per example, in order
    demo.stop()
    block_sockets(pytester)  # the test module imports Hypothesis itself; another seed draws other examples
    replay = pytester.runpytest("--hypothesis-seed=999", "-p", "no:cacheprovider")
    replay.assert_outcomes(failed=1)
    replay.stdout.fnmatch_lines(
        ["*large orders are refused*", "*Failing test case (replayed from cassettes/test_orders/*): {*'qty': 60*"]
    )


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{vars: {a: {integer: {min: 1}}}}", "*vars.a: unknown strategy 'integer'. Strategies: integers*"),
        ("{vars: {a: {integers: {min: 5, max: 1}}}}", "*vars.a: integers: min 5 is above max 1*"),
        ("{vars: {a: {from_regex: '('}}}", "*vars.a: from_regex: missing ), unterminated subpattern*"),
        (
            "{vars: {a: {sampled_from: fixtures/none.txt}}}",
            "*vars.a: sampled_from: sampled_from: file 'fixtures/none.txt' not found*",
        ),
        (
            "{vars: {a: {from_schema: {type: object, allOf: []}}}}",
            "*vars.a: from_schema: JSON Schema keyword 'allOf' is not supported for generation*",
        ),
        ("{max_examples: 0, vars: {a: {booleans: true}}}", "*max_examples must be a whole number from 1 to 10000*"),
        ("{vars: {}}", "*vars: give each generated variable a strategy*"),
    ],
)
def test_malformed_generate_blocks_name_the_file(pytester: pytest.Pytester, block: str, message: str) -> None:
    text = f"suite: bad\nmodel: m\nprompt: {{user: hi}}\ngenerate: {block}\n"
    assert_invalid_suite(pytester, text, "*suites/bad.yaml:4: generate: " + message.lstrip("*"))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"text": st.text(), "number": st.floats(allow_nan=False) | st.integers(), "day": st.dates()}
        ),
        min_size=1,
        max_size=5,
    )
)
def test_stored_examples_survive_the_cassette_round_trip(tmp_path_factory: pytest.TempPathFactory, examples) -> None:
    """Whatever a strategy draws (any text, floats, dates) comes back from the cassette unchanged."""
    path = tmp_path_factory.mktemp("tape") / "generated.yaml"
    cassettes.save(cassettes.Cassette(path, [], {"generate": {"examples": examples}}))
    assert cassettes.load(path).meta["generate"]["examples"] == examples


def test_the_declaration_is_plain_data(tmp_path) -> None:
    spec = parse_generate(
        yaml.safe_load("{vars: {d: {dates: {min: 2026-01-01}}}}"), path="s.yaml", rootdir=tmp_path, line=1
    )
    assert spec.declaration == {"vars": {"d": {"dates": {"min": "2026-01-01"}}}}


def test_the_readme_given_example_records_and_replays(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Path(__file__).resolve().parents[2]
    block = next(b for b in re.findall(r"```python\n(.*?)```", documentation(), re.DOTALL) if "@given" in b)
    shutil.copytree(repo / "fixtures", pytester.path / "fixtures")
    (pytester.path / "suites").mkdir()
    shutil.copy(repo / "suites/order_intake.yaml", pytester.path / "suites")
    pytester.makepyfile(test_readme=block)
    with DemoServer(Script.from_file(repo / "fixtures/demo/script.yaml")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "demo")
        pytester.runpytest("test_readme.py", "--prompt-record=new").assert_outcomes(passed=1)
    examples = cassettes.load(pytester.path / "cassettes/test_readme/test_order_number_survives.yaml").meta["examples"]
    assert len(examples) == 20
    block_sockets(pytester)
    pytester.runpytest("test_readme.py", "--hypothesis-seed=7").assert_outcomes(passed=1)


def test_every_strategy_draws_values_within_its_declaration(tmp_path: Path) -> None:
    (tmp_path / "words.json").write_text('["a", "b"]')
    block = yaml.safe_load(
        """
        max_examples: 40
        vars:
          i: {integers: {min: -3, max: 3}}
          f: {floats: {min: 0.5, max: 2}}
          t: {text: {alphabet: "xy'", min_size: 2, max_size: 4}}
          r: {from_regex: '[A-Z]-\\d{2}'}
          s: {sampled_from: [red, green]}
          w: {sampled_from: words.json}
          d: {dates: {min: 2026-01-01, max: 2026-01-31}}
          df: {dates: {min: 2026-02-01, max: 2026-02-03, format: "%d/%m"}}
          b: {booleans: true}
          j: {just: fixed}
          o: {from_schema: {type: object, required: [n], properties: {n: {type: integer, minimum: 1, maximum: 5}, e: {enum: [x, y]}}}}
        """
    )
    spec = parse_generate(block, path="s.yaml", rootdir=tmp_path, line=1)
    examples, falsifying = explore(spec, lambda values: True)
    assert falsifying is None and 1 < len(examples) <= 40
    for e in examples:
        assert list(e) == ["i", "f", "t", "r", "s", "w", "d", "df", "b", "j", "o"]  # declared order
        assert -3 <= e["i"] <= 3 and 0.5 <= e["f"] <= 2
        assert 2 <= len(e["t"]) <= 4 and set(e["t"]) <= set("xy'")
        assert re.fullmatch(r"[A-Z]-[0-9]{2}", e["r"])
        assert e["s"] in ("red", "green") and e["w"] in ("a", "b") and e["j"] == "fixed"
        assert dt.date(2026, 1, 1) <= e["d"] <= dt.date(2026, 1, 31)
        assert e["df"] in ("01/02", "02/02", "03/02") and isinstance(e["b"], bool)
        assert 1 <= e["o"]["n"] <= 5 and e["o"].get("e", "x") in ("x", "y")


def test_rerecording_generated_cases_compares_the_tokens_of_every_example(
    pytester: pytest.Pytester, intake: DemoServer
) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    pytester.runpytest("--prompt-record=all", "--prompt-report=report.json").assert_outcomes(passed=1)
    (case,) = json.loads((pytester.path / "report.json").read_text())["cases"]
    calls = cassettes.load(pytester.path / "cassettes/intake/generated.yaml").meta["interactions"]
    assert case["usage"]["total_tokens"] == sum(call["usage"]["total_tokens"] for call in calls)
    assert case["baseline"]["usage"] == case["usage"]  # the same examples and answers: no token change


def test_a_given_test_rerecorded_in_changed_mode_keeps_its_examples(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    demo.script = Script.from_data({"rules": [GOOD]})
    passing = PYTHON_GIVEN.replace('    assert out.json["quantity"] < 60, "large orders are refused"\n', "")
    pytester.makepyfile(test_orders=passing)
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    path = pytester.path / "cassettes/test_orders/test_order_number_survives.yaml"
    examples = cassettes.load(path).meta["examples"]
    pytester.makepyfile(test_orders=passing.replace("Hi, this is Ann.", "Hello, this is Ann."))
    pytester.runpytest().assert_outcomes(failed=1)  # the request changed: drift
    pytester.runpytest("--prompt-record=changed").assert_outcomes(passed=1)
    tape = cassettes.load(path)
    assert tape.meta["examples"] == examples and len(tape.interactions) == len(examples)
    assert "Hello, this is Ann." in tape.interactions[0].request_body
    demo.stop()
    pytester.runpytest("--hypothesis-seed=5").assert_outcomes(passed=1)


def test_a_test_that_became_a_given_test_after_recording_says_so(pytester: pytest.Pytester, demo: DemoServer) -> None:
    demo.script = Script.from_data({"rules": [GOOD]})
    plain = 'def test_order_number_survives(prompt):\n    prompt.run(messages=[{"role": "user", "content": "hi"}], model="m")\n'
    pytester.makepyfile(test_orders=plain)
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    pytester.makepyfile(test_orders=PYTHON_GIVEN)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*prompt drift: the test (now a @given test) changed since cassettes/*was recorded.*",
            "*--prompt-record=changed*",
        ]
    )


def test_a_seed_fixes_the_examples_and_shrink_false_keeps_the_first_failure(tmp_path: Path) -> None:
    def examples(seed: int, shrink: bool = True, fails: int = 10**9) -> tuple[list, int | None]:
        block = {
            "max_examples": 15,
            "seed": seed,
            "shrink": shrink,
            "vars": {"n": {"integers": {"min": 0, "max": 1000}}},
        }
        return explore(parse_generate(block, path="s.yaml", rootdir=tmp_path, line=1), lambda v: v["n"] < fails)

    assert examples(1)[0] == examples(1)[0] and examples(1)[0] != examples(2)[0]
    shrunk, index = examples(1, fails=500)
    assert index is not None and shrunk[index]["n"] == 500  # Hypothesis shrinks to the boundary
    kept, first = examples(1, shrink=False, fails=500)
    assert (
        first is not None and kept[first]["n"] >= 500 and first == next(i for i, e in enumerate(kept) if e["n"] >= 500)
    )
    assert len(kept) <= 15  # no shrinking calls beyond the generated examples

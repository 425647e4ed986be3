"""The bundled example suites replay offline, and agree with the demo script they were recorded from."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from promptdrift.core.errors import PromptdriftError
from promptdrift.suite.reader import load_suite
from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import block_sockets, documentation

REPO = Path(__file__).resolve().parents[2]
OUTCOMES = {"passed": 40, "xfailed": 10}  # as the README's quick start says; the xfails: support_tactics' candidates


@pytest.fixture
def repo_copy(pytester: pytest.Pytester) -> Path:
    for name in ("suites", "fixtures", "cassettes"):
        shutil.copytree(REPO / name, pytester.path / name)
    text = (REPO / "pyproject.toml").read_text()  # the model prices the decision matrix uses
    start = text.index("[tool.promptdrift.prices]")
    (pytester.path / "pyproject.toml").write_text(text[start : text.index("\n\n", start)] + "\n")
    return pytester.path


def _cassettes(root: Path) -> dict[str, dict]:
    return {
        p.relative_to(root).as_posix(): yaml.safe_load(p.read_text())
        for p in sorted((root / "cassettes").rglob("*.yaml"))
    }


def test_examples_replay_with_sockets_blocked(pytester: pytest.Pytester, repo_copy: Path, offline) -> None:
    block_sockets(pytester)
    result = pytester.runpytest("suites", "-v")
    result.assert_outcomes(**OUTCOMES)
    result.stdout.fnmatch_lines(
        [
            "*suites/contact_extraction.yaml::full-signature PASSED*",
            "*suites/invoice_extractor.yaml::office-supplies PASSED*",
            "*suites/order_intake.yaml::generated PASSED*",
            "*suites/order_lookup.yaml::shipped PASSED*",
            "*suites/product_blurb.yaml::trail-boots PASSED*",
            "*suites/returns_faq.yaml::return-window PASSED*",
            "*suites/support_reply.yaml::late-delivery PASSED*",
            "*suites/support_tactics.yaml::too-late?few-shot? XFAIL*",
            "*suites/support_tactics.yaml::return-window?policy-context? PASSED*",
            "*suites/ticket_classifier.yaml::double-charge PASSED*",
            "*suites/ticket_classifier.yaml::gate?accuracy? PASSED*",
            "*suites/word_problems.yaml::egg-boxes PASSED*",
            "*promptdrift (none): 39 replayed*",
            "decision matrix: support-tactics",
            "*variant*pass rate*vs policy-context (95% CI)*mean f1*",
            "*zero-shot*0/3 (0%)*-100 pts ?-100, -44? *",
            "*cheapest variant that meets every gate: policy-context ($0.000062); its pass rate against fine-tuned "
            "(+0 points, 95% CI -56 to +56) is within noise: with 3 cases this comparison can only detect a drop of "
            "91 points*",
        ]
    )


def test_committed_cassettes_match_a_fresh_recording_from_the_demo_script(
    pytester: pytest.Pytester, repo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = _cassettes(repo_copy)
    with DemoServer(Script.from_file(REPO / "fixtures/demo/script.yaml")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "demo")
        pytester.runpytest("suites", "--prompt-record=all").assert_outcomes(**OUTCOMES)
    fresh = _cassettes(repo_copy)
    assert fresh.keys() == committed.keys()
    for name, data in fresh.items():
        old, new = committed[name], data
        assert len(new["interactions"]) == len(old["interactions"]), name
        for before, after in zip(old["interactions"], new["interactions"], strict=True):
            assert after["request"]["body"] == before["request"]["body"], name
            assert after["response"]["body"] == before["response"]["body"], name
        for key in ("answer", "checks", "fingerprint", "model_returned"):
            assert new["metadata"]["promptdrift"][key] == old["metadata"]["promptdrift"][key], (name, key)


README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = documentation()


def test_the_readme_quick_start_states_the_example_outcomes() -> None:
    assert f"`{OUTCOMES['passed']} passed, {OUTCOMES['xfailed']} xfailed`" in README


def test_every_yaml_example_in_the_documentation_loads_as_part_of_a_suite(tmp_path: Path) -> None:
    """Each ```yaml block, completed with what a suite needs, loads: its checks, steps and keys are real.

    (Workflow snippets are fenced ```yml: they are not suites.)"""
    shutil.copytree(REPO / "fixtures", tmp_path / "fixtures")
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS, re.DOTALL)
    assert len(blocks) >= 8
    base = {"suite": "readme", "model": "m", "prompt": {"user": "hi"}, "cases": [{"id": "a"}]}
    for number, block in enumerate(blocks, 1):
        fragment = yaml.safe_load(block)
        if "cases" in fragment:
            for case in fragment["cases"]:
                case.setdefault("vars", {})
        data = {**base, **fragment} if isinstance(fragment, dict) else base
        path = tmp_path / "suites" / f"block{number}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        try:
            load_suite(path, tmp_path)
        except PromptdriftError as exc:
            raise AssertionError(f"documentation yaml block {number} does not load: {exc}\n{block}") from None

"""Retrieval context: documents in the prompt (BM25 top k or all), groundedness, and an edited document as drift."""

from __future__ import annotations

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import FAQ, GRADER, drift_after_edit, record_and_replay, script, write, write_policies


def test_retrieval_puts_the_top_document_in_the_prompt_and_groundedness_passes(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    script(demo, GRADER, {"when": {"contains": "returns"}, "reply": "Returns are accepted within 30 days of delivery."})
    write_policies(pytester)
    write(pytester, "suites/faq.yaml", FAQ)
    record_and_replay(pytester, demo, passed=1)
    tape = cassettes.load(pytester.path / "cassettes/faq/return-window.yaml")
    system = tape.interactions[0].request_json["messages"][0]["content"]
    assert "[fixtures/policies/returns.md]\nReturns are accepted within 30 days" in system
    assert "shipping" not in system and "Gift" not in system  # top_k 1: only the best document
    grader = tape.interactions[1].request_json["messages"][1]["content"]
    assert "<context>" in grader and "30 days" in grader  # the grader sees the same context
    assert [c["check"] for c in tape.meta["checks"]] == ["grounded", "faithfulness"]


def test_an_answer_not_supported_by_the_context_fails_groundedness(pytester: pytest.Pytester, demo: DemoServer) -> None:
    unsupported = "Returns are accepted within 30 days of delivery. We also refund shipping costs on every order."
    script(
        demo,
        {**GRADER, "reply": {"json": {"score": 0.3, "reason": "claims a shipping refund"}}},
        {"when": {"contains": "returns"}, "reply": unsupported},
    )
    write_policies(pytester)
    write(pytester, "suites/faq.yaml", FAQ)
    result = pytester.runpytest("--prompt-record=new")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FAIL grounded ?score 0.5?: score 0.5 < min 1: 1 of 2 sentences supported by the context; not supported: *refund shipping costs*",
            "*FAIL faithfulness ?score 0.3?*claims a shipping refund*",
        ]
    )


def test_without_top_k_every_document_is_in_the_prompt(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(demo, GRADER, default="Gift cards never expire.")
    write_policies(pytester)
    write(pytester, "suites/faq.yaml", FAQ.replace(', top_k: 1, query: "{{ question }}"', ""))
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    system = (
        cassettes.load(pytester.path / "cassettes/faq/return-window.yaml")
        .interactions[0]
        .request_json["messages"][0]["content"]
    )
    assert [line for line in system.splitlines() if line.startswith("[")] == [
        "[fixtures/policies/giftcards.md]",
        "[fixtures/policies/returns.md]",
        "[fixtures/policies/shipping.md]",
    ]


def test_a_changed_document_is_prompt_drift(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(demo, GRADER, {"when": {"contains": "returns"}, "reply": "Returns are accepted within 30 days of delivery."})
    write_policies(pytester)
    write(pytester, "suites/faq.yaml", FAQ)
    result = drift_after_edit(pytester, "fixtures/policies/returns.md", "30 days", "14 days")
    result.stdout.fnmatch_lines(["*-*30 days*", "*+*14 days*"])


# -- finish reasons ---------------------------------------------------------------------------


def test_context_separator_and_documents_variable(tmp_path) -> None:
    from promptdrift.run.retrieval import context_variables
    from promptdrift.suite.model import Document, Retrieval

    spec = Retrieval((Document("a.md", "Alpha."), Document("b.md", "Beta.")), separator="\n---\n")
    got = context_variables(spec, {}, where="case 'x'", path="s.yaml")
    assert got["context"] == "[a.md]\nAlpha.\n---\n[b.md]\nBeta."
    assert got["documents"] == [{"name": "a.md", "text": "Alpha."}, {"name": "b.md", "text": "Beta."}]
    ranked = context_variables(
        Retrieval(spec.documents, top_k=1, query="{{ q }}"), {"q": "beta"}, where="case 'x'", path="s.yaml"
    )
    assert ranked["documents"] == [{"name": "b.md", "text": "Beta."}]


@pytest.mark.parametrize(("overlap", "score"), [(0.6, 0.5), (0.3, 1.0)])
def test_grounded_counts_sentences_supported_by_one_passage(tmp_path, overlap: float, score: float) -> None:
    from promptdrift.checks import evaluate, parse_check
    from promptdrift.config import Settings
    from promptdrift.core.answers import Answer
    from promptdrift.run.context import Context

    context = [{"name": "p.md", "text": "Returns are accepted within 30 days.\n\nShipping is free over 50 euros."}]
    # The second sentence shares "shipping" and "free" with a passage: 2 of its 4 content words.
    answer = Answer("Returns are accepted within 30 days. Shipping is free for members everywhere.", context=context)
    spec = parse_check({"grounded": {"overlap": overlap, "min": 0}}, path="s.yaml", default_line=None)
    result = evaluate(spec, answer, spec.arg, Context(Settings(rootdir=tmp_path)))
    assert result.score == score

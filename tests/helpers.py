"""Helpers for promptdrift's own tests: writing suites, scripting the demo server, running checks.

A module of its own (conftest.py holds fixtures and hooks only: pytest loads it as a plugin, not as a
module to import from). Test modules import these as ``from tests.helpers import ...``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from promptdrift.checks import CheckSpec, evaluate, parse_check
from promptdrift.config import Settings
from promptdrift.core.answers import Answer, CheckResult
from promptdrift.run.context import Context
from promptdrift.testing.demo import DemoServer, Script

# Key-shaped values the server and client use; no cassette may contain them.
FAKE_KEY = "sk-proj-testkey0123456789abcdefABCDEF"
FAKE_ORG = "org-TESTORG1234567890"
FAKE_PROJECT = "proj_TESTPROJECT123456"

DEFAULT_SCRIPT = {
    "rules": [
        {"when": {"contains": "late"}, "reply": "I'm so sorry your order is late. We'll fix it today."},
        {"when": {"contains": "invoice"}, "reply": {"json": {"total": 42.5, "currency": "EUR"}}},
        {"when": {"contains": "refund"}, "reply": "Refund guaranteed!"},
    ],
    "default": "Thanks for reaching out.",
}


NO_SOCKETS = """
import socket

_saved = {}


def _refuse(*args, **kwargs):
    raise AssertionError("promptdrift opened a socket while replaying")


def pytest_configure(config):
    # For the whole run (collection, hooks, tests), not just inside tests.
    _saved.update(connect=socket.socket.connect, create_connection=socket.create_connection)
    socket.socket.connect = _refuse
    socket.create_connection = _refuse


def pytest_unconfigure(config):
    socket.socket.connect = _saved["connect"]
    socket.create_connection = _saved["create_connection"]
"""


def block_sockets(pytester: pytest.Pytester) -> None:
    """A conftest that makes any socket connection fail for the whole inner pytest run."""
    (pytester.path / "conftest.py").write_text(NO_SOCKETS, encoding="utf-8")


def write(pytester: pytest.Pytester, relpath: str, text: str) -> Path:
    """Write a file below the pytester root."""
    path = pytester.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


SUPPORT_SUITE = """
suite: support
model: gpt-4o-mini
params: {temperature: 0, max_tokens: 100}
prompt:
  system: You are a support assistant. Be warm.
  few_shot:
    - {user: "Hi", assistant: "Hello! How can I help?"}
  user: "Customer message: {{ message }}"
expect:
  - not_contains: ["guarantee"]
cases:
  - id: late
    vars: {message: "My order is late"}
    expect:
      - contains_any: ["sorry", "apolog"]
  - id: invoice
    vars: {message: "Send my invoice"}
    expect:
      - json: true
      - json_path: {path: "$.total", equals: 42.5}
"""


def many_cases(pytester: pytest.Pytester, count: int, *, gate: bool = True) -> Path:
    """``suites/many.yaml``: ``count`` cases ``c000``... asking about order N (optionally a pass-rate gate).

    Returns the folder its cassettes go to.
    """
    cases = "\n".join(f'  - {{id: c{i:03d}, vars: {{message: "order {i} is late"}}}}' for i in range(count))
    gate_line = "gate: {pass_rate: {min: 1.0}}\n" if gate else ""
    text = (
        'suite: many\nmodel: gpt-4o-mini\nprompt: {user: "{{ message }}"}\nexpect: [{contains: "sorry"}]\n'
        f"{gate_line}cases:\n{cases}\n"
    )
    (pytester.path / "suites").mkdir(exist_ok=True)
    (pytester.path / "suites" / "many.yaml").write_text(text, encoding="utf-8")
    return pytester.path / "cassettes" / "many"


def assert_invalid_suite(pytester: pytest.Pytester, text: str, pattern: str) -> None:
    """``suites/bad.yaml`` with ``text`` fails as one item whose message matches ``pattern`` (fnmatch)."""
    write(pytester, "suites/bad.yaml", text)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([pattern])


def drift_after_edit(pytester: pytest.Pytester, path: str, old: str, new: str) -> pytest.RunResult:
    """Record everything, replace ``old`` with ``new`` in the file at ``path``, replay: one case drifts."""
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=1)
    target = pytester.path / path
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new), encoding="utf-8")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*prompt drift*"])
    return result


def record_and_replay(pytester: pytest.Pytester, demo: DemoServer, **outcomes: int) -> pytest.RunResult:
    """Record the suites in ``pytester``, then replay them with the server stopped and sockets refused."""
    pytester.runpytest("--prompt-record=new").assert_outcomes(**outcomes)
    demo.stop()
    block_sockets(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(**outcomes)
    return result


def script(demo: DemoServer, *rules: dict, default: str = "I can help with that.") -> None:
    demo.script = Script.from_data({"rules": list(rules), "default": default})


# -- suites shared by several test modules ------------------------------------------------------------------------

# A model upgrade: v2 breaks one case's schema, lowers one's similarity, improves one's tone.
REFERENCE = "the parcel left the warehouse on monday and arrives on friday"

UPGRADE_SCRIPT = {
    "snapshot": "{model}-2026-11-01",
    "rules": [
        {"when": {"model": "model-v1", "contains": "invoice"}, "reply": {"json": {"total": 5}}},
        {"when": {"model": "model-v2", "contains": "invoice"}, "reply": {"json": {"sum": 5}}},
        {"when": {"model": "model-v1", "contains": "summary"}, "reply": REFERENCE},
        {"when": {"model": "model-v2", "contains": "summary"}, "reply": "the parcel arrives on friday, it left monday"},
        {"when": {"model": "model-v1", "contains": "greeting"}, "reply": "Hello there."},
        {"when": {"model": "model-v2", "contains": "greeting"}, "reply": "Welcome back, hello there."},
    ],
}

UPGRADE_SUITE = f"""
suite: upgrade
model: model-v1
prompt: {{user: "{{{{ q }}}}"}}
cases:
  - id: extract        # v2 breaks the schema
    vars: {{q: "invoice please"}}
    expect: [{{schema: {{type: object, required: [total]}}}}]
  - id: summary        # v2 still passes, but its similarity falls
    vars: {{q: "summary please"}}
    reference: "{REFERENCE}"
    expect: [{{similar: {{to: "{{{{ reference }}}}", min: 0.5}}}}]
  - id: greeting       # v2 improves: v1 did not welcome
    vars: {{q: "greeting please"}}
    expect: [{{icontains: "welcome"}}]
"""


# Retrieval over three policy documents.
POLICIES = {
    "returns.md": "Returns are accepted within 30 days of delivery.\n\nItems must be unused and in the original box.",
    "shipping.md": "Standard shipping takes 3 to 5 business days.\n\nExpress shipping arrives the next business day.",
    "giftcards.md": "Gift cards never expire.\n\nGift cards cannot be exchanged for cash.",
}
FAQ = """
suite: faq
model: gpt-4o-mini
prompt:
  system: "Answer only from these policies:\\n{{ context }}"
  user: "{{ question }}"
context: {documents: "fixtures/policies/*.md", top_k: 1, query: "{{ question }}"}
expect:
  - grounded: {min: 1.0}
  - faithfulness: {min: 0.7}
cases:
  - id: return-window
    vars: {question: "Within how many days are returns accepted?"}
"""
GRADER = {
    "when": {"system": "impartial grader", "contains": "faithful"},
    "reply": {"json": {"score": 0.9, "reason": "supported"}},
}


def write_policies(pytester: pytest.Pytester) -> None:
    for name, text in POLICIES.items():
        write(pytester, f"fixtures/policies/{name}", text)


# -- checks, as a suite would apply them --------------------------------------------------------------------------


def apply_check(
    spec: dict[str, Any],
    answer: Answer | str,
    *,
    root: Path | None = None,
    prices: dict | None = None,
    ctx: Context | None = None,
) -> CheckResult:
    """Apply one check written as in a suite (``{"contains": "x"}``) to an answer (or its text)."""
    parsed: CheckSpec = parse_check(spec, path="t.yaml", default_line=1)
    context = ctx or Context(Settings(rootdir=root or Path.cwd(), prices=prices or {}))
    return evaluate(parsed, answer if isinstance(answer, Answer) else Answer(answer), parsed.arg, context)


def token(prefix: str, alphabet: str, low: int, high: int) -> st.SearchStrategy[str]:
    """Key-shaped strings: ``prefix`` then ``low`` to ``high`` characters of ``alphabet``."""
    return st.text(alphabet, min_size=low, max_size=high).map(lambda body: prefix + body)


def documentation() -> str:
    """The README and every page of docs/, as one text (what the documentation says, wherever it says it)."""
    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    return "\n\n".join(page.read_text(encoding="utf-8") for page in pages)


def report_records(total: int, regressions: int, improvements: int = 0, suites: int = 1, drifted: int = 0) -> list[Any]:
    """Case records of a re-recording of ``total`` cases over ``suites`` suites: the first ``regressions`` cases
    regress (``contains`` passed before, fails now, the answer reworded), the next ``improvements`` improve, the
    next ``drifted`` failed as drift; the rest are unchanged."""
    from promptdrift.verdict.drift import CaseRecord, CheckDelta

    records = []
    for i in range(total):
        suite = f"support{i % suites}" if suites > 1 else "support"
        case = f"c{i:05d}"
        before, after, passed_before, passed_now = (f"Your order {i} ships today.",) * 2 + (True, True)
        verdict = "same"
        if i < regressions:
            after, passed_now, verdict = f"Order {i} is delayed, sorry.", False, "regression"
        elif i < regressions + improvements:
            before, passed_before, verdict = f"Order {i}: no idea.", False, "improvement"
        old = {"check": "contains", "passed": passed_before, "score": float(passed_before)}
        new = {"check": "contains", "passed": passed_now, "score": float(passed_now)}
        note = {"regression": "passed before, fails now", "improvement": "failed before, passes now"}.get(verdict, "")
        record = CaseRecord(
            suite=suite,
            case=case,
            nodeid=f"suites/{suite}.yaml::{case}",
            status="recorded",
            passed=passed_now,
            answer=after,
            model="model-v2",
            latency_ms=100.0 + i % 50,
            cost_usd=0.0001,
            checks=[new],
            baseline={"answer": before, "model": "model-v1", "usage": {}, "latency_ms": 90.0, "cost_usd": 0.0001},
            deltas=[CheckDelta("contains", verdict, old, new, note)],
            cassette=f"cassettes/{suite}/{case}.yaml",
            pass_count=int(passed_now),
            pass_total=1,
            baseline_pass_count=int(passed_before),
            baseline_pass_total=1,
            outcome_passed=passed_now,
            messages=[
                {"role": "system", "content": "You answer order questions."},
                {"role": "user", "content": f"Where is order {i}?"},
            ],
        )
        if regressions + improvements <= i < regressions + improvements + drifted:
            record.status, record.passed, record.deltas, record.baseline = "drift", False, [], None
            record.baseline_pass_total, record.error = None, "the prompt changed since it was recorded:\n- old\n+ new"
        records.append(record)
    return records

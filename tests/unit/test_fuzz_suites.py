"""Fuzz: malformed YAML and wrong structures only ever give promptdrift's own errors, naming the file.

Suites arrive in pull requests from anyone. Hypothesis writes 1,000 broken
suites (``PROMPTDRIFT_STRESS=1``: 10,000): random text, valid suites cut or
corrupted at random places, valid structures with any part replaced by a
value of another type, unknown keys, Python tags, alias bombs. Loading each
and rendering every case's request must either work or raise a
:class:`~promptdrift.core.errors.PromptdriftError` whose text names the file (and
the line, for YAML syntax errors). Anything else is a bug.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptdrift.config import Settings
from promptdrift.core.errors import PromptdriftError
from promptdrift.run.conversation import build_request
from promptdrift.suite.reader import load_suite

pytestmark = pytest.mark.slow  # a thousand generated suites

EXAMPLES = 10_000 if os.environ.get("PROMPTDRIFT_STRESS") else 1_000

BASE: dict[str, Any] = {
    "suite": "fuzz",
    "model": "gpt-4o-mini",
    "params": {"temperature": 0, "max_tokens": 50},
    "prompt": {
        "system": "Be kind to {{ name }}.",
        "few_shot": [{"user": "Hi", "assistant": "Hello!"}],
        "user": "Message: {{ message | upper }}",
    },
    "expect": [{"contains": "sorry"}, {"max_words": 40}, {"not_contains": ["guarantee"]}],
    "cases": [
        {"id": "a", "vars": {"name": "Ann", "message": "late"}, "expect": [{"regex": "^I"}]},
        {"id": "b", "vars": {"name": "Bo", "message": "refund"}, "min_score": 0.5, "params": {"seed": 1}},
    ],
    "gate": {"pass_rate": {"min": 0.5}},
    "context": {"documents": "fixtures/docs/*.md", "top_k": 1, "query": "{{ message }}"},
    "extract": {"after": "Answer:"},
    "transform": ["strip", {"regex": "(\\d+)"}, "json"],
    "tools": [{"name": "lookup", "parameters": {"type": "object"}}],
    "tool_results": {"lookup": {"status": "ok"}},
    "generate": {
        "max_examples": 5,
        "vars": {
            "name": {"text": {"alphabet": "ab'", "max_size": 5}},
            "message": {"sampled_from": "fixtures/words.txt"},
            "n": {"from_schema": {"type": "object", "properties": {"a": {"type": "integer"}}}},
        },
    },
}
BASE["cases"].append({"id": "c", "vars": {"name": "Cy", "message": "x"}, "turns": [{"user": "a"}, {"user": "b"}]})

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.binary(max_size=8)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a nested structure (as key paths)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def wrong_structures(draw: st.DrawFn) -> str:
    """The valid suite with one to three places replaced, deleted or given an unknown neighbour."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(data)[1:]))
        parent = data
        for key in where[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "unknown"]))
        if action == "replace":
            parent[where[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(VALUES)
        if not isinstance(data, dict) or "suite" not in data:
            break
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@st.composite
def corrupted_text(draw: st.DrawFn) -> str:
    """The valid suite's text cut, or with characters inserted or removed at random places."""
    text = yaml.safe_dump(BASE, sort_keys=False)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["cut", "insert", "remove"]))
        if action == "cut":
            text = text[:at]
        elif action == "insert":
            text = (
                text[:at]
                + draw(st.sampled_from(["\t", ":", "- ", "{", "]", "'", '"', "&a ", "*a", "!!", "\n  ", "{{", "{%"]))
                + text[at:]
            )
        else:
            text = text[:at] + text[at + draw(st.integers(1, 10)) :]
    return text


HOSTILE = st.sampled_from(
    [
        "suite: x\nprompt: !!python/object/apply:os.system ['echo pwned']\n",
        "suite: x\nmodel: !!python/name:os.system\n",
        'suite: x\na: &a ["x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nprompt: {user: "{{ q }}"}\ncases: [{id: a, vars: {q: *c}}]\n',
        "suite: x\nprompt: {user: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"}\ncases: [{id: a}]\n",
        "suite: x\nprompt: {user: \"{{ cycler.__init__.__globals__.os.popen('id').read() }}\"}\ncases: [{id: a}]\n",
        "suite: x\nprompt: {user: hi}\ncases: ../../etc/passwd.csv\n",
        "suite: x\nprompt: {user: hi}\ncases: /etc/passwd\n",
        "suite: x\nprompt: {user: hi}\nexpect: [{schema: ../../../etc/shadow}]\ncases: [{id: a}]\n",
        "suite: x\n" + "prompt:\n  user: " + "[" * 5000 + "\n",
        "suite: [\n",
        "suite:\n\x00\n",
    ]
)

SUITE_TEXT = st.one_of(
    wrong_structures(), corrupted_text(), HOSTILE, st.text(max_size=200).map(lambda t: "suite: x\n" + t)
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "fixtures" / "docs").mkdir(parents=True)
    (path / "fixtures" / "docs" / "returns.md").write_text("Returns within 30 days.", encoding="utf-8")
    (path / "fixtures" / "docs" / "shipping.md").write_text("Shipping takes 3 days.", encoding="utf-8")
    (path / "fixtures" / "words.txt").write_text("late\nrefund\n", encoding="utf-8")
    return path


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(text=SUITE_TEXT)
def test_broken_suites_only_raise_promptdrift_errors_naming_the_file(root: Path, text: str) -> None:
    path = root / "suites" / "fuzz.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    settings_ = Settings(rootdir=root)
    try:
        suite = load_suite(path, root)
        for case in suite.cases:
            build_request(suite, case, settings_)
    except PromptdriftError as exc:
        assert exc.path is not None and exc.path.endswith("fuzz.yaml"), f"no file named: {exc!r}"
        assert str(exc).startswith("suites/fuzz.yaml"), str(exc)
        if "invalid YAML" in exc.message and "nested too deeply" not in exc.message:
            assert exc.line is not None, f"no line for a YAML error: {exc}"
        assert exc.message.strip()

"""The cassette YAML writer builds PyYAML's events directly and remembers short scalars; its text is PyYAML's own."""

from __future__ import annotations

import datetime
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from promptdrift.text import yamlio


def reference_dump(data: Any) -> str:
    """The same dump through PyYAML's generic representer and resolver (what the writer replaced): libyaml's
    emitter, or the pure-Python one where libyaml escaped an emoji, as the writer does."""

    class PlainC(yamlio._Dumper):  # type: ignore[misc,name-defined]
        pass

    class PlainPy(yaml.SafeDumper):
        pass

    for dumper in (PlainC, PlainPy):
        dumper.add_representer(str, yamlio._represent_str)
    options: dict[str, Any] = {"sort_keys": False, "allow_unicode": True, "width": 100}
    text = yaml.dump(data, Dumper=PlainC, **options)
    return yaml.dump(data, Dumper=PlainPy, **options) if "\\U" in text else text


# Text YAML would read as something else, line breaks of every kind, emoji (the pure-Python fallback).
TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["yes", "no", "null", "~", "123", "1.5", "2026-01-01", "", " x", "a: b", "#c", "- d", "'q'"]),
    st.text(alphabet="ab\n\r\x85\u2028 :👋", max_size=12),
)
SCALARS = st.one_of(TEXT, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(DATA)
def test_the_writer_gives_pyyamls_own_text(data: Any) -> None:
    assert yamlio.dumps(data) == reference_dump(data)
    assert yamlio.dumps(data) == yamlio.dumps(data)  # remembered tags give the same text the second time


def test_a_nan_and_line_dicts_are_written_like_plain_data() -> None:
    data = yamlio.loads("a: [1, {b: c}]\n", path="x.yaml")
    assert yamlio.dumps(data) == reference_dump({"a": [1, {"b": "c"}]})
    assert yamlio.dumps({"x": float("nan")}) == reference_dump({"x": float("nan")})


def test_other_types_go_through_the_safe_representer() -> None:
    data = {"set": {1, 2}, "date": datetime.date(2026, 1, 1), "bytes": b"xy", "float": 1.5, "inf": float("inf")}
    assert yamlio.dumps(data) == reference_dump(data)

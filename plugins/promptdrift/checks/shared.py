"""Helpers several check families use: quoting the answer in reasons, reference arguments, tokens, value equality."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

QUOTE_WIDTH = 60


def quote(text: str, start: int = 0, end: int | None = None) -> str:
    """A short excerpt of ``text`` around ``start:end`` for failure reasons."""
    end = len(text) if end is None else end
    lo = max(0, start - 20)
    hi = min(len(text), max(end, start) + 20)
    excerpt = text[lo:hi].replace("\n", " ")
    if len(excerpt) > QUOTE_WIDTH:
        excerpt = excerpt[:QUOTE_WIDTH] + "…"
    return ("…" if lo else "") + repr(excerpt) + ("…" if hi < len(text) else "")


def reference_arg(value: Any) -> dict[str, Any]:
    """``"text"`` or ``{to: "text"}``: what the answer is compared with."""
    if isinstance(value, str):
        return {"to": value}
    if isinstance(value, Mapping) and isinstance(value.get("to"), str):
        unknown = set(value) - {"to"}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)}; use to, min, max, weight, not")
        return dict(value)
    raise ValueError("expected the reference text, or {to: text, min: score}")


_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens without punctuation (SQuAD-style normalisation)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _PUNCT.sub(" ", text).split()


def values_equal(actual: Any, expected: Any, tolerance: float) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected  # JSON true is not the number 1
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return math.isclose(float(actual), float(expected), rel_tol=0.0, abs_tol=tolerance)
    return bool(actual == expected)

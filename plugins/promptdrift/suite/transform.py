"""Post-processing an answer before its checks: ``extract:`` and the ``transform:`` chain.

A step is a name or a one-key mapping::

    extract: {after: "Answer:"}          # or {regex: ...} / {json_path: ...} / {last_line: true}
    transform: [strip, lowercase, {regex: 'total: (\\d+)'}, json, {function: "mymod:clean"}]

``extract`` is one step, applied first; the chain follows. The checks see the
result; the raw answer stays in the cassette and the report. A step that
cannot apply (no marker, no match, no JSON) fails the case with a reason,
and the checks then see the raw answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptdrift.core.errors import SuiteError
from promptdrift.text.yamlio import line_of

FUNCTION_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

STEPS = {
    "strip": "remove surrounding whitespace",
    "lowercase": "lower-case the text",
    "last_line": "the last non-empty line",
    "json": "the JSON in a fenced ```json block (or the whole text), checked to parse",
    "after": "the text after the last occurrence of a marker: {after: 'Answer:'}",
    "regex": "the first match of a pattern (its first group if it has one): {regex: 'total: (\\d+)'}",
    "json_path": "a value of the answer's JSON: {json_path: '$.answer'}",
    "function": "a Python function str -> str from your code: {function: 'package.module:name'}",
}
EXTRACT_STEPS = ("after", "regex", "json_path", "last_line")


@dataclass(frozen=True)
class Step:
    """One parsed step: its name and argument."""

    name: str
    arg: Any = None

    @property
    def label(self) -> str:
        return self.name if self.arg is None or self.arg is True else f"{self.name} {self.arg!r}"


def parse_steps(
    value: Any, *, key: str, path: str, line: int | None, allowed: Sequence[str] = tuple(STEPS)
) -> tuple[Step, ...]:
    """Validate ``extract:`` (one step) or ``transform:`` (a list) into steps; errors name the file and line."""
    items = value if isinstance(value, list) else [value]
    steps = []
    for item in items:
        where = line_of(item) or line_of(value) or line
        if isinstance(item, str):
            name, arg = item, None
        elif isinstance(item, Mapping) and len(item) == 1:
            ((name, arg),) = item.items()
        else:
            raise SuiteError(f"{key}: each step is a name or a one-key mapping, got {item!r}", path=path, line=where)
        if name not in allowed:
            known = "; ".join(f"{n}: {STEPS[n]}" for n in allowed)
            raise SuiteError(f"{key}: unknown step {name!r}. Steps: {known}", path=path, line=where)
        steps.append(_validated(Step(str(name), arg), key, path, where))
    return tuple(steps)


def _validated(step: Step, key: str, path: str, line: int | None) -> Step:
    def fail(message: str) -> SuiteError:
        return SuiteError(f"{key}: {step.name}: {message}", path=path, line=line)

    if step.name in ("strip", "lowercase", "json", "last_line"):
        if step.arg not in (None, True):
            raise fail(f"takes no argument, write it as '{step.name}'")
        return Step(step.name)
    if not isinstance(step.arg, str) or not step.arg:
        raise fail(f"needs text: {STEPS[step.name]}")
    if step.name == "regex":
        try:
            re.compile(step.arg)
        except re.error as exc:
            raise fail(f"invalid pattern: {exc}") from None
    if step.name == "json_path":
        # slow: jsonpath-ng builds its parser on import; only suites with a json_path step pay for it
        from jsonpath_ng import parse as parse_jsonpath  # type: ignore[import-untyped]

        try:
            parse_jsonpath(step.arg)
        except Exception as exc:
            raise fail(f"invalid JSONPath: {exc}") from None
    if step.name == "function" and not FUNCTION_REF.match(step.arg):
        raise fail(f"give 'package.module:function', got {step.arg!r}")
    return step

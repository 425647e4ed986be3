"""What a model answered and what a check concluded: the two result types every layer passes around."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict of one check on one answer.

    ``score`` is in [0, 1] where the check has a natural score, a raw value
    (a word count, a latency) where it has a measure, or ``None``.
    """

    name: str
    passed: bool
    score: float | None = None
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    turn: int | None = None  # in a conversation: the turn whose answer was checked (None: the final answer)

    @property
    def label(self) -> str:
        """``name``, or ``name (turn N)`` for a check on an earlier turn of a conversation."""
        return self.name if self.turn is None else f"{self.name} (turn {self.turn})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "passed": self.passed}
        if self.turn is not None:
            out["turn"] = self.turn
        if self.score is not None:
            out["score"] = round(self.score, 6)
        if self.reason:
            out["reason"] = self.reason
        return out


_UNPARSED: Any = object()


@dataclass(slots=True)  # a recording or batch run holds one per case until its test reports it
class Answer:
    """What the model answered, as the checks see it."""

    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    model: str | None = None
    usage: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    requested_model: str | None = None
    raw: str | None = None  # the model's own text, when extract / transform changed what the checks see
    context: list[dict[str, str]] = field(default_factory=list)  # retrieval documents the prompt was given
    batch: str | None = None  # the provider batch the answer was recorded through (priced at the batch rate)
    _json: Any = field(default=_UNPARSED, init=False, repr=False, compare=False)

    @property
    def model_text(self) -> str:
        """What the model said, before any extract / transform (the report and the cassette keep this)."""
        return self.text if self.raw is None else self.raw

    @property
    def json(self) -> Any:
        """The answer parsed as JSON (once); raises ``ValueError`` when it is not JSON."""
        if self._json is _UNPARSED:
            self._json = json.loads(self.text)
        return self._json


def total_usage(usages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Token counts added up over several calls (or answers); non-numeric entries are left out."""
    total: dict[str, Any] = {}
    for usage in usages:
        for key, value in usage.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return total

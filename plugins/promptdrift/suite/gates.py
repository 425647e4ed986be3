"""Suite-level gates as a suite declares them: pass rate, the mean of a check's score, label accuracy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptdrift.checks import check_definition
from promptdrift.core.errors import SuiteError
from promptdrift.text.yamlio import line_of

GATE_KINDS = ("pass_rate", "mean", "accuracy")


@dataclass(frozen=True)
class Gate:
    """One gate as a suite declares it: ``pass_rate``, ``accuracy`` or ``mean`` of a check."""

    kind: str
    min: float | None = None
    max: float | None = None
    check: str | None = None
    line: int | None = None

    @property
    def label(self) -> str:
        return f"mean-{self.check}" if self.kind == "mean" else self.kind


def _bounds(value: Any, what: str, path: str, line: int | None) -> tuple[float | None, float | None]:
    if not isinstance(value, Mapping) or not value or not set(value) <= {"min", "max"}:
        raise SuiteError(f"gate {what}: give {{min: x}} and/or {{max: y}}", path=path, line=line)
    for bound in value.values():
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise SuiteError(f"gate {what}: bounds must be numbers, got {bound!r}", path=path, line=line)
    return value.get("min"), value.get("max")


def parse_gates(raw: Any, path: str, default_line: int | None) -> tuple[Gate, ...]:
    """Read a suite's ``gate:`` block."""
    if raw is None:
        return ()
    line = line_of(raw) or default_line
    if not isinstance(raw, Mapping):
        raise SuiteError("gate must be a mapping such as {pass_rate: {min: 0.9}}", path=path, line=line)
    gates = []
    for kind, value in raw.items():
        if kind not in GATE_KINDS:
            raise SuiteError(f"unknown gate {kind!r}; gates: {', '.join(GATE_KINDS)}", path=path, line=line)
        if kind == "mean":
            if not isinstance(value, Mapping) or not value:
                raise SuiteError(
                    "gate mean: name a check and its bounds, e.g. mean: {similar: {min: 0.8}}", path=path, line=line
                )
            for check, bounds in value.items():
                if check_definition(check) is None:
                    raise SuiteError(f"gate mean: unknown check {check!r}", path=path, line=line)
                lo, hi = _bounds(bounds, f"mean.{check}", path, line)
                gates.append(Gate("mean", lo, hi, str(check), line))
        else:
            lo, hi = _bounds(value, kind, path, line)
            gates.append(Gate(kind, lo, hi, None, line))
    return tuple(gates)

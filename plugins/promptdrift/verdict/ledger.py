"""The run's case and gate records: JSON lines that every process (xdist workers too) appends, read back at the end."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from promptdrift.core.errors import PromptdriftError
from promptdrift.suite.gates import Gate
from promptdrift.verdict.drift import CaseRecord
from promptdrift.verdict.gates import GateCase, evaluate_gate, gate_record


class RecordStore:
    """Append-only JSON-lines records in a folder shared by all processes of a run.

    The file is opened on the first record and kept open until :meth:`close`; each
    record is written through at once (one ``write`` a line), so what a killed
    process wrote is on disk, and the other processes read whole lines.
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.path = folder / f"{name}.jsonl"
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    def add(self, kind: str, data: Mapping[str, Any]) -> None:
        line = _line(kind, data) + "\n"
        with self._lock:
            try:
                if self._file is None:
                    self._file = self.path.open("a", encoding="utf-8")
                self._file.write(line)
                self._file.flush()
            except OSError as exc:
                raise RecordsError(
                    f"cannot write the run's records ({exc.strerror or exc}): the summary and reports will lack "
                    "this case; free space or give --prompt-records-dir a folder this run can write",
                    path=self.path,
                ) from None

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def read(self, keep: Callable[[CaseRecord], bool] | None = None) -> Records:
        """Every process's records in this store's folder (see :func:`read_records`)."""
        return read_records([self.folder], keep)


def has_pending_gates(folder: Path) -> bool:
    """Whether a process of this run left a gate pending in ``folder`` (read line by line, never a whole file)."""
    for path in folder.glob("*.jsonl"):
        with path.open(encoding="utf-8") as fh:
            if any(line.startswith(_PENDING) for line in fh):
                return True
    return False


def _line(kind: str, data: Mapping[str, Any]) -> str:
    """One record as its JSON line (the kind first)."""
    return json.dumps({"kind": kind, **data}, ensure_ascii=False, default=str)


_PENDING = _line("gate-pending", {})[:-1]  # how the line of a pending gate starts


def read_records(folders: Iterable[Path], keep: Callable[[CaseRecord], bool] | None = None) -> Records:
    """The records in ``folders``: per-suite summaries and status counts over all cases, the case records
    themselves where ``keep`` says so (all by default), gates, and pending gates settled from every case.

    The terminal keeps only the notable cases, so a run of 10,000 cases does not hold 10,000 records at its
    end; a gate left pending (recorded elsewhere) is evaluated here from what each case's record says.
    A file that is not JSON lines is a :class:`RecordsError` naming it.
    """
    out = Records()
    pending: dict[tuple[str, str], dict[str, Any]] = {}
    for path, number, kind, entry in _entries(folders):
        if kind == "gate":
            out.gates.append(entry)
        elif kind == "gate-pending":
            pending[(entry["suite"], str(entry["gate"]))] = entry
        elif kind == "case":
            record = _case(path, number, entry)
            out.summaries.add(record)
            out.counts[record.status] += 1
            if record.cassette_state:
                out.cassette_states[record.cassette_state] += 1
            if keep is None or keep(record):
                out.cases.append(record)
    if pending:  # rare (recording under xdist or in shards): a second pass reads what each case says
        _settle(folders, pending, out)
    out.cases.sort(key=lambda r: r.nodeid)
    out.gates.sort(key=lambda g: (g["suite"], g["gate"]))
    return out


def _damaged(number: int, path: Path, why: str = "") -> RecordsError:
    return RecordsError(
        f"line {number} is not a promptdrift record{f' ({why})' if why else ''}; the file is damaged: "
        "run that job again",
        path=path,
    )


def _simple_fields() -> dict[str, tuple[type, ...]]:
    """The fields of a case record whose type is plain (text, a number, a flag, optional or not)."""
    plain = {str, int, float, bool, type(None)}
    out: dict[str, tuple[type, ...]] = {}
    for name, hint in typing.get_type_hints(CaseRecord).items():
        kinds = typing.get_args(hint) or (hint,)
        if all(k in plain for k in kinds):
            out[name] = tuple(kinds) + ((int,) if float in kinds else ())  # JSON writes 2.0 as 2
    return out


_SIMPLE_FIELDS = _simple_fields()


def _case(path: Path, number: int, entry: dict[str, Any]) -> CaseRecord:
    """A case record from its line; a line missing fields or holding the wrong types is a damaged file."""
    try:
        record = CaseRecord.from_dict(entry)
        for name, kinds in _SIMPLE_FIELDS.items():
            value = getattr(record, name)
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise TypeError(f"{name} is {value!r}")
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise _damaged(number, path, str(exc)) from None
    return record


def _entries(folders: Iterable[Path]) -> Iterator[tuple[Path, int, str, dict[str, Any]]]:
    """Every record in the folders' JSON-lines files, in order: (file, line, kind, data)."""
    for folder in folders:
        for path in sorted(Path(folder).glob("*.jsonl")):
            with path.open("rb") as fh:
                for number, raw in enumerate(fh, 1):
                    try:
                        entry = json.loads(raw.decode("utf-8"))
                        kind = entry.pop("kind")
                    except UnicodeDecodeError:
                        raise _damaged(number, path, "not UTF-8 text") from None
                    except (ValueError, KeyError, AttributeError, TypeError):
                        raise _damaged(number, path) from None
                    if not isinstance(kind, str) or not isinstance(entry, dict):
                        raise _damaged(number, path)
                    yield path, number, kind, entry


def _settle(folders: Iterable[Path], pending: dict[tuple[str, str], dict[str, Any]], out: Records) -> None:
    """Evaluate the pending gates from every case record of their suites; failures go to ``out.failed_gates``."""
    suites = {suite for suite, _ in pending}
    cases: dict[str, list[GateCase]] = {}
    for path, number, kind, entry in _entries(folders):
        if kind == "case" and entry.get("suite") in suites:
            cases.setdefault(entry["suite"], []).append(GateCase.from_record(_case(path, number, entry)))
    for entry in pending.values():
        gate = Gate(**entry["gate"])
        result = evaluate_gate(gate, sorted(cases.get(entry["suite"], []), key=lambda c: c.case))
        settled = gate_record(entry["suite"], entry["variant"], result, bool(entry.get("candidate")))
        settled["settled"] = True  # evaluated from every case's record, not by the gate's own item
        out.gates.append(settled)
        if not result.passed and not entry.get("candidate"):
            out.failed_gates.append(settled)


class RecordsError(PromptdriftError):
    """A records file cannot be read."""


@dataclass
class Records:
    cases: list[CaseRecord] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    summaries: Summaries = field(default_factory=lambda: Summaries())
    counts: Counter[str] = field(default_factory=Counter)
    cassette_states: Counter[str] = field(default_factory=Counter)  # replayed cassettes "edited" / with "no digest"
    failed_gates: list[dict[str, Any]] = field(default_factory=list)  # settled here (pending elsewhere) and failed


@dataclass
class SuiteSummary:
    """Per-suite counts for the summary table."""

    suite: str
    cases: int = 0
    passed: int = 0
    failed: int = 0
    drifted: int = 0
    regressions: int = 0
    improvements: int = 0
    recorded: int = 0
    cost_usd: float | None = None
    gates: list[dict[str, Any]] = field(default_factory=list)


class Summaries:
    """Per-suite counts, added up one record at a time."""

    def __init__(self) -> None:
        self.by_suite: dict[str, SuiteSummary] = {}
        self.costs: dict[str, list[float]] = {}  # added up exactly at the end: the same sum in any order

    def add(self, record: CaseRecord) -> None:
        summary = self.by_suite.setdefault(record.suite, SuiteSummary(record.suite))
        summary.cases += 1
        summary.passed += record.passed
        summary.failed += not record.passed
        summary.drifted += record.status == "drift"
        summary.recorded += record.status == "recorded"
        summary.regressions += bool(record.regressions)  # cases, as the reports' verdicts count them
        summary.improvements += bool(record.improvements) and not record.regressions
        if record.cost_usd is not None:
            self.costs.setdefault(record.suite, []).append(record.cost_usd)

    def table(self, gates: Iterable[Mapping[str, Any]]) -> list[SuiteSummary]:
        by_suite = {
            name: dataclasses.replace(s, gates=[], cost_usd=math.fsum(self.costs[name]) if name in self.costs else None)
            for name, s in self.by_suite.items()
        }
        for gate in gates:
            by_suite.setdefault(gate["suite"], SuiteSummary(gate["suite"])).gates.append(dict(gate))
        return [by_suite[name] for name in sorted(by_suite)]


def summarise(cases: Iterable[CaseRecord], gates: Iterable[Mapping[str, Any]]) -> list[SuiteSummary]:
    summaries = Summaries()
    for record in cases:
        summaries.add(record)
    return summaries.table(gates)

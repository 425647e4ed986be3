"""How a suite becomes items: suite files as pytest collectors, each case, generated block and gate an item."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest

from promptdrift.config import Settings
from promptdrift.core.errors import Halted, PromptdriftError, SuiteError
from promptdrift.core.modes import RecordMode
from promptdrift.plugin.keys import RUN_KEY
from promptdrift.plugin.schedule import CaseRuns
from promptdrift.run.outcome import Outcome
from promptdrift.suite.gates import Gate
from promptdrift.suite.generate import GENERATED
from promptdrift.suite.model import Case, Suite
from promptdrift.suite.reader import load_suite, same_suite_id
from promptdrift.text import yamlio
from promptdrift.verdict.drift import (
    CaseRecord,
    case_record,
    failure_status,
    judging,
    regression_message,
    rerecord_comparisons,
)
from promptdrift.verdict.gates import GateCase, evaluate_gate, gate_record
from promptdrift.verdict.ledger import RecordStore

if TYPE_CHECKING:
    from promptdrift.record.client import Route

STATUS_PROPERTY = "promptdrift"
DRIFT = "drift"  # the item name of a suite's paired comparison (drift: {verdict: significant})  # user property on each case: replayed / recorded / drift / error
ANSWER_LINES = 30
ANSWER_CHARS = 3000


class CaseFailed(Exception):
    """A case's answer failed one or more checks."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        super().__init__(f"{len(outcome.failures)} check(s) failed")


def settings_of(config: pytest.Config) -> Settings:
    return config.stash[RUN_KEY].settings


def store_of(config: pytest.Config) -> RecordStore:
    """This process's case and gate records, made on first use."""
    run = config.stash[RUN_KEY]
    if run.store is None:
        run.store = RecordStore(run.records_folder, run.process)
        config.add_cleanup(run.store.close)  # before the folder of a run without --prompt-records-dir is removed
    return run.store


def runs_of(config: pytest.Config) -> CaseRuns:
    runs = config.stash[RUN_KEY].runs
    assert runs is not None, "the case runs are made as the run starts"
    return runs


class SuiteFile(pytest.File):
    """A YAML prompt suite; its cases are the items."""

    def collect(self) -> Iterator[pytest.Item]:
        settings = settings_of(self.config)
        try:
            suite = load_suite(self.path, settings.rootdir)
            clash = same_suite_id(suite, self.config.stash[RUN_KEY].suite_ids, settings.rootdir)
        except PromptdriftError as exc:
            # One bad suite must not stop the others: report it as a failing item of its own, with every
            # problem of its shape at once when the schema finds them (each at its line and column).
            yield InvalidSuiteItem.from_parent(self, name="suite", error=all_problems(self, exc))
            return
        if clash is not None:
            yield InvalidSuiteItem.from_parent(self, name="suite", error=clash)
            return
        if not suite.variants:
            yield from self._items(suite, "")
            return
        chosen = settings.variant
        picked = [v for v in suite.variants if not chosen or v.variant in chosen]
        for variant in picked:
            yield from self._items(variant, f"[{variant.variant}]")
        if not picked:
            names = ", ".join(str(v.variant) for v in suite.variants)
            reason = f"no variant {' or '.join(map(repr, chosen))} in suite {suite.name!r} (its variants: {names})"
            yield NoVariantItem.from_parent(self, name="variants", reason=reason)

    def _items(self, suite: Suite, suffix: str) -> Iterator[pytest.Item]:
        """``case`` and ``gate[label]``, or ``case[variant]`` and ``gate[label][variant]`` for a variant."""
        for case in suite.cases:
            yield CaseItem.from_parent(self, name=case.id + suffix, suite=suite, case=case)
        if suite.generate is not None:
            case = Case(GENERATED, {}, line=suite.line)
            yield GeneratedItem.from_parent(self, name=GENERATED + suffix, suite=suite, case=case)
        for gate in suite.gates:
            yield GateItem.from_parent(self, name=f"gate[{gate.label}]{suffix}", suite=suite, gate=gate)
        if judging(suite, settings_of(self.config)).significant:
            yield DriftItem.from_parent(self, name=DRIFT + suffix, suite=suite)


def all_problems(file: SuiteFile, first: PromptdriftError) -> PromptdriftError:
    """The reader's error, or every schema problem of the file when there are several."""
    from promptdrift.suite.schema import problems  # slow: jsonschema, only for a suite that failed to load

    try:
        found = problems(file.path, file.path.relative_to(file.config.rootpath).as_posix())
    except (PromptdriftError, ValueError):
        return first
    if len(found) < 2:
        return first
    return SuiteError("\n".join(str(p) for p in found))


class InvalidSuiteItem(pytest.Item):
    """Stands for a suite file that could not be loaded; fails with the reason."""

    def __init__(self, *, error: PromptdriftError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return f"invalid suite: {self.error}"

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, (self.error.line or 1) - 1, f"invalid suite {self.path.name}"


class NoVariantItem(pytest.Item):
    """Stands for a suite none of whose variants ``--prompt-variant`` selected: skipped, saying so."""

    def __init__(self, *, reason: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self) -> None:
        pytest.skip(self.reason)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, 0, f"variants of {self.path.name}"


class CaseItem(pytest.Item):
    """One case of a suite: calls the model (recorded or replayed) and applies its checks."""

    pooled = True  # recorded in the pool of concurrent cases (see promptdrift.plugin.schedule)

    def __init__(self, *, suite: Suite, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case

    def run(self, route: Route | None = None) -> Outcome:
        """Run the case (called by :class:`CaseRuns`, in a pool thread while recording; ``route``: batch lanes)."""
        from promptdrift.run.case import run_case  # slow: the run layer (templates, the client), not for collection

        return run_case(self.suite, self.case, settings_of(self.config), self.nodeid, route)

    def runtest(self) -> None:
        settings = settings_of(self.config)
        try:
            # Not kept on the item: a long run must not hold every answer and baseline in memory.
            keep = bool(self.suite.gates) or judging(self.suite, settings).significant  # suite-level items read it
            outcome = runs_of(self.config).outcome(self.nodeid, self.run, keep=keep)
        except Halted as exc:  # said once, by the case whose cassette could not be written (or by Ctrl-C)
            pytest.skip(str(exc))
        except PromptdriftError as exc:
            status = failure_status(exc)
            record = CaseRecord(self.suite.label, self.case.id, self.nodeid, status, False, error=str(exc))
            record.variant, record.variant_index = self.suite.variant, self.suite.variant_index
            from promptdrift.run.case import stored_cassette  # slow: the run layer, loaded by run() already

            record.cassette, record.cassette_state = stored_cassette(settings, self.suite, self.case.id)
            self._report(record)
            raise
        record = case_record(self.suite, self.case, self.nodeid, outcome, settings)
        judged_whole = judging(self.suite, settings).significant and bool(record.baseline_pass_total)
        record.expected_failure = not outcome.passed and (
            judged_whole or (self.suite.candidate and not record.regressions)
        )
        self._report(record)
        if judged_whole and not outcome.passed:
            flipped = "passed before, fails now" if record.baseline_pass_count else "failed before too"
            pytest.xfail(f"{flipped}; judged by the suite's paired comparison ({self._drift_item}), not case by case")
        if record.regressions:
            raise CaseRegressed(record)
        if not outcome.passed:
            if self.suite.candidate:
                candidate_xfail(self.suite, f"{len(outcome.failures)} check(s) failed")
            raise CaseFailed(outcome)

    @property
    def _drift_item(self) -> str:
        return DRIFT + (f"[{self.suite.variant}]" if self.suite.variant else "")

    def _report(self, record: CaseRecord) -> None:
        self.user_properties.append((STATUS_PROPERTY, record.status))
        store_of(self.config).add("case", record.to_dict())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        error = excinfo.value
        if isinstance(error, CaseFailed):
            return format_failure(error.outcome)
        if isinstance(error, CaseRegressed):
            return regression_message(error.record)
        if isinstance(error, PromptdriftError):
            return str(error)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = (self.case.line or 1) - 1
        return self.path, line, f"{self.suite.label}::{self.case.id}"


class GeneratedItem(CaseItem):
    """A suite's generated cases (``generate:``): one item, like one Hypothesis test, over all its examples.

    Not run in the recording pool: Hypothesis explores the examples one after another.
    """

    pooled = False

    def run(self, route: Route | None = None) -> Outcome:
        from promptdrift.run.case import run_generated  # slow: the run layer, not for collection

        return run_generated(self.suite, settings_of(self.config), self.nodeid)  # explored live, never batched


class CaseRegressed(Exception):
    """A re-recorded case got worse than its baseline."""

    def __init__(self, record: CaseRecord) -> None:
        self.record = record
        super().__init__(f"{len(record.regressions)} regression(s)")


class GateFailed(Exception):
    """A suite gate was not met."""


class GateItem(pytest.Item):
    """A suite-level gate over all the suite's cases."""

    def __init__(self, *, suite: Suite, gate: Gate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.gate = gate

    def runtest(self) -> None:
        recording = settings_of(self.config).record is not RecordMode.NONE
        outcomes = suite_outcomes(self, self.suite, run_missing=not recording)
        if any(outcome is NOT_HERE for _, _, outcome in outcomes):
            # Recording, and some cases ran in another process (an xdist worker, another shard) or not at all:
            # a gate never records a case itself. It is evaluated from every case's record at the end of the
            # run (xdist) or by promptdrift merge (shards).
            store_of(self.config).add("gate-pending", pending_gate(self.suite, self.gate))
            pytest.skip(f"gate {self.gate.label}: evaluated from every case's record at the end of the run")
        cases = [GateCase.from_outcome(case.id, outcome) for case, _, outcome in outcomes]  # type: ignore[arg-type]
        result = evaluate_gate(self.gate, cases)
        value = "n/a" if result.value is None else f"{result.value:.4g}"
        self.user_properties.append((f"gate:{self.gate.label}", value))
        store_of(self.config).add(
            "gate", gate_record(self.suite.label, self.suite.variant, result, self.suite.candidate)
        )
        if not result.passed:
            if self.suite.candidate:
                candidate_xfail(self.suite, f"gate {self.gate.label} failed: {result.reason}")
            raise GateFailed(f"gate {self.gate.label} failed: {result.reason}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, GateFailed | PromptdriftError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, (self.gate.line or 1) - 1, f"{self.suite.label}::gate[{self.gate.label}]"


NOT_HERE = object()  # a case that did not run in this process (suite_outcomes with run_missing=False)


def suite_outcomes(
    item: pytest.Item, suite: Suite, *, run_missing: bool = True
) -> list[tuple[Case, str, Outcome | object | None]]:
    """Every case of ``suite`` with its node id and outcome (``None``: it errored), for a suite-level item.

    A case that ran in this process is read back; one that ran elsewhere (xdist, another shard) or was
    deselected runs here, or with ``run_missing=False`` is :data:`NOT_HERE` (while recording, a suite-level
    item never records a case itself).
    """
    from promptdrift.run.case import run_case  # slow: the run layer, not for collection

    settings = settings_of(item.config)
    runs = runs_of(item.config)
    base = item.nodeid.rsplit("::", 1)[0]
    suffix = f"[{suite.variant}]" if suite.variant else ""
    outcomes: list[tuple[Case, str, Outcome | object | None]] = []
    for case in suite.cases:
        nodeid = f"{base}::{case.id}{suffix}"
        if not run_missing and not runs.ran_here(nodeid):
            outcomes.append((case, nodeid, NOT_HERE))
            continue
        try:
            outcome: Outcome | None = runs.outcome(nodeid, partial(run_case, suite, case, settings, nodeid))
        except PromptdriftError:
            outcome = None
        outcomes.append((case, nodeid, outcome))
    return outcomes


class DriftFailed(Exception):
    """The suite's paired comparison found a drop larger than allowed, with the stated confidence."""


class DriftItem(pytest.Item):
    """``drift: {verdict: significant}``: the suite's re-recording judged against its baseline as a whole."""

    def __init__(self, *, suite: Suite, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite

    def runtest(self) -> None:
        settings = settings_of(self.config)
        judge = judging(self.suite, settings)
        records = [
            case_record(self.suite, case, nodeid, outcome, settings)
            for case, nodeid, outcome in suite_outcomes(self, self.suite, run_missing=False)
            if isinstance(outcome, Outcome)
        ]
        comparisons = rerecord_comparisons(records)
        if not comparisons:
            pytest.skip("no case of this suite was re-recorded against a baseline: nothing to compare")
        (comparison,) = comparisons
        self.user_properties.append(("drift", comparison.verdict))
        fell = comparison.drops(judge.max_drop)
        if fell:
            lines = [f"{', '.join(fell)}: more than the allowed drop of {judge.max_drop * 100:g} points"]
            raise DriftFailed("\n".join([*lines, *comparison.lines()]))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, DriftFailed | PromptdriftError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, (self.suite.line or 1) - 1, f"{self.suite.label}::{DRIFT}"


def pending_gate(suite: Suite, gate: Gate) -> dict[str, Any]:
    """A gate left for the end of the run or for promptdrift merge: its suite, variant and declaration."""
    declared = {"kind": gate.kind, "min": gate.min, "max": gate.max, "check": gate.check, "line": gate.line}
    return {"suite": suite.label, "variant": suite.variant, "gate": declared, "candidate": suite.candidate}


def candidate_xfail(suite: Suite, why: str) -> None:
    """A candidate variant that misses: reported as xfail, so only the shipped variant gates the run."""
    pytest.xfail(f"candidate variant {suite.variant!r} (the suite ships {suite.ship!r}): {why}")


def format_failure(outcome: Outcome) -> str:
    """The failure text: each failed check with its reason, then the answer and where it came from."""
    if outcome.examples is not None:
        return format_property_failure(outcome)
    if outcome.sampling is not None:
        return format_sampled_failure(outcome)
    lines = [f"{len(outcome.failures)} of {len(outcome.results)} checks failed:"]
    if outcome.min_score is not None:
        lines[0] = f"weighted score {outcome.score:.3g} < min_score {outcome.min_score:g}; checks:"
    for result in outcome.results:
        mark = "PASS" if result.passed else "FAIL"
        score = f" [score {result.score:.3g}]" if result.score is not None else ""
        reason = f": {result.reason}" if result.reason and not result.passed else ""
        lines.append(f"  {mark} {result.label}{score}{reason}")
    if outcome.answer.raw is not None:
        lines.append(f"checked (after extract / transform): {outcome.answer.text[:ANSWER_CHARS]!r}")
    lines.extend(_excerpt("answer:" if outcome.answer.raw is None else "full answer:", outcome.answer.model_text))
    for call in outcome.answer.tool_calls:
        lines.append(f"tool call: {call['name']}({call['arguments']})")
    how = "recorded now" if outcome.recorded else "replayed"
    lines.append(f"cassette: {outcome.cassette} ({how})")
    return "\n".join(lines)


def _excerpt(title: str, text: str) -> list[str]:
    """An answer, indented, capped at ANSWER_LINES lines and ANSWER_CHARS characters."""
    excerpt = text[:ANSWER_CHARS]
    answer = excerpt.splitlines() or ["<empty answer>"]
    shown = answer[:ANSWER_LINES]
    lines = [title, *textwrap.indent("\n".join(shown), "  | ").splitlines()]
    if len(answer) > ANSWER_LINES or len(text) > len(excerpt):
        rest = len(text) - len("\n".join(shown))
        lines.append(f"  | … ({rest:,} more characters)")
    return lines


def format_property_failure(outcome: Outcome) -> str:
    """Generated cases: how many examples failed, then the falsifying input, its checks and its answer."""
    n, k = len(outcome.samples), outcome.sample_passes
    index = outcome.falsifying if outcome.falsifying is not None else 0
    how = "recorded now: Hypothesis's shrunk example" if outcome.recorded else "replayed from the cassette"
    lines = [f"the suite's checks failed for {n - k} of {n} generated examples; falsifying example ({how}):"]
    example = (outcome.examples or [{}])[index]
    lines.extend("  " + line for line in yamlio.dumps(example).splitlines())
    sample = outcome.samples[index]
    for result in sample.results:
        if not result.passed:
            lines.append(f"  FAIL {result.label}: {result.reason}")
    lines.extend(_excerpt("answer:", sample.answer.model_text))
    lines.append(f"cassette: {outcome.cassette} (every example and its answer, in order)")
    return "\n".join(lines)


def format_sampled_failure(outcome: Outcome) -> str:
    """A sampled case: k/N, the rate (and bound) against what is required, then each failing sample."""
    n, k = len(outcome.samples), outcome.sample_passes
    measure = f"pass rate {outcome.pass_rate:.3g}"
    if outcome.pass_bound is not None and outcome.sampling is not None:
        measure += f", Wilson lower bound {outcome.pass_bound:.3g} at {outcome.sampling.confidence:g} confidence"
    lines = [f"{k} of {n} samples passed ({measure} < min_pass_rate {outcome.required_rate:g}):"]
    for number, sample in enumerate(outcome.samples, 1):
        failed = [r for r in sample.results if not r.passed]
        if not failed:
            lines.append(f"  sample {number}: PASS")
            continue
        reasons = "; ".join(f"{r.label}: {r.reason}" for r in failed)
        lines.append(f"  sample {number}: FAIL {reasons}")
        lines.append(f"    | {sample.answer.text[:200]!s}")
    how = "recorded now" if outcome.recorded else "replayed"
    lines.append(f"cassette: {outcome.cassette} ({how})")
    return "\n".join(lines)

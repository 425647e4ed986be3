"""The run's one state object: built in ``pytest_configure``, kept under one ``StashKey``, its hooks' work.

As pytest's ``LogXML`` or syrupy's ``SnapshotSession``: :class:`RunState` holds
what one pytest run of promptdrift knows (its settings, which shard it is, where
its records go, the case runs, what it collected) and does what each hook asks;
:mod:`promptdrift.plugin.hooks` hands off to it in a line or a few. It is
registered as a plugin for the pytest-xdist hooks of its own.

Every ``pytest`` run in a project with promptdrift installed builds one, so this
module imports only what options and settings need; the layers that run suites
are imported where they are first needed, each marked "slow".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptdrift import config as config_mod
from promptdrift.config import Settings
from promptdrift.core.errors import PromptdriftError
from promptdrift.core.modes import RecordMode
from promptdrift.core.workarounds import enabled
from promptdrift.plugin.idle_hypothesis import skip_idle_summary
from promptdrift.plugin.logs import install as install_log_redaction
from promptdrift.suite.detect import is_suite_file, looks_like_suite

if TYPE_CHECKING:
    from promptdrift.plugin.items import CaseItem
    from promptdrift.plugin.schedule import CaseRuns
    from promptdrift.verdict.ledger import RecordStore

RECORDS_INPUT = "promptdrift_records"  # the workerinput key that tells an xdist worker where its records go
LOCK_WAIT = 1800.0  # seconds a recording run waits for another one recording into the same cassette folder
INTERRUPT_GRACE = 10.0  # seconds a run stopped by Ctrl-C gives the requests in flight to answer and save


def usage(exc: PromptdriftError) -> pytest.UsageError:
    """A configuration mistake as pytest's usage error: one line, no traceback."""
    return pytest.UsageError(f"promptdrift: {exc}")


class RunState:
    """What one pytest run of promptdrift knows, and what its hooks do."""

    def __init__(self, config: pytest.Config, settings: Settings, shard: tuple[int, int]) -> None:
        self.config = config
        self.settings = settings
        self.shard = shard  # this run is shard i of n (1 of 1 unsharded)
        self.worker = getattr(config, "workerinput", None)  # an xdist worker's input; None elsewhere
        self.records_folder, self.process = self._records_folder()  # the records folder and this process's file
        self.store: RecordStore | None = None  # this process's records, made on first use (plugin.items.store_of)
        self.runs: CaseRuns | None = None  # made when the run uses promptdrift (start)
        self.unsettled = 0  # cases still in flight when an interrupted run gave up waiting for them
        self.suites = False  # a suite file was collected in this process
        self.suite_ids: dict[str, Path] = {}  # suite id -> the file that declared it first
        self.nodeids: list[str] | None = None  # the node ids this run collected (its slice)

    # -- configure -------------------------------------------------------------------------------------------

    @classmethod
    def configure(cls, config: pytest.Config) -> RunState:
        """The run's state from its options; a mistake in them is a usage error."""
        try:
            settings = config_mod.from_config(config)
            shard = _shard(config, settings.shard)
        except PromptdriftError as exc:
            raise usage(exc) from None
        if settings.batch and (hasattr(config, "workerinput") or config.getoption("numprocesses", None)):
            raise pytest.UsageError(
                "promptdrift: --prompt-batch collects the calls of one process into batches: drop -n "
                "(pytest-xdist), or split the run across processes with --prompt-shard I/N"
            )
        config.add_cleanup(install_log_redaction(settings.environ))
        run = cls(config, settings, shard)
        if settings.record is not RecordMode.NONE and run.worker is None and not config.option.collectonly:
            run._lock_cassettes()
        return run

    def _records_folder(self) -> tuple[Path, str]:
        """Where this process writes its case records, and its file's name there."""
        if self.worker is not None and RECORDS_INPUT in self.worker:
            return Path(self.worker[RECORDS_INPUT]), str(self.worker.get("workerid", "worker"))
        if not self.settings.records:
            folder = Path(tempfile.mkdtemp(prefix="promptdrift-records-"))
            self.config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
            return folder, "main"
        # A folder per shard, emptied first: a re-run of one shard replaces that shard's records.
        index, count = self.shard
        folder = self.settings.rootdir / self.settings.records / f"shard-{index}-of-{count}"
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".write-test").touch()
            (folder / ".write-test").unlink()
        except OSError as exc:
            raise pytest.UsageError(
                f"promptdrift: --prompt-records-dir {self.settings.records}: cannot write the run's records in {folder} "
                f"({exc.strerror or exc}); give a folder this run can write"
            ) from None
        return folder, "main"

    def _lock_cassettes(self) -> None:
        """One recorder per cassette folder: wait for a run already recording there (docs/security.md)."""
        from promptdrift.cassettes.lock import FolderLock  # slow: the cassette layer, only for a recording run

        lock = FolderLock(self.settings.cassettes, self.shard)
        run = " ".join(["pytest", *self.config.invocation_params.args])
        try:
            lock.acquire(run, wait=LOCK_WAIT, say=lambda line: print(line, file=sys.stderr, flush=True))
        except PromptdriftError as exc:
            raise usage(exc) from None
        self.config.add_cleanup(lock.release)

    # -- collect ---------------------------------------------------------------------------------------------

    def collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        """A suite file; also one shaped like a suite with no ``suite:`` key, whose error then says so."""
        if not is_suite_file(file_path) and not looks_like_suite(file_path):
            return None
        from promptdrift.plugin.items import SuiteFile  # slow: the suite reader and the runner, once a suite is found

        self.suites = True
        return SuiteFile.from_parent(parent, path=file_path)

    def keep_shard(self, items: list[pytest.Item]) -> None:
        """``--prompt-shard I/N`` without pytest-split: this run keeps every Nth test, starting at the I-th."""
        index, count = self.shard
        if count == 1 or self.config.getoption("splits", None):
            return
        kept = [item for number, item in enumerate(items) if number % count == index - 1]
        dropped = [item for number, item in enumerate(items) if number % count != index - 1]
        if dropped:
            self.config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def collected(self, session: pytest.Session) -> None:
        if session.items or self.nodeids is None:  # under xdist the workers' ids are kept instead
            self.nodeids = [item.nodeid for item in session.items]

    # -- run -------------------------------------------------------------------------------------------------

    def start(self, session: pytest.Session) -> None:
        """Set up the case runs; while recording (and not in an xdist worker), start them all in the pool."""
        fixtures = any("_promptdrift_prompter" in getattr(item, "fixturenames", ()) for item in session.items)
        if not self.suites and not fixtures:
            return  # nothing of promptdrift's runs: none of its layers is loaded
        # slow: the record layer (httpx2), the runner and items load only in a run that uses promptdrift
        from promptdrift.cassettes.format import sweep, written
        from promptdrift.plugin.items import CaseItem
        from promptdrift.plugin.schedule import CaseRuns
        from promptdrift.record.client import load_sdk
        from promptdrift.record.upstream import shared_upstream

        settings = self.settings
        runs = self.runs = CaseRuns(settings.concurrency)
        self.config.add_cleanup(runs.shutdown)
        shared_upstream.set_limit(settings.concurrency)  # and requests may leave again (see _halt_on_ctrl_c)
        written.reset()
        if settings.record is RecordMode.NONE or self.worker is not None or self.config.option.collectonly:
            return
        sweep(settings.cassettes)  # what a recorder killed mid-write left (its own temporary files only)
        self._halt_on_ctrl_c(shared_upstream)
        cases = [item for item in session.items if isinstance(item, CaseItem) and item.pooled]
        pooled = settings.concurrency > 1 and len(cases) > 1
        if settings.batch or pooled:
            for sdk in sorted({item.suite.provider.name for item in cases}):
                # not installed: each case that needs it fails saying which extra to install
                with contextlib.suppress(PromptdriftError):
                    load_sdk(sdk)  # once, here, rather than in every pool thread at the same time
        if settings.batch:
            self._record_in_batches(session, cases)
        elif pooled:
            count = runs.start((item.nodeid, item.run) for item in cases)
            if count:
                self._say(
                    f"promptdrift: running {count} cases, up to {settings.concurrency} at a time "
                    f"(--prompt-record={settings.record.value}); each dot below is one finished case"
                )

    def _say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)

    def _halt_on_ctrl_c(self, upstream: Any) -> None:
        """While recording, Ctrl-C stops new requests at once, in the signal handler itself: pytest reaches its
        interrupt hook only after unwinding the test in progress (0.3 s here), while pool threads keep starting
        requests. Requests in flight finish and their cassettes are kept; then Python's own handler runs."""
        if threading.current_thread() is not threading.main_thread() or not enabled("SIGINT_HALT"):
            return
        previous = signal.getsignal(signal.SIGINT)
        if not callable(previous):  # ignored (a background job) or not set by Python: nothing to add to
            return

        def halt(number: int, frame: Any) -> None:
            upstream.halt("the run was interrupted (Ctrl-C)")
            previous(number, frame)

        def restore() -> None:
            signal.signal(signal.SIGINT, previous)

        signal.signal(signal.SIGINT, halt)
        self.config.add_cleanup(restore)

    def _record_in_batches(self, session: pytest.Session, cases: list[CaseItem]) -> None:
        """``--prompt-batch``: record the suites' cases in rounds of provider batches before the items report them."""
        # slow: the items and the batch layer, only under --prompt-batch
        from promptdrift.plugin.items import GeneratedItem
        from promptdrift.record.batch import BatchRun

        assert self.runs is not None
        live = sorted({item.suite.relpath for item in session.items if isinstance(item, GeneratedItem)})
        for path in live:
            self._say(
                f"promptdrift: {path}: generate: explores live with Hypothesis (each input depends on the last answer)"
            )
        label = " ".join(["pytest", *self.config.invocation_params.args])
        batches = BatchRun(self.settings, say=self._say, label=label, poll=self.settings.batch_poll)
        if cases:
            self._say(f"promptdrift: recording {len(cases)} cases through the Batch API (--prompt-batch), in rounds")
        try:
            self.runs.run_in_rounds([(item.nodeid, item.run) for item in cases], batches)
        except PromptdriftError as exc:  # the provider's Files or Batches API failed: no case can be reported
            pytest.exit(f"promptdrift: {exc}", returncode=pytest.ExitCode.TESTS_FAILED)
        if batches.rounds:
            self._say(f"promptdrift: {batches.rounds} batch round(s), {batches.created} batch(es) created by this run")

    # -- finish ----------------------------------------------------------------------------------------------

    def finish(self, session: pytest.Session, exitstatus: int) -> None:
        """Also on Ctrl-C and ``-x``: cases not yet started are cancelled; those in flight finish and save.

        The run waits for them (except after Ctrl-C, which should stop at once), so it ends with every cassette
        it started complete on disk. Then, in the main process: gates left pending (their cases recorded
        elsewhere) are settled from every case's record (a failing one fails the run), unless this is one shard
        of several, which ``promptdrift merge`` settles; with ``--prompt-records-dir`` the run's identity is written.
        First of all, Hypothesis's plugin is spared its idle summary (:mod:`promptdrift.plugin.idle_hypothesis`).
        """
        skip_idle_summary(self.config)
        if self.runs is not None:
            interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
            self.runs.shutdown(wait=not interrupted)
            if interrupted:  # no request leaves any more; those in flight have a moment to save before the count
                self.unsettled = self.runs.settle(INTERRUPT_GRACE)
            from promptdrift.cassettes.format import sync_saved  # slow: the cassette layer, loaded by any such run

            sync_saved()  # every cassette this run wrote, flushed to disk at once
        if self.worker is not None:
            return
        if self.shard[1] == 1 and self._has_records():
            self._settle_pending_gates(session)
        if self.settings.records:
            from promptdrift.verdict.shards import Shard, current_commit, write_identity  # slow: the verdict layer

            index, count = self.shard
            commit = current_commit(self.settings.rootdir)
            identity = Shard(
                index, count, commit, self.settings.record.value, self.nodeids or [], int(session.exitstatus)
            )
            write_identity(self.records_folder, identity)

    def _has_records(self) -> bool:
        return any(self.records_folder.glob("*.jsonl"))

    def _settle_pending_gates(self, session: pytest.Session) -> None:
        # slow: the verdict layer, only where a process of this run wrote records (never in a run with no suite)
        from promptdrift.verdict.ledger import has_pending_gates, read_records

        folder = self.records_folder
        failed = has_pending_gates(folder) and read_records([folder], keep=lambda record: False).failed_gates
        if failed and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def summary(self, terminalreporter: Any, exitstatus: int) -> None:
        """The end-of-run summary: an interrupted recording's count, the per-suite table and the reports."""
        if self.worker is not None:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED and self.runs is not None:
            from promptdrift.cassettes.format import written  # slow: the cassette layer, loaded by this run already

            more = f"; record the rest with --prompt-record={RecordMode.NEW.value}"
            late = (
                f" ({self.unsettled} case(s) still waiting for an answer save theirs if it arrives)"
                if self.unsettled
                else ""
            )
            terminalreporter.write_line(
                f"promptdrift: interrupted: {written.count} cassette(s) written by this run before it stopped are "
                f"complete on disk{late}, and no request was sent after the interrupt"
                + (more if self.settings.record is not RecordMode.NONE else "")
            )
        if not self._has_records():
            return  # no case or gate ran: nothing to report, and the report layer is not loaded
        # slow: the verdict layer (drift, decisions, statistics) only when there is something to report
        from promptdrift.verdict.ledger import read_records
        from promptdrift.verdict.report import notable, run_summary, summarize, write_reports

        settings = self.settings
        verbose = terminalreporter.verbosity > 0
        every = settings.report or verbose or os.environ.get("GITHUB_STEP_SUMMARY")  # a report lists every case
        records = read_records([self.records_folder], keep=None if every else notable)
        extra = []
        if self.runs is not None and self.runs.pool_seconds is not None:
            runs = self.runs
            extra.append(f"{runs.finished} cases in {runs.pool_seconds:.2f} s, up to {runs.concurrency} at a time")
        summary = summarize(records)  # one summary for the terminal and every report
        lines = run_summary(records, summary, settings.record.value, extra=extra)
        if not lines:
            return
        terminalreporter.write_sep("-", lines[0])
        for line in lines[1:]:
            terminalreporter.write_line(line)
        index, count = self.shard
        if count > 1:
            terminalreporter.write_line(
                f"promptdrift: shard {index} of {count}; records in {self.records_folder}: the whole verdict and the "
                "reports come from promptdrift merge over every shard's records"
            )
            return
        for path in write_reports(settings.report, summary):
            terminalreporter.write_line(f"promptdrift report: {path}")

    # -- pytest-xdist (registered as a plugin; these hooks exist only where xdist is installed) --------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Tells each worker where to write its case records."""
        node.workerinput[RECORDS_INPUT] = str(self.records_folder)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The controller collects nothing itself: the run's node ids are what its workers collected."""
        self.nodeids = sorted(set(self.nodeids or []) | set(ids))


def _shard(config: pytest.Config, given: str | None) -> tuple[int, int]:
    """Which slice of the tests this run is: ``--prompt-shard``, else pytest-split's options, else 1 of 1."""
    splits, group = config.getoption("splits", None), config.getoption("group", None)
    if splits and group:
        return int(group), int(splits)
    if given:
        from promptdrift.verdict.shards import parse_shard  # slow: the verdict layer, only for a sharded run

        return parse_shard(given)
    return 1, 1

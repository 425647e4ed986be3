"""The pytest plugin (entry point ``pytest11``): options, hooks and fixtures only.

The work lives in the layers below (see the README's "Architecture"):
:mod:`promptdrift.plugin.items` turns suites into items,
:mod:`promptdrift.plugin.schedule` decides when cases run,
:mod:`promptdrift.plugin.prompter` is the ``prompt`` fixture's object.

Every ``pytest`` run in a project with promptdrift installed imports this
module, suites or not. So it imports only what options and settings need;
the layers that run suites (templates, the HTTP client, the reports) are
imported where they are first needed, in the hooks below, each marked
"slow": a run that collects no suite does not load them.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptdrift import config as config_mod
from promptdrift.core.errors import PromptdriftError, RecordingGapWarning
from promptdrift.core.modes import RecordMode
from promptdrift.plugin.idle_hypothesis import skip_idle_summary
from promptdrift.plugin.keys import (
    CALL_PASSED_KEY,
    NODEIDS_KEY,
    RECORDS_AT_KEY,
    RUNS_KEY,
    SETTINGS_KEY,
    SHARD_KEY,
    SUITES_KEY,
)
from promptdrift.plugin.logs import install as install_log_redaction
from promptdrift.suite.detect import is_suite_file

if TYPE_CHECKING:
    import openai

    from promptdrift.plugin.items import CaseItem
    from promptdrift.plugin.prompter import Prompter
    from promptdrift.plugin.schedule import CaseRuns

RECORDS_INPUT = "promptdrift_records"


def pytest_addoption(parser: pytest.Parser) -> None:
    config_mod.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[SETTINGS_KEY] = config_mod.from_config(config)
    except PromptdriftError as exc:
        raise pytest.UsageError(f"promptdrift: {exc}") from None

    settings = config.stash[SETTINGS_KEY]
    if settings.batch and (getattr(config, "workerinput", None) is not None or config.getoption("numprocesses", None)):
        raise pytest.UsageError(
            "promptdrift: --prompt-batch collects the calls of one process into batches: drop -n "
            "(pytest-xdist), or split the run across processes with --prompt-shard I/N"
        )
    config.add_cleanup(install_log_redaction(settings.environ))
    if settings.record is not RecordMode.NONE and not hasattr(config, "workerinput") and not config.option.collectonly:
        _lock_cassettes(config)
    try:
        config.stash[SHARD_KEY] = _shard(config, settings.shard)
    except PromptdriftError as exc:
        raise pytest.UsageError(f"promptdrift: {exc}") from None
    worker = getattr(config, "workerinput", None)
    if worker is not None and RECORDS_INPUT in worker:
        config.stash[RECORDS_AT_KEY] = (Path(worker[RECORDS_INPUT]), str(worker.get("workerid", "worker")))
    elif settings.records:
        # A folder per shard, emptied first: a re-run of one shard replaces that shard's records.
        index, count = config.stash[SHARD_KEY]
        folder = settings.rootdir / settings.records / f"shard-{index}-of-{count}"
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".write-test").touch()
            (folder / ".write-test").unlink()
        except OSError as exc:
            raise pytest.UsageError(
                f"promptdrift: --prompt-records {settings.records}: cannot write the run's records in {folder} "
                f"({exc.strerror or exc}); give a folder this run can write"
            ) from None
        config.stash[RECORDS_AT_KEY] = (folder, "main")
    else:
        folder = Path(tempfile.mkdtemp(prefix="promptdrift-records-"))
        config.stash[RECORDS_AT_KEY] = (folder, "main")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(config.stash[RECORDS_AT_KEY][0]), "promptdrift-xdist")
    config.addinivalue_line("markers", "promptdrift: a prompt case collected from a YAML suite")
    config.addinivalue_line(
        "markers",
        "promptdrift_scrub(key_shapes=False): keep key-shaped strings that are not secrets in this test's cassette",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Set up the case runs; while recording (and not in an xdist worker), start them all in the pool."""

    config = session.config
    settings = config.stash[SETTINGS_KEY]
    suites = config.stash.get(SUITES_KEY, False)
    fixtures = any("_promptdrift_prompter" in getattr(item, "fixturenames", ()) for item in session.items)
    if not suites and not fixtures:
        return  # nothing of promptdrift's runs: none of its layers is loaded
    # slow: the record layer (httpx2), the runner and items load only in a run that uses promptdrift
    from promptdrift.cassettes.format import sweep, written
    from promptdrift.plugin.items import CaseItem
    from promptdrift.plugin.schedule import CaseRuns
    from promptdrift.record.client import load_sdk
    from promptdrift.record.upstream import shared_upstream

    runs = config.stash[RUNS_KEY] = CaseRuns(settings.concurrency)
    config.add_cleanup(runs.shutdown)
    shared_upstream.set_limit(settings.concurrency)  # and requests may leave again (see pytest_keyboard_interrupt)
    written.clear()
    if settings.record is RecordMode.NONE or hasattr(config, "workerinput") or config.option.collectonly:
        return
    sweep(settings.cassettes)  # what a recorder killed mid-write left (its own temporary files only)
    _halt_on_ctrl_c(config, shared_upstream)
    cases = [item for item in session.items if isinstance(item, CaseItem) and item.pooled]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if settings.batch or (settings.concurrency > 1 and len(cases) > 1):
        load_sdk()  # once, here, rather than in every pool thread at the same time
    if settings.batch:
        _record_in_batches(session, runs, cases, reporter)
        return
    if settings.concurrency > 1 and len(cases) > 1:
        count = runs.start((item.nodeid, item.run) for item in cases)
        if reporter is not None and count:
            reporter.write_line(
                f"promptdrift: running {count} cases, up to {settings.concurrency} at a time "
                f"(--prompt-record={settings.record.value}); each dot below is one finished case"
            )


LOCK_WAIT = 1800.0  # seconds a recording run waits for another one recording into the same cassette folder


def _lock_cassettes(config: pytest.Config) -> None:
    """One recorder per cassette folder: wait for a run already recording there (README, "Recording")."""
    from promptdrift.cassettes.lock import FolderLock  # slow: the cassette layer, only for a recording run

    settings = config.stash[SETTINGS_KEY]
    lock = FolderLock(settings.cassettes)
    run = " ".join(["pytest", *config.invocation_params.args])
    try:
        lock.acquire(run, wait=LOCK_WAIT, say=lambda line: print(line, file=sys.stderr, flush=True))
    except PromptdriftError as exc:
        raise pytest.UsageError(f"promptdrift: {exc}") from None
    config.add_cleanup(lock.release)


def _halt_on_ctrl_c(config: pytest.Config, upstream: Any) -> None:
    """While recording, Ctrl-C stops new requests at once, in the signal handler itself: pytest reaches its
    interrupt hook only after unwinding the test in progress (0.3 s here), while pool threads keep starting
    requests. Requests in flight finish and their cassettes are kept; then Python's own handler runs."""
    if threading.current_thread() is not threading.main_thread():
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
    config.add_cleanup(restore)


def _record_in_batches(session: pytest.Session, runs: CaseRuns, cases: list[CaseItem], reporter: Any) -> None:
    """``--prompt-batch``: record the suites' cases in rounds of provider batches before the items report them."""
    # slow: the items and the batch layer, only under --prompt-batch
    from promptdrift.plugin.items import GeneratedItem
    from promptdrift.record.batch import BatchRun

    settings = session.config.stash[SETTINGS_KEY]

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)

    live = sorted({item.suite.relpath for item in session.items if isinstance(item, GeneratedItem)})
    for path in live:
        say(f"promptdrift: {path}: generate: explores live with Hypothesis (each input depends on the last answer)")
    label = " ".join(["pytest", *session.config.invocation_params.args])
    batches = BatchRun(settings, say=say, label=label, poll=settings.batch_poll)
    if cases:
        say(f"promptdrift: recording {len(cases)} cases through the Batch API (--prompt-batch), in rounds")
    try:
        runs.run_in_rounds([(item.nodeid, item.run) for item in cases], batches)
    except PromptdriftError as exc:  # the provider's Files or Batches API failed: no case can be reported
        pytest.exit(f"promptdrift: {exc}", returncode=pytest.ExitCode.TESTS_FAILED)
    if batches.rounds:
        say(f"promptdrift: {batches.rounds} batch round(s), {batches.created} batch(es) created by this run")


def _shard(config: pytest.Config, given: str | None) -> tuple[int, int]:
    """Which slice of the tests this run is: ``--prompt-shard``, else pytest-split's options, else 1 of 1."""
    splits, group = config.getoption("splits", None), config.getoption("group", None)
    if splits and group:
        return int(group), int(splits)
    if given:
        from promptdrift.verdict.shards import parse_shard  # slow: the verdict layer, only for a sharded run

        return parse_shard(given)
    return 1, 1


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--prompt-shard I/N`` without pytest-split: this run keeps every Nth test, starting at the I-th."""
    index, count = config.stash[SHARD_KEY]
    if count == 1 or config.getoption("splits", None):
        return
    kept = [item for number, item in enumerate(items) if number % count == index - 1]
    dropped = [item for number, item in enumerate(items) if number % count != index - 1]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.items or NODEIDS_KEY not in session.config.stash:  # under xdist the workers' ids are kept instead
        session.config.stash[NODEIDS_KEY] = [item.nodeid for item in session.items]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Also on Ctrl-C and ``-x``: cases not yet started are cancelled; those in flight finish and save.

    The run waits for them (except after Ctrl-C, which should stop at once), so it
    ends with every cassette it started complete on disk. Then, in the main process:
    gates left pending (their cases recorded elsewhere) are settled from every case's
    record (a failing one fails the run), unless this is one shard of several, which
    ``promptdrift merge`` settles; with ``--prompt-records`` the run's identity is written.
    First of all, Hypothesis's plugin is spared its idle summary (:mod:`promptdrift.plugin.idle_hypothesis`).
    """
    config = session.config
    skip_idle_summary(config)
    runs = config.stash.get(RUNS_KEY, None)
    if runs is not None:
        runs.shutdown(wait=exitstatus != pytest.ExitCode.INTERRUPTED)
        from promptdrift.cassettes.format import sync_saved  # slow: the cassette layer, loaded by any such run

        sync_saved()  # every cassette this run wrote, flushed to disk at once
    if hasattr(config, "workerinput") or RECORDS_AT_KEY not in config.stash:
        return
    folder, _ = config.stash[RECORDS_AT_KEY]
    index, count = config.stash[SHARD_KEY]
    if count == 1 and any(folder.glob("*.jsonl")):
        # slow: the verdict layer, only where a process of this run wrote records (never in a run with no suite)
        from promptdrift.verdict.ledger import has_pending_gates, read_records

        if (
            has_pending_gates(folder)
            and read_records([folder], keep=lambda record: False).failed_gates
            and session.exitstatus == 0
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    settings = config.stash[SETTINGS_KEY]
    if settings.records:
        from promptdrift.verdict.shards import Shard, current_commit, write_identity  # slow: the verdict layer

        nodeids = config.stash.get(NODEIDS_KEY, [])
        shard = Shard(
            index, count, current_commit(settings.rootdir), settings.record.value, nodeids, int(session.exitstatus)
        )
        write_identity(folder, shard)


class _XdistHooks:
    """Tells each pytest-xdist worker where to write its case records (only registered with xdist)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[RECORDS_INPUT] = str(self.folder)

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The controller collects nothing itself: the run's node ids are what its workers collected."""
        node.config.stash[NODEIDS_KEY] = sorted(set(node.config.stash.get(NODEIDS_KEY, [])) | set(ids))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_suite_file(file_path):
        from promptdrift.plugin.items import SuiteFile  # slow: the spec reader and the runner, once a suite is found

        parent.config.stash[SUITES_KEY] = True
        return SuiteFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when != "call":
        return report
    item.stash[CALL_PASSED_KEY] = report.passed  # only then are unused recorded calls drift (the prompt fixture)
    error = call.excinfo.value if call.excinfo is not None else None
    if error is not None and not isinstance(error, PromptdriftError) and isinstance(error.__cause__, PromptdriftError):
        error = error.__cause__  # e.g. an SDK error wrapping a drift raised in the transport
    if report.failed and isinstance(error, PromptdriftError) and isinstance(item, pytest.Function):
        report.longrepr = f"{item.nodeid}: {error}"
    return report


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED and RUNS_KEY in config.stash:
        from promptdrift.cassettes.format import written  # slow: the cassette layer, loaded by this run already

        mode = config.stash[SETTINGS_KEY].record
        terminalreporter.write_line(
            f"promptdrift: interrupted: {len(written)} cassette(s) written by this run before it stopped are "
            "complete on disk, and no request was sent after the interrupt"
            + (f"; record the rest with --prompt-record={RecordMode.NEW.value}" if mode is not RecordMode.NONE else "")
        )

    folder, _ = config.stash[RECORDS_AT_KEY]
    if not any(folder.glob("*.jsonl")):
        return  # no case or gate ran: nothing to report, and the report layer is not loaded
    # slow: the verdict layer (drift, decisions, statistics) only when there is something to report
    from promptdrift.verdict.ledger import read_records
    from promptdrift.verdict.report import notable, run_summary, write_reports

    settings = config.stash[SETTINGS_KEY]
    verbose = terminalreporter.verbosity > 0
    records = read_records([folder], keep=None if settings.report or verbose else notable)
    runs = config.stash.get(RUNS_KEY, None)
    extra = []
    if runs is not None and runs.pool_seconds is not None:
        extra.append(f"{runs.finished} cases in {runs.pool_seconds:.2f} s, up to {runs.concurrency} at a time")
    lines = run_summary(records, settings.record.value, verbose=verbose, extra=extra)
    if not lines:
        return
    terminalreporter.write_sep("-", lines[0])
    for line in lines[1:]:
        terminalreporter.write_line(line)
    shard = config.stash.get(SHARD_KEY, None)
    if shard is not None and shard[1] > 1:
        terminalreporter.write_line(
            f"promptdrift: shard {shard[0]} of {shard[1]}; records in {folder}: the whole verdict and the reports "
            "come from promptdrift merge over every shard's records"
        )
        return
    for path in write_reports(settings.report, records.cases, records.gates):
        terminalreporter.write_line(f"promptdrift report: {path}")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Hypothesis ``@given`` tests with a recorded fixture: examples stored when recording, replayed as stored."""
    prompter = pyfuncitem.funcargs.get("_promptdrift_prompter")
    if prompter is None or getattr(pyfuncitem.obj, "hypothesis", None) is None:
        return None
    from promptdrift.plugin.prompter import run_given  # slow: the runner, only for a @given test using promptdrift

    return run_given(pyfuncitem, prompter)  # type: ignore[arg-type]


@pytest.fixture
def _promptdrift_prompter(request: pytest.FixtureRequest) -> Iterator[Prompter]:

    from promptdrift.plugin.prompter import close_prompter, open_prompter  # slow: the runner and the record layer

    settings = request.config.stash[SETTINGS_KEY]
    node = request.node
    scrub = node.get_closest_marker("promptdrift_scrub")
    key_shapes = bool(scrub.kwargs.get("key_shapes", True)) if scrub is not None else True
    try:
        prompter = open_prompter(settings, Path(node.path), node.name, node.nodeid, key_shapes=key_shapes)
    except PromptdriftError as exc:  # a corrupt or (strict) hand-edited cassette: the message says what to do
        pytest.fail(str(exc), pytrace=False)
    yield prompter
    try:
        gap = close_prompter(prompter, node.nodeid, passed=node.stash.get(CALL_PASSED_KEY, False))
    except PromptdriftError as exc:
        pytest.fail(str(exc), pytrace=False)
    if gap is not None:  # shown in pytest's warnings summary at the end of the run (xdist workers' too)
        warnings.warn(RecordingGapWarning(gap), stacklevel=1)


@pytest.fixture
def prompt(_promptdrift_prompter: Prompter) -> Prompter:
    """Run suite cases or ad-hoc prompts from a test, recorded in the test's own cassette.

    Example::

        def test_invoice_total(prompt):
            out = prompt.run("suites/invoice.yaml", vars={"text": "Total: 42.50 EUR"})
            out.check(schema="fixtures/schemas/invoice.json")
            assert out.json["total"] == 42.5
    """
    return _promptdrift_prompter


@pytest.fixture
def openai_client(_promptdrift_prompter: Prompter) -> openai.OpenAI:
    """A real ``openai.OpenAI`` client whose traffic is recorded into the test's own cassette.

    Example::

        def test_my_code(openai_client):
            reply = my_feature(openai_client, "Where is my order?")
            assert "order" in reply
    """
    return _promptdrift_prompter.client()


@pytest.fixture
def async_openai_client(_promptdrift_prompter: Prompter) -> openai.AsyncOpenAI:
    """A real ``openai.AsyncOpenAI`` client recorded into the test's own cassette (same recorder as ``prompt``).

    Example::

        def test_my_async_code(async_openai_client):
            reply = asyncio.run(my_feature(async_openai_client, "Where is my order?"))
            assert "order" in reply
    """
    return _promptdrift_prompter.async_client()

"""The pytest plugin (entry point ``pytest11``): options, hooks and fixtures only.

Each hook hands off to the run's one state object, :class:`~promptdrift.plugin.runstate.RunState`,
kept in ``config.stash`` under :data:`~promptdrift.plugin.keys.RUN_KEY`. The work lives in the layers
below (see docs/architecture.md):
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

import warnings
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from promptdrift import config as config_mod
from promptdrift.core.errors import PromptdriftError, RecordingGapWarning
from promptdrift.plugin.keys import CALL_PASSED_KEY, RUN_KEY
from promptdrift.plugin.runstate import RunState

if TYPE_CHECKING:
    import anthropic
    import openai

    from promptdrift.plugin.prompter import Prompter

_T = TypeVar("_T")


def pytest_addoption(parser: pytest.Parser) -> None:
    config_mod.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    run = RunState.configure(config)
    config.stash[RUN_KEY] = run
    config.pluginmanager.register(run, "promptdrift-run")  # its pytest-xdist hooks
    config.addinivalue_line("markers", "promptdrift: a prompt case collected from a YAML suite")
    config.addinivalue_line(
        "markers",
        "promptdrift_scrub(key_shapes=False): keep key-shaped strings that are not secrets in this test's cassette",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    return _run(parent.config).collect_file(file_path, parent)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    _run(config).keep_shard(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    _run(session.config).collected(session)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    _run(session.config).start(session)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _run(session.config).finish(session, exitstatus)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when == "call":
        item.stash[CALL_PASSED_KEY] = report.passed  # only then are unused recorded calls drift (the prompt fixture)
        _promptdrift_failure(item, call, report)
    return report


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    _run(config).summary(terminalreporter, exitstatus)


def _run(config: pytest.Config) -> RunState:
    """The run's state object (built by pytest_configure; the stash types it as what the items read)."""
    return cast(RunState, config.stash[RUN_KEY])


def _promptdrift_failure(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """A test that failed with promptdrift's error (or an SDK error wrapping one) shows its message alone."""
    error = call.excinfo.value if call.excinfo is not None else None
    if error is not None and not isinstance(error, PromptdriftError) and isinstance(error.__cause__, PromptdriftError):
        error = error.__cause__  # e.g. an SDK error wrapping a drift raised in the transport
    if report.failed and isinstance(error, PromptdriftError) and isinstance(item, pytest.Function):
        report.longrepr = f"{item.nodeid}: {error}"


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

    settings = request.config.stash[RUN_KEY].settings
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


@pytest.fixture
def anthropic_client(_promptdrift_prompter: Prompter) -> anthropic.Anthropic:
    """A real ``anthropic.Anthropic`` client recorded into the test's own cassette (needs ``promptdrift[anthropic]``).

    It reads ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_API_KEY`` (only recording needs the key). Example::

        def test_my_claude_code(anthropic_client):
            reply = my_feature(anthropic_client, "Where is my order?")
            assert "order" in reply
    """
    return _fail_plainly(_promptdrift_prompter.anthropic_client)


@pytest.fixture
def async_anthropic_client(_promptdrift_prompter: Prompter) -> anthropic.AsyncAnthropic:
    """A real ``anthropic.AsyncAnthropic`` client recorded into the test's own cassette, like ``anthropic_client``."""
    return _fail_plainly(_promptdrift_prompter.async_anthropic_client)


def _fail_plainly(make: Callable[[], _T]) -> _T:
    """The client ``make`` builds; a promptdrift error (the SDK not installed) fails the test with its message."""
    try:
        return make()
    except PromptdriftError as exc:
        said = str(exc)
    pytest.fail(said, pytrace=False)  # outside the handler: no "during handling" chain in the report

"""The pytest plugin (entry point ``pytest11``): options, hooks and fixtures only.

The work lives in modules named after what they do: :mod:`.suite` (reading
suites), :mod:`.collect` (items), :mod:`.runner` (running a case),
:mod:`.recorder` and :mod:`.cassettes` (record and replay), :mod:`.checks`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import config as config_mod
from .errors import PromptdriftError

if TYPE_CHECKING:
    import openai

    from .api import PromptSession

SETTINGS_KEY = pytest.StashKey[config_mod.Settings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    config_mod.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[SETTINGS_KEY] = config_mod.from_config(config)
    except PromptdriftError as exc:
        raise pytest.UsageError(f"promptdrift: {exc}") from None
    config.addinivalue_line("markers", "promptdrift: a prompt case collected from a YAML suite")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from .suite import is_suite_file

    if is_suite_file(file_path):
        from .collect import SuiteFile

        return SuiteFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when != "call":
        return report
    error = call.excinfo.value if call.excinfo is not None else None
    if error is not None and not isinstance(error, PromptdriftError) and isinstance(error.__cause__, PromptdriftError):
        error = error.__cause__  # e.g. an SDK error wrapping a drift raised in the transport
    if report.failed and isinstance(error, PromptdriftError) and isinstance(item, pytest.Function):
        report.longrepr = f"{item.nodeid}: {error}"
    return report


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from .collect import STATUS_PROPERTY

    counts: Counter[str] = Counter()
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                if name == STATUS_PROPERTY and getattr(report, "when", "call") == "call":
                    counts[value] += 1
    if not counts:
        return
    settings = config.stash[SETTINGS_KEY]
    parts = [f"{counts[k]} {k}" for k in ("replayed", "recorded", "drift", "error") if counts[k]]
    terminalreporter.write_sep("-", f"promptdrift ({settings.record.value}): " + ", ".join(parts))


@pytest.fixture
def _promptdrift_session(request: pytest.FixtureRequest) -> Iterator[PromptSession]:
    from .api import close_session, open_session

    settings = request.config.stash[SETTINGS_KEY]
    node = request.node
    session = open_session(settings, Path(node.path), node.name, node.nodeid)
    yield session
    close_session(session, node.nodeid)


@pytest.fixture
def prompt(_promptdrift_session: PromptSession) -> PromptSession:
    """Run suite cases or ad-hoc prompts from a test, recorded in the test's own cassette.

    Example::

        def test_invoice_total(prompt):
            out = prompt.run("suites/invoice.yaml", vars={"text": "Total: 42.50 EUR"})
            out.check(schema="fixtures/schemas/invoice.json")
            assert out.json["total"] == 42.5
    """
    return _promptdrift_session


@pytest.fixture
def openai_client(_promptdrift_session: PromptSession) -> openai.OpenAI:
    """A real ``openai.OpenAI`` client whose traffic is recorded into the test's own cassette.

    Example::

        def test_my_code(openai_client):
            reply = my_feature(openai_client, "Where is my order?")
            assert "order" in reply
    """
    return _promptdrift_session.client()

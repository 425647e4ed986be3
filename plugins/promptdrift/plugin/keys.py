"""The plugin's state in ``config.stash`` and ``item.stash``, under keys every plugin module imports from here.

The run's state is one object, :class:`~promptdrift.plugin.runstate.RunState`, under :data:`RUN_KEY`; the
modules below it (items, the fixtures) see it as :class:`Run`, what they read of it, so that ``runstate``,
which makes the items, is not imported back by them. An item keeps only whether its call phase passed.
The value types are imported for type checking only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from promptdrift.config import Settings
    from promptdrift.plugin.schedule import CaseRuns
    from promptdrift.verdict.ledger import RecordStore


class Run(Protocol):
    """What the items and fixtures read of the run's state."""

    settings: Settings
    records_folder: Path  # where this process writes its case records
    process: str  # this process's records file name there
    store: RecordStore | None  # this process's records, made on first use
    runs: CaseRuns | None  # the case runs, made as the run starts
    suite_ids: dict[str, Path]  # suite id -> the file that declared it first


RUN_KEY: pytest.StashKey[Run] = pytest.StashKey()  # the run's one state object, built in pytest_configure
CALL_PASSED_KEY: pytest.StashKey[bool] = pytest.StashKey()  # an item's call phase passed (unused calls are drift)

"""The plugin's state in ``config.stash`` and ``item.stash``, under keys every plugin module imports from here.

The value types are imported for type checking only: the ``pytest11`` module
imports this, and a run that collects no suite must not load the layers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from promptdrift.config import Settings
    from promptdrift.plugin.schedule import CaseRuns
    from promptdrift.verdict.ledger import RecordStore

SETTINGS_KEY: pytest.StashKey[Settings] = pytest.StashKey()
RECORDS_AT_KEY: pytest.StashKey[tuple[Path, str]] = pytest.StashKey()  # the records folder and this process's file
STORE_KEY: pytest.StashKey[RecordStore] = pytest.StashKey()  # made on first use (plugin.items.store_of)
RUNS_KEY: pytest.StashKey[CaseRuns] = pytest.StashKey()  # made when a suite was collected
SUITES_KEY: pytest.StashKey[bool] = pytest.StashKey()  # a suite file was collected in this process
SUITE_IDS_KEY: pytest.StashKey[dict[str, Path]] = pytest.StashKey()  # suite id -> the file that declared it first
SHARD_KEY: pytest.StashKey[tuple[int, int]] = pytest.StashKey()  # this run is shard i of n (1 of 1 unsharded)
NODEIDS_KEY: pytest.StashKey[list[str]] = pytest.StashKey()  # the node ids this run collected (its slice)
CALL_PASSED_KEY: pytest.StashKey[bool] = (
    pytest.StashKey()
)  # an item's call phase passed (unused recorded calls are drift)

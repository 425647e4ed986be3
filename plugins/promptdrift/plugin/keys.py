"""The plugin's state in ``config.stash`` and ``item.stash``, under keys every plugin module imports from here."""

from __future__ import annotations

import pytest

from promptdrift.config import Settings
from promptdrift.plugin.schedule import CaseRuns
from promptdrift.verdict.records import RecordStore

SETTINGS_KEY = pytest.StashKey[Settings]()
STORE_KEY = pytest.StashKey[RecordStore]()
RUNS_KEY = pytest.StashKey[CaseRuns]()
CALL_PASSED_KEY = pytest.StashKey[bool]()  # on an item: its call phase passed (unused recorded calls are then drift)

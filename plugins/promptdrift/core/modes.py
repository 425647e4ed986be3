"""``--prompt-record``: the record modes, a small shared type that any layer may import."""

from __future__ import annotations

import enum


class RecordMode(enum.StrEnum):
    """``--prompt-record``: what to do with missing and differing recordings."""

    NONE = "none"  # replay only; a missing or differing recording fails
    NEW = "new"  # record missing cassettes; a differing request fails as drift
    CHANGED = "changed"  # record missing, re-record differing (old one is the baseline)
    ALL = "all"  # re-record everything (old ones are the baseline)


def record_command(target: str, mode: RecordMode) -> str:
    """The pytest command that records ``target`` (a node id or path) in ``mode``."""
    return f"pytest {target} --prompt-record={mode.value}"

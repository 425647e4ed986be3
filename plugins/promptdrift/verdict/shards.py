"""Runs split over several machines: each shard's identity, and checking that a set of shards is whole.

A shard keeps its records in ``<records dir>/shard-<i>-of-<n>/`` (``--prompt-records-dir``),
beside a ``run.json`` that says which shard it was, on which commit, in which
record mode, which node ids it collected and how it exited. ``promptdrift
merge`` reads every shard of a run and refuses a set that is not whole: a
partial run is never reported as complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from promptdrift.core.errors import PromptdriftError

IDENTITY = "run.json"


class ShardError(PromptdriftError):
    """The shards given to ``promptdrift merge`` do not make one whole run."""


@dataclass
class Shard:
    """One shard's identity (``run.json``)."""

    index: int
    count: int
    commit: str
    record_mode: str
    nodeids: list[str] = field(default_factory=list)
    exitstatus: int = 0
    # Each records file the shard wrote and the SHA-256 of its content: merge refuses a records file that is
    # missing, cut short or changed. None: written by a promptdrift that did not keep them (not checked).
    records: dict[str, str] | None = None
    folder: str = ""  # where it was read from (not written)

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k != "folder"}
        return json.dumps(data, indent=2) + "\n"


def shard_folder(records: Path, index: int, count: int) -> Path:
    return records / f"shard-{index}-of-{count}"


def parse_shard(value: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``; anything else is a clear error."""
    left, _, right = value.partition("/")
    if not (left.isdigit() and right.isdigit()) or not 1 <= int(left) <= int(right):
        raise PromptdriftError(f"--prompt-shard takes I/N with 1 <= I <= N (such as 2/4), got {value!r}")
    return int(left), int(right)


def current_commit(rootdir: Path) -> str:
    """The commit under test: ``$GITHUB_SHA`` on GitHub Actions, else ``git rev-parse HEAD``, else ``unknown``."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=rootdir, capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def records_digests(folder: Path) -> dict[str, str]:
    """``{file name: sha256}`` of the records files in a shard's folder."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.glob("*.jsonl"))}


def write_identity(folder: Path, shard: Shard) -> None:
    """Write the shard's ``run.json``, with the checksum of every records file it wrote."""
    shard.records = records_digests(folder)
    (folder / IDENTITY).write_text(shard.to_json(), encoding="utf-8")


def _check_types(shard: Shard) -> None:
    """Every field of a ``run.json`` has its type (a hand-edited or damaged file does not reach the merge)."""
    for name in ("index", "count", "exitstatus"):
        value = getattr(shard, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be a whole number, got {value!r}")
    if not 1 <= shard.index <= shard.count:
        raise TypeError(f"index {shard.index} is not between 1 and count {shard.count}")
    if not isinstance(shard.nodeids, list) or not all(isinstance(n, str) for n in shard.nodeids):
        raise TypeError("nodeids must be a list of node ids")
    if shard.records is not None and not (
        isinstance(shard.records, dict) and all(isinstance(v, str) for v in shard.records.values())
    ):
        raise TypeError("records must map file names to checksums")


def _check_records(shard: Shard) -> None:
    """The shard's records files are the ones its ``run.json`` lists, as it wrote them."""
    if shard.records is None:
        return
    found = records_digests(Path(shard.folder))
    name = f"shard {shard.index} of {shard.count} ({shard.folder})"
    for file, digest in shard.records.items():
        if file not in found:
            raise ShardError(
                f"{name}: its records file {file} is missing (its run.json lists it): download that shard's "
                "records again, or re-run it, before merging"
            )
        if found[file] != digest:
            raise ShardError(
                f"{name}: its records file {file} was cut short or changed since the shard wrote it (its checksum "
                "differs from run.json's): download that shard's records again, or re-run it, before merging"
            )
    extra = sorted(set(found) - set(shard.records))
    if extra:
        raise ShardError(f"{name}: records file(s) {', '.join(extra)} were not written by that shard's run")


def read_shards(dirs: list[Path]) -> list[Shard]:
    """Every shard under ``dirs``, checked to make one whole run; else a :class:`ShardError` saying what is wrong."""
    shards: list[Shard] = []
    for base in dirs:
        if not base.is_dir():
            raise ShardError(f"{base}: no such folder; give the folders the shards wrote with --prompt-records-dir")
        for path in sorted(base.rglob(IDENTITY)):
            try:
                data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
                shard = Shard(**data, folder=str(path.parent))
                _check_types(shard)
            except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
                raise ShardError(f"{path}: not a shard identity ({exc}); run that shard again") from None
            shards.append(shard)
    if not shards:
        raise ShardError(
            f"no shard records under {', '.join(map(str, dirs))}: run pytest with --prompt-records-dir DIR"
        )
    counts = {s.count for s in shards}
    if len(counts) > 1:
        raise ShardError(f"the shards disagree on how many there are ({sorted(counts)}): they are not one run")
    count = counts.pop()
    seen: dict[int, Shard] = {}
    for shard in shards:
        if shard.index in seen:
            raise ShardError(
                f"shard {shard.index} of {count} appears twice ({seen[shard.index].folder}, {shard.folder})"
            )
        seen[shard.index] = shard
        _check_records(shard)
    missing = [i for i in range(1, count + 1) if i not in seen]
    if missing:
        names = ", ".join(f"shard {i} of {count}" for i in missing)
        raise ShardError(f"{names} missing: no records from it; re-run it (or download its records) before merging")
    commits = {s.commit for s in shards}
    if len(commits) > 1:
        first = shards[0]
        odd = next(s for s in shards if s.commit != first.commit)
        raise ShardError(
            f"shard {odd.index} of {count} ran on commit {odd.commit}, shard {first.index} on {first.commit}: "
            "merge the shards of one run"
        )
    return sorted(shards, key=lambda s: s.index)


def merged_exitstatus(shards: list[Shard], gates_failed: bool) -> int:
    """The exit status one process running every case would have had."""
    statuses = [s.exitstatus for s in shards]
    if gates_failed or 1 in statuses:
        return 1
    worst = max((s for s in statuses if s not in (0, 5)), default=0)
    if worst:
        return worst
    return 5 if all(s == 5 for s in statuses) else 0

"""One recorder per cassette folder: an advisory lock that a second recording run waits for.

Two processes recording into the same folder would both pay for every call
(the last writer wins). A recording run holds ``<cassettes>/.promptdrift.lock``
(an ``flock`` on it, with the holder written inside) from its start to its end;
a second one says who holds it and waits, then finds the cassettes the first
one wrote and replays them instead of calling the model again. The operating
system drops the lock of a process that dies, even by SIGKILL, so a stale lock
file is simply taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from promptdrift.core.errors import ConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".promptdrift.lock"


class FolderLock:
    """The lock of one cassette folder, held by this process once :meth:`acquire` returns.

    The shards of one run (``--prompt-shard I/N``) record disjoint cases into the same folder, so they
    share the folder's lock and each holds its own shard's: two runs of the same shard wait for each
    other, and a run that records everything waits for every shard (and they for it).
    """

    def __init__(self, folder: Path, shard: tuple[int, int] = (1, 1)) -> None:
        self.folder = folder
        self.path = folder / LOCK_NAME
        self.shard_path = folder / f"{LOCK_NAME}.shard-{shard[0]}-of-{shard[1]}" if shard[1] > 1 else None
        self._files: list[IO[str]] = []

    def acquire(self, what: str, *, wait: float, say: Callable[[str], None]) -> None:
        """Take the lock, waiting up to ``wait`` seconds for another recorder (``say`` tells who, once).

        ``what``: this run, for the next waiter to read (its command line).
        """
        if fcntl is None:  # pragma: no cover - Windows: recording runs are not serialised there
            return
        until = time.monotonic() + wait
        if self.shard_path is None:
            self._take(self.path, fcntl.LOCK_EX, until, say, what)
        else:
            self._take(self.path, fcntl.LOCK_SH, until, say, None)
            self._take(self.shard_path, fcntl.LOCK_EX, until, say, what)

    def _take(self, path: Path, kind: int, until: float, say: Callable[[str], None], what: str | None) -> None:
        assert fcntl is not None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("a+", encoding="utf-8")
        except OSError as exc:
            self.release()
            raise ConfigError(
                f"cannot write in the cassette folder {path.parent} ({exc.strerror or exc}): "
                "make it writable, or record into another one with --prompt-cassette-dir"
            ) from None
        told = False
        while True:
            try:
                fcntl.flock(handle, kind | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > until:
                    handle.close()
                    self.release()
                    raise ConfigError(
                        f"another run has been recording into {path.parent} for too long ({holder(path)}); "
                        "wait for it to end, or record into another folder"
                    ) from None
                if not told:
                    say(f"promptdrift: waiting for {holder(path)}, which is recording into {path.parent}")
                    told = True
                time.sleep(0.2)
        self._files.append(handle)
        if what is not None:  # held alone: name the holder for the next waiter
            info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "run": what}
            with contextlib.suppress(OSError):  # a full disk: the lock holds all the same, unnamed
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(info) + "\n")
                handle.flush()

    def release(self) -> None:
        for handle in reversed(self._files):
            with contextlib.suppress(OSError):
                if handle.writable() and handle.tell():
                    handle.seek(0)
                    handle.truncate()
            handle.close()  # closing drops the flock
        self._files = []


def holder(path: Path) -> str:
    """Who holds a lock, as its file says."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return f"process {data['pid']} on {data['host']}: {data['run']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another run (the shards of a run, or a process that did not name itself)"

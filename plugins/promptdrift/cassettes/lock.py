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
    """The lock of one cassette folder, held by this process once :meth:`acquire` returns."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self, what: str, *, wait: float, say: Callable[[str], None]) -> None:
        """Take the lock, waiting up to ``wait`` seconds for another recorder (``say`` tells who, once).

        ``what``: this run, for the next waiter to read (its command line).
        """
        if fcntl is None:  # pragma: no cover - Windows: recording runs are not serialised there
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot write in the cassette folder {self.path.parent} ({exc.strerror or exc}): "
                "make it writable, or record into another one with --prompt-cassette-dir"
            ) from None
        until = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > until:
                    handle.close()
                    raise ConfigError(
                        f"another run has been recording into {self.path.parent} for over {wait:g} s "
                        f"({self.holder()}); wait for it to end, or record into another folder"
                    ) from None
                if not told:
                    say(f"promptdrift: waiting for {self.holder()}, which is recording into {self.path.parent}")
                    told = True
                time.sleep(0.2)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "run": what}
        with contextlib.suppress(OSError):  # a full disk: the lock holds all the same, unnamed
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(holder) + "\n")
            handle.flush()
        self._file = handle

    def holder(self) -> str:
        """Who holds the lock, as its file says."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return f"process {data['pid']} on {data['host']}: {data['run']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
            self._file.close()  # closing drops the flock
            self._file = None

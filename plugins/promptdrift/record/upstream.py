"""The process's one connection pool to the model endpoint, and the limit on requests in flight."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx2


class Upstream:
    """The process's one real HTTP transport (a connection pool), and the limit on requests in flight.

    Created on first use only: replay never calls it, so a replay-only run opens
    no socket at all. :meth:`limit` bounds the requests waiting on the endpoint
    at once (``--prompt-concurrency``); everything else a case does (rendering,
    saving its cassette, checking) happens outside the limit, so while one case
    writes its cassette another's request is already in flight.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transport: httpx2.HTTPTransport | None = None
        self._slots = threading.BoundedSemaphore(8)
        self.halted: str | None = None  # why no new request may leave the process (see halt())

    def __call__(self) -> httpx2.BaseTransport:
        import httpx2  # slow: the HTTP client, only once a request leaves the process (never in replay)

        with self._lock:
            if self._transport is None:
                limits = httpx2.Limits(max_connections=None, max_keepalive_connections=64)
                self._transport = httpx2.HTTPTransport(limits=limits)
            return self._transport

    def set_limit(self, requests: int) -> None:
        """A run starts: up to ``requests`` in flight, and requests may leave again."""
        self._slots = threading.BoundedSemaphore(requests)
        self.halted = None

    def halt(self, why: str) -> None:
        """Let no new request leave the process for the rest of the run (requests in flight finish).

        Called when a cassette cannot be written (a full disk: a further answer would be paid for
        and lost too) and on Ctrl-C. The first reason is kept.
        """
        with self._lock:
            if self.halted is None:
                self.halted = why

    def slot(self) -> threading.BoundedSemaphore:
        """Hold while a request is in flight: ``with upstream.slot(): ...``."""
        return self._slots


shared_upstream = Upstream()

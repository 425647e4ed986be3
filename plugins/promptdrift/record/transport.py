"""The ``httpx2`` transport that every ``openai`` client of promptdrift is given.

Why a transport and not ``vcr.use_cassette``: ``use_cassette`` patches httpx
for the whole process, so with two cases in flight (threads, asyncio tasks,
concurrent recording) the cassette entered last receives every request. Here
each case or test gets its own :class:`~promptdrift.record.recorder.Recorder`
and a transport bound to it; nothing global is patched, so any number of
cases can record at once in one process. A code-first test's ``openai``
client is built on its transport; the calls promptdrift makes itself go
through one shared client per endpoint, whose :class:`ContextTransport`
hands each request to the transport of the call in progress (:data:`CURRENT`).

Whatever the transport replayed or recorded is handed back to its caller on
the response, under :data:`INTERACTION` in ``response.extensions``: the caller
never reads it back from the recorder's state, which other threads share.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable

import httpx2

from promptdrift.cassettes.format import Interaction, answer_fault
from promptdrift.record.recorder import Recorder
from promptdrift.record.retry import RetryPolicy, recorded_error, retryable_status
from promptdrift.record.upstream import shared_upstream

log = logging.getLogger("promptdrift")

INTERACTION = "promptdrift.interaction"  # response.extensions key: the Interaction replayed or recorded
BATCH = "promptdrift.batch"  # response.extensions key of an upstream answer: the provider batch it came from


class CassetteTransport(httpx2.BaseTransport):
    """An ``httpx2`` transport that replays from, or records into, one :class:`Recorder`.

    Recording sends through ``upstream`` with the :class:`~promptdrift.record.retry.RetryPolicy`
    (the SDK's own retries are off); a usable 2xx answer and a deterministic error answer
    (:func:`~promptdrift.record.retry.recorded_error`) are kept, nothing else.
    """

    def __init__(
        self, recorder: Recorder, upstream: Callable[[], httpx2.BaseTransport], policy: RetryPolicy | None = None
    ) -> None:
        self.recorder = recorder
        self._upstream = upstream
        self.policy = policy or RetryPolicy()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        found = self.recorder.lookup(request.method, str(request.url), body)
        if found is not None:
            return _replayed(found, request)
        self.recorder.before_upstream()  # no key: fail before waiting for a slot
        attempts = self.policy.retries + 1
        for attempt in range(attempts):
            headers: httpx2.Headers | None = None
            try:
                with shared_upstream.slot():
                    self.recorder.before_upstream()  # again once a slot is free: the run may have stopped meanwhile
                    start = time.perf_counter()
                    response = self._upstream().handle_request(request)
                    try:
                        content = _read_by(response, start + self.policy.deadline, self.policy.max_bytes)
                    finally:
                        response.close()
            except httpx2.RequestError as exc:  # timeouts, refused or reset connections, cut-off or undecodable bodies
                fault = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except _PastDeadline:
                fault = f"the answer was not complete after {self.policy.deadline:g} s (--prompt-deadline)"
            except _TooLarge:  # not worth retrying: the same request gets the same answer
                limit = self.policy.max_bytes / 1024 / 1024
                raise self.recorder.give_up(f"the answer is larger than {limit:g} MB (--prompt-max-mb)", 1) from None
            else:
                latency_ms = (time.perf_counter() - start) * 1000
                status, headers = response.status_code, response.headers
                if 200 <= status < 300:
                    problem = answer_fault(headers.get("content-type", ""), content)
                    if problem is None:
                        batch = response.extensions.get(BATCH)
                        kept = self.recorder.keep(
                            request, body, status, response.reason_phrase, headers, content, latency_ms, batch
                        )
                        return _forwarded(response, content, request, kept)
                    fault = f"HTTP {status}, but {problem}"
                elif retryable_status(status):
                    fault = f"HTTP {status} {response.reason_phrase}".rstrip()
                elif recorded_error(status):  # 400, 404, 422...: the request is wrong; replay raises it again
                    kept = self.recorder.keep(
                        request, body, status, response.reason_phrase, headers, content, latency_ms
                    )
                    return _forwarded(response, content, request, kept)
                else:  # 401, 403...: about the key or account, never a fixture; the SDK reports it
                    self.recorder.refuse(request, body, status)
                    return _forwarded(response, content, request, None)
            fault = self.recorder.scrubber.text(fault)  # a reason phrase or an error may echo the key
            if attempt + 1 == attempts:
                raise self.recorder.give_up(fault, attempts)
            delay = self.policy.wait(attempt, headers)
            log.warning(
                "%s: %s; retry %d of %d in %.2f s",
                self.recorder.display,
                fault,
                attempt + 1,
                self.policy.retries,
                delay,
            )
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


# The cassette transport of the call in progress in this thread or task (set by Channel.call).
CURRENT: contextvars.ContextVar[CassetteTransport | None] = contextvars.ContextVar(
    "promptdrift_transport", default=None
)


class ContextTransport(httpx2.BaseTransport):
    """The transport of the process's shared ``openai`` clients: each request goes to :data:`CURRENT`.

    :meth:`~promptdrift.record.client.Channel.call` sets it around the SDK call,
    in the thread that makes it, so one client serves every case's cassette.
    """

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        transport = CURRENT.get()
        if transport is None:
            raise RuntimeError("promptdrift's shared openai client was used outside Channel.call")
        return transport.handle_request(request)


class AsyncCassetteTransport(httpx2.AsyncBaseTransport):
    """The same :class:`CassetteTransport` for ``AsyncOpenAI`` clients.

    Each request runs the synchronous transport in a worker thread: the event
    loop is never blocked, and recording, retries, replay and drift behave
    exactly as for the synchronous client (one mechanism, one recorder).
    """

    def __init__(self, transport: CassetteTransport) -> None:
        self.transport = transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return await asyncio.to_thread(self.transport.handle_request, request)


class _PastDeadline(Exception):
    """An answer still arriving at the call's deadline (an endless or dribbling stream)."""


class _TooLarge(Exception):
    """An answer larger, decoded, than the limit (a gzip bomb, or an endless body)."""


def _read_by(response: httpx2.Response, deadline: float, limit: int) -> bytes:
    """The whole body, decoded (cassettes hold readable text), unless it is still arriving at ``deadline``
    (``time.perf_counter()``) or grows past ``limit`` bytes.

    The read timeout bounds each wait for the next bytes; this bounds the whole answer, so a
    stream that never ends, sends a byte at a time or inflates from a small gzip cannot hold a
    case forever or fill the memory.
    """
    chunks = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        if time.perf_counter() > deadline:
            raise _PastDeadline
    return b"".join(chunks)


def _replayed(interaction: Interaction, request: httpx2.Request) -> httpx2.Response:
    headers = [(k, v) for k, values in interaction.response_headers.items() for v in values]
    return httpx2.Response(
        interaction.response_status,
        headers=headers,
        content=interaction.response_body.encode("utf-8"),
        request=request,
        extensions={"reason_phrase": interaction.response_reason.encode("ascii", "replace"), INTERACTION: interaction},
    )


def plain_headers(response: httpx2.Response) -> list[tuple[str, str]]:
    """A read response's headers without those of its encoding on the wire (its content is decoded)."""
    drop = {"content-encoding", "content-length", "transfer-encoding"}
    return [(k, v) for k, v in response.headers.multi_items() if k.lower() not in drop]


def _forwarded(
    response: httpx2.Response, content: bytes, request: httpx2.Request, kept: Interaction | None
) -> httpx2.Response:
    headers = plain_headers(response)
    extensions = {INTERACTION: kept} if kept is not None else {}
    return httpx2.Response(
        response.status_code, headers=headers, content=content, request=request, extensions=extensions
    )

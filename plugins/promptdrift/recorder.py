"""Record and replay at the HTTP transport the ``openai`` client is given.

Why a transport and not ``vcr.use_cassette``: ``use_cassette`` patches httpx
for the whole process, so with two cases in flight (threads, asyncio tasks,
concurrent recording) the cassette entered last receives every request. Here
each case or test gets its own :class:`Recorder` and an ``httpx2`` transport
bound to it, handed to its own ``openai`` client; nothing global is patched,
so any number of cases can record at once in one process. The files stay in
vcrpy's format (see :mod:`promptdrift.cassettes`).

Replay matches the first not-yet-played interaction with the same request
fingerprint, so repeated identical requests (samples) replay in recorded
order, never the first answer N times.
"""

from __future__ import annotations

import asyncio
import difflib
import enum
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

from . import cassettes, yamlio
from .cassettes import Cassette, Interaction
from .errors import CassetteError, ConfigError, MissingCassetteError, PromptDriftError, PromptdriftError, RecordingError
from .retry import RetryPolicy, answer_fault, retryable_status

log = logging.getLogger("promptdrift")


class RecordMode(enum.StrEnum):
    """``--prompt-record``: what to do with missing and differing recordings."""

    NONE = "none"  # replay only; a missing or differing recording fails
    NEW = "new"  # record missing cassettes; a differing request fails as drift
    CHANGED = "changed"  # record missing, re-record differing (old one is the baseline)
    ALL = "all"  # re-record everything (old ones are the baseline)


def request_view(body: Any) -> str:
    """A readable rendering of a request body for drift diffs (messages and parameters)."""
    if isinstance(body, dict):
        return yamlio.dumps(body)
    return str(body) + "\n"


def drift_diff(recorded: Any, current: Any) -> str:
    """Unified diff of the recorded and the current request."""
    return "".join(
        difflib.unified_diff(
            request_view(recorded).splitlines(keepends=True),
            request_view(current).splitlines(keepends=True),
            "recorded",
            "current",
        )
    )


def _summary(interaction: Interaction) -> dict[str, Any]:
    """The returned model and token usage of a JSON or server-sent-events response."""
    from .apis import APIS

    path = interaction.uri.partition("?")[0]
    for api in APIS.values():
        if path.endswith(api.path):  # an answer: read as the checks read it (usage in chat-completions terms)
            try:
                answer = api.parse(interaction)
            except PromptdriftError:
                break
            return {k: v for k, v in (("model", answer.model), ("usage", dict(answer.usage))) if v}
    out: dict[str, Any] = {}
    if interaction.is_event_stream:
        docs = cassettes.sse_documents(interaction.response_body)
    else:
        docs = [interaction.response_json]
    for doc in docs:
        if isinstance(doc, dict):
            if doc.get("model"):
                out["model"] = doc["model"]
            if isinstance(doc.get("usage"), dict):
                out["usage"] = doc["usage"]
    return out


def record_command(target: str, mode: RecordMode) -> str:
    """The pytest command that records ``target`` (a node id or path) in ``mode``."""
    return f"pytest {target} --prompt-record={mode.value}"


class Recorder:
    """The record/replay state of one cassette (one case, or one test).

    Thread-safe: the ``openai`` client may call it from several threads.
    """

    def __init__(
        self,
        path: Path,
        mode: RecordMode,
        *,
        display: str,
        target: str,
        api_key_missing: str | None = None,
    ) -> None:
        self.path = path
        self.mode = mode
        self.display = display
        self.record_hint = record_command(target, RecordMode.NEW)
        self.rerecord_hint = record_command(target, RecordMode.CHANGED)
        self.api_key_missing = api_key_missing
        self.old: Cassette | None = None
        if path.exists():
            try:
                self.old = cassettes.load(path, display=display, rerecord_hint=record_command(target, RecordMode.ALL))
            except CassetteError:
                if mode is not RecordMode.ALL:
                    raise
                # Re-recording everything: a corrupt cassette is replaced, with no baseline to compare.
        self.recording = mode is RecordMode.ALL or (self.old is None and mode is not RecordMode.NONE)
        self.played = [False] * (len(self.old.interactions) if self.old else 0)
        self.interactions: list[Interaction] = []
        self.calls: list[dict[str, Any]] = []
        self.recorded = False
        self.errors: list[Exception] = []
        self._lock = threading.Lock()

    # -- replay ------------------------------------------------------------------

    def lookup(self, method: str, uri: str, body: bytes) -> Interaction | None:
        """The recorded interaction to replay, or ``None`` to send the request upstream."""
        with self._lock:
            if self.recording:
                return None
            if self.old is None:
                raise self.missing()
            fp = cassettes.fingerprint(method, uri, body)
            for index, interaction in enumerate(self.old.interactions):
                if not self.played[index] and interaction.fingerprint == fp:
                    return self._play(index)
            if self.mode is RecordMode.CHANGED:
                self.recording = True  # re-record the rest of this case; the old cassette is the baseline
                return None
            raise self._error(self._drift(method, uri, body))

    def find(self, method: str, path_suffix: str, body: Any) -> Interaction | None:
        """The fast replay path: the recorded interaction for exactly this request, found without the SDK.

        Only an unplayed interaction at an endpoint ending in ``path_suffix`` whose
        recorded body equals ``body`` matches; anything else returns ``None``
        without side effects, and the caller sends the request through the
        ``openai`` client instead (which records, re-records or reports drift
        with a diff, through :meth:`lookup`).
        """
        with self._lock:
            if self.recording or self.old is None:
                return None
            data = json.loads(json.dumps(body))  # the JSON the SDK would send
            for index, interaction in enumerate(self.old.interactions):
                if (
                    not self.played[index]
                    and interaction.method == method
                    and interaction.uri.partition("?")[0].endswith(path_suffix)
                    and interaction.request_json == data
                ):
                    return self._play(index)
            return None

    def missing(self) -> MissingCassetteError:
        """The error for a recording this run needs and does not have."""
        return self._error(  # type: ignore[return-value]
            MissingCassetteError(f"no recording at {self.display}. Record it with: {self.record_hint}", path=None)
        )

    def changed(self, what: str, recorded: Any, current: Any) -> PromptDriftError:
        """Prompt drift in something other than a request (a generate: block), with its diff."""
        headline = f"{what} changed since {self.display} was recorded"
        return self._error(self._drift_error(headline, recorded, current))  # type: ignore[return-value]

    def _play(self, index: int) -> Interaction:
        assert self.old is not None
        interaction = self.old.interactions[index]
        self.played[index] = True
        self.interactions.append(interaction)
        self.calls.append(self._call_meta(interaction))
        return interaction

    def _drift(self, method: str, uri: str, body: bytes) -> PromptDriftError:
        assert self.old is not None
        path = httpx2.URL(uri).path
        unplayed = [i for i, done in zip(self.old.interactions, self.played, strict=True) if not done]
        same_path = [i for i in unplayed if httpx2.URL(i.uri).path == path and i.method == method]
        candidates = same_path or unplayed or self.old.interactions[-1:]
        if not unplayed:
            headline = f"this run made more requests than were recorded in {self.display}"
        else:
            headline = f"the request differs from the one recorded in {self.display}"
        recorded = candidates[0].request_json if candidates else ""
        return self._drift_error(headline, recorded, cassettes.canonical_body(body))

    def _drift_error(self, headline: str, recorded: Any, current: Any) -> PromptDriftError:
        """Prompt drift: what changed, the diff of the recorded and the current form, and how to re-record."""
        diff = drift_diff(recorded, current)
        return PromptDriftError(
            f"prompt drift: {headline}.\n{diff}\nIf the change is intended, re-record: {self.rerecord_hint}",
            diff=diff,
        )

    def unplayed(self) -> int:
        """How many recorded interactions this run did not use (only meaningful when replaying)."""
        return self.played.count(False) if not self.recording else 0

    def finish_replay(self) -> None:
        """Fail as drift when the recording holds requests this run no longer makes."""
        left = self.unplayed()
        if left and self.mode in (RecordMode.NONE, RecordMode.NEW):
            raise self._error(
                PromptDriftError(
                    f"prompt drift: {self.display} holds {left} recorded request(s) that this run did not make. "
                    f"If the change is intended, re-record: {self.rerecord_hint}",
                    diff="",
                )
            )

    # -- record ------------------------------------------------------------------

    def before_upstream(self) -> None:
        """Called before a request leaves the process: refuse when recording is not possible."""
        if self.api_key_missing:
            raise self._error(ConfigError(self.api_key_missing))

    def keep(
        self,
        request: httpx2.Request,
        body: bytes,
        status: int,
        reason: str,
        headers: httpx2.Headers,
        content: bytes,
        latency_ms: float,
    ) -> None:
        """Record a response if it is an answer; error statuses are never recorded."""
        if status >= 300:
            return
        interaction = Interaction(
            method=request.method,
            uri=cassettes.scrub_uri(str(request.url)),
            request_body=cassettes.readable_body(body),
            response_status=status,
            response_reason=reason,
            response_headers=cassettes.keep_headers(headers.multi_items(), cassettes.RESPONSE_HEADERS),
            response_body=cassettes.readable_body(content),
            latency_ms=round(latency_ms, 1),
            request_headers=cassettes.keep_headers(request.headers.multi_items(), cassettes.REQUEST_HEADERS),
        )
        with self._lock:
            self.interactions.append(interaction)
            self.calls.append(self._call_meta(interaction))
            self.recorded = True

    @staticmethod
    def _call_meta(interaction: Interaction) -> dict[str, Any]:
        if interaction.meta and "fingerprint" in interaction.meta:
            return interaction.meta  # replayed: worked out when it was recorded
        meta: dict[str, Any] = {
            "fingerprint": interaction.fingerprint,
            "latency_ms": interaction.latency_ms,
        }
        summary = _summary(interaction)
        request = interaction.request_json
        if isinstance(request, dict) and request.get("model"):
            meta["model_requested"] = request["model"]
        if summary.get("model"):
            meta["model_returned"] = summary["model"]
        if summary.get("usage"):
            meta["usage"] = summary["usage"]
        return meta

    def give_up(self, fault: str, attempts: int) -> RecordingError:
        """The error when every attempt failed: says what happened and that nothing was recorded."""
        tries = "once" if attempts == 1 else f"on all {attempts} attempts"
        return self._error(  # type: ignore[return-value]
            RecordingError(
                f"recording {self.display} failed {tries}: {fault}. Nothing was recorded for this call; "
                f"when the endpoint works again, re-run to record what is missing: {self.record_hint}"
            )
        )

    def _error(self, exc: Exception) -> Exception:
        self.errors.append(exc)
        return exc

    # -- finish ------------------------------------------------------------------

    @property
    def needs_save(self) -> bool:
        """Something was recorded, or a replay used fewer interactions in a re-recording mode."""
        if self.recorded:
            return True
        trimmed = self.old is not None and self.unplayed() > 0
        return trimmed and self.mode in (RecordMode.CHANGED, RecordMode.ALL)

    def save(self, extra: dict[str, Any]) -> None:
        """Write the new cassette (atomically) with the metadata drift detection needs."""
        models_requested = sorted({c["model_requested"] for c in self.calls if c.get("model_requested")})
        models_returned = sorted({c["model_returned"] for c in self.calls if c.get("model_returned")})
        meta: dict[str, Any] = {
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model_requested": models_requested[0] if len(models_requested) == 1 else models_requested,
            "model_returned": models_returned[0] if len(models_returned) == 1 else models_returned,
            "fingerprint": cassettes.fingerprint("", "", json.dumps([c["fingerprint"] for c in self.calls])),
            **extra,
            "interactions": self.calls,
        }
        cassettes.save(Cassette(self.path, list(self.interactions), meta))


class CassetteTransport(httpx2.BaseTransport):
    """An ``httpx2`` transport that replays from, or records into, one :class:`Recorder`.

    Recording sends through ``upstream`` with the :class:`~promptdrift.retry.RetryPolicy`
    (the SDK's own retries are off); only a usable 2xx answer is kept.
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
        self.recorder.before_upstream()
        attempts = self.policy.retries + 1
        for attempt in range(attempts):
            headers: httpx2.Headers | None = None
            try:
                with shared_upstream.slot():
                    start = time.perf_counter()
                    response = self._upstream().handle_request(request)
                    try:
                        content = response.read()  # decodes gzip/br: cassettes hold readable text
                    finally:
                        response.close()
            except httpx2.RequestError as exc:  # timeouts, refused or reset connections, cut-off or undecodable bodies
                fault = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                latency_ms = (time.perf_counter() - start) * 1000
                status, headers = response.status_code, response.headers
                if 200 <= status < 300:
                    problem = answer_fault(headers.get("content-type", ""), content)
                    if problem is None:
                        self.recorder.keep(request, body, status, response.reason_phrase, headers, content, latency_ms)
                        return _forwarded(response, content, request)
                    fault = f"HTTP {status}, but {problem}"
                elif retryable_status(status):
                    fault = f"HTTP {status} {response.reason_phrase}".rstrip()
                else:  # not worth retrying (400, 401, 404...): the SDK reports it; never recorded
                    return _forwarded(response, content, request)
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


def _replayed(interaction: Interaction, request: httpx2.Request) -> httpx2.Response:
    headers = [(k, v) for k, values in interaction.response_headers.items() for v in values]
    return httpx2.Response(
        interaction.response_status,
        headers=headers,
        content=interaction.response_body.encode("utf-8"),
        request=request,
        extensions={"reason_phrase": interaction.response_reason.encode("ascii", "replace")},
    )


def _forwarded(response: httpx2.Response, content: bytes, request: httpx2.Request) -> httpx2.Response:
    drop = {"content-encoding", "content-length", "transfer-encoding"}
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in drop]
    return httpx2.Response(response.status_code, headers=headers, content=content, request=request)


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

    def __call__(self) -> httpx2.BaseTransport:
        with self._lock:
            if self._transport is None:
                limits = httpx2.Limits(max_connections=None, max_keepalive_connections=64)
                self._transport = httpx2.HTTPTransport(limits=limits)
            return self._transport

    def set_limit(self, requests: int) -> None:
        self._slots = threading.BoundedSemaphore(requests)

    def slot(self) -> threading.BoundedSemaphore:
        """Hold while a request is in flight: ``with upstream.slot(): ...``."""
        return self._slots


shared_upstream = Upstream()

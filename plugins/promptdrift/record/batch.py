"""Recording through the provider's Batch API (``--prompt-batch``): the same cassettes, at the batch price.

It is the one record path with another upstream. A case runs as it always
does; its channel (:func:`~promptdrift.record.client.open_channel` with a
``route``) sends what must be recorded to a :class:`Lane` of this run's
:class:`BatchRun` instead of the connection pool:

* a request whose answer has arrived is answered with it, and the
  :class:`~promptdrift.record.transport.CassetteTransport` records it exactly
  as a live answer (same interaction, same cassette format), with the batch id
  in the call's metadata;
* any other request is queued, and the case stops with
  :class:`~promptdrift.core.errors.Deferred` (nothing is saved).

When every case has run or stopped, :meth:`BatchRun.settle` sends the queued
requests as batches (one per provider, endpoint and model; more where a file
would pass :data:`MAX_REQUESTS` or :data:`MAX_BYTES`), waits for them and
takes in their output. The stopped cases run again: their earlier calls are
answered from what arrived, and their next calls (a second turn, a tool round,
a grader of the answer) make the next round. Calls that do not depend on each
other (samples, the graders of one answer) share a round
(:func:`~promptdrift.core.errors.gather_deferred`).

Streamed requests (the Batch API has none) go live through the pool and are
kept, so a case's next round never pays for them again.

Nothing is paid twice: before waiting, each batch is written to a state file
in ``<cassettes>/.batches/`` (which ignores itself in git) with the case
cassette, request digest and occurrence behind each ``custom_id``. A run
stopped by Ctrl-C, SIGKILL or a CI timeout and started again finds those
batches and submits nothing they hold; one that died between creating a batch
and writing its id finds it by its metadata through ``batches.list``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import openai

from promptdrift.cassettes.format import REQUEST_HEADERS, answer_fault
from promptdrift.cassettes.secrets import Scrubber
from promptdrift.config import Settings
from promptdrift.core.errors import Deferred, RecordingError
from promptdrift.record.adapters import short
from promptdrift.record.client import provider_client
from promptdrift.record.recorder import Recorder
from promptdrift.record.transport import BATCH, plain_headers
from promptdrift.record.upstream import shared_upstream
from promptdrift.suite.model import Provider

log = logging.getLogger("promptdrift")

# The endpoints a batch serves, by the path the SDK posts to (OpenAI's Batch API; Anthropic's Message Batches).
ENDPOINTS = {
    "/chat/completions": "/v1/chat/completions",
    "/responses": "/v1/responses",
    "/embeddings": "/v1/embeddings",
    "/v1/messages": "/v1/messages",
}
MAX_REQUESTS = 50_000  # per input file (OpenAI's limit; Anthropic's is 100,000 a batch)
MAX_BYTES = 200 * 1024 * 1024  # per input file (Anthropic's: 256 MB a batch)
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
STATE_DIR = ".batches"

Key = tuple[str, str, int]  # a call: its case's cassette, the digest of its body, its occurrence in the case
CALL = "promptdrift.call"  # request.extensions key: the call (Key) a request is


def request_digest(body: bytes | Mapping[str, Any]) -> str:
    """A digest of a request body (sent bytes, or the body before it is sent), the same in every process."""
    try:
        data = json.loads(body) if isinstance(body, bytes) else body
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    except ValueError:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else repr(body)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _shape(provider: Provider, path: str, body: Mapping[str, Any]) -> tuple[Provider, str, str]:
    """What a request the SDK builds depends on besides its body: provider, endpoint, model (an Azure URL)."""
    return provider, path, str(body.get("model", ""))


@dataclass(frozen=True)
class Arrived:
    """A call's answer (or why there is none)."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)
    batch: str | None = None  # None: answered live (a streamed request)
    error: str | None = None

    def response(self, request: httpx2.Request) -> httpx2.Response:
        extensions = {BATCH: self.batch} if self.batch else {}
        return httpx2.Response(
            self.status, headers=list(self.headers), content=self.body, request=request, extensions=extensions
        )


@dataclass(frozen=True)
class Queued:
    """A request waiting for the next batch round."""

    key: Key
    provider: Provider
    endpoint: str
    model: str
    encoded: bytes  # its input-file line after the ``custom_id``: sized by :func:`plan`, then sent

    @classmethod
    def of(cls, key: Key, provider: Provider, endpoint: str, body: Mapping[str, Any]) -> Queued:
        """A request of ``body``, encoded as it is queued: the body itself is not kept (a first round of 10,000
        waiting requests grew the process by 27 MB with their bodies, 23 MB with their encoded lines).

        OpenAI's input-file line, ``{"custom_id", "method", "url", "body"}``, or Anthropic's batch request,
        ``{"custom_id", "params"}``."""
        rest = {"params": body} if provider.anthropic else {"method": "POST", "url": endpoint, "body": body}
        encoded = json.dumps(rest, ensure_ascii=False).encode("utf-8")[1:]
        return cls(key, provider, endpoint, str(body.get("model", "")), encoded)


class Lane(httpx2.BaseTransport):
    """One case's way to the provider under ``--prompt-batch`` (one per channel and provider)."""

    def __init__(self, run: BatchRun, display: str, provider: Provider) -> None:
        self.run, self.display, self.provider = run, display, provider
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def ask(self, path: str, body: Mapping[str, Any]) -> httpx2.Request | None:
        """Before a call is sent through the SDK: raise :class:`Deferred` (the call queued) unless its answer has
        arrived or it goes live; the SDK's request then reaches :meth:`handle_request` as the same call.

        A waiting call costs no ``openai`` client and no HTTP request (most calls of a first round wait).
        For a call a batch answered, returns the request the SDK would build, once it has built one to the
        same endpoint and model in this run (:meth:`BatchRun.request_like`): nothing is sent, and the SDK's
        part of a call was about a quarter of a round's CPU; ``None`` means through the SDK.
        """
        digest = request_digest(body)
        with self._lock:
            key = (self.display, digest, self._seen[digest])
        arrived = self.run.arrived(key)
        if arrived is None:
            self._wait(key, path, body, consumed=False)
            return None
        if arrived.batch is None or arrived.error is not None:  # a live answer, or an error: the SDK's way
            return None
        request = self.run.request_like(self.provider, path, body)
        if request is not None:  # this call, counted here: handle_request need not digest its body again
            with self._lock:
                self._seen[digest] += 1
            request.extensions[CALL] = key
        return request

    def learn(self, path: str, body: Mapping[str, Any], request: httpx2.Request) -> None:
        """Note the request the SDK built for a call (see :meth:`ask`)."""
        self.run.learn(self.provider, path, body, request)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        key = request.extensions.get(CALL)
        if key is None:  # the first attempt; a retry of the same request (or one ask built) is the same call
            digest = request_digest(body)
            with self._lock:
                key = (self.display, digest, self._seen[digest])
                self._seen[digest] += 1
            request.extensions[CALL] = key
        arrived = self.run.arrived(key)
        if arrived is not None:
            if arrived.error is not None:
                raise RecordingError(arrived.error)
            return arrived.response(request)
        data = json.loads(body)
        self._wait(key, request.url.path, data, consumed=True)
        return self.run.live(key, request)  # not batchable (streamed, or another endpoint)

    def _wait(self, key: Key, path: str, data: Any, *, consumed: bool) -> None:
        """Queue a batchable call and raise :class:`Deferred`; return for a call that must go live."""
        endpoint = next((e for suffix, e in ENDPOINTS.items() if path.endswith(suffix)), None)
        if endpoint is None or not isinstance(data, Mapping) or data.get("stream"):
            return
        if not consumed:
            with self._lock:
                self._seen[key[1]] += 1
        self.run.queue(Queued.of(key, self.provider, endpoint, data))
        raise Deferred(f"{self.display}: waiting for a batch")


@dataclass
class Part:
    """One batch: its requests (``custom_id`` to call) and how far it got; saved as a state file."""

    tag: str  # names the state file and the batch's metadata
    provider: Provider
    endpoint: str
    model: str
    requests: dict[str, Key]
    input_file: str | None = None
    batch: str | None = None
    status: str = "submitting"
    label: str = ""
    submitted_at: int = 0
    folded: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "label": self.label,
            "provider": {k: v for k, v in dataclasses.asdict(self.provider).items() if v is not None},
            "endpoint": self.endpoint,
            "model": self.model,
            "input_file": self.input_file,
            "batch": self.batch,
            "status": self.status,
            "submitted_at": self.submitted_at,
            "requests": {cid: list(key) for cid, key in self.requests.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        requests = {cid: (str(k[0]), str(k[1]), int(k[2])) for cid, k in data["requests"].items()}
        return cls(
            tag=data["tag"],
            provider=Provider(**data.get("provider", {})),
            endpoint=data["endpoint"],
            model=data["model"],
            requests=requests,
            input_file=data.get("input_file"),
            batch=data.get("batch"),
            status=data.get("status", "submitting"),
            label=data.get("label", ""),
            submitted_at=int(data.get("submitted_at", 0)),
        )


def state_folder(settings: Settings) -> Path:
    return settings.cassettes / STATE_DIR


def save_part(folder: Path, part: Part) -> None:
    """Write a part's state file atomically (the folder ignores itself in git)."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# promptdrift's pending batches (--prompt-batch): local state, never committed\n*\n")
    path = folder / f"{part.tag}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(part.to_json(), indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def load_parts(folder: Path) -> list[Part]:
    """The batches a run submitted and has not finished with; an unreadable state file is an error naming it."""
    parts = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            parts.append(Part.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordingError(
                f"{path}: cannot read this batch state file ({exc}). Run `promptdrift batch status` to see the "
                "batches, or delete the file to forget it (its batch is then not picked up again)."
            ) from None
    return parts


def drop_part(folder: Path, part: Part) -> None:
    (folder / f"{part.tag}.json").unlink(missing_ok=True)


def plan(queued: Iterable[Queued], max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES) -> list[list[Queued]]:
    """The batches to submit: one per provider, endpoint and model, split where a file would pass the limits."""
    groups: dict[tuple[Provider, str, str], list[Queued]] = {}
    for item in queued:
        groups.setdefault((item.provider, item.endpoint, item.model), []).append(item)
    parts: list[list[Queued]] = []
    for items in groups.values():
        current: list[Queued] = []
        size = 0
        for item in items:
            line = len(_line("r0", item)) + 1
            if current and (len(current) >= max_requests or size + line > max_bytes):
                parts.append(current)
                current, size = [], 0
            current.append(item)
            size += line
        if current:
            parts.append(current)
    return parts


def _line(custom_id: str, item: Queued) -> bytes:
    """One line of the JSONL input file: ``{"custom_id": ..., "method": "POST", "url": ..., "body": ...}``."""
    return b'{"custom_id": ' + json.dumps(custom_id).encode("ascii") + b", " + item.encoded


class BatchRun:
    """One pytest run's batch recording: queued calls, the batches that answer them, what has arrived."""

    def __init__(self, settings: Settings, *, say: Callable[[str], None], label: str = "pytest", poll: float = 30.0):
        self.settings = settings
        self.say = say
        self.label = label[:500]  # batch metadata values are at most 512 characters
        self.poll = poll
        self.folder = state_folder(settings)
        self.parts = load_parts(self.folder)
        self._known = {key: part for part in self.parts for key in part.requests.values()}
        self._arrived: dict[str, dict[tuple[str, int], Arrived]] = {}  # by case cassette, then call
        self._queued: dict[Key, Queued] = {}
        self._clients: dict[Provider, Any] = {}
        self._lock = threading.Lock()
        self._turn = threading.Lock()
        self._in_turn = threading.local()
        # _shape() of a request the SDK built: its URL and the headers a cassette keeps (see learn)
        self._shapes: dict[tuple[Provider, str, str], tuple[str, tuple[tuple[str, str], ...]]] = {}
        self.created = 0  # batches this process created
        self.rounds = 0

    # -- from the lanes (any thread) -------------------------------------------------

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Run one case's attempt of a round in its turn: one case at a time does its own work.

        A round is CPU work (its answers come from batches), so threads that take turns finish it sooner
        than threads contending for the interpreter lock (fewer switches). A live call (:meth:`live`)
        gives the turn up while it waits for the provider, so those calls still overlap. The turn is taken
        before a request slot (:mod:`promptdrift.record.upstream`) and a live call gives it up holding one:
        this cannot deadlock because the rounds' pool has no more threads than there are slots (both are
        ``--prompt-concurrency``), so the turn's holder always finds a slot free.
        """
        with self._turn:
            self._in_turn.held = True
            try:
                yield
            finally:
                self._in_turn.held = False

    def lane(self, recorder: Recorder, provider: Provider) -> Lane:
        """The lane of one case's channel to ``provider`` (a :data:`~promptdrift.record.client.Route`)."""
        return Lane(self, recorder.display, provider)

    def arrived(self, key: Key) -> Arrived | None:
        with self._lock:
            return self._found(key)

    def _found(self, key: Key) -> Arrived | None:
        """The answer noted for a call (the lock held)."""
        return self._arrived.get(key[0], {}).get(key[1:])

    def _keep(self, key: Key, arrived: Arrived) -> None:
        """Note an answer (the lock held)."""
        self._arrived.setdefault(key[0], {})[key[1:]] = arrived

    def forget(self, displays: set[str]) -> None:
        """Drop what arrived for these cases: they finished, and their answers are in their cassettes."""
        if displays:
            with self._lock:
                for display in displays:
                    self._arrived.pop(display, None)

    def learn(self, provider: Provider, path: str, body: Mapping[str, Any], request: httpx2.Request) -> None:
        """Note how the SDK built a request to ``provider``'s ``path`` for the body's model: its URL (base URL,
        routing, query) and the headers a cassette keeps. Everything else it adds never reaches a cassette."""
        kept = tuple((k, v) for k, v in request.headers.multi_items() if k.lower() in REQUEST_HEADERS)
        with self._lock:
            self._shapes.setdefault(_shape(provider, path, body), (str(request.url), kept))

    def request_like(self, provider: Provider, path: str, body: Mapping[str, Any]) -> httpx2.Request | None:
        """The request the SDK would build for ``body``, as one built for the same provider, path and model
        (:meth:`learn`), with this body; ``None`` until the SDK has built one."""
        with self._lock:
            shape = self._shapes.get(_shape(provider, path, body))
        if shape is None:
            return None
        url, headers = shape
        # Encoded as the SDK encodes a JSON body (a cassette keeps the body as data, and so does its digest).
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        return httpx2.Request("POST", url, headers=headers, content=content)

    def queue(self, item: Queued) -> None:
        with self._lock:
            self._queued[item.key] = item

    def live(self, key: Key, request: httpx2.Request) -> httpx2.Response:
        """A request the Batch API cannot take, sent now; a usable answer is kept for the case's next round."""
        held = getattr(self._in_turn, "held", False)
        if held:
            self._turn.release()  # other cases run while this one waits for the provider
        try:
            response = shared_upstream().handle_request(request)
            try:
                content = response.read()
            finally:
                response.close()
        finally:
            if held:
                self._turn.acquire()
        arrived = Arrived(response.status_code, content, tuple(plain_headers(response)))
        if 200 <= arrived.status < 300 and answer_fault(response.headers.get("content-type", ""), content) is None:
            with self._lock:
                self._keep(key, arrived)
        return arrived.response(request)

    # -- between rounds (the scheduler's thread) ---------------------------------------

    def settle(self) -> None:
        """Submit what the last round queued (nothing a known batch already holds), wait, take in the output.

        A failure of the provider's Files or Batches API is a :class:`RecordingError` that says what to do;
        what was submitted stays noted in the state folder, so the same command picks it up.
        """
        try:
            self._settle()
        except sdk_errors() as exc:
            said = short(Scrubber(dict(self.settings.credentials)).text(str(exc)))
            raise RecordingError(
                f"the provider's Batch API failed ({type(exc).__name__}: {said}). Batches already submitted are "
                f"noted in {self._shown(self.folder)}: re-run the same command to pick them up "
                "(promptdrift batch status shows them)."
            ) from None

    def _settle(self) -> None:
        with self._lock:
            queued, self._queued = list(self._queued.values()), {}
        self.rounds += 1
        for part in [p for p in self.parts if p.batch is None and p.input_file is None]:
            # Noted, then stopped before its upload: it never reached the provider; its calls go out afresh.
            self.parts.remove(part)
            drop_part(self.folder, part)
            for key in part.requests.values():
                self._known.pop(key, None)
        needed = {self._known[q.key].tag: self._known[q.key] for q in queued if q.key in self._known}
        if needed:
            self.say(f"promptdrift: picking up {len(needed)} batch(es) submitted by an earlier run (nothing resent)")
        keys = [q.key for q in queued]
        fresh_parts = [self._submit(items) for items in plan([q for q in queued if q.key not in self._known])]
        # The requests are in the input files now (or in a known batch): their bodies are not needed again, and
        # a round of 10,000 holds 20 MB of them, freed here for the answers about to arrive.
        del queued
        needed.update((part.tag, part) for part in fresh_parts)
        for part in needed.values():
            if part.batch is None:
                self._create(part, search=part not in fresh_parts)
        self._wait(list(needed.values()))
        with self._lock:
            for key in keys:
                if self._found(key) is None:
                    part = self._known[key]
                    missing = (
                        f"{key[0]}: batch {part.batch} ({part.status}) returned no answer for this request. "
                        "Nothing was recorded for this case; re-run the same command to submit it again."
                    )
                    self._keep(key, Arrived(error=missing))

    def finish(self) -> None:
        """Forget the batches whose answers were taken in (their cases have saved, or failed for good)."""
        for part in self.parts:
            if part.folded:
                drop_part(self.folder, part)

    # -- talking to the provider ------------------------------------------------------

    def _client(self, provider: Provider) -> Any:
        if provider not in self._clients:
            self._clients[provider] = provider_client(self.settings, provider)
        return self._clients[provider]

    def _submit(self, items: list[Queued]) -> Part:
        first = items[0]
        provider = dataclasses.replace(first.provider, base_url=self.settings.resolved_base_url(first.provider))
        part = Part(
            tag="pd-" + secrets.token_hex(8),
            provider=provider,
            endpoint=first.endpoint,
            model=first.model,
            requests={f"r{n}": item.key for n, item in enumerate(items)},
            label=self.label,
            submitted_at=int(time.time()),
        )
        save_part(self.folder, part)  # before anything is sent: a run that dies now resends nothing paid for
        self.parts.append(part)
        with self._lock:
            self._known.update({item.key: part for item in items})
        lines = [_line(f"r{n}", item) for n, item in enumerate(items)]
        if provider.anthropic:  # no upload: the requests go with the batch, created here
            created = self._client(provider).messages.batches.create(requests=[json.loads(line) for line in lines])
            self._created(part, created.id, _anthropic_status(created))
            return part
        uploaded = self._client(first.provider).files.create(
            file=(f"promptdrift-{part.tag}.jsonl", b"\n".join(lines) + b"\n"), purpose="batch"
        )
        part.input_file = uploaded.id
        save_part(self.folder, part)
        return part

    def _create(self, part: Part, *, search: bool) -> None:
        """Create the part's batch; ``search``: first look for the one an earlier run created but did not note."""
        client = self._client(part.provider)
        found = _created_batch(client, part) if search else None
        if found is not None:
            self._noted(part, found.id, found.status)
        else:
            batch = client.batches.create(
                input_file_id=part.input_file,
                endpoint=part.endpoint,
                completion_window="24h",
                metadata={"promptdrift": part.tag, "promptdrift_run": part.label or self.label},
            )
            self._created(part, batch.id, batch.status)

    def _created(self, part: Part, batch: str, status: str) -> None:
        """Note a batch this run created (its state file first: a run stopped after this resends nothing)."""
        self.created += 1
        self._noted(part, batch, status)

    def _noted(self, part: Part, batch: str, status: str) -> None:
        part.batch, part.status = batch, status
        save_part(self.folder, part)
        self.say(
            f"promptdrift: batch {part.batch} submitted: {len(part.requests)} request(s) to {part.endpoint} "
            f"({part.model}); state in {self._shown(self.folder)}"
        )

    def _wait(self, parts: list[Part]) -> None:
        started = time.monotonic()
        open_parts = list(parts)
        shown: dict[str, str] = {}
        while open_parts:
            for part in list(open_parts):
                batch = _batches(self._client(part.provider), part).retrieve(part.batch)
                progress = Progress.of(part, batch)
                part.status = progress.status
                line = f"promptdrift: batch {part.batch} ({part.endpoint}, {part.model}): {progress}"
                if shown.get(part.tag) != line:
                    shown[part.tag] = line
                    self.say(f"{line}, {time.monotonic() - started:.0f} s")
                if progress.status in TERMINAL:
                    self._fold(part, batch)
                    open_parts.remove(part)
            if open_parts:
                time.sleep(self.poll)

    def _fold(self, part: Part, batch: Any) -> None:
        """Take in a finished batch's output and error files: each answer by its call, each failure by its case."""
        arrived: dict[Key, Arrived] = {}
        for entry in self._outcomes(part, batch):
            key = part.requests.get(entry.get("custom_id", ""))
            if key is not None and key not in arrived:
                arrived[key] = self._answer(part, key, entry)
        if part.status != "completed":
            errors = getattr(batch, "errors", None)
            reasons = "; ".join(e.message for e in (errors.data or [])) if errors else ""
            ended = f"ended {part.status}" + (f" ({reasons})" if reasons else "")
            for key in part.requests.values():
                arrived.setdefault(
                    key,
                    Arrived(
                        error=f"{key[0]}: batch {part.batch} {ended} before answering this request. Nothing was "
                        "recorded for this case; re-run the same command to submit what is missing."
                    ),
                )
        with self._lock:
            for key, answer in arrived.items():
                self._keep(key, answer)
        part.folded = True

    def _outcomes(self, part: Part, batch: Any) -> Iterator[dict[str, Any]]:
        """A finished batch's lines, ``{"custom_id", "response": {"status_code", "body"}}``: OpenAI's output
        file, then its error file; a Message Batch's results (fetched as sent, so that a cassette keeps each
        message exactly as the API wrote it), in the same form."""
        client = self._client(part.provider)
        if not part.provider.anthropic:
            for file in (batch.output_file_id, batch.error_file_id):
                if file:
                    yield from _entries(client.files.content(file).read())
            return
        if not batch.results_url:
            return
        results = client.get(
            batch.results_url, cast_to=httpx2.Response, options={"headers": {"Accept": "application/binary"}}
        )
        for entry in _entries(results.read()):
            result = entry.get("result")
            if not isinstance(result, dict):
                continue
            if result.get("type") == "succeeded":
                response = {"status_code": 200, "body": result.get("message")}
            else:  # errored (its error), canceled or expired
                error = (result.get("error") or {}).get("error") or {"message": f"the request {result.get('type')}"}
                response = {"status_code": 400 if result.get("type") == "errored" else 0, "body": {"error": error}}
            yield {"custom_id": entry.get("custom_id"), "response": response}

    def _answer(self, part: Part, key: Key, entry: dict[str, Any]) -> Arrived:
        response = entry.get("response") or {}
        status = int(response.get("status_code") or 0)
        body = response.get("body")
        if 200 <= status < 300 and isinstance(body, dict) and not entry.get("error"):
            headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)
            if response.get("request_id"):
                headers += (("x-request-id", str(response["request_id"])),)
            return Arrived(status, json.dumps(body).encode("utf-8"), headers, batch=part.batch)
        error = entry.get("error") or (body.get("error") if isinstance(body, dict) else None) or {}
        message = error.get("message") if isinstance(error, dict) else str(error)
        said = f"HTTP {status}: " if status else ""
        return Arrived(
            error=f"{key[0]}: batch {part.batch} could not answer this request ({said}{message or 'no message'}). "
            "Nothing was recorded for this case; fix the cause and re-run the same command to submit it again."
        )

    def _shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.settings.rootdir).as_posix()
        except ValueError:
            return str(path)


def sdk_errors() -> tuple[type[Exception], ...]:
    """The API errors of the SDKs loaded (``anthropic``'s only once a Message Batch was made)."""
    errors: list[type[Exception]] = [openai.APIError]
    if "anthropic" in sys.modules:
        errors.append(sys.modules["anthropic"].APIError)
    return tuple(errors)


def _created_batch(client: Any, part: Part) -> Any:
    """The batch an earlier run created for ``part`` (by its metadata tag), newest first, back to the part's start."""
    for batch in client.batches.list(limit=100):
        if (batch.metadata or {}).get("promptdrift") == part.tag:
            return batch
        if part.submitted_at and batch.created_at < part.submitted_at - 3600:
            return None  # older than the part itself: it was never created
    return None


def _entries(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            try:
                entry = json.loads(line)
            except ValueError:
                log.warning("promptdrift: skipped an unreadable line of a batch output file")
                continue
            if isinstance(entry, dict):
                yield entry


@dataclass(frozen=True)
class Progress:
    """How far a batch got, in OpenAI's terms (a Message Batch's ``ended`` is ``completed``)."""

    status: str
    done: int = 0
    failed: int = 0
    total: int = 0

    @classmethod
    def of(cls, part: Part, batch: Any) -> Progress:
        counts, asked = batch.request_counts, len(part.requests)
        if part.provider.anthropic:
            if counts is None:
                return cls(_anthropic_status(batch), total=asked)
            failed = counts.errored + counts.canceled + counts.expired
            total = failed + counts.succeeded + counts.processing
            return cls(_anthropic_status(batch), counts.succeeded, failed, total or asked)
        if counts is None:
            return cls(batch.status, total=asked)
        return cls(batch.status, counts.completed, counts.failed, counts.total or asked)

    def __str__(self) -> str:
        return f"{self.status}, {self.done}/{self.total} done, {self.failed} failed"


def _anthropic_status(batch: Any) -> str:
    """A Message Batch's ``processing_status`` in OpenAI's terms: ``ended`` is ``completed`` (the failures of its
    requests are in its results), ``canceling`` is ``cancelling``."""
    return {"ended": "completed", "canceling": "cancelling"}.get(batch.processing_status, batch.processing_status)


def _batches(client: Any, part: Part) -> Any:
    """The client's batches resource for ``part``: ``batches`` (OpenAI) or ``messages.batches`` (Anthropic)."""
    return client.messages.batches if part.provider.anthropic else client.batches


@dataclass
class PendingBatch:
    """What ``promptdrift batch status`` shows of one state file."""

    part: Part
    status: str
    counts: str = ""


def pending_batches(settings: Settings) -> Iterator[PendingBatch]:
    """The batches in the state folder, each with its status at the provider."""
    for part in load_parts(state_folder(settings)):
        if part.batch is None:
            yield PendingBatch(part, "not created")
            continue
        progress = Progress.of(part, _batches(provider_client(settings, part.provider), part).retrieve(part.batch))
        said = f"{progress.done}/{progress.total} done, {progress.failed} failed"
        yield PendingBatch(part, progress.status, said)


def cancel_batches(settings: Settings) -> Iterator[tuple[Part, str]]:
    """Cancel every pending batch and forget it; yields each with what happened."""
    folder = state_folder(settings)
    for part in load_parts(folder):
        if part.batch is None:
            drop_part(folder, part)
            yield part, "never created: forgotten"
            continue
        batches = _batches(provider_client(settings, part.provider), part)
        status = Progress.of(part, batches.retrieve(part.batch)).status
        if status not in TERMINAL:
            status = Progress.of(part, batches.cancel(part.batch)).status
        drop_part(folder, part)
        yield part, status

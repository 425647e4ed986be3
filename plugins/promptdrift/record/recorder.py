"""The record/replay state of one cassette: what replays, what is recorded, what is drift.

A :class:`Recorder` belongs to one case (or one code-first test). Requests
reach it two ways, both decided by the one matcher, :meth:`Recorder._match`:

* :meth:`Recorder.find`, the fast replay path of :meth:`Channel.call
  <promptdrift.record.client.Channel.call>`: a request found in the cassette is
  answered without building an ``openai`` client at all;
* :meth:`Recorder.lookup`, from the HTTP transport every ``openai`` client of
  the case is given (:mod:`promptdrift.record.transport`): a request not found
  is recorded, re-recorded, or is prompt drift, by the record mode.

A request matches the first not-yet-played interaction with the same method,
the same endpoint path (a recorded path ending with the requested one) and an
equal JSON body, so repeated identical requests (samples) replay in recorded
order, never the first answer N times. Hosts, ports and headers never take part.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from promptdrift.cassettes import format as cassettes
from promptdrift.cassettes.format import Cassette, Interaction
from promptdrift.cassettes.meta import cassette_metadata
from promptdrift.cassettes.secrets import Scrubber
from promptdrift.core.errors import (
    CassetteError,
    ConfigError,
    DriftError,
    Halted,
    MissingCassetteError,
    RecordingError,
)
from promptdrift.core.modes import RecordMode, record_command
from promptdrift.record.adapters import call_summary
from promptdrift.record.upstream import shared_upstream
from promptdrift.text import yamlio

if TYPE_CHECKING:
    import httpx2

# The disk refuses any file, not this one: a full disk, a read-only file system, a quota.
DISK_ERRORS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT})

# Why an answer about the key or account is never written (docs/recording.md, "What is recorded").
REFUSED_WHY = "401, 402, 403 and 407 answers are never recorded (a wrong key while recording must not become a fixture)"


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
        scrubber: Scrubber | None = None,
        strict: bool = False,
        root: Path | None = None,
        max_mb: float = cassettes.MAX_MB,
    ) -> None:
        self.path = path
        self.root = root  # the cassette folder: nothing is written outside it, even through a symbolic link
        # Secrets are scrubbed from what is written, and from live requests before they are matched.
        self.scrubber = scrubber or Scrubber()
        self.mode = mode
        self.display = display
        self.record_hint = record_command(target, RecordMode.NEW)
        self.rerecord_hint = record_command(target, RecordMode.CHANGED)
        self.api_key_missing = api_key_missing
        self.old: Cassette | None = None
        # An answer an earlier run received and could not write (a full disk): used instead of calling again.
        self.spooled = spool_of(root, path) if root is not None and mode is not RecordMode.NONE else None
        if self.spooled is not None and (path.exists() or not self.spooled.is_file()):
            self.spooled = None
        if self.spooled is not None:
            self.old = cassettes.load(self.spooled, display=display, max_mb=max_mb)
        elif path.exists():
            try:
                hint = record_command(target, RecordMode.ALL)
                self.old = cassettes.load(path, display=display, rerecord_hint=hint, max_mb=max_mb)
            except CassetteError:
                if mode is not RecordMode.ALL:
                    raise
                # Re-recording everything: a corrupt cassette is replaced, with no baseline to compare.
        self.recording = mode is RecordMode.ALL or (self.old is None and mode is not RecordMode.NONE)
        if strict and not self.recording and self.old is not None and self.old.integrity != cassettes.INTACT:
            why = (
                "edited by hand since it was recorded: its interactions or metadata no longer match the digest "
                "promptdrift wrote"
                if self.old.integrity == cassettes.EDITED
                else "it has no digest, so an edit by hand cannot be told apart (a deleted digest: line, or a "
                "cassette written by hand or by an older promptdrift)"
            )
            raise CassetteError(
                f"{why} (--prompt-strict-cassettes). Re-record it: {record_command(target, RecordMode.ALL)}",
                path=display,
            )
        self.played = [False] * (len(self.old.interactions) if self.old else 0)
        self.interactions: list[Interaction] = []
        self.calls: list[dict[str, Any]] = []
        self.recorded = False
        self.errors: list[Exception] = []
        # Answers this run received and did not record (401, 403...): {status, fingerprint, at}; kept in the
        # cassette's metadata so that its replay names them instead of showing drift against another request.
        self.refused: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @property
    def cassette_state(self) -> str | None:
        """``edited`` or ``no digest`` when this run replays a cassette in that state; else ``None``."""
        if self.old is None or self.needs_save or self.old.integrity == cassettes.INTACT:
            return None
        return self.old.integrity

    # -- replay ------------------------------------------------------------------

    def _match(self, method: str, path: str, body: Any) -> int | None:
        """The one matcher: the first unplayed interaction with this method, endpoint and JSON body."""
        assert self.old is not None
        for index, interaction in enumerate(self.old.interactions):
            if (
                not self.played[index]
                and interaction.method == method
                and interaction.path.endswith(path)
                and interaction.request_json == body
            ):
                return index
        return None

    def find(self, method: str, path: str, body: Any) -> Interaction | None:
        """The fast replay path: the recorded interaction for this request, or ``None`` without side effects.

        ``path`` is the endpoint (``/chat/completions``); on ``None`` the caller
        sends the request through the ``openai`` client, whose transport
        records, re-records or reports drift with a diff (:meth:`lookup`).
        """
        with self._lock:
            if self.recording or self.old is None:
                return None
            index = self._match(method, path, self.scrubber.data(json.loads(json.dumps(body))))  # as the SDK sends it
            if index is None or self.old.interactions[index].is_error:
                return None  # an error answer replays through the SDK, which raises it as it did when recorded
            return self._play(index)

    def lookup(self, method: str, uri: str, body: bytes) -> Interaction | None:
        """From the transport: the interaction to replay, or ``None`` to send the request upstream."""
        with self._lock:
            if self.recording:
                return None
            if self.old is None:
                raise self.missing()
            index = self._match(method, self.scrubber.text(urlsplit(uri).path), self._live(body))
            if index is not None:
                return self._play(index)
            if self.mode is RecordMode.CHANGED:
                self.recording = True  # re-record the rest of this case; the old cassette is the baseline
                return None
            refused = self._refused_when_recorded(method, uri, body)
            raise self._error(refused or self._drift(method, uri, body))

    def missing(self) -> MissingCassetteError:
        """The error for a recording this run needs and does not have."""
        return self._error(  # type: ignore[return-value]
            MissingCassetteError(f"no recording at {self.display}. Record it with: {self.record_hint}", path=None)
        )

    def changed(self, what: str, recorded: Any, current: Any) -> DriftError:
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

    def _drift(self, method: str, uri: str, body: bytes) -> DriftError:
        assert self.old is not None
        path = urlsplit(uri).path
        unplayed = [i for i, done in zip(self.old.interactions, self.played, strict=True) if not done]
        same_path = [i for i in unplayed if i.path == path and i.method == method]
        candidates = same_path or unplayed or self.old.interactions[-1:]
        if not unplayed:
            headline = f"this run made more requests than were recorded in {self.display}"
        else:
            headline = f"the request differs from the one recorded in {self.display}"
        recorded = candidates[0].request_json if candidates else ""
        return self._drift_error(headline, recorded, self._live(body))

    def _refused_when_recorded(self, method: str, uri: str, body: bytes) -> MissingCassetteError | None:
        """The error for a request whose answer was not recorded (a 401 or 403 then), if this is one."""
        assert self.old is not None
        refused = self.old.meta.get("refused") or []
        mark = self._mark(method, uri, body)
        status = next((r.get("status") for r in refused if isinstance(r, dict) and r.get("fingerprint") == mark), None)
        if status is None:
            return None
        return MissingCassetteError(
            f"no recording of this request in {self.display}: it was answered HTTP {status} when the cassette was "
            f"recorded, and {REFUSED_WHY}. Record it with a key that works: {self.rerecord_hint}"
        )

    def _live(self, body: bytes) -> Any:
        """A live request body as the cassette would hold it: decoded, secrets scrubbed."""
        return self.scrubber.data(cassettes.canonical_body(body))

    def _drift_error(self, headline: str, recorded: Any, current: Any) -> DriftError:
        """Prompt drift: what changed, the diff of the recorded and the current form, and how to re-record."""
        diff = drift_diff(recorded, current)
        return DriftError(
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
                DriftError(
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
        if shared_upstream.halted is not None:
            raise self._error(Halted(f"not called: this run stopped calling the model ({shared_upstream.halted})"))

    def keep(
        self,
        request: httpx2.Request,
        body: bytes,
        status: int,
        reason: str,
        headers: httpx2.Headers,
        content: bytes,
        latency_ms: float,
        batch: str | None = None,
    ) -> Interaction:
        """Record a usable answer (the transport never passes an error status) and return it.

        ``batch``: the id of the provider batch that answered (``--prompt-batch``), kept in the call's metadata.
        """
        scrub = self.scrubber
        stream = "text/event-stream" in headers.get("content-type", "")
        interaction = Interaction(
            method=request.method,
            uri=scrub.text(cassettes.scrub_uri(str(request.url))),
            request_body=cassettes.readable_body(body, scrub),
            response_status=status,
            response_reason=scrub.text(reason),
            response_headers=cassettes.keep_headers(headers.multi_items(), cassettes.RESPONSE_HEADERS, scrub),
            response_body=cassettes.readable_body(content, scrub, event_stream=stream),
            latency_ms=round(latency_ms, 1),
            request_headers=cassettes.keep_headers(request.headers.multi_items(), cassettes.REQUEST_HEADERS, scrub),
        )
        meta = self._call_meta(interaction)
        if batch is not None:
            meta["batch"] = batch
        interaction.meta = meta
        with self._lock:
            self.interactions.append(interaction)
            self.calls.append(meta)
            self.recorded = True
        return interaction

    @staticmethod
    def _call_meta(interaction: Interaction) -> dict[str, Any]:
        if interaction.meta and "fingerprint" in interaction.meta:
            return interaction.meta  # replayed: worked out when it was recorded
        meta: dict[str, Any] = {
            "fingerprint": interaction.fingerprint,
            "latency_ms": interaction.latency_ms,
        }
        summary = call_summary(interaction)
        request = interaction.request_json
        if isinstance(request, dict) and request.get("model"):
            meta["model_requested"] = request["model"]
        if summary.get("model"):
            meta["model_returned"] = summary["model"]
        if summary.get("usage"):
            meta["usage"] = summary["usage"]
        return meta

    def refuse(self, request: httpx2.Request, body: bytes, status: int) -> None:
        """Note an answer that is not recorded (401, 403...: about the key, not the request)."""
        mark = self._mark(request.method, str(request.url), body)
        with self._lock:
            self.refused.append({"status": status, "fingerprint": mark, "at": len(self.interactions)})

    def _mark(self, method: str, uri: str, body: bytes) -> str:
        """A live request's fingerprint as its recorded interaction would have it (secrets scrubbed)."""
        return cassettes.fingerprint(method, self.scrubber.text(cassettes.scrub_uri(uri)), json.dumps(self._live(body)))

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

    def gap(self) -> str | None:
        """What a recording run left out of this cassette that its replay will need, in words (or ``None``)."""
        if not self.recording:
            return None
        if self.errors:
            first = str(self.errors[0]).splitlines()[0]
            return f"{self.display}: nothing was written, because a call failed while recording ({first})"
        if self.refused:
            statuses = ", ".join(sorted({str(r["status"]) for r in self.refused}))
            return (
                f"{self.display}: {len(self.refused)} answer(s) with HTTP {statuses} were not recorded ({REFUSED_WHY}); "
                f"its replay fails until it is re-recorded with a key that works: {self.rerecord_hint}"
            )
        return None

    @property
    def needs_save(self) -> bool:
        """Something was recorded, a spooled answer is to be put in place, or a replay used fewer
        interactions in a re-recording mode."""
        if self.recorded or self.spooled is not None:
            return True
        trimmed = self.old is not None and self.unplayed() > 0
        return trimmed and self.mode in (RecordMode.CHANGED, RecordMode.ALL)

    def save(
        self,
        owner: dict[str, Any],
        answers: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Write the new cassette (atomically) with the metadata drift detection needs.

        ``owner`` names the case (suite, variant, case) or the test; ``answers``
        are what the run concluded of each answer (the first one is the case's);
        see :func:`~promptdrift.cassettes.meta.cassette_metadata`.
        """
        if self.root is not None and not self.path.resolve().is_relative_to(self.root.resolve()):
            raise CassetteError(
                f"leads outside the cassette folder {self.root} (to {self.path.resolve().parent}, through a symbolic "
                "link): promptdrift does not write there. Replace the link with a folder, or point "
                "--prompt-cassette-dir at that place itself",
                path=self.display,
            )
        extra = {**(extra or {}), **({"refused": self.refused} if self.refused else {})}
        meta = self.scrubber.data(cassette_metadata(self.calls, owner=owner, answers=answers or [], extra=extra))
        try:
            cassettes.save(Cassette(self.path, list(self.interactions), meta))
        except OSError as exc:
            raise self._not_written(exc, meta) from None
        if self.spooled is not None:
            self.spooled.unlink(missing_ok=True)

    def _not_written(self, exc: OSError, meta: dict[str, Any]) -> CassetteError:
        """A cassette that cannot be written: its answers go to the spool. When the disk itself refuses (full,
        read-only, over quota), no further request leaves the process in this run: each would be paid for and
        lost too."""
        why = exc.strerror or type(exc).__name__
        disk = exc.errno in DISK_ERRORS
        if disk:
            shared_upstream.halt(f"{self.display} could not be written: {why}")
        kept = f"Its answers are lost: the spool could not be written either. Re-record: {self.record_hint}"
        if self.root is not None and self.spooled is None:
            spool = spool_of(self.root, self.path)
            try:
                cassettes.save(Cassette(spool, list(self.interactions), meta))
            except OSError:
                pass
            else:
                kept = (
                    f"Its answers are kept in {spool}: once the folder can be written, re-run with "
                    f"{self.record_hint} and they are put in place without calling the model again"
                )
        stop = "This run calls the model no more (each further answer would be paid for and lost). " if disk else ""
        return CassetteError(f"could not be written ({why}). {stop}{kept}", path=self.display)


def spool_of(root: Path, path: Path) -> Path:
    """Where the answers of the cassette at ``path`` wait when it could not be written: the system's
    temporary folder, by the cassette folder and the cassette's place in it (another file system than
    a full or read-only cassette folder, as a rule)."""
    where = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    try:
        relative = path.relative_to(root)
    except ValueError:
        relative = Path(path.name)
    return Path(tempfile.gettempdir(), "promptdrift-spool", where, relative)

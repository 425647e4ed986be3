"""Cassette files: vcrpy's format, readable, scrubbed, written atomically.

A cassette is one YAML file per case (``cassettes/<suite>/<case>.yaml``) in
vcrpy's version-1 format, so ``vcr.use_cassette`` can load it. On top of what
vcrpy stores, promptdrift keeps:

* JSON bodies pretty-printed, so a pull request's diff shows how answers changed;
* only allow-listed headers — nothing that authenticates or identifies an account;
* a ``metadata.promptdrift`` block: when and with which model it was recorded, the
  request fingerprints, latency, token usage and the check results at recording
  time (the drift baseline).

Files are written to a temporary file and renamed, so a cassette on disk is
always either the old one or the complete new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from promptdrift.cassettes.secrets import Scrubber
from promptdrift.core.errors import CassetteError
from promptdrift.text import yamlio

FORMAT = 1  # promptdrift's metadata format, on top of vcrpy's cassette format version
# vcrpy's ``vcr.serialize.CASSETTE_FORMAT_VERSION``; importing vcrpy costs a third of a
# second (it loads stubs for every HTTP library), so only writing a cassette does.
VCR_FORMAT_VERSION = 1

# Events that end a stream: chat completions send [DONE]; the Responses API and Anthropic a terminal event.
STREAM_ENDS = ("data: [DONE]", "response.completed", "response.incomplete", "response.failed", "message_stop")

# Headers worth keeping: they describe the content, never the account.
REQUEST_HEADERS = frozenset({"content-type", "accept", "anthropic-version", "anthropic-beta"})  # they change the answer
RESPONSE_HEADERS = frozenset({"content-type", "openai-processing-ms", "openai-version"})
# Query parameters that select an API version; anything else (e.g. an ``api-key``) is dropped.
QUERY_PARAMS = frozenset({"api-version"})


class _Serializer:
    """vcrpy serializer protocol over promptdrift's safe, readable YAML."""

    @staticmethod
    def serialize(data: Any) -> str:
        return yamlio.dumps(data)

    @staticmethod
    def deserialize(text: str) -> Any:
        return yamlio.loads(text, path="<cassette>")


SERIALIZER = _Serializer()


def scrub_uri(uri: str) -> str:
    """Drop user info and non-allow-listed query parameters from a URL."""
    parts = urlsplit(uri)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() in QUERY_PARAMS])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def keep_headers(
    headers: Iterable[tuple[str, str]], allowed: frozenset[str], scrubber: Scrubber | None = None
) -> dict[str, list[str]]:
    """Headers by allow-list, in vcrpy's ``{name: [values]}`` form (values scrubbed: a server may echo a key)."""
    kept: dict[str, list[str]] = {}
    for name, value in headers:
        if name.lower() in allowed:
            kept.setdefault(name.lower(), []).append(scrubber.text(value) if scrubber is not None else value)
    return kept


def readable_body(body: bytes, scrubber: Scrubber | None = None, *, event_stream: bool = False) -> str:
    """Body text for the cassette, secrets scrubbed: JSON pretty-printed, events and anything else as text."""
    text = body.decode("utf-8", errors="replace")
    if event_stream:
        return scrub_event_stream(text, scrubber) if scrubber is not None else text
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except ValueError:
            pass
        else:
            pretty = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
            if scrubber is not None and not scrubber.clean_dump(pretty):
                pretty = json.dumps(scrubber.data(data), indent=2, ensure_ascii=False) + "\n"
            # Inside JSON strings only: escaped, they keep the body a readable literal block in the cassette.
            return pretty.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return scrubber.text(text) if scrubber is not None else text


def _delta_slots(doc: Any) -> list[tuple[tuple[Any, ...], dict[str, Any], str]]:
    """The streamed text pieces of one event: ``(stream, holder, key)``, where ``holder[key]`` is the piece."""
    slots: list[tuple[tuple[Any, ...], dict[str, Any], str]] = []
    if not isinstance(doc, dict):
        return slots
    for choice in doc.get("choices") or []:  # chat completions: content and tool-call arguments by choice
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        if isinstance(delta.get("content"), str):
            slots.append((("content", choice.get("index")), delta, "content"))
        for call in delta.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                slots.append((("arguments", choice.get("index"), call.get("index")), function, "arguments"))
    kind = doc.get("type")
    if isinstance(kind, str) and kind.endswith(".delta") and isinstance(doc.get("delta"), str):  # Responses API
        slots.append(((kind, doc.get("output_index"), doc.get("content_index")), doc, "delta"))
    delta = doc.get("delta")
    if kind == "content_block_delta" and isinstance(delta, dict):  # Anthropic: text, and tool input as JSON text
        for key in ("text", "partial_json"):
            if isinstance(delta.get(key), str):
                slots.append((("block", doc.get("index"), key), delta, key))
    return slots


def scrub_event_stream(text: str, scrubber: Scrubber) -> str:
    """A server-sent-events body with its secrets scrubbed, including one split over several deltas.

    Each stream of deltas (a choice's content, a tool call's arguments, a
    Responses text) is scrubbed as the whole text it makes; then every event's
    other strings. Only the ``data:`` lines that changed are written anew.
    """
    lines = text.split("\n")
    docs: dict[int, Any] = {}
    for number, line in enumerate(lines):
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            try:
                docs[number] = json.loads(line[5:])
            except ValueError:
                lines[number] = scrubber.text(line)
    streams: dict[tuple[Any, ...], list[tuple[int, dict[str, Any], str]]] = {}
    for number, doc in docs.items():
        for stream, holder, key in _delta_slots(doc):
            streams.setdefault(stream, []).append((number, holder, key))
    touched: set[int] = set()  # lines whose deltas held (part of) a secret
    for slots in streams.values():
        for (number, holder, key), piece in zip(slots, scrubber.fragments([h[k] for _, h, k in slots]), strict=True):
            if piece != holder[key]:
                holder[key] = piece
                touched.add(number)
    for number, doc in docs.items():
        clean = scrubber.data(doc)
        if number in touched or clean != doc:
            lines[number] = "data: " + json.dumps(clean, ensure_ascii=False)
    return "\n".join(lines)


def canonical_body(body: bytes | str | None) -> Any:
    """The request body as data when it is JSON (so formatting never matters), else as text."""
    if body is None:
        return None
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text)
    except ValueError:
        return text


def fingerprint(method: str, uri: str, body: bytes | str | None) -> str:
    """What identifies a request for replay: method, path, allow-listed query and JSON body.

    Host and port are left out, so cassettes recorded against one endpoint
    replay whatever base URL is configured; headers (the SDK's volatile
    ``x-stainless-*``, ``user-agent``) never take part.
    """
    parts = urlsplit(scrub_uri(uri))
    key = json.dumps(
        [method.upper(), parts.path, parts.query, canonical_body(body)],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def sse_documents(body: str) -> list[Any]:
    """The JSON documents of a server-sent-events body (``data:`` lines, without ``[DONE]``)."""
    docs = []
    for line in body.splitlines():
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            try:
                docs.append(json.loads(line[5:]))
            except ValueError:
                continue
    return docs


def answer_fault(content_type: str, content: str | bytes) -> str | None:
    """Why a 2xx response is not a usable answer, or ``None`` when it is one.

    Used on every response before it is recorded, and on every recorded answer
    when a cassette is loaded (a hand-edited or truncated cassette).
    """
    content_type = content_type.lower()
    if "text/event-stream" in content_type:
        text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
        if not any(end in text for end in STREAM_ENDS):
            return "the answer stream was cut off before its end"
        return None
    if "text/html" in content_type:
        return "the endpoint sent an HTML page instead of an answer"
    if "json" in content_type or not content_type:
        try:
            json.loads(content)
        except ValueError:
            return "the answer is not valid JSON"
    return None


@dataclass
class Interaction:
    """One recorded request and its response, with promptdrift's per-call metadata."""

    method: str
    uri: str
    request_body: str
    response_status: int
    response_reason: str
    response_headers: dict[str, list[str]]
    response_body: str
    latency_ms: float = 0.0
    request_headers: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, Any] | None = None  # promptdrift's per-call metadata, when loaded from a cassette
    # The answer read from the response by the record layer's API adapter, kept so it is parsed only once.
    parsed: Any = field(default=None, repr=False, compare=False)

    @cached_property
    def path(self) -> str:
        """The endpoint path of the request (no host, no query)."""
        return urlsplit(self.uri).path

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.method, self.uri, self.request_body)

    @property
    def is_error(self) -> bool:
        """A recorded error answer (400, 404, 422...): replay raises it through the SDK as it was raised."""
        return self.response_status >= 400

    @property
    def is_event_stream(self) -> bool:
        return any("text/event-stream" in v for v in self.response_headers.get("content-type", []))

    @cached_property
    def request_json(self) -> Any:
        return canonical_body(self.request_body)

    @cached_property
    def response_json(self) -> Any:
        return canonical_body(self.response_body)


@dataclass
class Cassette:
    """A cassette file's interactions and promptdrift metadata.

    ``integrity`` (of a loaded cassette): :data:`INTACT`, :data:`EDITED` (its
    interactions or metadata no longer match the digest written when it was
    recorded) or :data:`NO_DIGEST` (written before promptdrift kept one).
    """

    path: Path
    interactions: list[Interaction]
    meta: dict[str, Any] = field(default_factory=dict)
    integrity: str = "intact"


INTACT, EDITED, NO_DIGEST = "intact", "edited", "no digest"


def digest_of(interactions: Iterable[Interaction], meta: Mapping[str, Any]) -> str:
    """A digest of what a cassette says: every interaction and the metadata (all but the digest itself).

    Bodies enter as data (JSON parsed, other text as it is) and the file as
    its YAML values, so reformatting a cassette never changes its digest;
    request headers are left out (they never take part in replay). It shows an
    edit; it is no signature against someone who also rewrites the digest.
    """
    doc = {
        "interactions": [
            [i.method, i.uri, i.request_json, i.response_status, i.response_reason, i.response_headers, i.response_json]
            for i in interactions
        ],
        "metadata": {k: v for k, v in meta.items() if k != "digest"},
    }
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _hint(rerecord_hint: str) -> str:
    return f" Re-record it: {rerecord_hint}" if rerecord_hint else " Delete it and record it again."


MAX_MB = 64  # the largest cassette read and answer recorded, by default (--prompt-max-mb; docs/security.md)


def load(path: Path, *, display: str | None = None, rerecord_hint: str = "", max_mb: float = MAX_MB) -> Cassette:
    """Load a cassette; a corrupt one is a :class:`CassetteError` naming the file and how to re-record.

    Only a regular file of at most ``max_mb`` megabytes is read: a directory, a device (a link to
    ``/dev/zero``) or a file that large is an error before anything is read into memory.
    """
    shown = display or str(path)
    hint = _hint(rerecord_hint)
    try:
        if not path.is_file():
            raise CassetteError(f"not a regular file (a folder, a device or a broken link).{hint}", path=shown)
        limit = int(max_mb * 1024 * 1024)
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise CassetteError(
                f"larger than {max_mb:g} MB (--prompt-max-mb): not read. Raise the limit if it is really a "
                f"cassette.{hint}",
                path=shown,
            )
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CassetteError(f"cassette is not UTF-8 text.{hint}", path=shown) from None
    except OSError as exc:
        raise CassetteError(f"cannot be read ({exc.strerror or exc}).{hint}", path=shown) from None
    return loads(text, path=path, display=shown, rerecord_hint=rerecord_hint)


def loads(text: str, *, path: Path | None = None, display: str, rerecord_hint: str = "") -> Cassette:
    """A cassette from its text (``display`` names it in errors), its digest checked."""
    shown = display
    hint = _hint(rerecord_hint)
    try:
        data = yamlio.loads_data(text, path=shown)
    except Exception as exc:
        raise CassetteError(f"cassette is not valid YAML ({getattr(exc, 'message', exc)}).{hint}", path=shown) from None
    if not isinstance(data, Mapping) or "interactions" not in data:
        raise CassetteError(f"not a vcrpy cassette (no interactions).{hint}", path=shown)
    if data.get("version") != VCR_FORMAT_VERSION:
        raise CassetteError(
            f"cassette format version {data.get('version')!r} is not the supported {VCR_FORMAT_VERSION}.{hint}",
            path=shown,
        )
    meta = dict((data.get("metadata") or {}).get("promptdrift") or {})
    if meta and meta.get("format") != FORMAT:
        raise CassetteError(f"promptdrift metadata format {meta.get('format')!r} is not {FORMAT}.{hint}", path=shown)
    per_call = meta.get("interactions") or []
    interactions = []
    try:
        for index, item in enumerate(data["interactions"]):
            request, response = item["request"], item["response"]
            body = response["body"]["string"]
            extra = per_call[index] if index < len(per_call) and isinstance(per_call[index], Mapping) else {}
            interactions.append(
                Interaction(
                    method=str(request["method"]),
                    uri=str(request["uri"]),
                    request_body=request.get("body") or "",
                    response_status=int(response["status"]["code"]),
                    response_reason=str(response["status"].get("message") or ""),
                    response_headers={str(k): list(v) for k, v in (response.get("headers") or {}).items()},
                    response_body=body.decode("utf-8") if isinstance(body, bytes) else str(body or ""),
                    latency_ms=float(extra.get("latency_ms", 0.0)),
                    meta=dict(extra) if extra else None,
                    request_headers={str(k): list(v) for k, v in (request.get("headers") or {}).items()},
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CassetteError(f"cassette interaction is malformed ({exc!r}).{hint}", path=shown) from None
    for number, interaction in enumerate(interactions, 1):
        if 200 <= interaction.response_status < 300:
            content_type = ",".join(interaction.response_headers.get("content-type", []))
            fault = answer_fault(content_type, interaction.response_body)
            if fault is not None:
                raise CassetteError(f"recorded answer {number} is unusable: {fault}.{hint}", path=shown)
    stored = meta.get("digest")
    integrity = NO_DIGEST if not stored else INTACT if digest_of(interactions, meta) == stored else EDITED
    return Cassette(path or Path(shown), interactions, meta, integrity)


def dumps(cassette: Cassette) -> str:
    """The cassette as vcrpy-format YAML text."""
    # slow: vcrpy loads stubs for every HTTP library; only writing a cassette imports it
    from vcr import serialize as vcr_serialize
    from vcr.request import Request as VcrRequest

    requests = [
        VcrRequest(i.method, scrub_uri(i.uri), i.request_body, {k: v[0] for k, v in i.request_headers.items()})
        for i in cassette.interactions
    ]
    responses = [
        {
            "status": {"code": i.response_status, "message": i.response_reason},
            "headers": i.response_headers,
            "body": {"string": i.response_body},
        }
        for i in cassette.interactions
    ]
    meta = {k: v for k, v in cassette.meta.items() if k != "digest"}
    meta["format"] = FORMAT
    meta["digest"] = digest_of(cassette.interactions, meta)  # written when promptdrift records
    cassette_dict = {"requests": requests, "responses": responses, "metadata": {"promptdrift": meta}}
    return vcr_serialize.serialize(cassette_dict, SERIALIZER)  # type: ignore[no-any-return]


def save(cassette: Cassette) -> None:
    """Write the cassette atomically: a temporary file in the same folder, then a rename.

    The temporary file is ``.promptdrift-<name>.<pid>-<random>.tmp``; those left
    by a process that was killed mid-write are removed by :func:`sweep` when a
    later run starts recording.
    """
    text = dumps(cassette)
    folder = cassette.path.parent
    tmp = folder / f"{TEMPORARY_PREFIX}{cassette.path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    global _unsynced
    try:
        try:
            fh = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed below, after a second try
        except FileNotFoundError:  # the folder's first cassette: made here rather than looked for at every save
            folder.mkdir(parents=True, exist_ok=True)
            fh = open(tmp, "w", encoding="utf-8")  # noqa: SIM115
        with fh:
            fh.write(text)
            if not hasattr(os, "sync"):  # no flush of the whole disk at the end (Windows): one per file
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, cassette.path)
        _unsynced = True
        written.add()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_unsynced = False  # cassettes written since the last sync_saved()


class Tally:
    """How many cassettes this process wrote in its current run (the plugin resets it as a run starts).

    A count, not a list: a run of 10,000 cases need not hold 10,000 paths to say how many it saved.
    """

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1

    def reset(self) -> None:
        self.count = 0


written = Tally()


def sync_saved() -> None:
    """Flush every cassette this process wrote to disk, at once (the plugin calls it when a run ends).

    One ``os.sync()`` instead of an ``fsync`` per file: 10,000 cassettes spent 12 s in ``fsync``. A
    cassette is complete on disk as soon as it is renamed into place, so a killed process loses
    nothing; only a machine that loses power before the end of the run could.
    """
    global _unsynced
    if _unsynced and hasattr(os, "sync"):
        os.sync()
    _unsynced = False


TEMPORARY_PREFIX = ".promptdrift-"  # the temporary files save() writes: the only files sweep() may delete
_TEMPORARY = re.compile(r"\.promptdrift-.+\.(\d+)-[0-9a-f]{8}\.tmp")


def sweep(root: Path) -> int:
    """Remove the temporary files of recorders that no longer run (killed mid-write) below ``root``.

    Only files :func:`save` itself names (``.promptdrift-*.<pid>-<hex>.tmp``) of a
    process that is gone, and never below a symbolic link: a folder linked from
    elsewhere is not the cassette root's to clean. Returns how many were removed.
    """
    removed = 0
    for folder, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            found = _TEMPORARY.fullmatch(name)
            if found is None or int(found.group(1)) == os.getpid() or _running(int(found.group(1))):
                continue
            path = Path(folder, name)
            if not path.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

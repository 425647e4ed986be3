"""Fidelity of record and replay: what the ``openai`` SDK parses directly, through a recording, and offline.

Given answers a real provider sent (a folder of vcrpy cassettes, or answers a
test builds), :func:`check_calls` serves each one from a local server and calls
it three ways through the real SDK:

* **direct**: a plain ``openai`` client against the server;
* **recorded**: a client of promptdrift's record path (the one the
  ``openai_client`` fixture gives), recording into a fresh cassette;
* **replayed**: the same record path replaying that cassette offline, with no
  key and an endpoint where nothing listens.

The three parsed results must be equal as exact JSON (``15`` is not ``15.0``,
``-0.0`` is not ``0.0``), streamed events one by one, errors by their status
and body. ``promptdrift conformance FOLDER`` runs it over a folder of
cassettes (docs/recording.md, "What is recorded").
"""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import zip_longest
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from promptdrift.config import Settings
from promptdrift.core.modes import RecordMode
from promptdrift.record.client import open_channel

DEAD_ENDPOINT = "http://127.0.0.1:9/v1"  # replay must never reach anything
# The key the calls are made with: a secret, so scrubbed wherever it appears; random, so no answer holds it.
KEY = "conformance-" + secrets.token_hex(16)


@dataclass(frozen=True)
class Canned:
    """One answer the provider sent, for one request: what :class:`AnswerServer` serves and the SDK is asked."""

    method: str
    path: str  # the endpoint below the API root: /chat/completions, /responses, /embeddings...
    request: Any  # the JSON body the SDK is to send
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    where: str = ""  # a cassette path and interaction number, for the report
    reason: str = ""  # the status line's reason phrase (the standard one when empty)


@dataclass
class Verdict:
    """How one call fared: each way's parsed result as exact JSON, and whether they agree."""

    call: Canned
    way: str  # sync or async
    direct: str
    recorded: str
    replayed: str
    agree: bool = field(init=False)

    def __post_init__(self) -> None:
        self.agree = self.direct == self.recorded == self.replayed

    def line(self) -> str:
        if self.agree:
            return (
                f"ok     {self.way:5} {self.call.where} {self.call.method} {self.call.path} (HTTP {self.call.status})"
            )
        other = self.recorded if self.recorded != self.direct else self.replayed
        way = "recorded" if self.recorded != self.direct else "replayed"
        return (
            f"DIFFER {self.way:5} {self.call.where} {self.call.method} {self.call.path} (HTTP {self.call.status}): "
            f"{way} differs from direct at {first_difference(self.direct, other)}"
        )


NOTHING = Canned("", "", None, 500, (("content-type", "application/json"),), b'{"error": "nothing queued"}')


def first_difference(left: str, right: str) -> str:
    """Where two exact-JSON texts first differ, as a path (``$.choices[0].message``) and the two values."""

    def walk(a: Any, b: Any, at: str) -> str | None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if key not in a or key not in b:
                    return f"{at}.{key} (only on one side)"
                found = walk(a[key], b[key], f"{at}.{key}")
                if found:
                    return found
            return None
        if isinstance(a, list) and isinstance(b, list):
            for index, (x, y) in enumerate(zip(a, b, strict=False)):
                found = walk(x, y, f"{at}[{index}]")
                if found:
                    return found
            return None if len(a) == len(b) else f"{at} ({len(a)} against {len(b)} items)"
        return None if exact(a) == exact(b) else f"{at}: {exact(a)[:80]} against {exact(b)[:80]}"

    return walk(json.loads(left), json.loads(right), "$") or "(their text)"


class AnswerServer:
    """A local HTTP server on 127.0.0.1 that answers each request with the next queued :class:`Canned` answer.

    ``received`` keeps every request body it was sent (as bytes), in order.
    """

    def __init__(self) -> None:
        self.queue: deque[Canned] = deque()
        self.received: list[bytes] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self._answer()

            def do_GET(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                owner.received.append(self.rfile.read(length))
                canned = owner.queue.popleft() if owner.queue else NOTHING
                status, headers, body = canned.status, canned.headers, canned.body
                self.send_response(status, canned.reason or None)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # quiet: the report says what happened
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> AnswerServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- calling the SDK as a user would -------------------------------------------------------------------------------

_NAMED = {  # endpoint: the arguments the SDK's method takes by name (the rest go in extra_body, sent unchanged)
    "/chat/completions": ("model", "messages", "stream"),
    "/responses": ("model", "input", "stream"),
    "/embeddings": ("model", "input", "encoding_format"),
}


def exact(value: Any) -> str:
    """A parsed result as exact JSON text: types, signs and every digit count."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True, default=repr)


def _dump(result: Any) -> Any:
    return result.model_dump(mode="python", warnings=False) if hasattr(result, "model_dump") else result


def _error(exc: Exception) -> dict[str, Any]:
    import openai  # slow: the SDK, only here

    if isinstance(exc, openai.APIStatusError):
        return {"error": type(exc).__name__, "status": exc.status_code, "body": exc.body}
    return {"error": type(exc).__name__, "message": str(exc)}


def _arguments(call: Canned) -> tuple[Any, dict[str, Any]]:
    named = _NAMED.get(call.path)
    if named is None or not isinstance(call.request, dict):
        raise ValueError(f"{call.where}: promptdrift conformance checks {', '.join(_NAMED)}, not {call.path}")
    kwargs = {k: v for k, v in call.request.items() if k in named}
    rest = {k: v for k, v in call.request.items() if k not in named}
    if rest:
        kwargs["extra_body"] = rest
    return named, kwargs


def _resource(client: Any, path: str) -> Any:
    return {"/chat/completions": client.chat.completions, "/responses": client.responses}.get(path, client.embeddings)


def call_sync(client: Any, call: Canned) -> Any:
    """Make ``call`` through a synchronous client, as a user's code would; what the SDK parsed (or raised)."""
    _, kwargs = _arguments(call)
    try:
        result = _resource(client, call.path).create(**kwargs)
        if kwargs.get("stream"):
            return [_dump(event) for event in result]
        return _dump(result)
    except Exception as exc:
        return _error(exc)


async def call_async(client: Any, call: Canned) -> Any:
    """:func:`call_sync` through an ``AsyncOpenAI`` client."""
    _, kwargs = _arguments(call)
    try:
        result = await _resource(client, call.path).create(**kwargs)
        if kwargs.get("stream"):
            return [_dump(event) async for event in result]
        return _dump(result)
    except Exception as exc:
        return _error(exc)


def _through(client: Any, calls: Sequence[Canned], asynchronous: bool) -> list[str]:
    if not asynchronous:
        return [exact(call_sync(client, call)) for call in calls]

    async def all_calls() -> list[str]:
        async with client:  # its connections close inside this event loop
            return [exact(await call_async(client, call)) for call in calls]

    return asyncio.run(all_calls())


def check_calls(
    calls: Sequence[Canned], *, asynchronous: bool = False, server: AnswerServer | None = None
) -> list[Verdict]:
    """Serve ``calls`` (the answers of one conversation, in order) and compare direct, recorded and replayed.

    ``server``: a running :class:`AnswerServer` to serve them from (one of its own otherwise).
    """
    if server is None:
        with AnswerServer() as own:
            return check_calls(calls, asynchronous=asynchronous, server=own)
    import openai  # slow: the SDK, only here

    with tempfile.TemporaryDirectory(prefix="promptdrift-conformance-") as scratch:
        root = Path(scratch)
        server.queue.extend(calls)
        plain = (openai.AsyncOpenAI if asynchronous else openai.OpenAI)(
            base_url=server.base_url, api_key=KEY, max_retries=0
        )
        start = len(server.received)
        direct = _through(plain, calls, asynchronous)
        server.queue.extend(calls)
        live = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": KEY}
        recorded = _fixture_path(root, RecordMode.ALL, live, calls, asynchronous)
        offline = {"OPENAI_BASE_URL": DEAD_ENDPOINT}
        replayed = _fixture_path(root, RecordMode.NONE, offline, calls, asynchronous)
    # The record path must also send what the SDK sends directly: a request that differs is a difference.
    sent = [json.loads(body or "null") for body in server.received[start:]]
    first, then = sent[: len(calls)], sent[len(calls) :]
    recorded = [
        got if ours == theirs else exact({"request sent": ours})
        for got, theirs, ours in zip_longest(recorded, first, then)
    ][: len(calls)]
    way = "async" if asynchronous else "sync"
    return [Verdict(call, way, *ways) for call, *ways in zip(calls, direct, recorded, replayed, strict=True)]


def _fixture_path(
    root: Path, mode: RecordMode, environ: dict[str, str], calls: Sequence[Canned], asynchronous: bool
) -> list[str]:
    """The calls through a client of the ``openai_client`` (or ``async_openai_client``) fixture's record path:
    a channel on the test's cassette, saved afterwards as the fixture saves it."""
    settings = Settings(rootdir=root, record=mode, environ=environ, max_retries=0)
    channel = open_channel(settings, settings.cassettes / "conformance.yaml", "conformance")
    results = _through(channel.async_client() if asynchronous else channel.client(), calls, asynchronous)
    recorder = channel.recorder
    if recorder.needs_save and not recorder.errors:
        recorder.save({"test": "conformance"})
    return results


# -- reading cassettes recorded elsewhere ---------------------------------------------------------------------------


def _request_body(request: dict[str, Any]) -> Any:
    if "parsed_body" in request:
        return request["parsed_body"]
    body = request.get("body")
    if isinstance(body, dict):
        body = body.get("string")
    return json.loads(body) if body else None


def _response_body(response: dict[str, Any]) -> bytes:
    if "parsed_body" in response:
        return json.dumps(response["parsed_body"], ensure_ascii=False).encode("utf-8")
    body = response.get("body")
    text = body.get("string", "") if isinstance(body, dict) else body or ""
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


def read_cassette(path: Path, *, api_root: str = "/v1") -> list[Canned]:
    """The calls of one vcrpy cassette (plain, promptdrift's, or with ``parsed_body`` as some projects write)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    calls = []
    for number, interaction in enumerate(data.get("interactions") or [], start=1):
        request, response = interaction["request"], interaction["response"]
        endpoint = urlsplit(request["uri"]).path
        endpoint = endpoint[len(api_root) :] if endpoint.startswith(api_root) else endpoint
        headers = response.get("headers") or {}
        kept = tuple(
            (name, value)
            for name, values in headers.items()
            if name.lower() not in {"content-length", "content-encoding", "transfer-encoding"}
            for value in (values if isinstance(values, list) else [values])
        )
        calls.append(
            Canned(
                method=request["method"],
                path=endpoint,
                request=_request_body(request),
                status=int(response["status"]["code"]),
                headers=kept,
                body=_response_body(response),
                where=f"{path}#{number}",
            )
        )
    return calls


def cassettes_below(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.y*ml")) if path.is_dir() else [path])
    return found

"""A local OpenAI-compatible server with scripted answers.

There is no model account on a CI machine; the plugin's own tests and the
bundled example cassettes use this server instead. It speaks the parts of the
API promptdrift uses (chat completions, plain and streamed; embeddings;
models) on 127.0.0.1: pytest-httpserver routes the requests (werkzeug requests and
responses), :mod:`promptdrift.testing.keepalive` serves them over keep-alive HTTP/1.1.

A script is YAML::

    snapshot: "{model}-demo"          # the model name the server says it used
    rules:                            # first match wins
      - when: {contains: "five days late", model: gpt-4o-mini}
        reply: "I'm so sorry your order is late..."
      - when: {contains: "invoice"}
        reply: {json: {total: 42.5}}  # the content is this JSON
      - when: {contains: "where is order"}
        tool_calls: [{name: lookup_order, arguments: {order_id: A-1001}}]
      - when: {pattern: 'order (?P<sku>[A-Z]-\\d+)'}   # named groups fill {sku} in the reply
        reply: {json: {order: "{sku}"}}
      - when: {tool_result: "shipped"}            # after a tool result that contains "shipped"
        reply: "Your order A-1001 has shipped."
      - when: {contains: "joke"}
        replies: ["first answer", "second answer"]   # in turn, for repeated requests (samples)
      - when: {contains: "essay"}
        reply: "A long answer that the token limit cut"
        finish_reason: length
    default: "I can help with that."

``contains`` is matched case-insensitively against the last user message
(``system`` against the system message); ``model`` against the requested model.
A rule with ``tool_result`` answers only a request whose last message is a tool
result containing that text; the other rules only requests that end with a user
message. Chat completions (``/v1/chat/completions``), the Responses API
(``/v1/responses``) and Anthropic's Messages API (``/v1/messages``), each
request read as the same chat messages, answer from one script.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptdrift.core.workarounds import enabled
from promptdrift.testing.batch import BatchDesk
from promptdrift.text import yamlio

Reply = str | dict[str, Any]


@dataclass
class Rule:
    """One scripted answer and when to give it."""

    reply: Any = None
    tool_calls: list[dict[str, Any]] | None = None
    contains: list[str] = field(default_factory=list)
    system: str | None = None
    model: str | None = None
    finish_reason: str = "stop"
    replies: list[Any] | None = None  # answers given in turn to repeated requests (samples), cycling
    tool_result: str | None = None  # answers only after a tool result containing this
    pattern: str | None = None  # a regex the last user message must match; its named groups fill "{name}" in the reply
    _turn: itertools.count[int] = field(default_factory=itertools.count, repr=False, compare=False)

    def answer(self, body: Mapping[str, Any] | None = None) -> Any:
        """The reply to give now: ``reply``, or the next of ``replies``; ``{group}`` filled from ``pattern``."""
        reply = self.replies[next(self._turn) % len(self.replies)] if self.replies else self.reply
        if self.pattern is None or body is None:
            return reply
        match = re.search(self.pattern, _last_user_text(body), re.DOTALL)
        return _filled(reply, match.groupdict() if match else {})

    def matches(self, body: Mapping[str, Any]) -> bool:
        if self.model is not None and body.get("model") != self.model:
            return False
        if self.pattern is not None and not re.search(self.pattern, _last_user_text(body), re.DOTALL):
            return False
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        if (last.get("role") == "tool") != (self.tool_result is not None):
            return False
        if (
            self.tool_result is not None
            and self.tool_result.casefold() not in _content_text(last.get("content")).casefold()
        ):
            return False
        last_user: Mapping[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        text = _content_text(last_user.get("content")).casefold()
        if any(c.casefold() not in text for c in self.contains):
            return False
        if self.system is not None:
            system: Mapping[str, Any] = next((m for m in messages if m.get("role") in ("system", "developer")), {})
            if self.system.casefold() not in _content_text(system.get("content")).casefold():
                return False
        return True


def _last_user_text(body: Mapping[str, Any]) -> str:
    messages = body.get("messages") or []
    last_user: Mapping[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return _content_text(last_user.get("content"))


def _filled(reply: Any, groups: Mapping[str, str]) -> Any:
    """``{name}`` in reply strings replaced by the pattern's groups; a value that is exactly one
    ``{name}`` whose group is a whole number becomes that number (JSON replies keep their types)."""
    if isinstance(reply, str):
        whole = re.fullmatch(r"\{(\w+)\}", reply)
        if whole and whole.group(1) in groups:
            value = groups[whole.group(1)]
            return int(value) if value.isdigit() else value
        return re.sub(r"\{(\w+)\}", lambda m: groups.get(m.group(1), m.group(0)), reply)
    if isinstance(reply, Mapping):
        return {k: _filled(v, groups) for k, v in reply.items()}
    if isinstance(reply, list):
        return [_filled(v, groups) for v in reply]
    return reply


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


@dataclass
class Script:
    """Scripted behaviour of the demo model."""

    rules: list[Rule] = field(default_factory=list)
    default: Any = "I can help with that."
    snapshot: str = "{model}-demo"

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Script:
        rules = []
        for raw in data.get("rules") or []:
            when = raw.get("when") or {}
            contains = when.get("contains") or []
            rules.append(
                Rule(
                    reply=raw.get("reply"),
                    replies=raw.get("replies"),
                    tool_calls=raw.get("tool_calls"),
                    contains=[contains] if isinstance(contains, str) else list(contains),
                    system=when.get("system"),
                    model=when.get("model"),
                    tool_result=when.get("tool_result"),
                    pattern=when.get("pattern"),
                    finish_reason=raw.get("finish_reason", "tool_calls" if raw.get("tool_calls") else "stop"),
                )
            )
        return cls(rules, data.get("default", cls.default), data.get("snapshot", cls.snapshot))

    @classmethod
    def from_file(cls, path: str | Path) -> Script:
        return cls.from_data(yamlio.load_file(Path(path)))

    def respond(self, body: Mapping[str, Any]) -> Rule:
        for rule in self.rules:
            if rule.matches(body):
                return rule
        return Rule(reply=self.default)


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _reply_text(reply: Any) -> str:
    if isinstance(reply, Mapping) and "json" in reply:
        return json.dumps(reply["json"], ensure_ascii=False)
    if reply is None:
        return ""
    return str(reply)


def responses_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Responses API request's ``instructions`` and ``input`` as chat messages (for the script's rules)."""
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    items = body.get("input")
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    for item in items or []:
        if item.get("type") == "function_call_output":
            messages.append({"role": "tool", "content": item.get("output", "")})
        elif item.get("type") == "function_call":
            messages.append({"role": "assistant", "content": None})
        else:
            messages.append({"role": item.get("role"), "content": item.get("content")})
    return messages


def anthropic_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An Anthropic Messages request as chat messages (for the script's rules): ``system`` first, a user message
    of ``tool_result`` blocks as tool results."""
    system = body.get("system")
    messages: list[dict[str, Any]] = [{"role": "system", "content": _content_text(system)}] if system else []
    for message in body.get("messages") or []:
        content = message.get("content")
        results = [b for b in content if b.get("type") == "tool_result"] if isinstance(content, list) else []
        if results:
            messages.extend({"role": "tool", "content": _content_text(b.get("content"))} for b in results)
        else:
            messages.append({"role": message.get("role"), "content": content})
    return messages


def embedding(text: str, dims: int = 16) -> list[float]:
    """A deterministic bag-of-words embedding: similar texts get similar vectors."""
    vector = [0.0] * dims
    for word in text.casefold().split():
        digest = hashlib.sha256(word.strip(".,!?;:'\"").encode("utf-8")).digest()
        vector[digest[0] % dims] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


Handler = Callable[[Mapping[str, Any]], Rule]

# A documented example script, shipped in the wheel: promptdrift demo-server serves it by default.
EXAMPLE_SCRIPT = Path(__file__).with_name("example-script.yaml")


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour of the chat endpoint (see :meth:`DemoServer.fail_next`, ``fault_next``)."""

    kind: str  # status, stall, reset, truncate
    times: int = 1
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    mimetype: str = "application/json"
    seconds: float = 0.0


class DemoServer:
    """The server: ``start()``, then point ``OPENAI_BASE_URL`` at :attr:`base_url`.

    ``requests`` logs every request (path, headers, JSON body) for assertions.
    ``extra_headers`` are added to every response (tests use it to check that
    account-identifying headers never reach a cassette).
    """

    def __init__(self, script: Script | Handler | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        from pytest_httpserver import HTTPServer  # optional: the demo extra
        from werkzeug import Request  # optional: the demo extra (under pytest-httpserver)

        from promptdrift.testing.keepalive import KeepAliveServer  # slow: asyncio, and httptools of the demo extra

        self.script = script or Script()
        self.requests: list[dict[str, Any]] = []
        self.extra_headers: dict[str, str] = {}
        self.latency = 0.0
        self.gzip = False  # compress answers when the client accepts gzip, as real endpoints do
        self._faults: list[Fault] = []
        self.in_flight = self.max_in_flight = 0  # chat requests being answered now / at most at once
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._gather = 0  # hold chat requests until this many are in flight at once (see gather())
        self._gather_timeout = 0.0
        # pytest-httpserver routes each request to its handler; the keep-alive server serves its application
        self._server = HTTPServer(host=host, port=port)
        self._http = KeepAliveServer(Request.application(self._server.application), host, port)
        self._server.no_handler_status_code = 404
        self._server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self._chat)
        azure = re.compile(r"^/openai/deployments/[^/]+/chat/completions$")
        self._server.expect_request(azure, method="POST").respond_with_handler(self._chat)
        self._server.expect_request("/v1/responses", method="POST").respond_with_handler(self._chat)
        self._server.expect_request("/v1/messages", method="POST").respond_with_handler(self._chat)  # Anthropic
        self._server.expect_request("/v1/embeddings", method="POST").respond_with_handler(self._embeddings)
        self._server.expect_request("/v1/models", method="GET").respond_with_handler(self._models)
        # Files and Batches (promptdrift.testing.batch): each batched request answered by the same script
        self.batch = BatchDesk(self._answer_offline, _last_user_text)
        self.batch.routes(self._server.expect_request, self._respond)

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> DemoServer:
        if not enabled("KEEPALIVE_DEMO"):  # docs/workarounds.md: werkzeug's own server, a connection a request
            self._server.start()
            return self
        self._http.start()
        self._server.port = self._http.port  # the port bound (port=0: one the system chose), for url_for
        return self

    def stop(self) -> None:
        if self._server.is_running():
            self._server.stop()
        else:
            self._http.stop()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.url_for("/v1")

    @property
    def anthropic_url(self) -> str:
        """The base URL for Anthropic's SDK (``ANTHROPIC_BASE_URL``: it adds ``/v1/messages`` itself)."""
        return self._server.url_for("/").rstrip("/")

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        body: str = "",
        headers: Mapping[str, str] | None = None,
        mimetype: str = "application/json",
    ) -> None:
        """Answer the next ``times`` chat requests with an error status (fault injection for tests)."""
        text = body or json.dumps({"error": {"message": f"injected {status}", "type": "server_error"}})
        self._add_fault(
            Fault("status", times, status=status, body=text, headers=dict(headers or {}), mimetype=mimetype)
        )

    def fault_next(self, kind: str, times: int = 1, *, seconds: float = 0.0) -> None:
        """Misbehave on the next ``times`` chat requests.

        ``stall``: wait ``seconds`` before answering (past the client's timeout);
        ``reset``: drop the connection without an answer; ``truncate``: send the
        first half of the real answer with status 200 (a cut-off stream, or
        malformed JSON); ``dribble``: start a 200 event stream and send a byte
        every 50 ms for ``seconds``, never its end (each read succeeds, the answer never completes).
        """
        if kind not in ("stall", "reset", "truncate", "dribble"):
            raise ValueError(f"unknown fault {kind!r}")
        self._add_fault(Fault(kind, times, seconds=seconds))

    def _add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * fault.times)

    # -- handlers ------------------------------------------------------------------

    def _log(self, request: Any) -> dict[str, Any]:
        """Log the request; its JSON body (a body that is not a JSON object raises ``ValueError`` after logging)."""
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            body = None
        entry = {
            "path": request.path,
            "headers": dict(request.headers),
            "query": request.query_string.decode(),
            "json": body,
        }
        with self._lock:
            self.requests.append(entry)
        if self.latency:
            time.sleep(self.latency)
        if not isinstance(body, dict):
            raise ValueError("the body is not a JSON object")
        return body

    def _respond(self, request: Any, payload: Any, status: int = 200, mimetype: str = "application/json") -> Any:
        from werkzeug import Response  # optional: the demo extra (under pytest-httpserver)

        data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        if isinstance(data, str):
            data = data.encode("utf-8")
        compress = self.gzip and "gzip" in request.headers.get("accept-encoding", "")
        response = Response(gzip.compress(data) if compress else data, status=status, mimetype=mimetype)
        if compress:
            response.headers["content-encoding"] = "gzip"
        for key, value in self.extra_headers.items():
            response.headers[key] = value
        response.headers["x-request-id"] = "req_" + hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:12]
        return response

    def _rule(self, body: Mapping[str, Any]) -> Rule:
        script = self.script
        return script.respond(body) if isinstance(script, Script) else script(body)

    def wait_in_flight(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until ``count`` chat requests are being answered at once (in their handlers); False on timeout."""
        with self._lock:
            return self._arrived.wait_for(lambda: self.in_flight >= count, timeout=timeout)

    def gather(self, count: int, timeout: float = 10.0) -> None:
        """Hold chat requests until ``count`` are in flight at once, then answer them all (a barrier).

        Tests of concurrency use it instead of latency: requests that can overlap
        are made to, whatever the machine's speed. If fewer than ``count`` ever
        arrive together, each waits ``timeout`` seconds and is answered anyway,
        so ``max_in_flight`` then shows the shortfall. Once reached, later
        requests are not held.
        """
        with self._lock:
            self._gather, self._gather_timeout = count, timeout

    def _chat(self, request: Any) -> Any:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._arrived.notify_all()  # wait_in_flight()
            if self._gather:
                if self.in_flight >= self._gather:
                    self._gather = 0
                    self._arrived.notify_all()
                else:
                    self._arrived.wait_for(lambda: not self._gather, timeout=self._gather_timeout)
        try:
            return self._chat_reply(request)
        except (TypeError, AttributeError, ValueError, KeyError) as exc:  # a body the script cannot read
            return self._malformed(request, exc)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _malformed(self, request: Any, exc: Exception) -> Any:
        """A 400 answer for a request body the demo cannot read, as a real endpoint gives (never silence)."""
        message = f"malformed request body ({type(exc).__name__}: {exc})"
        return self._respond(request, {"error": {"message": message, "type": "invalid_request_error"}}, status=400)

    def _chat_reply(self, request: Any) -> Any:
        body = self._log(request)
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None and fault.kind == "status":
            response = self._respond(request, fault.body, status=fault.status, mimetype=fault.mimetype)
            response.headers.update(fault.headers)
            return response
        if fault is not None and fault.kind == "stall":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "dribble":
            from werkzeug import Response  # optional: the demo extra (under pytest-httpserver)

            def drip(until: float) -> Iterator[bytes]:
                yield b"data: "
                while time.monotonic() < until:
                    time.sleep(0.05)
                    yield b"x"

            return Response(drip(time.monotonic() + fault.seconds), mimetype="text/event-stream")
        if fault is not None and fault.kind == "reset":
            from promptdrift.testing.keepalive import RESET  # slow: httptools of the demo extra (loaded by now)

            request.environ[RESET]()  # the client sees the connection drop with no answer (a TCP reset)
            return self._respond(request, "")
        response = self._answer(request, body)
        if fault is not None and fault.kind == "truncate":
            data = response.get_data()
            response.set_data(data[: len(data) // 2])
        return response

    def _scripted(
        self, body: Mapping[str, Any], messages: list[dict[str, Any]] | None = None
    ) -> tuple[Rule, str, str, str, tuple[int, int]]:
        """The rule that answers, its text, the model name returned, a digest of the request, token counts.

        ``messages``: the request as chat messages when it is not a chat request (the Responses API).
        """
        chat = dict(body) if messages is None else {**body, "messages": messages}
        rule = self._rule(chat)
        text = _reply_text(rule.answer(chat))
        snapshot = self.script.snapshot if isinstance(self.script, Script) else "{model}"
        returned = snapshot.format(model=str(body.get("model", "demo")))
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:10]
        prompt_tokens = sum(_words(_content_text(m.get("content"))) for m in chat.get("messages") or [])
        return rule, text, returned, digest, (prompt_tokens, _words(text) if text else 0)

    def _answer(self, request: Any, body: Mapping[str, Any]) -> Any:
        if request.path.endswith("/responses"):
            return self._response(request, body)
        if request.path.endswith("/messages"):
            return self._message(request, body)
        rule, text, returned, digest, (prompt_tokens, completion_tokens) = self._scripted(body)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        tool_calls = [
            {
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call.get("arguments", {}))},
            }
            for index, call in enumerate(rule.tool_calls or [])
        ]
        created = 1767225600  # fixed, so recordings of the same script are identical
        ident = "chatcmpl-demo-" + digest
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return self._respond(
                request,
                "".join(
                    self._chunks(ident, created, returned, text, tool_calls, rule.finish_reason, usage, include_usage)
                ),
                mimetype="text/event-stream",
            )
        message: dict[str, Any] = {"role": "assistant", "content": text if not tool_calls else (text or None)}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return self._respond(
            request,
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": returned,
                "choices": [{"index": 0, "message": message, "finish_reason": rule.finish_reason, "logprobs": None}],
                "usage": usage,
            },
        )

    @staticmethod
    def _chunks(
        ident: str,
        created: int,
        model: str,
        text: str,
        tool_calls: list[dict[str, Any]],
        finish: str,
        usage: dict[str, Any],
        include_usage: bool,
    ) -> Iterator[str]:
        def event(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            return f"data: {json.dumps(chunk)}\n\n"

        yield event({"role": "assistant", "content": ""})
        words = text.split(" ") if text else []
        for index, word in enumerate(words):
            yield event({"content": word if index == 0 else " " + word})
        for index, call in enumerate(tool_calls):
            yield event({"tool_calls": [{"index": index, **call}]})
        yield event({}, finish)
        if include_usage:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    def _response(self, request: Any, body: Mapping[str, Any]) -> Any:
        """The Responses API: the input read as chat messages, answered by the same rules."""
        rule, text, returned, digest, (input_tokens, output_tokens) = self._scripted(body, responses_messages(body))
        ident = "resp_demo" + digest
        output: list[dict[str, Any]] = []
        if text:
            output.append(
                {
                    "type": "message",
                    "id": "msg_" + ident[5:],
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            )
        for index, call in enumerate(rule.tool_calls or []):
            output.append(
                {
                    "type": "function_call",
                    "id": f"fc_{index}",
                    "call_id": f"call_{index}",
                    "name": call["name"],
                    "arguments": json.dumps(call.get("arguments", {})),
                    "status": "completed",
                }
            )
        cut = rule.finish_reason == "length"
        response = {
            "id": ident,
            "object": "response",
            "created_at": 1767225600,
            "status": "incomplete" if cut else "completed",
            "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
            "model": returned,
            "output": output,
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools", []),
        }
        if not body.get("stream"):
            return self._respond(request, response)
        events: list[tuple[str, dict[str, Any]]] = [
            ("response.created", {"response": {**response, "status": "in_progress", "output": []}})
        ]
        for word_index, word in enumerate(text.split(" ") if text else []):
            events.append(
                ("response.output_text.delta", {"output_index": 0, "delta": word if word_index == 0 else " " + word})
            )
        events.append(("response.incomplete" if cut else "response.completed", {"response": response}))
        stream = "".join(
            f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': n, **data})}\n\n"
            for n, (kind, data) in enumerate(events)
        )
        return self._respond(request, stream, mimetype="text/event-stream")

    def _message(self, request: Any, body: Mapping[str, Any]) -> Any:
        """Anthropic's Messages API: the request read as chat messages, answered by the same rules.

        As the API does since version 2026-10-21, a sampling parameter is refused with HTTP 400."""
        sampling = [key for key in ("temperature", "top_p", "top_k") if key in body]
        if sampling:
            refused = {"type": "invalid_request_error", "message": f"{sampling[0]}: Extra inputs are not permitted"}
            return self._respond(request, {"type": "error", "error": refused}, status=400)
        rule, text, returned, digest, (input_tokens, output_tokens) = self._scripted(body, anthropic_messages(body))
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        for index, call in enumerate(rule.tool_calls or []):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_demo{index}",
                    "name": call["name"],
                    "input": call.get("arguments", {}),
                }
            )
        stop = {"length": "max_tokens", "tool_calls": "tool_use"}.get(rule.finish_reason, "end_turn")
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        message = {
            "id": "msg_demo" + digest,
            "type": "message",
            "role": "assistant",
            "model": returned,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return self._respond(request, message)
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        events: list[dict[str, Any]] = [{"type": "message_start", "message": start}, {"type": "ping"}]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                events.append(
                    {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
                )
                pieces = [
                    {"type": "text_delta", "text": w if n == 0 else " " + w} for n, w in enumerate(text.split(" "))
                ]
            else:
                events.append({"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}})
                arguments = json.dumps(block["input"])
                half = len(arguments) // 2  # tool input arrives as JSON text in pieces
                pieces = [{"type": "input_json_delta", "partial_json": p} for p in (arguments[:half], arguments[half:])]
            events.extend({"type": "content_block_delta", "index": index, "delta": piece} for piece in pieces)
            events.append({"type": "content_block_stop", "index": index})
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            }
        )
        events.append({"type": "message_stop"})
        stream = "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events)
        return self._respond(request, stream, mimetype="text/event-stream")

    def _answer_offline(self, path: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        """A batched request's answer: what a live request to ``path`` would get (faults and latency aside)."""
        with self._lock:
            self.requests.append({"path": path, "headers": {}, "query": "", "json": dict(body), "batch": True})
        request = _Offline(path)
        response = self._embedding(request, body) if path.endswith("/embeddings") else self._answer(request, body)
        return response.status_code, json.loads(response.get_data())

    def _embeddings(self, request: Any) -> Any:
        try:
            return self._embedding(request, self._log(request))
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            return self._malformed(request, exc)

    def _embedding(self, request: Any, body: Mapping[str, Any]) -> Any:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = [{"object": "embedding", "index": i, "embedding": embedding(str(t))} for i, t in enumerate(texts)]
        tokens = sum(_words(str(t)) for t in texts)
        return self._respond(
            request,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "demo-embed"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _models(self, request: Any) -> Any:
        self._log(request)
        return self._respond(
            request, {"object": "list", "data": [{"id": "demo", "object": "model", "created": 0, "owned_by": "demo"}]}
        )


@dataclass
class _Offline:
    """Stands in for the HTTP request of a batched line (its path; no headers: never compressed)."""

    path: str
    headers: dict[str, str] = field(default_factory=dict)

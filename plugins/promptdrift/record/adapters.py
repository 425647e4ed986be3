"""Adapters for the APIs a suite can use: OpenAI's chat completions and Responses API, Anthropic's Messages API.

A case's conversation is kept as chat messages (system, user, assistant with
tool calls, tool results); each API turns them into its request body and
reads its recorded response back into an :class:`Answer`. Both are recorded,
replayed and checked the same way; answers are always read from the raw
response in the cassette, plain JSON or a stream of server-sent events, and
each interaction is parsed once (:meth:`ChatAdapter.answer` keeps the result
on the interaction for every later reader).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from promptdrift.cassettes.format import Interaction, sse_documents
from promptdrift.core.answers import Answer
from promptdrift.core.errors import PromptdriftError, RecordingError


def short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def _usage(raw: Any) -> dict[str, Any]:
    return {k: v for k, v in (raw or {}).items() if v is not None and not isinstance(v, Mapping)}


class ChatAdapter:
    """``POST /chat/completions``."""

    name = "chat"
    path = "/chat/completions"

    def body(self, model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages]}
        body.update({k: v for k, v in params.items() if k != "extra_body"})
        body.update(params.get("extra_body") or {})
        return body

    def parse(self, interaction: Interaction) -> Answer:
        if interaction.is_event_stream:
            return self.from_chunks(sse_documents(interaction.response_body))
        doc = interaction.response_json
        if not isinstance(doc, Mapping):
            raise RecordingError(
                f"the model endpoint's answer is not a JSON object: {short(interaction.response_body)}"
            )
        choice = (doc.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        calls = [
            {"id": c.get("id"), "name": c["function"].get("name", ""), "arguments": c["function"].get("arguments", "")}
            for c in message.get("tool_calls") or []
            if isinstance(c.get("function"), Mapping)
        ]
        return Answer(
            text=message.get("content") or "",
            tool_calls=calls,
            finish_reason=choice.get("finish_reason"),
            model=doc.get("model"),
            usage=_usage(doc.get("usage")),
        )

    @staticmethod
    def from_chunks(chunks: Sequence[Any]) -> Answer:
        """An :class:`Answer` assembled from streamed ``chat.completion.chunk`` documents."""
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish = model = None
        usage: dict[str, Any] = {}
        for chunk in chunks:
            if not isinstance(chunk, Mapping):
                continue
            model = chunk.get("model") or model
            if chunk.get("usage"):
                usage = _usage(chunk["usage"])
            for choice in (chunk.get("choices") or [])[:1]:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    text.append(delta["content"])
                for call in delta.get("tool_calls") or []:
                    slot = calls.setdefault(call.get("index", 0), {"id": None, "name": "", "arguments": ""})
                    slot["id"] = call.get("id") or slot["id"]
                    function = call.get("function") or {}
                    slot["name"] += function.get("name") or ""
                    slot["arguments"] += function.get("arguments") or ""
                finish = choice.get("finish_reason") or finish
        return Answer("".join(text), [calls[i] for i in sorted(calls)], finish, model, usage)


# Chat parameters the Responses API takes under another name or shape, and those it has no equivalent for.
_RENAMED = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens"}
_UNSUPPORTED = {
    "seed",
    "stop",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "stream_options",
    "modalities",
    "prediction",
}


class ResponsesAdapter:
    """``POST /responses``: the same conversation as input items, the answer read from the output items."""

    name = "responses"
    path = "/responses"

    def body(self, model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "input": self.input(messages)}
        for key, value in params.items():
            if key in _UNSUPPORTED:
                raise PromptdriftError(
                    f"params.{key} has no equivalent in the Responses API; remove it or use api: chat"
                )
            if key == "extra_body":
                continue
            if key == "response_format":
                body.setdefault("text", {})["format"] = self.text_format(value)
            elif key == "verbosity":
                body.setdefault("text", {})["verbosity"] = value
            elif key == "reasoning_effort":
                body["reasoning"] = {"effort": value}
            elif key == "tools":
                body["tools"] = [self.tool(t) for t in value]
            elif key == "tool_choice" and isinstance(value, Mapping) and "function" in value:
                body["tool_choice"] = {"type": "function", "name": value["function"].get("name")}
            else:
                body[_RENAMED.get(key, key)] = value
        body.update(params.get("extra_body") or {})
        return body

    @staticmethod
    def input(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for message in messages:
            role = message.get("role")
            if role == "tool":
                items.append(
                    {
                        "type": "function_call_output",
                        "call_id": message.get("tool_call_id"),
                        "output": message["content"],
                    }
                )
                continue
            if role == "assistant" and message.get("tool_calls"):
                if message.get("content"):
                    items.append({"role": "assistant", "content": message["content"]})
                for call in message["tool_calls"]:
                    function = call.get("function") or {}
                    items.append(
                        {
                            "type": "function_call",
                            "call_id": call.get("id"),
                            "name": function.get("name"),
                            "arguments": function.get("arguments", ""),
                        }
                    )
                continue
            items.append({"role": role, "content": message.get("content")})
        return items

    @staticmethod
    def text_format(value: Mapping[str, Any]) -> dict[str, Any]:
        if value.get("type") == "json_schema" and isinstance(value.get("json_schema"), Mapping):
            return {"type": "json_schema", **value["json_schema"]}
        return dict(value)

    @staticmethod
    def tool(tool: Mapping[str, Any]) -> dict[str, Any]:
        if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
            return {"type": "function", **tool["function"]}
        return dict(tool)

    def parse(self, interaction: Interaction) -> Answer:
        if interaction.is_event_stream:
            final = None
            for event in sse_documents(interaction.response_body):
                if isinstance(event, Mapping) and isinstance(event.get("response"), Mapping):
                    final = event["response"]  # created, in progress... completed: the last one is whole
            doc = final
        else:
            doc = interaction.response_json
        if not isinstance(doc, Mapping):
            raise RecordingError(
                f"the model endpoint's answer is not a Response object: {short(interaction.response_body)}"
            )
        text: list[str] = []
        calls = []
        for item in doc.get("output") or []:
            if not isinstance(item, Mapping):
                continue
            if item.get("type") == "message":
                text.extend(
                    str(part.get("text", ""))
                    for part in item.get("content") or []
                    if isinstance(part, Mapping) and part.get("type") == "output_text"
                )
            elif item.get("type") == "function_call":
                calls.append(
                    {"id": item.get("call_id"), "name": item.get("name", ""), "arguments": item.get("arguments", "")}
                )
        usage = _usage(doc.get("usage"))
        if "input_tokens" in usage:  # the checks and reports count in chat-completions terms
            usage = {
                "prompt_tokens": usage.get("input_tokens"),
                "completion_tokens": usage.get("output_tokens"),
                "total_tokens": usage.get("total_tokens"),
            }
        return Answer("".join(text), calls, self.finish_reason(doc, calls), doc.get("model"), usage)

    @staticmethod
    def finish_reason(doc: Mapping[str, Any], calls: list[Any]) -> str:
        """The chat-completions name for why the answer ended: ``length`` when cut off by the token limit."""
        if doc.get("status") == "incomplete":
            reason = (doc.get("incomplete_details") or {}).get("reason")
            return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
        return "tool_calls" if calls else "stop"


# Chat parameters Anthropic's Messages API has no equivalent for (its own go under params.extra_body).
_NOT_IN_MESSAGES = (_UNSUPPORTED - {"stop"}) | {"top_logprobs", "verbosity", "store"}
# Sampling parameters: since API version 2026-10-21 (what the anthropic SDK 2.x sends) the Messages API answers
# HTTP 400 to any of them, even at its default, and the SDK no longer has them.
_NO_SAMPLING = {"temperature", "top_p", "top_k"}
_EFFORTS = ("low", "medium", "high", "xhigh", "max")  # output_config.effort
# Why an Anthropic answer ended, in chat-completions terms (what the checks and the truncation problem read).
_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


class MessagesAdapter:
    """Anthropic's ``POST /v1/messages``: system at the top level, tool calls and results as content blocks."""

    name = "messages"
    path = "/v1/messages"

    def body(self, model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
        system = [str(m.get("content") or "") for m in messages if m.get("role") in ("system", "developer")]
        body: dict[str, Any] = {"model": model}
        if system:
            body["system"] = "\n\n".join(system)
        body["messages"] = self.messages(messages)
        tool_choice: dict[str, Any] = {}
        for key, value in params.items():
            if key in _NOT_IN_MESSAGES:
                raise PromptdriftError(
                    f"params.{key} has no equivalent in Anthropic's Messages API; remove it (or pass Anthropic's "
                    "own parameters under params.extra_body)"
                )
            if key in _NO_SAMPLING:
                raise PromptdriftError(
                    f"params.{key}: Anthropic's Messages API has no sampling parameters since API version "
                    "2026-10-21 (it answers HTTP 400 to any of them); remove it from the suite or case"
                )
            if key in ("max_tokens", "max_completion_tokens"):
                body["max_tokens"] = value
            elif key == "stop":
                body["stop_sequences"] = [value] if isinstance(value, str) else list(value)
            elif key == "tools":
                body["tools"] = [self.tool(t) for t in value]
            elif key == "tool_choice":
                tool_choice.update(self.tool_choice(value))
            elif key == "parallel_tool_calls":
                tool_choice.setdefault("type", "auto")
                tool_choice["disable_parallel_tool_use"] = not value
            elif key == "user":
                body["metadata"] = {**body.get("metadata", {}), "user_id": value}
            elif key == "response_format":
                body.setdefault("output_config", {})["format"] = self.output_format(value)
            elif key == "reasoning_effort":
                if value not in _EFFORTS:
                    raise PromptdriftError(
                        f"params.reasoning_effort {value!r} has no equivalent in Anthropic's output_config.effort "
                        f"({', '.join(_EFFORTS)})"
                    )
                body.setdefault("output_config", {})["effort"] = value
            elif key != "extra_body":
                body[key] = value
        if tool_choice:
            body["tool_choice"] = tool_choice
        body.update(params.get("extra_body") or {})
        if "max_tokens" not in body:
            raise PromptdriftError(
                "Anthropic's Messages API needs max_tokens: set params.max_tokens in the suite or the case"
            )
        return body

    @staticmethod
    def messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The conversation without its system messages; tool calls as ``tool_use`` blocks, and each run of
        tool results as one user message of ``tool_result`` blocks (as the API requires)."""
        out: list[dict[str, Any]] = []
        for message in messages:
            role = message.get("role")
            if role in ("system", "developer"):
                continue
            if role == "tool":
                block = {
                    "type": "tool_result",
                    "tool_use_id": message.get("tool_call_id"),
                    "content": message["content"],
                }
                if (
                    out
                    and out[-1]["role"] == "user"
                    and isinstance(out[-1]["content"], list)
                    and all(b.get("type") == "tool_result" for b in out[-1]["content"])
                ):
                    out[-1]["content"].append(block)
                else:
                    out.append({"role": "user", "content": [block]})
                continue
            if role == "assistant" and message.get("tool_calls"):
                blocks: list[dict[str, Any]] = []
                if message.get("content"):
                    blocks.append({"type": "text", "text": message["content"]})
                for call in message["tool_calls"]:
                    function = call.get("function") or {}
                    blocks.append(
                        {
                            "type": "tool_use",
                            "id": call.get("id"),
                            "name": function.get("name"),
                            "input": _arguments(function.get("arguments")),
                        }
                    )
                out.append({"role": "assistant", "content": blocks})
                continue
            out.append({"role": role, "content": message.get("content")})
        return out

    @staticmethod
    def tool(tool: Mapping[str, Any]) -> dict[str, Any]:
        """A chat-completions function tool in Anthropic's form (``input_schema``); any other passes through."""
        function = tool.get("function")
        if tool.get("type") != "function" or not isinstance(function, Mapping):
            return dict(tool)
        out = {"name": function.get("name"), "input_schema": function.get("parameters") or {"type": "object"}}
        if function.get("description"):
            out["description"] = function["description"]
        return out

    @staticmethod
    def output_format(value: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON-schema ``response_format`` as Anthropic's structured output (``output_config.format``)."""
        if value.get("type") == "json_schema" and isinstance(value.get("json_schema"), Mapping):
            return {"type": "json_schema", "schema": value["json_schema"].get("schema") or {}}
        raise PromptdriftError(
            f"params.response_format of type {value.get('type')!r} has no equivalent in Anthropic's Messages API: "
            "give a JSON schema (response_format: {schema: ...}), which becomes output_config.format"
        )

    @staticmethod
    def tool_choice(value: Any) -> dict[str, Any]:
        if isinstance(value, Mapping) and isinstance(value.get("function"), Mapping):
            return {"type": "tool", "name": value["function"].get("name")}
        if isinstance(value, Mapping):
            return dict(value)  # Anthropic's own form
        return {"type": {"required": "any"}.get(str(value), str(value))}  # auto, none; required is any

    def parse(self, interaction: Interaction) -> Answer:
        if interaction.is_event_stream:
            return self.from_events(sse_documents(interaction.response_body))
        doc = interaction.response_json
        if not isinstance(doc, Mapping) or doc.get("type") not in (None, "message"):
            raise RecordingError(
                f"the model endpoint's answer is not an Anthropic message: {short(interaction.response_body)}"
            )
        content = doc.get("content")
        blocks = [b for b in content if isinstance(b, Mapping)] if isinstance(content, list) else []
        text = [str(b.get("text", "")) for b in blocks if b.get("type") == "text"]
        calls = [
            {
                "id": b.get("id"),
                "name": b.get("name", ""),
                "arguments": json.dumps(b.get("input", {}), ensure_ascii=False),
            }
            for b in blocks
            if b.get("type") == "tool_use"
        ]
        return self.answer("".join(text), calls, doc.get("stop_reason"), doc.get("model"), _mapping(doc.get("usage")))

    @classmethod
    def from_events(cls, events: Sequence[Any]) -> Answer:
        """An :class:`Answer` assembled from a stream's events: text deltas, tool input from ``input_json_delta``."""
        blocks: dict[int, dict[str, Any]] = {}
        usage: dict[str, Any] = {}
        model = stop = None
        for event in events:
            if not isinstance(event, Mapping):
                continue
            kind, index = event.get("type"), event.get("index")
            if not isinstance(index, int):  # one block a stream, as it has without an index
                index = len(blocks) if kind == "content_block_start" else max(blocks, default=0)
            if kind == "message_start":
                message = _mapping(event.get("message"))
                model, usage = message.get("model"), dict(_mapping(message.get("usage")))
            elif kind == "content_block_start":
                block = {**_mapping(event.get("content_block")), "partial": ""}
                blocks[index] = block
            elif kind == "content_block_delta":
                block = blocks.setdefault(index, {"type": "text", "text": "", "partial": ""})
                delta = _mapping(event.get("delta"))
                if delta.get("type") == "text_delta":
                    block["text"] = block.get("text", "") + str(delta.get("text", ""))
                elif delta.get("type") == "input_json_delta":
                    block["partial"] += str(delta.get("partial_json", ""))
            elif kind == "message_delta":
                stop = _mapping(event.get("delta")).get("stop_reason") or stop
                usage.update({k: v for k, v in _mapping(event.get("usage")).items() if v is not None})
        ordered = [blocks[i] for i in sorted(blocks)]
        text = "".join(str(b.get("text", "")) for b in ordered if b.get("type") == "text")
        calls = [
            {
                "id": b.get("id"),
                "name": b.get("name", ""),
                "arguments": b["partial"] or json.dumps(b.get("input") or {}),
            }
            for b in ordered
            if b.get("type") == "tool_use"
        ]
        return cls.answer(text, calls, stop, model, usage)

    @staticmethod
    def answer(text: str, calls: list[dict[str, Any]], stop: Any, model: Any, raw: Mapping[str, Any]) -> Answer:
        """The answer in chat-completions terms: ``finish_reason`` ``length`` when cut off by ``max_tokens``;
        tokens as ``prompt_tokens`` / ``completion_tokens``, prompt-cache tokens beside them."""
        raw = _usage(_mapping(raw))
        names = {
            "input_tokens": "prompt_tokens",
            "output_tokens": "completion_tokens",
            "cache_creation_input_tokens": "cache_write_tokens",
            "cache_read_input_tokens": "cache_read_tokens",
        }
        usage = {names[k]: v for k, v in raw.items() if k in names and isinstance(v, int)}
        if usage:
            usage["total_tokens"] = sum(usage.values())
        return Answer(text, calls, _STOP_REASONS.get(str(stop), stop), model, usage)


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a damaged or hand-edited cassette)."""
    return value if isinstance(value, Mapping) else {}


def _arguments(arguments: Any) -> Any:
    """A tool call's arguments as the object Anthropic's ``tool_use.input`` is (text that is not JSON as is)."""
    if not isinstance(arguments, str):
        return arguments if arguments is not None else {}
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return arguments


Adapter = ChatAdapter | ResponsesAdapter | MessagesAdapter
# by suite.model.API_NAMES
ADAPTERS: dict[str, Adapter] = {"chat": ChatAdapter(), "responses": ResponsesAdapter(), "messages": MessagesAdapter()}


def answer(adapter: Adapter, interaction: Interaction) -> Answer:
    """The interaction's answer as ``adapter`` reads it, parsed on first use and kept on the interaction."""
    if interaction.parsed is None:
        interaction.parsed = adapter.parse(interaction)
    parsed: Answer = interaction.parsed
    return parsed


def call_summary(interaction: Interaction) -> dict[str, Any]:
    """The returned model and token usage of one call: an answer read by its adapter, else any JSON or SSE body."""
    for adapter in ADAPTERS.values():
        if interaction.path.endswith(adapter.path):  # usage in chat-completions terms, as the checks read it
            try:
                parsed = answer(adapter, interaction)
            except PromptdriftError:
                break
            return {k: v for k, v in (("model", parsed.model), ("usage", dict(parsed.usage))) if v}
    out: dict[str, Any] = {}
    docs = sse_documents(interaction.response_body) if interaction.is_event_stream else [interaction.response_json]
    for doc in docs:
        if isinstance(doc, dict):
            if doc.get("model"):
                out["model"] = doc["model"]
            if isinstance(doc.get("usage"), dict):
                out["usage"] = doc["usage"]
    return out


def tool_call_message(answer: Answer) -> dict[str, Any]:
    """The assistant message that asked for tools, as the conversation keeps it."""
    return {
        "role": "assistant",
        "content": answer.text or None,
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in answer.tool_calls
        ],
    }


def tool_result_message(call: Mapping[str, Any], result: Any) -> dict[str, Any]:
    """A scripted tool result, answering one call (JSON unless it is already text)."""
    content = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    return {"role": "tool", "tool_call_id": call["id"], "content": content}

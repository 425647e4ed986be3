"""Adapters for the two OpenAI APIs a suite can use: chat completions and the Responses API.

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


Adapter = ChatAdapter | ResponsesAdapter
ADAPTERS: dict[str, Adapter] = {"chat": ChatAdapter(), "responses": ResponsesAdapter()}  # by spec.model.API_NAMES


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

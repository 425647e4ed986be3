"""Async clients: concurrent calls through AsyncOpenAI record into one cassette and replay."""

from __future__ import annotations

import json

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import record_and_replay

ASYNC_TEST = """
import asyncio


async def ask_all(client, questions):
    replies = await asyncio.gather(
        *(client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}]) for q in questions)
    )
    return [r.choices[0].message.content for r in replies]


def test_async_client(async_openai_client):
    answers = asyncio.run(ask_all(async_openai_client, ["order 1 is late", "send my invoice", "hello"]))
    assert answers[0].startswith("I'm so sorry") and '"total": 42.5' in answers[1]


def test_async_client_from_prompt(prompt):
    async def go():
        client = prompt.async_client()
        reply = await client.responses.create(model="gpt-4o-mini", input="my parcel is late")
        return reply.output_text

    assert "sorry" in asyncio.run(go())
"""


def test_async_clients_record_concurrent_calls_and_replay_them(pytester: pytest.Pytester, demo: DemoServer) -> None:
    pytester.makepyfile(test_async=ASYNC_TEST)
    record_and_replay(pytester, demo, passed=2)
    tape = cassettes.load(pytester.path / "cassettes/test_async/test_async_client.yaml")
    assert sorted(json.loads(i.request_body)["messages"][0]["content"] for i in tape.interactions) == [
        "hello",
        "order 1 is late",
        "send my invoice",
    ]
    assert (
        cassettes.load(pytester.path / "cassettes/test_async/test_async_client_from_prompt.yaml")
        .interactions[0]
        .uri.endswith("/responses")
    )


# -- bad input ----------------------------------------------------------------------------------

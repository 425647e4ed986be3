"""The recording benchmarks' floor: plain pytest making the same calls through the openai (or anthropic) SDK.

``benchmarks/run.py --only shards`` runs this file with promptdrift disabled
(``-p no:promptdrift``), as one process and as four at once, beside the same
workload recorded by promptdrift. Each test is one case: the same chat request
to the same demo server, 16 in flight at a time, the answer's order number
checked. Nothing is recorded, no check library runs, no cassette is written:
what is left is pytest, the SDK and the threads, the part of every shard's
cost that promptdrift does not own. The gap between this floor and
promptdrift's figures is promptdrift's own work.

The SDK is imported as promptdrift imports it (cyclic garbage collector paused,
then frozen), so that the floor does not carry a cost promptdrift avoids.

``PROMPTDRIFT_FLOOR_FIRST`` and ``PROMPTDRIFT_FLOOR_COUNT`` choose the orders
(a shard's slice); ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` the server.
``PROMPTDRIFT_FLOOR_SDK=anthropic`` asks through Anthropic's SDK instead
(``ANTHROPIC_BASE_URL``, ``ANTHROPIC_API_KEY``), as ``benchmarks/run.py --only
providers`` does beside promptdrift recording the same suite with ``provider: anthropic``.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

FIRST = int(os.environ.get("PROMPTDRIFT_FLOOR_FIRST", "0"))
COUNT = int(os.environ.get("PROMPTDRIFT_FLOOR_COUNT", "200"))
CONCURRENCY = 16
SDK = os.environ.get("PROMPTDRIFT_FLOOR_SDK", "openai")
SYSTEM = "You answer order questions in JSON."


@pytest.fixture(scope="session")
def answers() -> Iterator[dict[int, Future[str]]]:
    """Every test's answer, asked at the first test: 16 requests in flight until all are answered."""
    gc.disable()
    sdk = importlib.import_module(SDK)
    gc.enable()
    gc.freeze()

    if SDK == "anthropic":
        messages = sdk.Anthropic(max_retries=0).messages

        def ask(number: int) -> str:
            message: Any = messages.create(
                model="gpt-4o-mini",
                max_tokens=100,
                system=SYSTEM,
                messages=[{"role": "user", "content": f"Where is my order? Order {number}"}],
            )
            return str(message.content[0].text)

    else:
        completions = sdk.OpenAI(max_retries=0).chat.completions

        def ask(number: int) -> str:
            completion: Any = completions.create(
                model="gpt-4o-mini",
                temperature=0,
                messages=[
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Where is my order? Order {number}"},
                ],
            )
            return str(completion.choices[0].message.content)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        yield {number: pool.submit(ask, number) for number in range(FIRST, FIRST + COUNT)}


@pytest.mark.parametrize("number", range(FIRST, FIRST + COUNT))
def test_order(number: int, answers: dict[int, Future[str]]) -> None:
    assert json.loads(answers[number].result())["order"] == number

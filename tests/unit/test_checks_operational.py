"""Unit tests for latency, tokens and cost."""

from __future__ import annotations

import pytest

from promptdrift.checks import parse_check
from promptdrift.core.answers import Answer
from promptdrift.core.errors import SuiteError
from tests.helpers import apply_check

USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}


def test_latency() -> None:
    assert apply_check({"latency": {"max_ms": 3000}}, Answer("x", latency_ms=1200.0)).passed
    slow = apply_check({"latency": {"max_ms": 3000}}, Answer("x", latency_ms=4200.0))
    assert not slow.passed and slow.reason == "4200 ms > max 3000 ms" and slow.score == 4200.0
    assert not apply_check({"latency": {"max_ms": 1}}, Answer("x")).passed


def test_tokens() -> None:
    assert apply_check({"tokens": {"max": 1500}}, Answer("x", usage=USAGE)).passed
    over = apply_check({"tokens": {"max": 1000}}, Answer("x", usage=USAGE))
    assert not over.passed and over.reason == "1500 tokens > max 1000 (prompt 1000, completion 500)"
    assert not apply_check({"tokens": {"max": 1}}, Answer("x")).passed


def test_cost_from_the_configured_price_table() -> None:
    prices = {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}
    answer = Answer("x", usage=USAGE, requested_model="gpt-4o-mini", model="gpt-4o-mini-2024-07-18")
    result = apply_check({"cost": {"max_usd": 0.001}}, answer, prices=prices)
    # 1000 * 0.15 / 1e6 + 500 * 0.6 / 1e6 = 0.00015 + 0.0003
    assert result.score == pytest.approx(0.00045) and result.passed
    assert not apply_check({"cost": {"max_usd": 0.0004}}, answer, prices=prices).passed
    missing = apply_check({"cost": {"max_usd": 1}}, answer, prices={})
    assert not missing.passed and "no price for model 'gpt-4o-mini'" in missing.reason


@pytest.mark.parametrize(
    "spec", [{"latency": 3000}, {"latency": {"max": 3}}, {"tokens": {"max": -1}}, {"cost": {"max_usd": "1"}}]
)
def test_bad_operational_arguments(spec: dict) -> None:
    with pytest.raises(SuiteError):
        parse_check(spec, path="t.yaml", default_line=1)

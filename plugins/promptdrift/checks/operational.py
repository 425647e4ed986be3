"""Operational limits from what was recorded: latency, tokens and cost of the answer call.

Prices come from ``[tool.promptdrift.prices]`` (USD per million tokens, per
model); promptdrift ships no price list, since any built-in one would be stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptdrift.checks.registry import CheckContext, check
from promptdrift.core.answers import Answer, CheckResult


def _limit(key: str, example: str) -> Any:
    def validate(value: Any) -> float:
        if not isinstance(value, Mapping) or set(value) != {key}:
            raise ValueError(f"expected {example}")
        bound = value[key]
        if isinstance(bound, bool) or not isinstance(bound, int | float) or bound < 0:
            raise ValueError(f"{key} must be a number >= 0, got {bound!r}")
        return float(bound)

    return validate


@check(
    "latency",
    description="The answer call took at most max_ms milliseconds when it was recorded.",
    example="latency: {max_ms: 3000}",
    family="operational",
    validate=_limit("max_ms", "latency: {max_ms: 3000}"),
)
def latency(answer: Answer, arg: float, ctx: CheckContext) -> CheckResult:
    if answer.latency_ms is None:
        return CheckResult("latency", False, None, "no latency was recorded for this answer")
    ok = answer.latency_ms <= arg
    reason = "" if ok else f"{answer.latency_ms:.0f} ms > max {arg:g} ms"
    return CheckResult("latency", ok, answer.latency_ms, reason)


def _total_tokens(answer: Answer) -> int | None:
    usage = answer.usage
    if "total_tokens" in usage:
        return int(usage["total_tokens"])
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
    return None


@check(
    "tokens",
    description="The answer call used at most max tokens (prompt and completion).",
    example="tokens: {max: 400}",
    family="operational",
    validate=_limit("max", "tokens: {max: 400}"),
)
def tokens(answer: Answer, arg: float, ctx: CheckContext) -> CheckResult:
    total = _total_tokens(answer)
    if total is None:
        return CheckResult("tokens", False, None, "the response reported no token usage")
    ok = total <= arg
    usage = dict(answer.usage)
    reason = (
        ""
        if ok
        else (
            f"{total} tokens > max {arg:g} "
            f"(prompt {usage.get('prompt_tokens', '?')}, completion {usage.get('completion_tokens', '?')})"
        )
    )
    return CheckResult("tokens", ok, float(total), reason)


BATCH_DISCOUNT = 0.5  # the batch rate, where [tool.promptdrift.prices] gives none: half the listed price
CACHE_WRITE, CACHE_READ = 1.25, 0.1  # Anthropic's prompt-cache rates, where none is given: times the input price


def price_of(prices: Mapping[str, Mapping[str, float]], answer: Answer) -> float | None:
    """USD cost of the answer call, or ``None`` when no price is configured for its model.

    An answer recorded through a provider batch (``answer.batch``) is priced at the model's
    ``batch_input`` / ``batch_output`` rates, by default half of ``input`` / ``output``. Anthropic's
    prompt-cache tokens (``cache_write_tokens``, ``cache_read_tokens``) at ``cache_write`` / ``cache_read``.
    """
    for model in (answer.requested_model, answer.model):
        if model and model in prices:
            price = prices[model]
            usage = answer.usage
            prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
            rate_in, rate_out = price.get("input", 0.0), price.get("output", 0.0)
            if answer.batch:
                rate_in = price.get("batch_input", rate_in * BATCH_DISCOUNT)
                rate_out = price.get("batch_output", rate_out * BATCH_DISCOUNT)
            # Anthropic's prompt-cache tokens, counted apart from its input tokens
            written, read = int(usage.get("cache_write_tokens", 0)), int(usage.get("cache_read_tokens", 0))
            cached = written * price.get("cache_write", rate_in * CACHE_WRITE) + read * price.get(
                "cache_read", rate_in * CACHE_READ
            )
            return (prompt * rate_in + completion * rate_out + cached) / 1_000_000
    return None


@check(
    "cost",
    description="The answer call cost at most max_usd, priced from [tool.promptdrift.prices] "
    "(at the batch rate when it was recorded through a batch).",
    example="cost: {max_usd: 0.002}",
    family="operational",
    validate=_limit("max_usd", "cost: {max_usd: 0.002}"),
)
def cost(answer: Answer, arg: float, ctx: CheckContext) -> CheckResult:
    usd = price_of(ctx.settings.prices, answer)
    if usd is None:
        model = answer.requested_model or answer.model
        return CheckResult(
            "cost",
            False,
            None,
            f"no price for model {model!r}: add it to [tool.promptdrift.prices] "
            f'("{model}" = {{input = <USD per 1M tokens>, output = <USD per 1M tokens>}})',
        )
    ok = usd <= arg
    return CheckResult("cost", ok, usd, "" if ok else f"${usd:.6f} > max ${arg:g}")

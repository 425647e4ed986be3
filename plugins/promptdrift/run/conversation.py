"""One case's conversation: render the prompt, ask each turn and tool round, shape and check each answer."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from promptdrift.checks import CheckSpec, evaluate
from promptdrift.config import Settings
from promptdrift.core.answers import Answer, CheckResult, total_usage
from promptdrift.core.errors import PromptdriftError, gather_deferred
from promptdrift.record.adapters import ADAPTERS, tool_call_message, tool_result_message
from promptdrift.record.client import Channel
from promptdrift.run import transform
from promptdrift.run.context import Context
from promptdrift.run.outcome import Sample
from promptdrift.run.retrieval import context_variables
from promptdrift.suite.model import Case, Suite, Turn
from promptdrift.text import templating

if TYPE_CHECKING:
    pass


def case_variables(suite: Suite, case: Case, where: str) -> dict[str, Any]:
    """The case's variables, with ``context`` / ``documents`` when the suite retrieves documents."""
    if suite.context is None:
        return dict(case.vars)
    return {**case.vars, **context_variables(suite.context, case.vars, where=where, path=suite.relpath)}


def opening_messages(suite: Suite, variables: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """The messages before the first user turn: system and few-shot pairs (or the whole ``messages`` list)."""
    prompt = suite.prompt
    if prompt.messages:
        return [templating.render_deep(dict(m), variables, where=where, path=suite.relpath) for m in prompt.messages]
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append(
            {"role": "system", "content": templating.render(prompt.system, variables, where=where, path=suite.relpath)}
        )
    for user, assistant in prompt.few_shot:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    return messages


def user_turns(suite: Suite, case: Case) -> tuple[Turn, ...]:
    """The case's turns; a case without ``turns`` has one, the suite's user template (none after a messages list)."""
    if case.turns:
        return case.turns
    return (Turn(suite.prompt.user),) if suite.prompt.user is not None else (Turn(None),)


def model_for(suite: Suite, settings: Settings) -> str:
    model = settings.model or suite.model
    if not model:
        raise PromptdriftError(
            "no model: set 'model:' in the suite or pass --prompt-model NAME", path=suite.relpath, line=suite.line
        )
    return model


def build_request(suite: Suite, case: Case, settings: Settings) -> dict[str, Any]:
    """The request body of a case's first call, rendered without calling anything (``promptdrift`` tests, fuzzing)."""
    conversation = Conversation(suite, case, settings)
    messages = conversation.opening()
    conversation.add_user(messages, user_turns(suite, case)[0])
    return conversation.adapter.body(model_for(suite, settings), messages, conversation.params)


def case_where(suite: Suite, case: Case) -> str:
    return f"{suite.relpath}::{case.id}" + (f"[{suite.variant}]" if suite.variant else "")


MAX_TOOL_ROUNDS = 8  # tool calls answered from tool_results before the case stops and checks what it has


class Conversation:
    """One run of a case: every turn, and every tool round, in order; each answer shaped for its checks."""

    def __init__(
        self, suite: Suite, case: Case, settings: Settings, channel: Channel | None = None, ctx: Context | None = None
    ) -> None:
        self.suite, self.case, self.settings = suite, case, settings
        self.channel = channel  # None: only render requests (build_request)
        self.ctx = ctx or Context(settings, channel)
        self.where = case_where(suite, case)
        self.adapter = ADAPTERS[suite.api]
        self.handling = case.handling.over(suite.handling)
        self.named = f"case {case.id!r}"  # in template errors, beside the suite's path
        self.variables = case_variables(suite, case, self.named)
        self.specs = (*suite.expect, *case.expect)
        self.params = {**suite.params, **case.params}
        # How the API itself says an answer was cut off (the checks read both as finish_reason 'length').
        self.cut_off_said = "stop_reason 'max_tokens'" if suite.api == "messages" else "finish_reason 'length'"

    def run(self, *, checks: bool = True) -> Sample:
        """Ask every turn; checks per turn on its answer, and the suite's and case's on the final one.

        ``checks=False`` only asks (a code-first test checks with ``out.check()``).
        """
        suite = self.suite
        messages = self.opening()
        model = model_for(suite, self.settings)
        results: list[CheckResult] = []
        calls: list[Answer] = []
        turns = user_turns(suite, self.case)
        answer = Answer("")
        for number, turn in enumerate(turns, 1):
            self.add_user(messages, turn)
            answer = self.ask(messages, model, calls)
            final = number == len(turns)
            label = None if final or len(turns) == 1 else number
            shaped, problems = self.shape(answer, label)
            results.extend(problems)
            if checks:
                results.extend(self.check(turn.expect, shaped, label))
            if final:
                answer = shaped
            else:
                messages.append({"role": "assistant", "content": answer.text})
        answer = _combined(answer, calls)
        if suite.context is not None:
            answer.context = list(self.variables["documents"])
        if checks:
            results.extend(self.check(self.specs, answer, None))
        return Sample(answer, results, list(messages))

    def opening(self) -> list[dict[str, Any]]:
        return opening_messages(self.suite, self.variables, self.named)

    def add_user(self, messages: list[dict[str, Any]], turn: Turn) -> None:
        """The turn's user message, rendered (none for a suite's ``messages`` list, which has it already)."""
        if turn.user is not None:
            text = templating.render(turn.user, self.variables, where=self.named, path=self.suite.relpath)
            messages.append({"role": "user", "content": text})

    def ask(self, messages: list[dict[str, Any]], model: str, calls: list[Answer]) -> Answer:
        """One turn's answer; tool calls with scripted results are answered and the model asked again."""
        assert self.channel is not None, "a Conversation without a channel only renders requests"
        scripted = self.handling.tool_results or {}
        for _ in range(MAX_TOOL_ROUNDS):
            body = self.adapter.body(model, messages, self.params)
            answer = self.channel.call(self.adapter, body, self.where, self.suite.provider)
            calls.append(answer)
            if not answer.tool_calls or any(c["name"] not in scripted for c in answer.tool_calls):
                return answer  # no tools, or one without a scripted result: the checks see the call
            messages.append(tool_call_message(answer))
            for call in answer.tool_calls:
                result = templating.render_deep(
                    scripted[call["name"]], self.variables, where=self.named, path=self.suite.relpath
                )
                messages.append(tool_result_message(call, result))
        return answer

    def shape(self, answer: Answer, turn: int | None) -> tuple[Answer, list[CheckResult]]:
        """The answer the checks see (extract, transform) and what is wrong with it regardless of checks."""
        problems = []
        if answer.finish_reason == "length" and not self.handling.truncation_expected:
            limit = next(
                (f"{k}={v}" for k, v in self.params.items() if "max" in k and "tokens" in k), "the token limit"
            )
            problems.append(
                CheckResult(
                    "truncation",
                    False,
                    reason=f"the answer was cut off by the token limit ({limit}, {self.cut_off_said}); "
                    "raise the limit, or declare 'truncation: expected' on the case",
                    turn=turn,
                )
            )
        steps = self.handling.steps
        if not steps:
            return answer, problems
        try:
            text = transform.apply(steps, answer.text, self.settings.rootdir)
        except transform.StepFailed as exc:
            problems.append(
                CheckResult("transform", False, reason=f"{exc}; the checks saw the whole answer", turn=turn)
            )
            return answer, problems
        return dataclasses.replace(answer, text=text, raw=answer.text), problems

    def check(self, specs: Sequence[CheckSpec], answer: Answer, turn: int | None) -> list[CheckResult]:
        results = run_checks(specs, answer, self.variables, self.ctx, self.where, self.suite.relpath)
        return results if turn is None else [dataclasses.replace(r, turn=turn) for r in results]


def _combined(final: Answer, calls: Sequence[Answer]) -> Answer:
    """The final answer, with every tool call of the case and the tokens and latency of all its calls."""
    if len(calls) <= 1:
        return final
    latencies = [c.latency_ms for c in calls if c.latency_ms is not None]
    return dataclasses.replace(
        final,
        tool_calls=[tc for c in calls for tc in c.tool_calls],
        usage=total_usage(c.usage for c in calls),
        latency_ms=sum(latencies) if latencies else None,
    )


def run_checks(
    specs: Sequence[CheckSpec], answer: Answer, variables: Mapping[str, Any], ctx: Context, where: str, path: str
) -> list[CheckResult]:
    """Evaluate checks, rendering templated arguments (``{{ reference }}``) with the case's variables."""

    def run(spec: CheckSpec) -> CheckResult:
        arg = templating.render_deep(spec.arg, variables, where=f"{where}, check {spec.label}", path=path)
        return evaluate(spec, answer, arg, ctx)

    # Under --prompt-batch every grader of this answer joins the same batch round.
    return gather_deferred(functools.partial(run, spec) for spec in specs)

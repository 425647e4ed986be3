"""Running one prompt case: render, call the model through its recorder, check the answer."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

from . import templating, transform
from .apis import APIS, Api, short, tool_call_message, tool_result_message
from .checks import Answer, CheckResult, CheckSpec, evaluate
from .checks.base import total_usage
from .client import Channel
from .config import Settings
from .errors import PromptdriftError, RecordingError
from .paths import resolve_in_root, safe_name
from .recorder import Recorder, RecordMode
from .stats import wilson_lower
from .suite import Case, Provider, Sampling, Suite, Turn

if TYPE_CHECKING:
    import openai


class Files:
    """Fixture files for checks, resolved inside the repository and cached for the whole run."""

    def __init__(self, rootdir: Path) -> None:
        self.rootdir = rootdir
        self.resolve = lru_cache(maxsize=512)(self._resolve)  # type: ignore[method-assign]
        self.load_json_file = lru_cache(maxsize=512)(self._load_json_file)  # type: ignore[method-assign]

    def _resolve(self, name: str, *, what: str) -> Path:
        return resolve_in_root(self.rootdir, name, what=what)

    def _load_json_file(self, name: str, *, what: str) -> Any:
        path = self.resolve(name, what=what)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise PromptdriftError(f"{what}: not valid JSON: {exc}", path=name) from None


_FILES: dict[Path, Files] = {}


def files_for(rootdir: Path) -> Files:
    """One shared file cache per root directory."""
    files = _FILES.get(rootdir)
    if files is None:
        files = _FILES[rootdir] = Files(rootdir)
    return files


class Context:
    """What the checks of one case may use: files, settings, and the case's recorded channel."""

    def __init__(self, settings: Settings, channel: Channel | None = None) -> None:
        self.settings = settings
        self.rootdir = settings.rootdir
        self._files = files_for(settings.rootdir)
        self._channel = channel

    def resolve(self, name: str, *, what: str) -> Path:
        return self._files.resolve(name, what=what)

    def load_json_file(self, name: str, *, what: str) -> Any:
        return self._files.load_json_file(name, what=what)

    def _need_channel(self) -> Channel:
        if self._channel is None:
            raise PromptdriftError("this check calls a model, and no client is available here")
        return self._channel

    def client(self) -> openai.OpenAI:
        return self._need_channel().client()

    def chat(self, body: Mapping[str, Any], where: str) -> Answer:
        return call_chat(self._need_channel(), body, where)


def case_variables(suite: Suite, case: Case, where: str) -> dict[str, Any]:
    """The case's variables, with ``context`` / ``documents`` when the suite retrieves documents."""
    if suite.context is None:
        return dict(case.vars)
    from .retrieval import context_variables

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
    return conversation.api.body(model_for(suite, settings), messages, conversation.params)


def case_where(suite: Suite, case: Case) -> str:
    return f"{suite.relpath}::{case.id}" + (f"[{suite.variant}]" if suite.variant else "")


def call_model(
    channel: Channel, api: Api, body: Mapping[str, Any], where: str, provider: Provider | None = None
) -> Answer:
    """One model call, replayed straight from the cassette when it holds exactly this request.

    Otherwise the request goes through the ``openai`` client (recording, or a
    replay the SDK decides); SDK errors become promptdrift errors that say what to do.
    """
    recorder = channel.recorder
    interaction = recorder.find("POST", api.path, body)
    if interaction is None:
        before = len(recorder.interactions)
        with sdk_errors(where):
            # The client's own POST: its base URL, Azure routing, auth, headers and timeout, with the
            # body sent exactly as the suite built it (no per-parameter transform; a third of the CPU
            # of a call). The transport has the whole answer, streamed or not, before this returns.
            channel.client(provider).post(api.path, body=dict(body), cast_to=httpx2.Response)
        interaction = recorder.interactions[before]
    answer = api.parse(interaction)
    answer.requested_model = body.get("model")
    answer.latency_ms = interaction.latency_ms
    return answer


def call_chat(channel: Channel, body: Mapping[str, Any], where: str, provider: Provider | None = None) -> Answer:
    """One chat-completions call (graders, code-first tests)."""
    return call_model(channel, APIS["chat"], body, where, provider)


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
        self.api = APIS[suite.api]
        self.tactics = case.tactics.over(suite.tactics)
        self.named = f"case {case.id!r}"  # in template errors, beside the suite's path
        self.variables = case_variables(suite, case, self.named)
        self.specs = (*suite.expect, *case.expect)
        self.params = {**suite.params, **case.params}

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
        return Sample(answer, results)

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
        scripted = self.tactics.tool_results or {}
        for _ in range(MAX_TOOL_ROUNDS):
            answer = call_model(
                self.channel, self.api, self.api.body(model, messages, self.params), self.where, self.suite.provider
            )
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
        if answer.finish_reason == "length" and not self.tactics.truncation_expected:
            limit = next(
                (f"{k}={v}" for k, v in self.params.items() if "max" in k and "tokens" in k), "the token limit"
            )
            problems.append(
                CheckResult(
                    "truncation",
                    False,
                    reason=f"the answer was cut off by the token limit ({limit}, finish_reason 'length'); "
                    "raise the limit, or declare 'truncation: expected' on the case",
                    turn=turn,
                )
            )
        steps = self.tactics.steps
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


@contextmanager
def sdk_errors(where: str) -> Iterator[None]:
    """Turn the SDK's errors into promptdrift errors that say what happened and what to do."""
    import openai  # only reached when a request goes through the SDK

    try:
        yield
    except openai.APIStatusError as exc:
        raise RecordingError(
            f"{where}: the model endpoint answered HTTP {exc.status_code} ({short(exc.message)}). "
            "Nothing was recorded for this case; fix the cause and re-run to record what is missing."
        ) from None
    except openai.APIConnectionError as exc:
        if isinstance(exc.__cause__, PromptdriftError):
            raise exc.__cause__ from None
        raise RecordingError(
            f"{where}: could not reach the model endpoint ({type(exc).__name__}: {short(str(exc))}). "
            "Nothing was recorded for this case; check the base URL and network, then re-run."
        ) from None


def run_checks(
    specs: Sequence[CheckSpec], answer: Answer, variables: Mapping[str, Any], ctx: Context, where: str, path: str
) -> list[CheckResult]:
    """Evaluate checks, rendering templated arguments (``{{ reference }}``) with the case's variables."""
    results = []
    for spec in specs:
        arg = templating.render_deep(spec.arg, variables, where=f"{where}, check {spec.label}", path=path)
        results.append(evaluate(spec, answer, arg, ctx))
    return results


@dataclass
class Sample:
    """One answer of a case and its check results."""

    answer: Answer
    results: list[CheckResult]

    def to_meta(self) -> dict[str, Any]:
        """What the cassette keeps of this answer: the model's text (and what the checks saw, if shaped)."""
        meta: dict[str, Any] = {"answer": self.answer.model_text}
        if self.answer.raw is not None:
            meta["checked_text"] = self.answer.text
        meta["checks"] = [r.to_dict() for r in self.results]
        meta["usage"] = dict(self.answer.usage)  # every call of the answer (turns, tool rounds), not graders
        return meta


@dataclass
class Outcome:
    """What a case produced: its answer(s), the check results, and how they were obtained.

    A case with ``samples: N`` has N samples; :attr:`answer` and :attr:`results`
    are the first one's, and it passes on its pass rate (see :attr:`passed`).
    """

    answer: Answer
    results: list[CheckResult]
    recorded: bool = False
    cassette: str = ""
    baseline: dict[str, Any] = field(default_factory=dict)
    min_score: float | None = None
    specs: Sequence[CheckSpec] = ()
    samples: list[Sample] = field(default_factory=list)
    sampling: Sampling | None = None  # set for a sampled case

    examples: list[dict[str, Any]] | None = None  # generated cases: the inputs, one per sample
    falsifying: int | None = None  # generated cases: the example shown (Hypothesis's shrunk one when recorded)

    def _score(self, results: Sequence[CheckResult]) -> float:
        return weighted_score(results, self.specs)

    def _passes(self, results: Sequence[CheckResult]) -> bool:
        return passes(results, self.specs, self.min_score)

    @property
    def score(self) -> float:
        """The weighted share of passed checks (1.0 with no checks)."""
        return self._score(self.results)

    @property
    def sample_passes(self) -> int:
        return sum(self._passes(s.results) for s in self.samples) if self.samples else int(self._passes(self.results))

    @property
    def pass_rate(self) -> float:
        return self.sample_passes / (len(self.samples) or 1)

    @property
    def pass_bound(self) -> float | None:
        """The Wilson lower bound of the pass rate, when the case asks for a confidence."""
        if self.sampling is None or self.sampling.confidence is None:
            return None
        return wilson_lower(self.sample_passes, len(self.samples), self.sampling.confidence)

    @property
    def required_rate(self) -> float:
        rate = self.sampling.min_pass_rate if self.sampling is not None else None
        return 1.0 if rate is None else rate

    @property
    def passed(self) -> bool:
        """All checks pass (or the weighted share reaches ``min_score``); sampled: the pass rate or its bound."""
        if self.sampling is None:
            return self._passes(self.results)
        bound = self.pass_bound
        return (bound if bound is not None else self.pass_rate) >= self.required_rate

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]


def weighted_score(results: Sequence[CheckResult], specs: Sequence[CheckSpec]) -> float:
    """The weighted share of passed checks (1.0 with no checks); implicit results (truncation) weigh 1."""
    weights = [spec.weight for spec in specs][: len(results)]
    weights = [1.0] * (len(results) - len(weights)) + weights  # turn and implicit results come first
    total = sum(weights)
    return sum(w for w, r in zip(weights, results, strict=True) if r.passed) / total if total else 1.0


def passes(results: Sequence[CheckResult], specs: Sequence[CheckSpec], min_score: float | None) -> bool:
    """All checks pass, or (with ``min_score``) their weighted share reaches it."""
    if min_score is not None:
        return weighted_score(results, specs) >= min_score
    return all(r.passed for r in results)


def cassette_path(settings: Settings, suite: Suite, case_id: str) -> Path:
    """``cassettes/<suite>/<case>.yaml`` (``cassettes/<suite>/<variant>/<case>.yaml``), names made file-safe."""
    folder = settings.cassettes / safe_name(suite.name)
    if suite.variant:
        folder = folder / safe_name(suite.variant)
    return folder / f"{safe_name(case_id)}.yaml"


def recorder_for(settings: Settings, path: Path, target: str) -> Recorder:
    """A recorder for the cassette at ``path``; ``target`` is what to pass pytest to record it."""
    try:
        display = path.relative_to(settings.rootdir).as_posix()
    except ValueError:
        display = str(path)
    return Recorder(path, settings.record, display=display, target=target)


def run_case(suite: Suite, case: Case, settings: Settings, nodeid: str) -> Outcome:
    """Run one suite case end to end (each of its samples) and save its cassette if anything was recorded."""
    recorder = recorder_for(settings, cassette_path(settings, suite, case.id), nodeid)
    channel = Channel(settings, recorder)
    conversation = Conversation(suite, case, settings, channel)
    specs = conversation.specs
    sampling = case.sampling.over(suite.sampling)
    count = settings.samples or sampling.samples or 1
    # Identical requests (samples) are recorded in order and replayed in order; so are a conversation's turns.
    samples = [conversation.run() for _ in range(count)]
    recorder.finish_replay()  # after the checks: graders and embeddings replay from the same cassette
    baseline = dict(recorder.old.meta) if recorder.old is not None else {}
    sampled = count > 1 or sampling.samples is not None
    outcome = Outcome(
        samples[0].answer,
        samples[0].results,
        recorded=recorder.needs_save,
        cassette=recorder.display,
        baseline=baseline,
        min_score=case.min_score if case.min_score is not None else suite.min_score,
        specs=specs,
        samples=samples if sampled else [],
        sampling=sampling if sampled else None,
    )
    if recorder.needs_save:
        meta: dict[str, Any] = {"suite": suite.name}
        if suite.variant:
            meta["variant"] = suite.variant
        meta.update(case=case.id, **samples[0].to_meta())
        if sampled:
            meta["samples"] = [s.to_meta() for s in samples[1:]]
            meta["pass_rate"] = f"{outcome.sample_passes}/{count}"
        recorder.save(meta)
    return outcome


GENERATED = "generated"  # the item and cassette name of a suite's generated cases


def run_generated(suite: Suite, settings: Settings, nodeid: str) -> Outcome:
    """A suite's ``generate:`` block: explored with Hypothesis while recording, the stored examples on replay.

    Every example is a case with the generated variables; the suite's ``expect``
    are the properties each must satisfy. All examples go into one cassette,
    ``cassettes/<suite>/generated.yaml``, with the examples themselves and the
    ``generate:`` declaration they came from: a replay runs exactly those
    examples in order and never imports Hypothesis, and a changed declaration
    is prompt drift.
    """
    from . import generate

    spec = suite.generate
    assert spec is not None
    recorder = recorder_for(settings, cassette_path(settings, suite, GENERATED), nodeid)
    channel = Channel(settings, recorder)
    min_score = suite.min_score
    stored = recorder.old.meta.get("generate") if recorder.old is not None else None
    if isinstance(stored, Mapping) and stored.get("declaration") != spec.declaration:
        if recorder.mode in (RecordMode.NONE, RecordMode.NEW):
            raise recorder.changed("the generate: block", stored.get("declaration"), dict(spec.declaration))
        stored = None  # changed / all: explore again; the old cassette is the baseline
    samples: list[Sample] = []

    def run_example(values: Mapping[str, Any]) -> Sample:
        case = Case(f"{GENERATED}-{len(samples) + 1}", dict(values))
        sample = Conversation(suite, case, settings, channel).run()
        samples.append(sample)
        return sample

    if stored is None:
        if recorder.old is not None and recorder.mode is RecordMode.NONE:
            raise recorder.changed("the generate: block", "(no generated examples recorded)", dict(spec.declaration))
        if recorder.old is None and not recorder.recording:
            raise recorder.missing()
        examples, falsifying = generate.explore(
            spec, lambda values: passes(run_example(values).results, suite.expect, min_score)
        )
        version = generate.hypothesis_version()
    else:
        examples = list(stored.get("examples") or [])
        for values in examples:
            run_example(values)
        failed = [i for i, s in enumerate(samples) if not passes(s.results, suite.expect, min_score)]
        falsifying = stored.get("falsifying") if stored.get("falsifying") in failed else next(iter(failed), None)
        version = stored.get("hypothesis")
    recorder.finish_replay()
    shown = samples[falsifying if falsifying is not None else 0] if samples else Sample(Answer(""), [])
    outcome = Outcome(
        shown.answer,
        shown.results,
        recorded=recorder.needs_save,
        cassette=recorder.display,
        baseline=dict(recorder.old.meta) if recorder.old is not None else {},
        min_score=min_score,
        specs=suite.expect,
        samples=samples,
        sampling=Sampling(min_pass_rate=1.0),
        examples=examples,
        falsifying=falsifying,
    )
    if recorder.needs_save:
        meta: dict[str, Any] = {"suite": suite.name}
        if suite.variant:
            meta["variant"] = suite.variant
        meta["case"] = GENERATED
        meta["generate"] = {
            "declaration": dict(spec.declaration),
            "hypothesis": version,
            "examples": examples,
            "falsifying": falsifying,
        }
        meta.update(shown.to_meta())
        meta["usage"] = total_usage(s.answer.usage for s in samples)  # every example, as the case's record counts
        meta["pass_rate"] = f"{outcome.sample_passes}/{len(samples)}"
        recorder.save(meta)
    return outcome

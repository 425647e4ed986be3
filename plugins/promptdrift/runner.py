"""Running one prompt case: render, call the model through its recorder, check the answer."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

from . import cassettes, templating
from .cassettes import Interaction
from .checks import Answer, CheckResult, CheckSpec, evaluate
from .client import Channel
from .config import Settings
from .errors import PromptdriftError, RecordingError
from .paths import resolve_in_root, safe_name
from .recorder import Recorder
from .stats import wilson_lower
from .suite import Case, Provider, Sampling, Suite

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


def build_messages(suite: Suite, case: Case) -> list[dict[str, Any]]:
    """The chat messages for a case: system, few-shot pairs, then the rendered user template."""
    where = f"case {case.id!r}"
    variables = case.vars

    def render(text: str) -> str:
        return templating.render(text, variables, where=where, path=suite.relpath)

    prompt = suite.prompt
    if prompt.messages:
        return [templating.render_deep(dict(m), variables, where=where, path=suite.relpath) for m in prompt.messages]
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append({"role": "system", "content": render(prompt.system)})
    for user, assistant in prompt.few_shot:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    assert prompt.user is not None
    messages.append({"role": "user", "content": render(prompt.user)})
    return messages


def build_request(suite: Suite, case: Case, settings: Settings) -> dict[str, Any]:
    """The chat-completions request body for a case (``--prompt-model`` beats the suite's model)."""
    model = settings.model or suite.model
    if not model:
        raise PromptdriftError(
            "no model: set 'model:' in the suite or pass --prompt-model NAME", path=suite.relpath, line=suite.line
        )
    body: dict[str, Any] = {"model": model, "messages": build_messages(suite, case)}
    body.update(suite.params)
    body.update(case.params)
    return body


def answer_from_interaction(interaction: Interaction) -> Answer:
    """The :class:`Answer` in a recorded chat-completions response (JSON, or a stream of chunks).

    Recording and replay both read the answer from the raw response the
    cassette holds, so what the checks see is exactly what was recorded.
    """
    if interaction.is_event_stream:
        return answer_from_chunks(cassettes.sse_documents(interaction.response_body))
    doc = interaction.response_json
    if not isinstance(doc, Mapping):
        raise RecordingError(f"the model endpoint's answer is not a JSON object: {_short(interaction.response_body)}")
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
        usage={k: v for k, v in (doc.get("usage") or {}).items() if v is not None},
    )


def answer_from_chunks(chunks: Sequence[Any]) -> Answer:
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
            usage = {k: v for k, v in chunk["usage"].items() if v is not None}
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


CHAT_PATH = "/chat/completions"


def call_chat(channel: Channel, body: Mapping[str, Any], where: str, provider: Provider | None = None) -> Answer:
    """One chat-completions call, replayed straight from the cassette when it holds exactly this request.

    Otherwise the request goes through the ``openai`` client (recording, or a
    replay the SDK decides); SDK errors become promptdrift errors that say what to do.
    """
    recorder = channel.recorder
    interaction = recorder.find("POST", CHAT_PATH, body)
    if interaction is None:
        before = len(recorder.interactions)
        with sdk_errors(where):
            # The client's own POST: its base URL, Azure routing, auth, headers and timeout, with the
            # body sent exactly as the suite built it (no per-parameter transform; a third of the CPU
            # of a call). The transport has the whole answer, streamed or not, before this returns.
            channel.client(provider).post(CHAT_PATH, body=dict(body), cast_to=httpx2.Response)
        interaction = recorder.interactions[before]
    answer = answer_from_interaction(interaction)
    answer.requested_model = body.get("model")
    answer.latency_ms = interaction.latency_ms
    return answer


@contextmanager
def sdk_errors(where: str) -> Iterator[None]:
    """Turn the SDK's errors into promptdrift errors that say what happened and what to do."""
    import openai  # only reached when a request goes through the SDK

    try:
        yield
    except openai.APIStatusError as exc:
        raise RecordingError(
            f"{where}: the model endpoint answered HTTP {exc.status_code} ({_short(exc.message)}). "
            "Nothing was recorded for this case; fix the cause and re-run to record what is missing."
        ) from None
    except openai.APIConnectionError as exc:
        if isinstance(exc.__cause__, PromptdriftError):
            raise exc.__cause__ from None
        raise RecordingError(
            f"{where}: could not reach the model endpoint ({type(exc).__name__}: {_short(str(exc))}). "
            "Nothing was recorded for this case; check the base URL and network, then re-run."
        ) from None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


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

    def _score(self, results: Sequence[CheckResult]) -> float:
        weights = [spec.weight for spec in self.specs] or [1.0] * len(results)
        total = sum(weights)
        return sum(w for w, r in zip(weights, results, strict=True) if r.passed) / total if total else 1.0

    def _passes(self, results: Sequence[CheckResult]) -> bool:
        if self.min_score is not None:
            return self._score(results) >= self.min_score
        return all(r.passed for r in results)

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
    where = f"{suite.relpath}::{case.id}" + (f"[{suite.variant}]" if suite.variant else "")
    request = build_request(suite, case, settings)
    recorder = recorder_for(settings, cassette_path(settings, suite, case.id), nodeid)
    channel = Channel(settings, recorder)
    ctx = Context(settings, channel)
    specs = (*suite.expect, *case.expect)
    sampling = case.sampling.over(suite.sampling)
    count = settings.samples or sampling.samples or 1
    samples = []
    for _ in range(count):  # identical requests: recorded in order, replayed in order
        answer = call_chat(channel, request, where, suite.provider)
        samples.append(Sample(answer, run_checks(specs, answer, case.vars, ctx, where, suite.relpath)))
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
        meta.update(case=case.id, answer=samples[0].answer.text, checks=[r.to_dict() for r in samples[0].results])
        if sampled:
            meta["samples"] = [
                {"answer": s.answer.text, "checks": [r.to_dict() for r in s.results]} for s in samples[1:]
            ]
            meta["pass_rate"] = f"{outcome.sample_passes}/{count}"
        recorder.save(meta)
    return outcome

"""Running one prompt case: render, call the model through its recorder, check the answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import openai

from . import templating
from .checks import Answer, CheckResult, CheckSpec, evaluate
from .client import make_client
from .config import Settings
from .errors import PromptdriftError, RecordingError
from .paths import resolve_in_root, safe_name
from .recorder import Recorder
from .suite import Case, Suite


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
    """What the checks of one case may use: files, settings, and the case's recorded client."""

    def __init__(self, settings: Settings, client: Callable[[], openai.OpenAI] | None = None) -> None:
        self.settings = settings
        self.rootdir = settings.rootdir
        self._files = files_for(settings.rootdir)
        self._client = client

    def resolve(self, name: str, *, what: str) -> Path:
        return self._files.resolve(name, what=what)

    def load_json_file(self, name: str, *, what: str) -> Any:
        return self._files.load_json_file(name, what=what)

    def client(self) -> openai.OpenAI:
        if self._client is None:
            raise PromptdriftError("this check calls a model, and no client is available here")
        return self._client()


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


def answer_from_completion(completion: Any) -> Answer:
    """An :class:`Answer` from a ``ChatCompletion``."""
    choice = completion.choices[0] if completion.choices else None
    message = choice.message if choice is not None else None
    tool_calls = (
        [
            {"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
            for call in (message.tool_calls or [])
            if getattr(call, "function", None) is not None
        ]
        if message is not None
        else []
    )
    usage = completion.usage.model_dump(exclude_none=True) if completion.usage else {}
    return Answer(
        text=(message.content or "") if message is not None else "",
        tool_calls=tool_calls,
        finish_reason=choice.finish_reason if choice is not None else None,
        model=completion.model,
        usage=usage,
    )


def answer_from_stream(chunks: Any) -> Answer:
    """An :class:`Answer` assembled from streamed ``ChatCompletionChunk`` objects."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish = model = None
    usage: dict[str, Any] = {}
    for chunk in chunks:
        model = chunk.model or model
        if chunk.usage:
            usage = chunk.usage.model_dump(exclude_none=True)
        for choice in chunk.choices[:1]:
            delta = choice.delta
            if delta.content:
                text.append(delta.content)
            for call in delta.tool_calls or []:
                slot = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                slot["id"] = call.id or slot["id"]
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    return Answer("".join(text), [calls[i] for i in sorted(calls)], finish, model, usage)


def call_chat(client: openai.OpenAI, body: Mapping[str, Any], where: str) -> Answer:
    """One chat-completions call; SDK errors become promptdrift errors that say what to do."""
    with sdk_errors(where):
        if body.get("stream"):
            answer = answer_from_stream(client.chat.completions.create(**body))
        else:
            answer = answer_from_completion(client.chat.completions.create(**body))
    answer.requested_model = body.get("model")
    return answer


@contextmanager
def sdk_errors(where: str) -> Iterator[None]:
    """Turn the SDK's errors into promptdrift errors that say what happened and what to do."""
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
class Outcome:
    """What a case produced: the answer, the check results, and how it was obtained."""

    answer: Answer
    results: list[CheckResult]
    recorded: bool = False
    cassette: str = ""
    baseline: dict[str, Any] = field(default_factory=dict)
    min_score: float | None = None
    specs: Sequence[CheckSpec] = ()

    @property
    def score(self) -> float:
        """The weighted share of passed checks (1.0 with no checks)."""
        weights = [spec.weight for spec in self.specs] or [1.0] * len(self.results)
        total = sum(weights)
        return sum(w for w, r in zip(weights, self.results, strict=True) if r.passed) / total if total else 1.0

    @property
    def passed(self) -> bool:
        """All checks pass, or with ``min_score`` set, the weighted share of passed checks reaches it."""
        if self.min_score is not None:
            return self.score >= self.min_score
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]


def cassette_path(settings: Settings, suite_name: str, case_id: str) -> Path:
    """``cassettes/<suite>/<case>.yaml`` with both names made file-safe."""
    return settings.cassettes / safe_name(suite_name) / f"{safe_name(case_id)}.yaml"


def recorder_for(settings: Settings, path: Path, target: str) -> Recorder:
    """A recorder for the cassette at ``path``; ``target`` is what to pass pytest to record it."""
    try:
        display = path.relative_to(settings.rootdir).as_posix()
    except ValueError:
        display = str(path)
    return Recorder(path, settings.record, display=display, target=target)


def run_case(suite: Suite, case: Case, settings: Settings, nodeid: str) -> Outcome:
    """Run one suite case end to end and save its cassette if anything was recorded."""
    where = f"{suite.relpath}::{case.id}"
    request = build_request(suite, case, settings)
    recorder = recorder_for(settings, cassette_path(settings, suite.name, case.id), nodeid)
    client = make_client(settings, suite.provider, recorder)
    answer = call_chat(client, request, where)
    answer.latency_ms = recorder.calls[-1]["latency_ms"] if recorder.calls else None
    ctx = Context(settings, lambda: client)
    specs = (*suite.expect, *case.expect)
    results = run_checks(specs, answer, case.vars, ctx, where, suite.relpath)
    recorder.finish_replay()  # after the checks: graders and embeddings replay from the same cassette
    baseline = dict(recorder.old.meta) if recorder.old is not None else {}
    outcome = Outcome(
        answer,
        results,
        recorded=recorder.needs_save,
        cassette=recorder.display,
        baseline=baseline,
        min_score=case.min_score if case.min_score is not None else suite.min_score,
        specs=specs,
    )
    if recorder.needs_save:
        recorder.save(
            {
                "suite": suite.name,
                "case": case.id,
                "answer": answer.text,
                "checks": [r.to_dict() for r in results],
            }
        )
    return outcome

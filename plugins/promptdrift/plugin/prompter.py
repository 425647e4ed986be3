"""The ``prompt`` fixture's :class:`Prompter`: code-first tests running suites and ad-hoc prompts in their own cassette."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import warnings
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptdrift.cassettes.naming import test_cassette
from promptdrift.checks import CheckSpec, parse_check
from promptdrift.config import Settings
from promptdrift.core.answers import Answer, CheckResult
from promptdrift.core.errors import PromptdriftError
from promptdrift.record.client import Channel, open_channel
from promptdrift.run.context import Context
from promptdrift.run.conversation import Conversation, run_checks
from promptdrift.suite.model import Case, Provider, Suite
from promptdrift.suite.reader import load_suite

ANTHROPIC = Provider(name="anthropic")  # the anthropic_client fixtures' provider: the SDK's own variables

if TYPE_CHECKING:
    import anthropic
    import openai


class Output:
    """One model answer in a code-first test.

    Example::

        out = prompt.run("suites/extract.yaml", vars={"text": "Invoice total 42.50"})
        out.check(schema="fixtures/schemas/invoice.json", contains="42.5")
        assert out.json["total"] == 42.5
    """

    def __init__(
        self, answer: Answer, specs: Sequence[CheckSpec], variables: Mapping[str, Any], prompter: Prompter
    ) -> None:
        self.answer = answer
        self._specs = tuple(specs)
        self._variables = dict(variables)
        self._prompter = prompter
        self.results: list[CheckResult] = []

    @property
    def text(self) -> str:
        """The answer text."""
        return self.answer.text

    @cached_property
    def json(self) -> Any:
        """The answer parsed as JSON (``ValueError`` if it is not JSON)."""
        return self.answer.json

    def check(self, **checks: Any) -> Output:
        """Assert checks on the answer; with no arguments, the suite's and case's own ``expect``.

        Keyword names are check names (``schema=``, ``contains=``, ``not_contains=``...),
        values are what a suite would write after the colon.
        """
        if checks:
            specs = tuple(
                parse_check({name: value}, path="<python>", default_line=None) for name, value in checks.items()
            )
        else:
            specs = self._specs
        results = run_checks(specs, self.answer, self._variables, self._prompter.ctx, "prompt.run", "<python>")
        self.results.extend(results)
        self._prompter.results.extend(results)
        failed = [r for r in results if not r.passed]
        if failed:
            reasons = "\n".join(f"  FAIL {r.name}: {r.reason}" for r in failed)
            raise AssertionError(f"{len(failed)} check(s) failed:\n{reasons}\nanswer: {self.text[:500]!r}")
        return self


class Prompter:
    """The ``prompt`` fixture: runs suite cases or ad-hoc prompts, recorded in the test's own cassette."""

    def __init__(self, settings: Settings, channel: Channel) -> None:
        self.settings = settings
        self.channel = channel
        self.recorder = channel.recorder
        self.ctx = Context(settings, self.channel)
        self.results: list[CheckResult] = []
        self.examples: list[dict[str, Any]] = []  # a @given test's drawn arguments, in the order they ran
        self._suites: dict[str, Suite] = {}

    def client(self, provider: Provider | None = None) -> openai.OpenAI:
        """An ``openai`` client whose traffic is recorded into this test's cassette."""
        return self.channel.client(provider)

    def async_client(self, provider: Provider | None = None) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` client recorded into this test's cassette, like :meth:`client`."""
        return self.channel.async_client(provider)

    def anthropic_client(self) -> anthropic.Anthropic:
        """An ``anthropic.Anthropic`` client whose traffic is recorded into this test's cassette
        (``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_API_KEY`` as the SDK reads them)."""
        return self.channel.client(ANTHROPIC)  # type: ignore[return-value]

    def async_anthropic_client(self) -> anthropic.AsyncAnthropic:
        """An ``anthropic.AsyncAnthropic`` client recorded into this test's cassette, like :meth:`anthropic_client`."""
        return self.channel.async_client(ANTHROPIC)  # type: ignore[return-value]

    def suite(self, path: str | Path) -> Suite:
        """Load (once) a suite file, relative to the root directory."""
        key = str(path)
        if key not in self._suites:
            full = Path(path) if Path(path).is_absolute() else self.settings.rootdir / path
            self._suites[key] = load_suite(full, self.settings.rootdir)
        return self._suites[key]

    def run(
        self,
        suite: str | Path | None = None,
        *,
        case: str | None = None,
        vars: Mapping[str, Any] | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        model: str | None = None,
        **params: Any,
    ) -> Output:
        """Run a suite's prompt (one of its cases, or ad-hoc ``vars``), or a raw ``messages`` list."""
        if suite is None:
            if not messages:
                raise PromptdriftError("prompt.run needs a suite path or messages=[...]")
            model = model or self.settings.model
            if not model:
                raise PromptdriftError("prompt.run(messages=...) needs model=... or --prompt-model")
            body = {"model": model, "messages": [dict(m) for m in messages], **params}
            answer = self.channel.chat(body, "prompt.run")
            return Output(answer, (), dict(vars or {}), self)
        spec = self.suite(suite)
        if case is not None:
            base = spec.case(case)
            chosen = dataclasses.replace(base, vars={**base.vars, **(vars or {})}, params={**base.params, **params})
        else:
            chosen = Case("adhoc", dict(vars or {}), (), None, params)
        settings = dataclasses.replace(self.settings, model=model) if model else self.settings
        conversation = Conversation(spec, chosen, settings, self.channel, self.ctx)
        sample = conversation.run(checks=False)  # the test asks for checks with out.check()
        return Output(sample.answer, conversation.specs, conversation.variables, self)


def open_prompter(settings: Settings, path: Path, name: str, nodeid: str, *, key_shapes: bool = True) -> Prompter:
    """The per-test :class:`Prompter` behind the ``prompt`` and ``openai_client`` fixtures."""
    cassette = test_cassette(settings.cassettes, settings.rootdir, path, name)
    return Prompter(settings, open_channel(settings, cassette, nodeid, key_shapes=key_shapes))


def close_prompter(prompter: Prompter, nodeid: str, *, passed: bool = False) -> str | None:
    """Save the test's cassette if it recorded anything and no call failed; return what the recording left out.

    After a test that ``passed`` while replaying, recorded calls it no longer made
    are prompt drift, as for a suite case. The returned text (``None`` when
    nothing is missing) says what a replay of this test will lack: an answer
    that was not recorded, or a cassette not written because a call failed.
    """
    recorder = prompter.recorder
    if passed and not recorder.errors:
        recorder.finish_replay()
    gap = recorder.gap()
    if recorder.errors or not recorder.needs_save:
        return gap
    extra: dict[str, Any] = {"checks": [r.to_dict() for r in prompter.results]}
    if prompter.examples:
        extra["examples"] = prompter.examples
    recorder.save({"test": nodeid}, extra=extra)
    return gap


def run_given(item: pytest.Function, prompter: Prompter) -> bool:
    """Run a Hypothesis ``@given`` test that uses the ``prompt`` fixture (or a recorded client).

    Recording: Hypothesis generates (and shrinks) as usual; each example's drawn
    arguments are logged and stored in the test's cassette beside its calls.
    Replay: exactly the stored examples run, in order, without Hypothesis
    generating anything, so another seed or Hypothesis version still replays
    every call; the last failing example (Hypothesis's falsifying one when it
    was recorded) fails the test.
    """
    handle = item.obj.hypothesis  # type: ignore[attr-defined]
    fixtures = {name: item.funcargs[name] for name in item._fixtureinfo.argnames}
    bound = (item.instance,) if item.instance is not None else ()
    recorder = prompter.recorder
    stored = recorder.old.meta.get("examples") if recorder.old is not None and not recorder.recording else None
    if stored is not None:
        prompter.examples.extend(stored)  # kept if a changed request makes this run re-record (changed mode)
        failure: tuple[dict[str, Any], Exception] | None = None
        for example in stored:
            try:
                handle.inner_test(*bound, **fixtures, **example)
            except Exception as exc:
                failure = (example, exc)
        if failure is not None:
            example, error = failure
            error.add_note(f"Failing test case (replayed from {recorder.display}): {example!r}")
            raise error
        return True
    if not recorder.recording:  # replay without stored examples: never let Hypothesis draw new ones
        if recorder.old is None:
            raise recorder.missing()
        raise recorder.changed("the test (now a @given test)", "(no examples recorded)", "(examples to draw)")
    original = handle.inner_test
    fixture_names = set(item.fixturenames)

    @functools.wraps(original)
    def logged(*args: Any, **kwargs: Any) -> Any:
        prompter.examples.append(storable({k: v for k, v in kwargs.items() if k not in fixture_names}))
        return original(*args, **kwargs)

    handle.inner_test = logged
    try:
        item.obj(**fixtures)
    finally:
        handle.inner_test = original
    return True


def storable(example: dict[str, Any]) -> dict[str, Any]:
    """An example as the cassette stores it; values must be plain data (text, numbers, lists, dicts, dates)."""

    def check(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                check(item)
        elif isinstance(value, list | tuple):
            for item in value:
                check(item)
        elif not isinstance(value, str | int | float | bool | type(None) | datetime.date):
            raise PromptdriftError(
                f"a @given example value of type {type(value).__name__} cannot be stored in the cassette; "
                "draw plain values (text, numbers, booleans, lists, dicts, dates) and build objects in the test"
            )

    check(example)
    return example


def __getattr__(name: str) -> Any:
    if name == "PromptSession":  # renamed in 0.2: pytest's word for pytest.Session
        warnings.warn("PromptSession is now promptdrift.plugin.prompter.Prompter", DeprecationWarning, stacklevel=2)
        return Prompter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

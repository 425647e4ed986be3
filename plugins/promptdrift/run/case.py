"""Running a suite's case (or its generated cases) end to end, and saving its cassette."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptdrift.cassettes import format as cassettes
from promptdrift.cassettes.naming import case_cassette
from promptdrift.config import Settings
from promptdrift.core.answers import Answer, total_usage
from promptdrift.core.errors import ErrorAnswer, PromptdriftError, gather_deferred
from promptdrift.core.modes import RecordMode
from promptdrift.record.client import Channel, Route, open_channel
from promptdrift.run.conversation import Conversation
from promptdrift.run.generate import explore, hypothesis_version
from promptdrift.run.outcome import Outcome, Sample, passes
from promptdrift.suite.generate import GENERATED
from promptdrift.suite.model import Case, Sampling, Suite


def case_channel(settings: Settings, suite: Suite, case_id: str, nodeid: str, route: Route | None = None) -> Channel:
    """The channel (recorder and clients) of one case's cassette; ``nodeid`` is what re-records it.

    ``route``: where recorded requests go (a batch's lanes under ``--prompt-batch``; else the connection pool).
    """
    path = case_cassette(settings.cassettes, suite.name, suite.variant, case_id)
    return open_channel(settings, path, nodeid, key_shapes=suite.scrub_key_shapes, route=route)


def stored_cassette(settings: Settings, suite: Suite, case_id: str) -> tuple[str, str | None]:
    """A case's cassette path and its state on disk (``edited``, ``no digest``; ``None`` intact or unreadable),
    for a case that failed before it could say (drift from an edited request, a strict refusal)."""
    path = case_cassette(settings.cassettes, suite.name, suite.variant, case_id)
    display = path.relative_to(settings.rootdir).as_posix() if path.is_relative_to(settings.rootdir) else str(path)
    try:
        integrity = cassettes.load(path, display=display).integrity if path.exists() else cassettes.INTACT
    except PromptdriftError:
        integrity = cassettes.INTACT
    return display, None if integrity == cassettes.INTACT else integrity


def run_case(suite: Suite, case: Case, settings: Settings, nodeid: str, route: Route | None = None) -> Outcome:
    """Run one suite case end to end (each of its samples) and save its cassette if anything was recorded.

    Under ``--prompt-batch`` (a ``route``), a call whose answer has not arrived raises
    :class:`~promptdrift.core.errors.Deferred` and nothing is saved: the case runs again next round.
    A request the endpoint rejects (:class:`~promptdrift.core.errors.ErrorAnswer`) fails the case; its
    answer is saved when the case had no cassette (replay then fails the same way), never over one.
    """
    channel = case_channel(settings, suite, case.id, nodeid, route)
    conversation = Conversation(suite, case, settings, channel)
    sampling = case.sampling.over(suite.sampling)
    count = settings.samples or sampling.samples or 1
    # Identical requests (samples) are recorded in order and replayed in order; so are a conversation's turns.
    # Under --prompt-batch every sample's call joins the same batch round.
    try:
        samples = gather_deferred(conversation.run for _ in range(count))
    except ErrorAnswer as exc:  # the endpoint rejected the request
        recorder = channel.recorder
        if recorder.needs_save and recorder.old is not None:  # a re-recording: what was recorded is not lost
            raise ErrorAnswer(
                f"{exc.said}. Not recorded: the previous recording in {recorder.display} is kept as it was; "
                f"fix the request (prompt, model or params) and re-record: {recorder.rerecord_hint}",
                said=exc.said,
            ) from None
        if recorder.needs_save:  # a first recording: kept, so that replay fails with the same message
            _save(channel, suite, case.id, [], {})
        raise
    sampled = count > 1 or sampling.samples is not None
    outcome = _finish(
        channel,
        suite,
        case.id,
        samples[0],
        min_score=case.min_score if case.min_score is not None else suite.min_score,
        specs=conversation.specs,
        samples=samples if sampled else [],
        sampling=sampling if sampled else None,
    )
    if outcome.recorded:
        answers = [s.to_meta() for s in samples] if sampled else [samples[0].to_meta()]
        _save(channel, suite, case.id, answers, {"pass_rate": f"{outcome.sample_passes}/{count}"} if sampled else {})
    return outcome


def run_generated(suite: Suite, settings: Settings, nodeid: str) -> Outcome:
    """A suite's ``generate:`` block: explored with Hypothesis while recording, the stored examples on replay.

    Every example is a case with the generated variables; the suite's ``expect``
    are the properties each must satisfy. All examples go into one cassette,
    ``cassettes/<suite>/generated.yaml``, with the examples themselves and the
    ``generate:`` declaration they came from: a replay runs exactly those
    examples in order and never imports Hypothesis, and a changed declaration
    is prompt drift.
    """
    spec = suite.generate
    assert spec is not None
    channel = case_channel(settings, suite, GENERATED, nodeid)
    recorder = channel.recorder
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
        examples, falsifying = explore(
            spec, lambda values: passes(run_example(values).results, suite.expect, min_score)
        )
        version = hypothesis_version()
    else:
        examples = list(stored.get("examples") or [])
        for values in examples:
            run_example(values)
        failed = [i for i, s in enumerate(samples) if not passes(s.results, suite.expect, min_score)]
        falsifying = stored.get("falsifying") if stored.get("falsifying") in failed else next(iter(failed), None)
        version = stored.get("hypothesis")
    shown = samples[falsifying if falsifying is not None else 0] if samples else Sample(Answer(""), [])
    outcome = _finish(
        channel,
        suite,
        GENERATED,
        shown,
        min_score=min_score,
        specs=suite.expect,
        samples=samples,
        sampling=Sampling(min_pass_rate=1.0),
        examples=examples,
        falsifying=falsifying,
    )
    if outcome.recorded:
        # The case's usage is every example's, as its report record counts it.
        answer = {**shown.to_meta(), "usage": total_usage(s.answer.usage for s in samples)}
        declared = {"declaration": dict(spec.declaration), "hypothesis": version}
        generated = {**declared, "examples": examples, "falsifying": falsifying}
        _save(
            channel,
            suite,
            GENERATED,
            [answer],
            {"generate": generated, "pass_rate": f"{outcome.sample_passes}/{len(samples)}"},
        )
    return outcome


def _finish(channel: Channel, suite: Suite, case_id: str, shown: Sample, **fields: Any) -> Outcome:
    """The outcome of a case whose calls are done; recorded calls it no longer made are drift (after the checks:
    graders and embeddings replay from the same cassette)."""
    recorder = channel.recorder
    recorder.finish_replay()
    return Outcome(
        shown.answer,
        shown.results,
        recorded=recorder.needs_save,
        cassette=recorder.display,
        baseline=dict(recorder.old.meta) if recorder.old is not None else {},
        cassette_state=recorder.cassette_state,
        messages=shown.messages,
        **fields,
    )


def _save(channel: Channel, suite: Suite, case_id: str, answers: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    owner: dict[str, Any] = {
        "suite": suite.name,
        **({"variant": suite.variant} if suite.variant else {}),
        "case": case_id,
    }
    channel.recorder.save(owner, answers, extra)

"""The ``metadata.promptdrift`` block of a cassette, built in this one place for every kind of owner.

What drift detection reads back (see :mod:`promptdrift.verdict.drift`): when
and with which model the cassette was recorded (requested and returned), one
fingerprint over its requests, the provider batches that answered it
(``recorded_via: batch``), who it belongs to (a suite's case or a
code-first test), what the run concluded of each answer (text, checks, usage:
the baseline of the next re-recording), and the per-call metadata of each
interaction (fingerprint, latency, model, usage).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from promptdrift.cassettes.format import fingerprint


def _one_or_all(values: set[str]) -> str | list[str]:
    ordered = sorted(values)
    return ordered[0] if len(ordered) == 1 else ordered


def cassette_metadata(
    calls: Sequence[Mapping[str, Any]],
    *,
    owner: Mapping[str, Any],
    answers: Sequence[Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata of a cassette whose interactions have the per-call metadata ``calls``.

    ``owner``: ``{suite, variant, case}`` or ``{test}``. ``answers``: the
    first answer's record (``answer``, ``checks``, ``usage``...) is written at
    the top level, the others (samples) under ``samples``. ``extra``: anything
    else the owner keeps (generated examples, a pass rate), written last.
    """
    meta: dict[str, Any] = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_requested": _one_or_all({c["model_requested"] for c in calls if c.get("model_requested")}),
        "model_returned": _one_or_all({c["model_returned"] for c in calls if c.get("model_returned")}),
        "fingerprint": fingerprint("", "", json.dumps([c["fingerprint"] for c in calls])),
        **owner,
    }
    batches = sorted({c["batch"] for c in calls if c.get("batch")})
    if batches:  # recorded through the provider's Batch API (--prompt-batch): priced at the batch rate
        meta["recorded_via"] = "batch"
        meta["batches"] = batches
    if answers:
        meta.update(answers[0])
    if len(answers) > 1:
        meta["samples"] = list(answers[1:])
    meta.update(extra or {})
    meta["interactions"] = list(calls)
    return meta

"""Properties of secret scrubbing over generated key shapes, positions and stream splits.

Whatever the secret's shape, wherever it stands in a body, however a stream
cuts it into deltas: the scrubbed body no longer holds it, stays valid JSON
or a valid event stream, and a live request scrubbed for matching equals the
recorded one however either was formatted.
"""

from __future__ import annotations

import itertools
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptdrift.cassettes.format import canonical_body, readable_body, scrub_event_stream, sse_documents
from promptdrift.cassettes.secrets import SHAPES, Scrubber, Shape, hinted, secret_spans
from tests.helpers import token

EXAMPLES = 300 if os.environ.get("PROMPTDRIFT_STRESS") else 60
KEYCHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
ENV_VALUE = "env-secret-Value_42"  # a credential variable's value: no key shape at all


SECRETS = st.one_of(
    token("sk-", KEYCHARS + "_-", 20, 48),
    token("sk-proj-", KEYCHARS + "_-", 20, 48),
    token("sk-svcacct-", KEYCHARS, 20, 40),
    token("org-", KEYCHARS, 20, 30),
    token("proj_", KEYCHARS, 16, 30),
    st.just(ENV_VALUE),
)
# Text around a secret; it starts and ends with a separator so a key's word boundary holds.
AROUND = st.text(st.sampled_from(list("abc xyz,.:;!?()[]\n\t\"'é€🙂")), max_size=30)
SCRUBBER = Scrubber({ENV_VALUE: "$MY_API_KEY"})


def placed(before: str, secret: str, after: str) -> str:
    return f"{before} {secret} {after}"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=SECRETS, before=AROUND, after=AROUND, indent=st.sampled_from([None, 2]))
def test_json_bodies_lose_the_secret_and_match_however_formatted(secret: str, before: str, after: str, indent) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": placed(before, secret, after)}], "user": secret}
    sent = json.dumps(body, indent=indent).encode()
    recorded = readable_body(json.dumps(body, indent=2, ensure_ascii=False).encode(), SCRUBBER)
    assert secret not in recorded
    assert json.loads(recorded)["user"].startswith("<redacted:")
    # What replay compares: the live request (any formatting) scrubbed, against the recorded body.
    assert SCRUBBER.data(canonical_body(sent)) == canonical_body(recorded)


def chat_stream(pieces: list[str]) -> str:
    events = [{"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def responses_stream(pieces: list[str]) -> str:
    events = [{"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": p} for p in pieces]
    done = {"type": "response.completed", "response": {"output_text": "".join(pieces)}}
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in [*events, done])


def cut(text: str, points: list[int]) -> list[str]:
    marks = sorted({p % (len(text) + 1) for p in points} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(marks)]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=SECRETS,
    before=AROUND,
    after=AROUND,
    points=st.lists(st.integers(0, 200), max_size=12),
    api=st.sampled_from(["chat", "responses"]),
)
def test_a_secret_split_over_stream_deltas_is_scrubbed(
    secret: str, before: str, after: str, points: list[int], api: str
) -> None:
    text = placed(before, secret, after)
    pieces = cut(text, points)
    stream = chat_stream(pieces) if api == "chat" else responses_stream(pieces)
    scrubbed = scrub_event_stream(stream, SCRUBBER)
    assert secret not in scrubbed.replace('"', "")
    docs = sse_documents(scrubbed)  # still a stream of JSON events
    if api == "chat":
        streamed = "".join(d["choices"][0]["delta"]["content"] for d in docs)
    else:
        streamed = "".join(d["delta"] for d in docs if d["type"] == "response.output_text.delta")
        assert docs[-1]["response"]["output_text"] == SCRUBBER.text(text)
    assert streamed == SCRUBBER.text(text)  # the deltas read back as the whole text scrubbed at once
    assert scrubbed.rstrip().endswith("data: [DONE]") or api == "responses"


@settings(max_examples=EXAMPLES * 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), shape=st.sampled_from(SHAPES))
def test_the_fast_hint_never_misses_a_shape(data: st.DataObject, shape: Shape) -> None:
    """``hinted`` skips the shape search for most texts: any text a shape matches must pass it."""
    text = data.draw(st.from_regex(shape.pattern))
    assert shape.pattern.search(text)
    assert hinted(text), f"{shape.kind}: {text!r}"
    start, end = shape.span(shape.pattern.search(text))
    if start < end:  # a header with an empty value holds nothing to replace
        assert secret_spans(text, {}), text

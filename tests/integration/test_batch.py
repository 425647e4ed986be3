"""Recording through the provider's Batch API (--prompt-batch): the same cassettes, in rounds, never paid twice.

Every test goes through the real ``openai`` SDK (files, batches) against the
demo server's Files and Batches endpoints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer
from tests.helpers import block_sockets, many_cases, script, write

BATCH = ("--prompt-record=all", "--prompt-batch", "--prompt-batch-poll=0.01")


def interactions(folder: Path) -> dict[str, list[tuple[object, ...]]]:
    """Each cassette's interactions as (method, URL, request headers and JSON, response JSON), ids aside."""
    found = {}
    for path in sorted(folder.rglob("*.yaml")):
        cassette = cassettes.load(path)
        found[path.relative_to(folder).as_posix()] = [
            (i.method, i.uri, i.request_headers, i.request_json, _without_ids(i.response_json))
            for i in cassette.interactions
        ]
    return found


def _without_ids(body: object) -> object:
    if isinstance(body, dict):
        return {k: _without_ids(v) for k, v in body.items() if k not in ("id", "created", "created_at")}
    return body


def test_batch_and_live_recordings_are_the_same(pytester: pytest.Pytester, demo: DemoServer) -> None:
    folder = many_cases(pytester, 200)
    live = pytester.runpytest("--prompt-record=all")
    live.assert_outcomes(passed=201)
    recorded_live = interactions(folder)
    live_verdicts = replay_verdicts(pytester)
    demo.requests.clear()

    result = pytester.runpytest(*BATCH)
    result.assert_outcomes(passed=201)
    result.stdout.fnmatch_lines(
        [
            "promptdrift: recording 200 cases through the Batch API (--prompt-batch), in rounds",
            "promptdrift: batch batch_demo* submitted: 200 request(s) to /v1/chat/completions (gpt-4o-mini)*",
            "promptdrift: batch batch_demo* (/v1/chat/completions, gpt-4o-mini): completed, 200/200 done, 0 failed*",
            "promptdrift: 1 batch round(s), 1 batch(es) created by this run",
        ]
    )
    assert demo.batch.creations == 1
    (batch,) = demo.batch.batches.values()
    assert batch.metadata["promptdrift"].startswith("pd-")  # the tag a resumed run finds it by
    assert batch.metadata["promptdrift_run"].startswith("pytest " + " ".join(BATCH))  # names the run
    assert all(r.get("batch") for r in demo.requests if r["path"].endswith("/chat/completions"))
    assert interactions(folder) == recorded_live
    meta = cassettes.load(folder / "c007.yaml").meta
    assert meta["recorded_via"] == "batch"
    assert meta["batches"] == [meta["interactions"][0]["batch"]]
    assert not list((pytester.path / "cassettes" / ".batches").glob("*.json"))  # nothing left pending

    demo.stop()
    block_sockets(pytester)
    assert replay_verdicts(pytester) == live_verdicts  # replays like a live recording, offline


def replay_verdicts(pytester: pytest.Pytester) -> list[tuple[str, bool, object]]:
    result = pytester.runpytest("-p", "no:cacheprovider", "--prompt-report=replay.json")
    result.assert_outcomes(passed=201)
    report = json.loads((pytester.path / "replay.json").read_text())
    return [(c["nodeid"], c["passed"], c["checks"]) for c in report["cases"]]


ROUNDS = """
suite: rounds
model: gpt-4o-mini
prompt: {user: "{{ message }}"}
cases:
  - id: chat
    turns:
      - user: "My order is late"
        expect: [{contains: "sorry"}]
      - user: "And my invoice?"
        expect: [{json: true}]
  - id: judged
    vars: {message: "My order is late"}
    samples: 2
    expect:
      - judge: "The answer apologises."
      - tone: {rubric: "warm and polite"}
"""

TOOL = """
suite: tool
model: gpt-4o-mini
prompt: {user: "{{ message }}"}
tools:
  - name: lookup_order
    parameters: {type: object, properties: {order_id: {type: string}}}
tool_results: {lookup_order: {status: shipped}}
cases:
  - id: where
    vars: {message: "where is order A-1001"}
    expect: [{contains: "shipped"}]
"""


def test_turns_tool_rounds_and_graders_record_in_rounds(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo,
        {"when": {"system": "impartial grader"}, "reply": {"json": {"score": 0.9, "reason": "apologises"}}},
        {
            "when": {"contains": "where is order"},
            "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1001"}}],
        },
        {"when": {"tool_result": "shipped"}, "reply": "Your order A-1001 has shipped."},
        {"when": {"contains": "late"}, "reply": "I'm so sorry your order is late."},
        {"when": {"contains": "invoice"}, "reply": {"json": {"total": 42.5}}},
    )
    write(pytester, "suites/rounds.yaml", ROUNDS)
    write(pytester, "suites/tool.yaml", TOOL)
    result = pytester.runpytest(*BATCH)
    result.assert_outcomes(passed=3)
    # Round 1: the first turn, the tool call and both samples; round 2: the second turn, the tool
    # result, and both samples' two graders together.
    result.stdout.fnmatch_lines(["promptdrift: 2 batch round(s), 2 batch(es) created by this run"])
    assert demo.batch.creations == 2
    chat = [r for r in demo.requests if r["path"].endswith("/chat/completions")]
    assert chat and all(r.get("batch") for r in chat)
    judged = cassettes.load(pytester.path / "cassettes/rounds/judged.yaml")
    assert len(judged.interactions) == 6  # 2 samples x (answer + 2 graders)
    assert judged.meta["recorded_via"] == "batch"
    demo.stop()
    block_sockets(pytester)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


def state_files(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / "cassettes" / ".batches").glob("*.json"))


def start_and_kill_while_polling(pytester: pytest.Pytester, demo: DemoServer) -> dict[str, object]:
    """Start a batch recording in its own process, SIGKILL it while it polls; returns its state file's content."""
    demo.batch.progress = ["validating", *["in_progress"] * 100_000]  # never done while this process lives
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *BATCH],
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batches = list(demo.batch.batches.values())
            if batches and batches[0].polls >= 3 and state_files(pytester):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the batch run never reached polling")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    (path,) = state_files(pytester)
    state: dict[str, object] = json.loads(path.read_text())
    assert state["batch"] == batches[0].id and len(state["requests"]) == 5  # type: ignore[arg-type]
    assert os.environ["OPENAI_API_KEY"] not in path.read_text()  # the state file holds no secret
    assert (pytester.path / "cassettes/.batches/.gitignore").read_text().endswith("*\n")
    return state


def test_a_killed_run_resumes_its_batch_and_pays_nothing_twice(pytester: pytest.Pytester, demo: DemoServer) -> None:
    folder = many_cases(pytester, 5, gate=False)
    start_and_kill_while_polling(pytester, demo)
    assert not list(folder.glob("*.yaml"))  # nothing partial was written
    demo.batch.progress = []  # the provider finishes it meanwhile
    result = pytester.runpytest(*BATCH)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "promptdrift: picking up 1 batch(es) submitted by an earlier run (nothing resent)",
            "promptdrift: 1 batch round(s), 0 batch(es) created by this run",
        ]
    )
    assert demo.batch.creations == 1
    assert len(list(folder.glob("*.yaml"))) == 5
    assert not state_files(pytester)


def test_a_run_that_died_before_noting_its_batch_finds_it_by_metadata(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    many_cases(pytester, 5, gate=False)
    state = start_and_kill_while_polling(pytester, demo)
    (path,) = state_files(pytester)
    path.write_text(json.dumps({**state, "batch": None, "status": "submitting"}))  # as if killed before noting it
    demo.batch.progress = []
    pytester.runpytest(*BATCH).assert_outcomes(passed=5)
    assert demo.batch.creations == 1  # found through batches.list by its metadata tag, not created again


def test_batch_status_and_cancel(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 5, gate=False)
    start_and_kill_while_polling(pytester, demo)
    status = pytester.run(sys.executable, "-m", "promptdrift.cli.main", "batch", "status")
    assert status.ret == 0
    status.stdout.fnmatch_lines(
        [
            "batch_demo*: in_progress, 0/5 done, 0 failed; 5 request(s) to /v1/chat/completions (gpt-4o-mini), "
            "state cassettes/.batches/pd-*.json",
            "1 pending batch(es) in cassettes/.batches; re-run the same pytest command to collect them",
        ]
    )
    cancel = pytester.run(sys.executable, "-m", "promptdrift.cli.main", "batch", "cancel")
    assert cancel.ret == 0
    cancel.stdout.fnmatch_lines(["batch_demo*: cancelling; forgotten (5 request(s))", "1 batch(es) cancelled*"])
    assert not state_files(pytester)
    assert next(iter(demo.batch.batches.values())).cancelled
    demo.batch.progress = []
    pytester.runpytest(*BATCH).assert_outcomes(passed=5)
    assert demo.batch.creations == 2  # cancelled, so submitted again


def test_a_rejected_request_fails_its_case_and_a_rerun_sends_only_it(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    folder = many_cases(pytester, 5, gate=False)
    demo.batch.error_when = "order 3 is"
    result = pytester.runpytest(*BATCH)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*cassettes/many/c003.yaml: batch batch_demo* could not answer this request (HTTP 400: the demo server "
            "was told to reject requests containing 'order 3 is'). Nothing was recorded for this case; fix the cause "
            "and re-run the same command to submit it again.*"
        ]
    )
    assert sorted(p.stem for p in folder.glob("*.yaml")) == ["c000", "c001", "c002", "c004"]
    assert not state_files(pytester)
    demo.batch.error_when = None
    rerun = pytester.runpytest("--prompt-record=new", "--prompt-batch", "--prompt-batch-poll=0.01")
    rerun.assert_outcomes(passed=5)
    rerun.stdout.fnmatch_lines(["promptdrift: batch batch_demo* submitted: 1 request(s) to /v1/chat/completions*"])
    assert demo.batch.creations == 2


@pytest.mark.parametrize("outcome", ["failed", "expired", "cancelled"])
def test_a_batch_that_ends_without_answers_fails_its_cases(
    pytester: pytest.Pytester, demo: DemoServer, outcome: str
) -> None:
    folder = many_cases(pytester, 3, gate=False)
    demo.batch.outcome = outcome
    result = pytester.runpytest(*BATCH)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            f"*cassettes/many/c000.yaml: batch batch_demo* ended {outcome}* before answering this request. Nothing "
            "was recorded for this case; re-run the same command to submit what is missing.*"
        ]
    )
    if outcome == "failed":
        result.stdout.fnmatch_lines(["*ended failed (the demo server was told to fail this batch)*"])
    assert not list(folder.glob("*.yaml"))
    assert not state_files(pytester)


def test_streamed_calls_stay_live_and_are_not_paid_twice(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(
        demo,
        {"when": {"system": "impartial grader"}, "reply": {"json": {"score": 0.9, "reason": "fine"}}},
        {"when": {"contains": "late"}, "reply": "I'm so sorry your order is late."},
    )
    write(
        pytester,
        "suites/streamed.yaml",
        """
        suite: streamed
        model: gpt-4o-mini
        params: {stream: true}
        prompt: {user: "My order is late"}
        cases:
          - id: one
            expect: [{contains: sorry}, {judge: "apologises"}]
        """,
    )
    pytester.runpytest(*BATCH).assert_outcomes(passed=1)
    chat = [r for r in demo.requests if r["path"].endswith("/chat/completions")]
    assert [bool(r.get("batch")) for r in chat] == [False, True]  # the stream live, once; its grader batched
    assert demo.batch.creations == 1


@pytest.mark.parametrize(("cases", "concurrency"), [(4, 4), (6, 2)])
def test_live_calls_of_a_batch_round_overlap(
    pytester: pytest.Pytester, demo: DemoServer, cases: int, concurrency: int
) -> None:
    """Cases take turns at their own work in a round, but one waiting for a live call gives its turn up
    (with more cases than threads too: the turn's holder always finds a request slot)."""
    script(demo, {"when": {"contains": "late"}, "reply": "I'm so sorry your order is late."})
    listed = ", ".join(f"{{id: c{n}, vars: {{n: {n}}}}}" for n in range(cases))
    write(
        pytester,
        "suites/streamed.yaml",
        """
        suite: streamed
        model: gpt-4o-mini
        params: {stream: true}
        prompt: {user: "My order {{ n }} is late"}
        expect: [{contains: sorry}]
        cases: [LISTED]
        """.replace("LISTED", listed),
    )
    demo.gather(concurrency, timeout=3.0)
    pytester.runpytest(*BATCH, f"--prompt-concurrency={concurrency}").assert_outcomes(passed=cases)
    assert demo.max_in_flight == concurrency
    assert demo.batch.creations == 0


@pytest.mark.slow
def test_batch_options_are_checked(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 2)
    result = pytester.runpytest("--prompt-batch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--prompt-batch records through the provider's Batch API: add --prompt-record=new*"])
    result = pytester.runpytest(*BATCH, "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--prompt-batch collects the calls of one process into batches: drop -n*"])


def case_costs(pytester: pytest.Pytester, *args: str, baseline: bool = False) -> list[float]:
    pytester.runpytest(*args, "--prompt-report=report.json").assert_outcomes(passed=2)
    report = json.loads((pytester.path / "report.json").read_text())
    return [case["baseline"]["cost_usd"] if baseline else case["cost_usd"] for case in report["cases"]]


def test_batch_answers_are_priced_at_the_batch_rate(pytester: pytest.Pytester, demo: DemoServer) -> None:
    many_cases(pytester, 2, gate=False)
    pytester.makepyprojecttoml('[tool.promptdrift.prices]\n"gpt-4o-mini" = {input = 1.0, output = 2.0}\n')
    live = case_costs(pytester, "--prompt-record=all")
    assert all(cost > 0 for cost in live)
    assert case_costs(pytester, *BATCH) == pytest.approx([cost / 2 for cost in live])  # default: half
    assert case_costs(pytester) == pytest.approx([cost / 2 for cost in live])  # replayed: still from a batch
    pytester.makepyprojecttoml(
        '[tool.promptdrift.prices]\n"gpt-4o-mini" = {input = 1.0, output = 2.0, batch_input = 0.1, batch_output = 0.2}\n'
    )
    assert case_costs(pytester) == pytest.approx([cost / 10 for cost in live])  # the configured batch rate
    # Re-recorded live against a batch-recorded baseline: the baseline keeps its batch price.
    rerecorded = case_costs(pytester, "--prompt-record=all", baseline=True)
    assert rerecorded == pytest.approx([cost / 10 for cost in live])


def test_batches_split_by_endpoint_model_and_size() -> None:
    from promptdrift.record.batch import Queued, plan
    from promptdrift.suite.model import Provider

    def item(n: int, model: str = "m1", endpoint: str = "/v1/chat/completions") -> Queued:
        return Queued.of(("c.yaml", f"d{n}", 0), Provider(), endpoint, {"model": model, "n": n})

    mixed = [item(0), item(1, "m2"), item(2), item(3, endpoint="/v1/embeddings")]
    assert [[q.key[1] for q in part] for part in plan(mixed)] == [["d0", "d2"], ["d1"], ["d3"]]
    many = [item(n) for n in range(7)]
    assert [len(part) for part in plan(many, max_requests=3)] == [3, 3, 1]
    line = len(
        json.dumps(
            {"custom_id": "r0", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m1", "n": 0}}
        )
    )
    assert [len(part) for part in plan(many, max_bytes=2 * (line + 1))] == [2, 2, 2, 1]


def test_responses_api_and_embeddings_go_through_batches_of_their_own(
    pytester: pytest.Pytester, demo: DemoServer
) -> None:
    script(demo, {"when": {"contains": "late"}, "reply": "I'm so sorry your order is late."})
    write(
        pytester,
        "suites/responses.yaml",
        """
        suite: responses
        model: gpt-4o-mini
        api: responses
        prompt: {user: "{{ message }}"}
        cases:
          - id: late
            vars: {message: "My order is late"}
            expect: [{contains: sorry}, {similar: {to: "sorry your order is late", min: 0.5}}]
        """,
    )
    result = pytester.runpytest(*BATCH)
    result.assert_outcomes(passed=1)
    # Round 1: the answer (Responses API); round 2: the similar check's embeddings, a batch of its own endpoint.
    result.stdout.fnmatch_lines(
        [
            "promptdrift: batch batch_demo* submitted: 1 request(s) to /v1/responses (gpt-4o-mini)*",
            "promptdrift: batch batch_demo* submitted: 1 request(s) to /v1/embeddings (text-embedding-3-small)*",
        ]
    )
    cassette = cassettes.load(pytester.path / "cassettes/responses/late.yaml")
    assert [i.path for i in cassette.interactions] == ["/v1/responses", "/v1/embeddings"]
    assert {call["batch"] for call in cassette.meta["interactions"]} == set(cassette.meta["batches"])
    demo.stop()
    block_sockets(pytester)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_changed_mode_batches_only_the_requests_that_changed(pytester: pytest.Pytester, demo: DemoServer) -> None:
    folder = many_cases(pytester, 4, gate=False)
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=4)
    suite = pytester.path / "suites/many.yaml"
    suite.write_text(suite.read_text().replace("order 2 is late", "order 2 is very late"))
    result = pytester.runpytest("--prompt-record=changed", "--prompt-batch", "--prompt-batch-poll=0.01")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["promptdrift: batch batch_demo* submitted: 1 request(s) to /v1/chat/completions*"])
    assert "very late" in cassettes.load(folder / "c002.yaml").interactions[0].request_body
    assert "recorded_via" not in cassettes.load(folder / "c001.yaml").meta  # replayed, untouched


def test_a_failing_batch_api_stops_the_run_with_what_to_do(pytester: pytest.Pytester, demo: DemoServer) -> None:
    folder = many_cases(pytester, 2, gate=False)
    demo.batch.refuse_uploads = 401
    result = pytester.runpytest(*BATCH)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*promptdrift: the provider's Batch API failed (AuthenticationError: *the demo server was told to refuse "
            "uploads*). Batches already submitted are noted in cassettes/.batches: re-run the same command to pick "
            "them up (promptdrift batch status shows them).*"
        ]
    )
    assert "Traceback" not in result.stdout.str() and "INTERNALERROR" not in result.stdout.str()
    assert os.environ["OPENAI_API_KEY"] not in result.stdout.str()
    assert not list(folder.glob("*.yaml"))
    demo.batch.refuse_uploads = None
    pytester.runpytest(*BATCH).assert_outcomes(passed=2)  # the noted, never-uploaded batch is sent afresh
    assert demo.batch.creations == 1
    assert not state_files(pytester)


def test_generated_cases_stay_live_and_the_run_says_so(pytester: pytest.Pytester, demo: DemoServer) -> None:
    script(demo, {"when": {"contains": "order"}, "reply": "Sorry, order noted."})
    write(
        pytester,
        "suites/explored.yaml",
        """
        suite: explored
        model: gpt-4o-mini
        prompt: {user: "order {{ n }}"}
        generate:
          max_examples: 3
          vars: {n: {integers: {min: 1, max: 9}}}
        expect: [{contains: "Sorry"}]
        cases:
          - {id: fixed, vars: {n: 5}}
        """,
    )
    result = pytester.runpytest(*BATCH)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "promptdrift: suites/explored.yaml: generate: explores live with Hypothesis "
            "(each input depends on the last answer)"
        ]
    )
    chat = [r for r in demo.requests if r["path"].endswith("/chat/completions")]
    assert [r for r in chat if r.get("batch")] and [r for r in chat if not r.get("batch")]  # the case batched
    assert cassettes.load(pytester.path / "cassettes/explored/fixed.yaml").meta["recorded_via"] == "batch"
    assert "recorded_via" not in cassettes.load(pytester.path / "cassettes/explored/generated.yaml").meta


def test_a_batch_answer_reuses_the_request_the_sdk_built_for_its_endpoint_and_model(tmp_path: Path) -> None:
    import httpx2

    from promptdrift.config import Settings
    from promptdrift.record.batch import BatchRun
    from promptdrift.suite.model import Provider

    run = BatchRun(Settings(rootdir=tmp_path), say=print)
    east, west = Provider(), Provider(base_url="https://west.example/v1")
    body = {"model": "m1", "messages": [{"role": "user", "content": "hi ✓"}]}
    assert run.request_like(east, "/chat/completions", body) is None  # until the SDK has built one
    built = httpx2.Request(
        "POST",
        "https://a.example/openai/deployments/m1/chat/completions?api-version=1",
        headers={"content-type": "application/json", "accept": "application/json", "authorization": "Bearer sk-x"},
        content=b"{}",
    )
    run.learn(east, "/chat/completions", body, built)
    request = run.request_like(east, "/chat/completions", {**body, "temperature": 0})
    assert request is not None
    assert str(request.url) == str(built.url)  # routing and query as the SDK built them
    assert dict(request.headers.items()) == {
        "content-type": "application/json",
        "accept": "application/json",
        "content-length": str(len(request.content)),
        "host": "a.example",
    }  # what a cassette keeps, and never the key
    assert json.loads(request.content) == {**body, "temperature": 0}
    # Another model (an Azure deployment of its own), endpoint or provider: the SDK builds it first.
    assert run.request_like(east, "/chat/completions", {**body, "model": "m2"}) is None
    assert run.request_like(east, "/embeddings", body) is None
    assert run.request_like(west, "/chat/completions", body) is None


def test_identical_requests_keep_their_own_answers_in_order(pytester: pytest.Pytester, demo: DemoServer) -> None:
    # Three samples send one request three times; each is its own call (its occurrence in the case), whether the
    # SDK builds its request (the first) or the lane reuses that one (the others).
    script(demo, {"when": {"contains": "late"}, "replies": ["first answer", "second answer", "third answer"]})
    write(
        pytester,
        "suites/samples.yaml",
        """
        suite: samples
        model: gpt-4o-mini
        prompt: {user: "{{ message }}"}
        cases:
          - id: late
            vars: {message: "My order is late"}
            samples: 3
            expect: [{contains: answer}]
        """,
    )
    pytester.runpytest(*BATCH).assert_outcomes(passed=1)
    cassette = cassettes.load(pytester.path / "cassettes/samples/late.yaml")
    said = [i.response_json["choices"][0]["message"]["content"] for i in cassette.interactions]
    assert said == ["first answer", "second answer", "third answer"]
    demo.stop()
    block_sockets(pytester)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)

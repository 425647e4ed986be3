"""Anthropic's Messages API through the official ``anthropic`` SDK: suites and code-first tests, recorded,
replayed offline with no key, drift on a changed system prompt, a re-recording against another model."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.testing.demo import DemoServer, Script
from tests.helpers import block_sockets, write
from tests.integration.test_batch import interactions

ANTHROPIC_KEY = "sk-ant-api03-TESTKEY0123456789abcdefABCDEF0123456789"

SCRIPT = {
    "rules": [
        {"when": {"system": "impartial grader"}, "reply": {"json": {"score": 0.9, "reason": "It apologises."}}},
        {"when": {"tool_result": "shipped"}, "reply": "Good news: order A-1001 has shipped."},
        {
            "when": {"contains": "where is order"},
            "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1001"}}],
        },
        {"when": {"contains": "late", "model": "claude-b"}, "reply": "Your order is late."},
        {"when": {"contains": "late"}, "reply": "I'm so sorry your order is late. We'll fix it today."},
        {"when": {"contains": "essay"}, "reply": "An essay the token limit cut", "finish_reason": "length"},
    ],
    "default": "Happy to help.",
}

SUITE = """
suite: claude
provider: anthropic
model: claude-a
params: {max_tokens: 200}
prompt:
  system: You are a support assistant. Be warm.
  user: "{{ message }}"
tools:
  - name: lookup_order
    description: Look up an order by id.
    parameters: {type: object, required: [order_id], properties: {order_id: {type: string}}}
tool_results:
  lookup_order: {status: shipped}
cases:
  - id: plain
    vars: {message: "My order is late"}
    expect: [{contains: sorry}, {judge: {rubric: Apologises, grader: {provider: anthropic, model: claude-grader}}}]
  - id: streamed
    vars: {message: "My parcel is late too"}
    params: {stream: true}
    expect: [{contains: sorry}]
  - id: tool-round
    vars: {message: "Where is order A-1001?"}
    expect: [{tool_call: {name: lookup_order, arguments: {equals: {order_id: A-1001}}}}, {contains: shipped}]
"""

CODE_FIRST = """
import asyncio


def test_claude_plain(anthropic_client):
    message = anthropic_client.messages.create(
        model="claude-a",
        max_tokens=100,
        system="Be warm.",
        messages=[{"role": "user", "content": "my order is late"}],
        extra_headers={"anthropic-beta": "demo-feature-2026-01-01"},
    )
    assert message.content[0].text.startswith("I'm so sorry") and message.stop_reason == "end_turn"


def test_claude_streamed_and_async(anthropic_client, async_anthropic_client):
    with anthropic_client.messages.stream(
        model="claude-a", max_tokens=100, messages=[{"role": "user", "content": "where is order A-1001?"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == {"order_id": "A-1001"}

    async def ask():
        return await async_anthropic_client.messages.create(
            model="claude-a", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
        )

    assert asyncio.run(ask()).content[0].text == "Happy to help."
"""


@pytest.fixture
def claude(monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoServer]:
    """A demo server the ``anthropic`` SDK talks to through its own variables; OpenAI's are unset."""
    server = DemoServer(Script.from_data(SCRIPT))
    server.extra_headers = {"anthropic-organization-id": "org-id-SECRET-0001", "request-id": "req_demo"}
    server.start()
    for variable in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    yield server
    server.stop()


def offline(pytester: pytest.Pytester, demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop the server, unset the key and refuse every socket: replay needs none of them."""
    demo.stop()
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    block_sockets(pytester)


def cassette_texts(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.yaml"))}


def test_a_new_user_records_suites_and_code_first_tests_then_replays_offline_and_sees_drift(
    pytester: pytest.Pytester, claude: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, "suites/claude.yaml", SUITE)
    pytester.makepyfile(test_code=CODE_FIRST)
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=5)

    tapes = cassette_texts(pytester.path / "cassettes")
    assert sorted(tapes) == [
        "claude/plain.yaml",
        "claude/streamed.yaml",
        "claude/tool-round.yaml",
        "test_code/test_claude_plain.yaml",
        "test_code/test_claude_streamed_and_async.yaml",
    ]
    for name, text in tapes.items():
        assert ANTHROPIC_KEY not in text and "sk-ant" not in text and "org-id-SECRET" not in text, name
        assert "x-api-key" not in text.lower() and "authorization" not in text.lower(), name
    # What the SDK sent: its key header, Anthropic's version; the cassette keeps the version only.
    sent = [r for r in claude.requests if r["path"] == "/v1/messages"]
    assert all(r["headers"].get("X-Api-Key") == ANTHROPIC_KEY or "Authorization" in r["headers"] for r in sent)
    plain = cassettes.load(pytester.path / "cassettes/claude/plain.yaml").interactions[0]
    assert plain.uri.endswith("/v1/messages") and "anthropic-version" in plain.request_headers
    code_first = cassettes.load(pytester.path / "cassettes/test_code/test_claude_plain.yaml").interactions[0]
    assert code_first.request_headers["anthropic-beta"] == ["demo-feature-2026-01-01"]  # it changes the answer
    body = plain.request_json
    assert body["system"] == "You are a support assistant. Be warm."
    assert body["messages"] == [{"role": "user", "content": "My order is late"}]
    assert body["max_tokens"] == 200 and body["tools"][0]["input_schema"]["required"] == ["order_id"]
    grader = cassettes.load(pytester.path / "cassettes/claude/plain.yaml").interactions[1]
    assert grader.uri.endswith("/v1/messages") and grader.request_json["model"] == "claude-grader"
    assert "impartial grader" in grader.request_json["system"] and "response_format" not in grader.request_json
    assert grader.request_json["output_config"]["format"]["schema"]["required"] == ["score", "reason"]
    assert "temperature" not in grader.request_json  # Anthropic's API refuses sampling parameters
    assert cassettes.load(pytester.path / "cassettes/claude/streamed.yaml").interactions[0].is_event_stream
    rounds = cassettes.load(pytester.path / "cassettes/claude/tool-round.yaml").interactions
    follow_up = rounds[1].request_json["messages"]
    assert follow_up[1]["content"][0] == {
        "type": "tool_use",
        "id": "toolu_demo0",
        "name": "lookup_order",
        "input": {"order_id": "A-1001"},
    }
    assert follow_up[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_demo0", "content": '{"status": "shipped"}'}],
    }

    offline(pytester, claude, monkeypatch)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)
    assert cassette_texts(pytester.path / "cassettes") == tapes  # a replay writes nothing

    write(pytester, "suites/claude.yaml", SUITE.replace("Be warm.", "Be brief."))
    result = pytester.runpytest("-p", "no:cacheprovider", "suites")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*prompt drift*",
            "-system: You are a support assistant. Be warm.",
            "+system: You are a support assistant. Be brief.",
        ]
    )


def test_a_re_recording_against_another_model_reports_the_case_that_regressed(
    pytester: pytest.Pytester, claude: DemoServer
) -> None:
    write(pytester, "suites/claude.yaml", SUITE)
    pytester.runpytest("--prompt-record=new", "suites").assert_outcomes(passed=3)
    result = pytester.runpytest(
        "--prompt-record=all", "--prompt-model=claude-b", "--prompt-report=report.json", "suites"
    )
    result.assert_outcomes(passed=1, failed=2)
    report = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))
    verdicts = {case["case"]: case["verdict"] for case in report["cases"]}
    assert verdicts == {"plain": "regression", "streamed": "regression", "tool-round": "pass"}
    again = claude.requests[5:]  # the first recording made five requests: three cases, a tool round, a grader
    assert sorted(r["json"]["model"] for r in again) == ["claude-b"] * 4 + ["claude-grader"]


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ("{seed: 7, max_tokens: 200}", "params.seed has no equivalent in Anthropic's Messages API*"),
        (
            "{temperature: 0, max_tokens: 200}",
            "params.temperature: Anthropic's Messages API has no sampling parameters*",
        ),
        ("{}", "Anthropic's Messages API needs max_tokens: set params.max_tokens in the suite or the case"),
    ],
)
def test_max_tokens_is_required_and_parameters_anthropic_lacks_are_clear_errors(
    pytester: pytest.Pytester, claude: DemoServer, params: str, said: str
) -> None:
    write(pytester, "suites/claude.yaml", SUITE.replace("params: {max_tokens: 200}", f"params: {params}"))
    result = pytester.runpytest("--prompt-record=new", "suites")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([f"*{said}*"])
    assert not claude.requests  # refused before anything is sent


def test_the_demo_server_refuses_sampling_parameters_as_the_api_does(claude: DemoServer) -> None:
    import anthropic  # the anthropic extra, in dev

    client = anthropic.Anthropic(base_url=claude.anthropic_url, api_key="demo", max_retries=0)
    ask = {"model": "claude-a", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(anthropic.BadRequestError, match="temperature: Extra inputs are not permitted"):
        client.messages.create(**ask, extra_body={"temperature": 0.5})
    assert client.messages.create(**ask).content[0].text == "Happy to help."


SEEN = """
import json
import sys
import threading


class Watch:
    \"\"\"Notes which thread first imports each SDK (finds nothing itself).\"\"\"

    first = {}

    def find_spec(self, name, path=None, target=None):
        if name in ("anthropic", "openai") and name not in self.first:
            self.first[name] = threading.current_thread().name
        return None


sys.meta_path.insert(0, Watch())


def pytest_unconfigure(config):
    loaded = sorted(m for m in ("anthropic", "openai", "httpx2") if m in sys.modules)
    with open("sdks.json", "w") as out:
        json.dump({"loaded": loaded, "imported_in": Watch.first}, out)
"""


def sdks_seen(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    """Run pytest in a subprocess with the SEEN plugin: which SDKs ended up loaded, and which thread imported each."""
    write(pytester, "seen.py", SEEN)
    result = pytester.runpytest_subprocess("-p", "seen", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=3)
    seen: dict[str, Any] = json.loads((pytester.path / "sdks.json").read_text(encoding="utf-8"))
    return seen


def test_a_replay_of_an_anthropic_suite_imports_neither_sdk(
    pytester: pytest.Pytester, claude: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, "suites/claude.yaml", SUITE)
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=3)
    offline(pytester, claude, monkeypatch)
    assert sdks_seen(pytester) == {"loaded": [], "imported_in": {}}


def test_recording_an_anthropic_suite_loads_its_sdk_once_before_the_pool_and_never_openai(
    pytester: pytest.Pytester, claude: DemoServer
) -> None:
    """Sixteen pool threads importing the SDK at once put its two seconds inside the recording phase; loading
    openai as well added another second to a run that never uses it (benchmarks/groups/providers.py)."""
    write(pytester, "suites/claude.yaml", SUITE)
    seen = sdks_seen(pytester, "--prompt-record=new", "suites")
    assert seen["imported_in"] == {"anthropic": "MainThread"}
    assert "openai" not in seen["loaded"]


def test_a_key_in_a_prompt_never_reaches_the_cassette(pytester: pytest.Pytester, claude: DemoServer) -> None:
    write(pytester, "suites/claude.yaml", SUITE.replace("My order is late", f"My order is late, key {ANTHROPIC_KEY}"))
    pytester.runpytest("--prompt-record=new", "suites").assert_outcomes(passed=3)
    assert any(ANTHROPIC_KEY in json.dumps(r["json"]) for r in claude.requests)  # it was sent
    text = (pytester.path / "cassettes/claude/plain.yaml").read_text(encoding="utf-8")
    assert ANTHROPIC_KEY not in text and "<redacted:$ANTHROPIC_API_KEY>" in text


def test_the_demo_server_command_answers_anthropics_sdk_plain_and_streamed() -> None:
    import anthropic  # the anthropic extra, in dev

    command = [sys.executable, "-c", "from promptdrift.cli.main import main; main(['demo-server', '--port', '0'])"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            lines = [server.stdout.readline() for _ in range(3)]
            said = re.search(r"ANTHROPIC_BASE_URL=(\S+) ANTHROPIC_API_KEY=demo", lines[2])
            assert said, lines
            client = anthropic.Anthropic(base_url=said.group(1), api_key="demo", max_retries=0)
            ask = {"model": "claude-a", "max_tokens": 50, "messages": [{"role": "user", "content": "my order is late"}]}
            message = client.messages.create(**ask)
            assert message.content[0].text.startswith("I'm so sorry") and message.model == "claude-a-demo"
            with client.messages.stream(**ask) as stream:
                assert "".join(stream.text_stream) == message.content[0].text
        finally:
            server.terminate()


BATCH = ("--prompt-record=all", "--prompt-batch", "--prompt-batch-poll=0.01")


def test_message_batches_record_the_same_cassettes_in_rounds(pytester: pytest.Pytester, claude: DemoServer) -> None:
    write(pytester, "suites/claude.yaml", SUITE)
    pytester.runpytest("--prompt-record=all", "suites").assert_outcomes(passed=3)
    live = interactions(pytester.path / "cassettes")
    claude.requests.clear()
    result = pytester.runpytest(*BATCH, "suites")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "promptdrift: batch msgbatch_demo* submitted: 2 request(s) to /v1/messages (claude-a)*",
            "promptdrift: batch msgbatch_demo* (/v1/messages, claude-a): completed, 2/2 done, 0 failed*",
        ]
    )
    # Round 1: plain and the tool call (the streamed case goes live); round 2: the grader and the tool round's answer.
    assert sorted(r["json"]["model"] for r in claude.requests if r.get("batch")) == [
        "claude-a",
        "claude-a",
        "claude-a",
        "claude-grader",
    ]
    assert [r["path"] for r in claude.requests if not r.get("batch") and r["path"] == "/v1/messages"] == [
        "/v1/messages"
    ]
    assert cassettes.load(pytester.path / "cassettes/claude/plain.yaml").meta["recorded_via"] == "batch"
    assert interactions(pytester.path / "cassettes") == live  # the same requests and answers as live (ids aside)
    assert not list((pytester.path / "cassettes" / ".batches").glob("*.json"))  # finished: forgotten


def kill_while_waiting(pytester: pytest.Pytester, claude: DemoServer) -> dict[str, Any]:
    """Record the suite through Message Batches in a process of its own, SIGKILL it while it polls its batch;
    returns the batch's state file."""
    write(pytester, "suites/claude.yaml", SUITE)
    claude.batch.progress = ["in_progress"] * 100_000  # never done while this process lives
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *BATCH, "suites"],
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (claude.batch.batches and next(iter(claude.batch.batches.values())).polls >= 3):
            assert time.monotonic() < deadline, "the batch run never reached polling"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    (state,) = (pytester.path / "cassettes" / ".batches").glob("*.json")
    assert ANTHROPIC_KEY not in state.read_text(encoding="utf-8")
    noted: dict[str, Any] = json.loads(state.read_text(encoding="utf-8"))
    return noted


def test_a_message_batch_run_killed_while_waiting_resumes_and_pays_nothing_twice(
    pytester: pytest.Pytester, claude: DemoServer
) -> None:
    noted = kill_while_waiting(pytester, claude)
    assert noted["batch"].startswith("msgbatch_demo") and noted["provider"]["name"] == "anthropic"
    status = pytester.run(sys.executable, "-m", "promptdrift.cli.main", "batch", "status")
    status.stdout.fnmatch_lines(["msgbatch_demo*: in_progress, 0/2 done, 0 failed; 2 request(s) to /v1/messages*"])

    claude.batch.progress = []  # the provider finishes it meanwhile
    result = pytester.runpytest(*BATCH, "suites")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["promptdrift: picking up 1 batch(es) submitted by an earlier run (nothing resent)"])
    # The killed run's batch, picked up (not sent again); the second round's two (the grader's model has its own).
    assert claude.batch.creations == 3 and f"batch {noted['batch']} (/v1/messages, claude-a): completed" in str(
        result.stdout
    )
    assert not list((pytester.path / "cassettes" / ".batches").glob("*.json"))


def test_message_batches_are_listed_and_cancelled(pytester: pytest.Pytester, claude: DemoServer) -> None:
    kill_while_waiting(pytester, claude)
    cancel = pytester.run(sys.executable, "-m", "promptdrift.cli.main", "batch", "cancel")
    cancel.stdout.fnmatch_lines(["msgbatch_demo*: cancelling; forgotten (2 request(s))", "1 batch(es) cancelled*"])
    assert next(iter(claude.batch.batches.values())).cancelled
    assert not list((pytester.path / "cassettes" / ".batches").glob("*.json"))
    claude.batch.progress = []
    pytester.runpytest(*BATCH, "suites").assert_outcomes(passed=3)
    assert claude.batch.creations == 4  # cancelled, so submitted again (and the second round's two)


def anthropic_error(kind: str, message: str) -> str:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}})


def test_anthropic_errors_are_retried_recorded_or_refused_as_openai_ones_are(
    pytester: pytest.Pytester, claude: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, "suites/claude.yaml", SUITE)
    claude.fail_next(529, body=anthropic_error("overloaded_error", "Overloaded"))  # transient: retried
    claude.fail_next(
        400, body=anthropic_error("invalid_request_error", "messages: text content blocks must be non-empty")
    )
    result = pytester.runpytest("--prompt-record=new", "--prompt-concurrency=1", "--prompt-retry-backoff=0", "suites")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*the model endpoint answered HTTP 400 (*text content blocks must be non-empty*"])
    offline(pytester, claude, monkeypatch)
    again = pytester.runpytest("-p", "no:cacheprovider", "suites")  # the recorded 400 replays as it was raised
    again.assert_outcomes(passed=2, failed=1)
    again.stdout.fnmatch_lines(["*the model endpoint answered HTTP 400 (*text content blocks must be non-empty*"])


def test_a_refused_key_is_never_recorded(pytester: pytest.Pytester, claude: DemoServer) -> None:
    write(pytester, "suites/claude.yaml", SUITE)
    claude.fail_next(401, times=10, body=anthropic_error("authentication_error", "invalid x-api-key"))
    result = pytester.runpytest("--prompt-record=new", "--prompt-concurrency=1", "suites")
    result.stdout.fnmatch_lines(["*HTTP 401 (*invalid x-api-key*Not recorded*"])
    tapes = cassette_texts(pytester.path / "cassettes")
    assert all("invalid x-api-key" not in text for text in tapes.values())


def test_without_the_anthropic_sdk_a_suite_and_a_fixture_say_which_extra_to_install(
    pytester: pytest.Pytester, claude: DemoServer
) -> None:
    write(pytester, "suites/claude.yaml", SUITE)
    pytester.makepyfile(test_code=CODE_FIRST)
    write(pytester, "conftest.py", "import sys\n\nsys.modules['anthropic'] = None  # as if not installed\n")
    result = pytester.runpytest_subprocess("--prompt-record=new", "-p", "no:cacheprovider")
    said = "provider anthropic needs the anthropic SDK, which is not installed: pip install 'promptdrift[anthropic]'"
    # three cases, two tests: one line each, exactly (fnmatch would read [anthropic] as a set; the short summary
    # repeats the message after a prefix, cut to the terminal's width unless on CI, so it is not counted)
    assert [line for line in result.stdout.lines if line == said] == [said] * 5
    assert "Traceback" not in result.stdout.str() and "ModuleNotFoundError" not in result.stdout.str()
    assert "During handling" not in result.stdout.str()
    result.assert_outcomes(failed=3, errors=2)  # the suite's cases; the tests, at the fixture


def test_an_answer_cut_off_by_max_tokens_fails_as_truncated(pytester: pytest.Pytester, claude: DemoServer) -> None:
    write(pytester, "suites/claude.yaml", SUITE.replace("My order is late", "Write an essay"))
    result = pytester.runpytest("--prompt-record=new", "suites")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*FAIL truncation: the answer was cut off by the token limit (max_tokens=200, stop_reason 'max_tokens')*"]
    )

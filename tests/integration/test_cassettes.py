"""Cassette files: corrupt ones give clear errors, writes are atomic, names are safe."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptdrift.cassettes import format as cassettes
from promptdrift.cassettes.format import Cassette, Interaction
from promptdrift.cassettes.naming import safe_name
from promptdrift.core.errors import CassetteError
from promptdrift.testing.demo import DemoServer


def _interaction() -> Interaction:
    return Interaction("POST", "http://h/v1/chat/completions", '{"a": 1}', 200, "OK", {}, '{"b": 2}')


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("interactions: [\n", "not valid YAML"),
        ("just text", "not a vcrpy cassette"),
        ("version: 7\ninteractions: []\n", "format version 7 is not the supported 1"),
        ("version: 1\ninteractions:\n- request: {}\n", "interaction is malformed"),
        ("version: 1\ninteractions: []\nmetadata: {promptdrift: {format: 99}}\n", "metadata format 99"),
    ],
)
def test_corrupt_cassettes_name_the_file_and_how_to_rerecord(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content)
    with pytest.raises(CassetteError, match=message) as info:
        cassettes.load(path, display="cassettes/s/c.yaml", rerecord_hint="pytest x --prompt-record=all")
    assert str(info.value).startswith("cassettes/s/c.yaml: ")
    assert "Re-record it: pytest x --prompt-record=all" in str(info.value)


def test_corrupt_cassette_in_a_run(pytester: pytest.Pytester, demo: DemoServer, support_suite) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    (pytester.path / "cassettes/support/late.yaml").write_text("version: 1\ninteractions: [\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*cassettes/support/late.yaml: cassette is not valid YAML*Re-record it: pytest*"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_save_is_atomic_and_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s" / "c.yaml"
    cassettes.save(Cassette(path, [_interaction()], {"answer": "old"}))
    before = path.read_text()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cassettes.os, "replace", explode)
    with pytest.raises(OSError, match="disk full"):
        cassettes.save(Cassette(path, [_interaction(), _interaction()], {"answer": "new"}))
    assert path.read_text() == before  # the old cassette is intact
    assert [p.name for p in path.parent.iterdir()] == ["c.yaml"]  # no temporary file left behind
    loaded = cassettes.load(path)
    assert loaded.meta["answer"] == "old" and loaded.interactions[0].response_json == {"b": 2}


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://user:pw@api.openai.com/v1/chat/completions", "https://api.openai.com/v1/chat/completions"),
        (
            "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=1&api-key=sk-1",
            "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=1",
        ),
        ("http://127.0.0.1:8765/v1/embeddings?key=secret", "http://127.0.0.1:8765/v1/embeddings"),
    ],
)
def test_scrub_uri(uri: str, expected: str) -> None:
    assert cassettes.scrub_uri(uri) == expected


def test_fingerprint_ignores_host_and_json_formatting() -> None:
    a = cassettes.fingerprint("POST", "http://127.0.0.1:1/v1/chat/completions", b'{"a":1,"b":[1,2]}')
    b = cassettes.fingerprint("POST", "https://api.openai.com/v1/chat/completions", '{\n  "b": [1, 2],\n  "a": 1\n}')
    c = cassettes.fingerprint("POST", "https://api.openai.com/v1/chat/completions", b'{"a":2,"b":[1,2]}')
    assert a == b != c


@pytest.mark.parametrize(
    ("name", "expected"),
    [("late-delivery", "late-delivery"), ("a b/c", None), ("../x", None), ("x" * 200, None), (".hidden", None)],
)
def test_safe_name(name: str, expected: str | None) -> None:
    safe = safe_name(name)
    if expected:
        assert safe == expected
    else:
        assert "/" not in safe and " " not in safe and not safe.startswith(".") and len(safe) <= 89
        assert safe != safe_name(name + "!")  # distinct ids never share a file


@pytest.mark.parametrize("marker", ['"choices"', '"usage"', "  response:"])
def test_truncated_cassette_is_a_clear_error_in_a_run(
    pytester: pytest.Pytester, demo: DemoServer, support_suite, marker: str
) -> None:
    pytester.runpytest("--prompt-record=new").assert_outcomes(passed=2)
    path = pytester.path / "cassettes/support/late.yaml"
    text = path.read_text()
    path.write_text(text[: text.index(marker)])  # as a copy cut off mid-file would be
    result = pytester.runpytest("-k", "late")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["*cassettes/support/late.yaml: *Re-record it: pytest suites/support.yaml::late --prompt-record=all"]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    pytester.runpytest("-k", "late", "--prompt-record=all").assert_outcomes(passed=1, deselected=1)
    assert cassettes.load(path).meta["answer"]


def test_binary_garbage_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(CassetteError, match="not UTF-8 text"):
        cassettes.load(path, display="cassettes/s/c.yaml", rerecord_hint="pytest x --prompt-record=all")

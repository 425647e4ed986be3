"""promptdrift scan: key-shaped strings and credential headers in cassettes are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptdrift.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("body: 'key sk-proj-abcdefghijklmnopqrstuvwxyz012345'", "OpenAI API key"),
        ("      Authorization:", "credential header"),
        ("    - Bearer abcdefghijklmnop1234", "bearer token"),
        ("      openai-organization:", "credential header"),
        ("      - org-ABCDEFGHIJKLMNOPQRST12", "OpenAI organization id"),
        ("uri: https://x/v1/chat?api-key=abc123", "key in a query string"),
        ("      set-cookie:", "credential header"),
    ],
)
def test_finds_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, kind: str) -> None:
    (tmp_path / "c.yaml").write_text(f"version: 1\n{line}\n")
    assert main(["scan", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"c.yaml:2: {kind}:" in out
    assert "abcdefghijklmnopqrstuvwxyz012345" not in out  # the secret is not printed again


def test_bundled_cassettes_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(REPO / "cassettes")]) == 0
    assert "no secrets found" in capsys.readouterr().out


def test_pre_commit_hook_runs_the_scan() -> None:
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    assert "entry: promptdrift scan" in text and "id: promptdrift-scan" in text

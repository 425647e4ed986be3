"""The GitHub workflows: valid (actionlint) and doing what the README says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_actionlint_passes() -> None:
    binary = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert binary, "actionlint is missing: pip install -e '.[dev]'"
    result = subprocess.run([binary, "-no-color"], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _steps(data: dict) -> str:
    return "\n".join(
        str(step.get("run", "")) + str(step.get("uses", "")) for job in data["jobs"].values() for step in job["steps"]
    )


def test_pull_request_gate_replays_with_junit_and_reports() -> None:
    data = _load("ci.yml")
    assert "pull_request" in data["on"]
    steps = _steps(data)
    assert "--prompt-record=none" in steps and "--junitxml=" in steps and "--prompt-report=" in steps
    assert "--prompt-strict-cassettes" in steps  # a hand-edited cassette cannot turn the gate green
    assert "upload-artifact" in steps


def test_rerecord_is_dispatched_with_a_model_and_opens_a_pull_request() -> None:
    data = _load("rerecord.yml")
    assert data["on"]["workflow_dispatch"]["inputs"]["model"]["required"] is True
    steps = _steps(data)
    assert '--prompt-record=all --prompt-model "$MODEL"' in steps
    assert "create-pull-request" in steps
    assert "secrets.OPENAI_API_KEY" in (WORKFLOWS / "rerecord.yml").read_text()


def test_drift_watch_is_scheduled_and_records_into_a_scratch_folder() -> None:
    data = _load("drift-watch.yml")
    assert data["on"]["schedule"][0]["cron"]
    steps = _steps(data)
    assert "--prompt-record=all" in steps and '--prompt-cassette-dir "$RUNNER_TEMP/scratch-cassettes"' in steps

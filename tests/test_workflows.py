"""The GitHub workflows: valid (actionlint) and doing what the README says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
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
    assert "--prompt-record=none" in steps and "--junitxml=" in steps
    assert "--report promptdrift-report.md --report promptdrift-report.html" in steps  # from the merged shards
    assert "--prompt-strict-cassettes" in steps  # a hand-edited cassette cannot turn the gate green
    assert "upload-artifact" in steps


def test_the_gate_replays_in_shards_and_merges_them_into_one_comment() -> None:
    data = _load("ci.yml")
    assert data["on"]["workflow_dispatch"]["inputs"]["shards"]["default"] == 2
    assert data["jobs"]["replay"]["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    replay = _steps({"jobs": {"replay": data["jobs"]["replay"]}})
    assert "--splits ${{ env.SHARDS }} --group ${{ matrix.shard }} --prompt-records=records" in replay  # pytest-split
    merge = data["jobs"]["merge"]
    steps = _steps({"jobs": {"merge": merge}})
    assert "promptdrift merge shards" in steps and "promptdrift compare --base" in steps
    assert merge["permissions"]["pull-requests"] == "write"
    assert any(step.get("with", {}).get("fetch-depth") == 0 for step in merge["steps"])
    script = next(step["with"]["script"] for step in merge["steps"] if "github-script" in step.get("uses", ""))
    assert "updateComment" in script and "65536" in script  # one comment, updated; cut to GitHub's limit


def test_rerecord_is_dispatched_with_a_model_and_opens_a_pull_request() -> None:
    data = _load("rerecord.yml")
    assert data["on"]["workflow_dispatch"]["inputs"]["model"]["required"] is True
    steps = _steps(data)
    assert '--prompt-record=all --prompt-model "$MODEL"' in steps
    assert "--splits ${{ env.SHARDS }} --group ${{ matrix.shard }}" in steps and "promptdrift merge shards" in steps
    assert "git ls-files --modified --others" in steps  # each shard ships only the cassettes it wrote
    assert "create-pull-request" in steps
    assert "secrets.OPENAI_API_KEY" in (WORKFLOWS / "rerecord.yml").read_text()


def test_drift_watch_is_scheduled_and_records_into_a_scratch_folder() -> None:
    data = _load("drift-watch.yml")
    assert data["on"]["schedule"][0]["cron"]
    steps = _steps(data)
    assert "--prompt-record=all" in steps and '--prompt-cassette-dir "$RUNNER_TEMP/scratch-cassettes"' in steps


@pytest.mark.parametrize("batch", ["true", "false"])
def test_rerecord_takes_a_batch_input(batch: str) -> None:
    data = _load("rerecord.yml")
    assert data["on"]["workflow_dispatch"]["inputs"]["batch"]["type"] == "boolean"
    job = data["jobs"]["rerecord"]
    step = next(s for s in job["steps"] if "--prompt-record=all" in s.get("run", ""))
    assert step["env"]["BATCH"] == "${{ inputs.batch }}"
    script = step["run"].replace("${{ env.SHARDS }}", "2").replace("${{ matrix.shard }}", "1")
    # The step's own shell script, with a python that prints the arguments it was given.
    shown = subprocess.run(
        ["bash", "-c", 'python() { printf "%s\\n" "$@"; }\n' + script],
        env={"BATCH": batch, "MODEL": "gpt-new", "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert ("--prompt-batch" in shown) == (batch == "true")
    assert shown[:6] == ["-m", "pytest", "suites", "--prompt-record=all", "--prompt-model", "gpt-new"]

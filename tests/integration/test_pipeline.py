"""``cdlab pipeline run`` and ``approve`` end to end, from a temporary git clone of the
repository: the pipeline stack deployed, the archive uploaded, the execution followed through the
CodePipeline API, the build logs read from CloudWatch Logs.

The runs share one local cloud at ``CDLAB_TIME_SCALE=60``: the prod endpoint's blue/green update
bakes for configuration_prod.json's BakeTimeInSeconds (300 s), which that scale makes 5 s.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import numpy as np
import pytest
import scipy.sparse as sp

from cdlab.localcloud.codebuild import buildspec as codebuild
from cdlab.steps import gate
from tests.integration.scaled import ScaledCloud, scaled_cloud
from tests.polling import poll
from tests.streamed import Streamed

REPO = Path(__file__).resolve().parents[2]
PROD = "prod-cdlab"
BAD_MODEL = {"linear_lr": "1000000", "epochs": "1"}  # diverges: the match-rate gate stops it
ROW = sp.csr_matrix(np.eye(2625, dtype=np.float32)[[3, 1000]].sum(axis=0, keepdims=True))


@dataclass(frozen=True)
class Spec:
    """A CodeBuild project as the buildspec runner reads it."""

    name: str
    buildspec: dict
    environment: dict[str, str]


def pointed_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    """The scaled cloud, with this process's AWS clients pointed at it (a fixture's body)."""
    for running in scaled_cloud(tmp_path_factory):
        with pytest.MonkeyPatch.context() as patch:
            for key, value in running.env.items():
                patch.setenv(key, value)
            patch.setattr(boto3, "DEFAULT_SESSION", None)  # made afresh, from this cloud's env
            yield running


@pytest.fixture(scope="module")
def cloud60(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from pointed_cloud(tmp_path_factory)


def git(clone: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=CD Lab", "-c", "user.email=lab@example.com", *args],
        cwd=clone, check=True, capture_output=True,
    )  # fmt: skip


def committed_copy(clone: Path) -> Path:
    """The working tree as it is (tracked and new files, nothing ignored), committed in a new
    repository at ``clone``, so the pipeline builds exactly what this test suite runs against."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    git(clone, "init", "-q")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "The lab as it is")
    return clone


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return committed_copy(tmp_path_factory.mktemp("clone"))


def pipeline(directory: Path, cloud: ScaledCloud, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cdlab.cli", "pipeline", "run", *args],
        cwd=directory, env={**os.environ, **cloud.env}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def approve(cloud: ScaledCloud, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cdlab.cli", "pipeline", "approve", *args],
        env={**os.environ, **cloud.env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def prod(cloud: ScaledCloud) -> dict:
    """The prod endpoint, its config and the model data it serves."""
    sm = cloud.client("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName=PROD)
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    return {
        "created": endpoint["CreationTime"],
        "status": endpoint["EndpointStatus"],
        "config": endpoint["EndpointConfigName"],
        "model_data": model["PrimaryContainer"]["ModelDataUrl"],
    }


def score() -> float:
    return gate.predict(PROD, ROW)[0]["score"]


def logs_dir(stdout: str) -> Path:
    return Path(stdout.split("  logs        ")[1].split()[0])


@pytest.fixture(scope="module")
def first_run(clone: Path, cloud60: ScaledCloud) -> subprocess.CompletedProcess:
    return pipeline(clone, cloud60, "--approve")


@pytest.mark.slow
def test_a_commit_goes_through_every_stage_to_prod(
    first_run, clone: Path, cloud60: ScaledCloud
) -> None:
    assert first_run.returncode == 0, first_run.stdout + first_run.stderr
    out = first_run.stdout
    assert "aws cloudformation deploy --template-file cloudformation/pipeline.yml" in out
    assert "ok    Stack/cdlab" in out
    assert "CD Lab pipeline cdlab: succeeded" in out
    for stage in ("Source", "Build", "DeployQA", "TestQA", "Approval", "DeployProd"):
        assert f"{stage} " in out.split("  stages      ")[1].splitlines()[0]
        assert f"ok    {stage}/" in out
    assert float(out.split("  match rate  ")[1].split()[0]) >= 0.80
    served = prod(cloud60)
    assert served["status"] == "InService"
    assert f"prod        {PROD} InService, config {served['config']}" in out
    assert f"serves {served['model_data']}" in out
    assert 0 <= score() <= 1
    logs = logs_dir(out)
    assert sorted(p.name for p in logs.glob("*.log")) == [
        "Approval-ApproveProd.log",
        "Build-PrepareDataAndTrain.log",
        "DeployProd-DeployProdEndpoint.log",
        "DeployQA-DeployQAEndpoint.log",
        "Source-Source.log",
        "TestQA-MatchRateGate.log",
    ]
    build = (logs / "Build-PrepareDataAndTrain.log").read_text()
    assert "log: /aws/codebuild/cdlab-build " in build  # read back from CloudWatch Logs
    assert "Running predata.py" in build and "Running train.py" in build
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True
    ).stdout.strip()
    assert f"  commit      {head[:12]} The lab as it is" in out
    assert served["config"].startswith(f"{PROD}-{head[:8]}-")
    ending = out.split("\nThe local cloud is still up at ")[1]
    assert ending.startswith(f"{cloud60.env['AWS_ENDPOINT_URL']}, with ")
    assert f"\n  {PROD} " in ending and "\n  qa-cdlab" in ending
    cdlab = Path(sys.executable).parent / "cdlab"
    assert f'eval "$({cdlab} local env)"' in ending and f"{cdlab} local down" in ending
    assert "make lab" in ending
    [invoke] = [line for line in ending.splitlines() if "invoke-endpoint" in line]
    pasted = cloud60.aws(*shlex.split(invoke)[1:]).stdout  # after the eval, as in a shell
    answer, _ = json.JSONDecoder().raw_decode(pasted)  # the body, then the CLI's own output
    assert answer["predictions"][0]["score"] == score()


@pytest.mark.slow
def test_a_new_commit_updates_prod_blue_green_without_a_failed_request(
    first_run, clone: Path, cloud60: ScaledCloud
) -> None:
    assert first_run.returncode == 0
    before = prod(cloud60)
    old_score = score()
    (clone / "source" / "hyperparameters.json").write_text(json.dumps({"epochs": "5"}) + "\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "Train for 5 epochs")
    scores: list[float] = []
    failures: list[Exception] = []
    stop = threading.Event()

    def invoker() -> None:
        while not stop.wait(0.02):
            try:
                scores.append(score())
            except Exception as e:
                failures.append(e)

    thread = threading.Thread(target=invoker)
    thread.start()
    try:
        result = pipeline(clone, cloud60, "--approve")
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    Stack/cdlab" in result.stdout and "unchanged" in result.stdout
    assert failures == []
    assert len(scores) > 100
    after = prod(cloud60)
    assert after["created"] == before["created"]  # the same endpoint, updated in place
    assert after["config"] != before["config"] and after["model_data"] != before["model_data"]
    new_score = score()
    assert new_score != old_score
    assert scores[0] == old_score and scores[-1] == new_score
    build = (logs_dir(result.stdout) / "Build-PrepareDataAndTrain.log").read_text()
    assert "hyperparameter epochs=5 from source/hyperparameters.json" in build


@pytest.mark.slow
def test_a_bad_model_stops_at_the_gate_and_prod_keeps_serving(
    first_run, clone: Path, cloud60: ScaledCloud
) -> None:
    before, before_score = prod(cloud60), score()
    (clone / "source" / "hyperparameters.json").write_text(json.dumps(BAD_MODEL) + "\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "A learning rate far too high")
    try:
        result = pipeline(clone, cloud60, "--approve")
    finally:
        git(clone, "reset", "-q", "--hard", "HEAD~1")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "FAIL  TestQA/MatchRateGate" in out
    assert "stopped: TestQA/MatchRateGate failed: " in out  # CodePipeline's error details
    assert "is under 0.80" in out  # the tail of the test's log, from CloudWatch Logs
    assert "the prod deploy did not run: prod is unchanged" in out
    assert "CD Lab pipeline cdlab: FAILED" in out
    assert prod(cloud60) == before
    assert score() == before_score
    assert not (logs_dir(out) / "DeployProd-DeployProdEndpoint.log").exists()


@pytest.mark.slow
def test_without_approve_the_run_waits_before_prod_until_approved(
    first_run, clone: Path, cloud60: ScaledCloud
) -> None:
    before = prod(cloud60)
    result = pipeline(clone, cloud60, "--keep-runs", "2")
    assert result.returncode == 3, result.stdout + result.stderr
    this_run = logs_dir(result.stdout)
    kept = sorted(this_run.parent.iterdir())
    assert len(kept) == 2 and kept[-1] == this_run  # the older runs were pruned
    assert "WAIT  Approval/ApproveProd" in result.stdout
    assert "Approve it with `cdlab pipeline approve --stack-name cdlab`" in result.stdout
    assert "aws codepipeline put-approval-result --pipeline-name cdlab " in result.stdout
    assert "DeployProd" not in result.stdout.split("  stages      ")[1].splitlines()[0]
    assert prod(cloud60) == before
    approved = approve(cloud60)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert f"run {this_run.name}, execution " in approved.stdout
    assert "approved, going on" in approved.stdout
    assert "ok    DeployProd/DeployProdEndpoint" in approved.stdout
    assert "ok    Build/" not in approved.stdout  # the same execution's build, not a new one
    after = prod(cloud60)
    assert after["created"] == before["created"] and after["config"] != before["config"]
    again = approve(cloud60)
    assert again.returncode == 1
    assert "no execution of pipeline cdlab waits for approval" in again.stderr


@pytest.mark.slow
def test_a_rejected_approval_leaves_prod_as_it_was(
    first_run, clone: Path, cloud60: ScaledCloud
) -> None:
    before = prod(cloud60)
    assert pipeline(clone, cloud60).returncode == 3
    rejected = approve(cloud60, "--reject")
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert "rejected" in rejected.stdout and "prod is unchanged" in rejected.stdout
    assert prod(cloud60) == before


@pytest.mark.slow
def test_outside_a_git_checkout_the_run_refuses(tmp_path: Path, cloud60: ScaledCloud) -> None:
    result = pipeline(tmp_path, cloud60, "--approve")
    assert result.returncode == 1
    assert "is not inside a git checkout" in result.stderr


@pytest.mark.slow
def test_a_stack_name_over_the_limit_is_refused_before_anything_runs(
    clone: Path, cloud60: ScaledCloud
) -> None:
    result = pipeline(clone, cloud60, "--stack-name", "a" * 35)
    assert result.returncode == 1
    assert "FAIL  Stack/" + "a" * 35 in result.stdout
    assert "the stack name must be at most 34" in result.stdout


@pytest.mark.slow
def test_pipeline_run_explains_itself() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cdlab.cli", "pipeline", "run", "--help"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0
    assert "--approve" in result.stdout and "put-approval-result" in result.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "cdlab.cli", "pipeline", "run", "--keep-runs", "0"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 2 and "must be 1 or more, not 0" in refused.stderr


@pytest.mark.slow
def test_ctrl_c_stops_the_run_not_the_execution_and_says_how_to_follow_it(
    clone: Path, cloud60: ScaledCloud
) -> None:
    stack = "ctrl-c"
    command = [sys.executable, "-m", "cdlab.cli", "pipeline", "run", "--stack-name", stack]
    with Streamed(command, {**os.environ, **cloud60.env}, cwd=clone) as run:
        run.wait_for("EventBridge started execution", timeout=120)
        assert run.interrupt() == 130
    out = "".join(run.out)
    started = out.split("EventBridge started execution ")[1].split()  # ID of pipeline NAME
    found, pipeline = started[0], started[3]
    assert f"execution {found} of pipeline {pipeline} goes on in the cloud" in out
    follow = f"--pipeline-name {pipeline} --pipeline-execution-id {found}"
    assert f"follow it:  aws codepipeline get-pipeline-execution {follow}\n" in out
    assert f"when it waits at Approval:  cdlab pipeline approve --stack-name {stack} " in out
    assert f"CD Lab pipeline {stack}: interrupted in " in out and f"execution   {found}" in out
    assert not any("Traceback" in line for line in run.err)
    codepipeline = cloud60.client("codepipeline")

    def status() -> str:
        return codepipeline.get_pipeline_execution(
            pipelineName=pipeline, pipelineExecutionId=found
        )["pipelineExecution"]["status"]

    assert status() == "InProgress"  # it goes on (without --approve, it waits at Approval)
    codepipeline.stop_pipeline_execution(
        pipelineName=pipeline, pipelineExecutionId=found, abandon=True, reason="the test is over"
    )
    assert poll(status, until=lambda s: s != "Stopping", what="the stop") == "Stopped"


def test_codebuild_runs_post_build_after_a_failed_build_but_nothing_after_a_failed_install(
    tmp_path: Path,
) -> None:
    def build(phases: dict) -> tuple[codebuild.Failure | None, str]:
        project = Spec("p", {"version": 0.2, "phases": phases}, {})
        with (tmp_path / "log").open("w") as log:
            failure = codebuild.run(project, tmp_path, {**os.environ, "X": "1"}, log)
        return failure, (tmp_path / "log").read_text()

    post_build = {"commands": ["echo post $CODEBUILD_BUILD_SUCCEEDING $X"]}
    failure, log = build(
        {"build": {"commands": ["true", "exit 7", "echo never"]}, "post_build": post_build}
    )
    assert failure == codebuild.Failure("build", "exit 7", 7)
    assert "post 0 1" in log and "never" not in log
    assert "Phase complete: BUILD State: FAILED" in log
    failure, log = build(
        {
            "install": {"commands": ["false"]},
            "build": {"commands": ["echo b"]},
            "post_build": post_build,
        }
    )
    assert failure == codebuild.Failure("install", "false", 1)
    assert "Entering phase BUILD" not in log and "post" not in log

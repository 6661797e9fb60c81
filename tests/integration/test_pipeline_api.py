"""Issue 14's checks, with the AWS CLI as a participant types it against the local cloud: the
pipeline stack deploys, an upload starts an execution, get-pipeline-state shows the stages move,
put-approval-result lets prod deploy, the build's output is in CloudWatch Logs, a bad model stops
at TestQA with AWS's state and error details, a second stack deploys next to the first, a stack
name over the limit is refused at deploy, and the names carry the git commit (the buildspec's own
command falls back to the S3 version id for an archive without it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdlab.steps import training
from tests.conftest import AWS_CLI
from tests.integration.pipeline_cli import CliPipeline, Watched, deploy_args
from tests.integration.scaled import ScaledCloud
from tests.integration.test_pipeline import committed_copy, git, pointed_cloud

STACK = "cdlab-api"
STAGES = ["Source", "Build", "DeployQA", "TestQA", "Approval", "DeployProd"]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from pointed_cloud(tmp_path_factory)


@pytest.fixture(scope="module")
def lab(cloud: ScaledCloud, tmp_path_factory: pytest.TempPathFactory) -> CliPipeline:
    pipeline = CliPipeline(cloud, committed_copy(tmp_path_factory.mktemp("clone")), STACK)
    pipeline.deploy()
    return pipeline


@pytest.fixture(scope="module")
def first(lab: CliPipeline) -> dict:
    """The first run: up to the approval, what prod was then, and the run after approving."""
    version = lab.upload()
    waiting = lab.watch(Watched(lab.execution_of(version)))
    endpoints = lab.json("sagemaker", "list-endpoints")["Endpoints"]
    approved = lab.approve(
        Watched(waiting.execution, list(waiting.seen), waiting.token, waiting.status)
    )
    return {
        "version": version,
        "waiting": waiting,
        "endpoints_then": endpoints,
        "approved": approved,
    }


def prod(lab: CliPipeline) -> dict:
    endpoint = lab.json("sagemaker", "describe-endpoint", "--endpoint-name", f"prod-{STACK}")
    return {"config": endpoint["EndpointConfigName"], "status": endpoint["EndpointStatus"]}


@pytest.mark.slow
def test_the_stack_creates_every_resource_of_the_template(lab: CliPipeline) -> None:
    resources = lab.json(
        "cloudformation", "list-stack-resources", "--stack-name", STACK
    )["StackResourceSummaries"]  # fmt: skip
    kinds = sorted(r["ResourceType"] for r in resources)
    assert kinds.count("AWS::S3::Bucket") == 3 and kinds.count("AWS::IAM::Role") == 6
    for kind in ("AWS::Glue::Database", "AWS::Events::Rule", "AWS::CodePipeline::Pipeline"):
        assert kind in kinds
    assert kinds.count("AWS::CodeBuild::Project") == 2
    assert {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}
    assert lab.deploy()["PipelineName"] == STACK  # deploying again changes nothing, and works


@pytest.mark.slow
def test_an_upload_starts_an_execution_whose_stages_move_to_the_approval(first: dict) -> None:
    waiting: Watched = first["waiting"]
    assert waiting.token and waiting.status == "InProgress"
    stages = [stage for stage, _ in waiting.seen]
    assert [s for s in STAGES if s in stages] == STAGES[:5]  # in order, none after Approval
    for stage in STAGES[:4]:
        assert (stage, "Succeeded") in waiting.seen
    assert ("Approval", "InProgress") in waiting.seen
    assert f"prod-{STACK}" not in [e["EndpointName"] for e in first["endpoints_then"]]


@pytest.mark.slow
def test_put_approval_result_lets_prod_deploy(first: dict, lab: CliPipeline) -> None:
    approved: Watched = first["approved"]
    assert approved.status == "Succeeded"
    assert ("DeployProd", "Succeeded") in approved.seen
    assert prod(lab)["status"] == "InService"


def tailed(lab: CliPipeline, group: str, *options: str) -> list[tuple[str, str]]:
    """``aws logs tail GROUP --since 1h``'s lines (TIMESTAMP STREAM MESSAGE) as (stream,
    message)."""
    shown = lab.cloud.aws("logs", "tail", group, "--since", "1h", *options).stdout
    found = []
    for line in shown.splitlines():
        stream, _, message = line.split(" ", 1)[1].partition(" ")  # after the timestamp
        found.append((stream, message))
    return found


@pytest.mark.slow
def test_the_build_output_is_in_cloudwatch_logs(first: dict, lab: CliPipeline) -> None:
    build = lab.action(first["approved"].execution, "Build")
    build_id = build["output"]["executionResult"]["externalExecutionId"]
    [described] = lab.json("codebuild", "batch-get-builds", "--ids", build_id)["builds"]
    assert described["buildStatus"] == "SUCCEEDED"
    assert described["logs"]["groupName"] == f"/aws/codebuild/{STACK}-build"
    stream = described["logs"]["streamName"]
    build_log = tailed(lab, f"/aws/codebuild/{STACK}-build", "--log-stream-names", stream)
    assert (stream, "Running predata.py") in build_log and (stream, "Running train.py") in build_log
    test_log = tailed(lab, f"/aws/codebuild/{STACK}-test")
    assert any(message.startswith("Match Rate: ") for _, message in test_log)


@pytest.mark.slow
def test_the_names_carry_the_git_commit(first: dict, lab: CliPipeline) -> None:
    commit = git_head(lab.clone)[:8]
    config = prod(lab)["config"]
    assert config.startswith(f"prod-{STACK}-{commit}-")
    models = lab.json("sagemaker", "list-models", "--name-contains", commit)["Models"]
    assert {f"qa-{STACK}-{commit}", f"prod-{STACK}-{commit}"} <= {
        m["ModelName"].rsplit("-", 1)[0] for m in models
    }
    jobs = lab.json("sagemaker", "list-training-jobs", "--name-contains", commit)
    assert [j["TrainingJobName"][: len(STACK) + 10] for j in jobs["TrainingJobSummaries"]] == [
        f"{STACK}-{commit}-"
    ]


@pytest.mark.slow
def test_without_the_commit_in_the_archive_the_build_names_the_s3_version(
    first: dict, lab: CliPipeline, tmp_path: Path
) -> None:
    """The deployed build project's own train.py command, run by bash in an archive zipped
    without git (source/commit.txt keeps its placeholder), as CodeBuild runs it with the S3
    version id it downloaded."""
    [project] = lab.json("codebuild", "batch-get-projects", "--names", f"{STACK}-build")["projects"]
    [command] = [line.strip()[2:] for line in project["source"]["buildspec"].splitlines()
                 if line.strip().startswith("- python3 source/train.py")]  # fmt: skip
    revision = first["version"]  # the S3 version id of the archive the execution built
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as plain:
        plain.write(lab.clone / "source" / "commit.txt", "source/commit.txt")
    shutil.unpack_archive(tmp_path / "plain.zip", tmp_path / "work")
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir()
    shim.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}",
           "CODEBUILD_RESOLVED_SOURCE_VERSION": revision}  # fmt: skip
    out = subprocess.run(["bash", "-c", command], cwd=tmp_path / "work", env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert out.splitlines()[-1] == revision
    name = training.job_name(STACK, training.short_commit(revision), "20261205071000")
    assert name.startswith(f"{STACK}-{training.short_commit(revision)}-") and len(name) <= 63


@pytest.mark.slow
def test_a_bad_model_stops_at_testqa_and_prod_is_unchanged(first: dict, lab: CliPipeline) -> None:
    before = prod(lab)
    bad = {"linear_lr": "1000000", "epochs": "1"}
    (lab.clone / "source" / "hyperparameters.json").write_text(json.dumps(bad))
    git(lab.clone, "add", "-A")
    git(lab.clone, "commit", "-qm", "A learning rate far too high")
    try:
        failed = lab.run(approve=True)
    finally:
        git(lab.clone, "reset", "-q", "--hard", "HEAD~1")
    assert failed.status == "Failed"
    assert ("TestQA", "Failed") in failed.seen
    assert not [s for s, _ in failed.seen if s in ("Approval", "DeployProd")]
    [test_qa] = [s for s in lab.state()["stageStates"] if s["stageName"] == "TestQA"]
    [action] = test_qa["actionStates"]
    assert action["latestExecution"]["status"] == "Failed"
    error = action["latestExecution"]["errorDetails"]
    assert error["code"] and error["message"]
    record = lab.action(failed.execution, "TestQA")
    assert record["status"] == "Failed"
    assert prod(lab) == before


@pytest.mark.slow
def test_a_second_stack_deploys_next_to_the_first(lab: CliPipeline) -> None:
    second = CliPipeline(lab.cloud, lab.clone, "cdlab-api-two")
    outputs = second.deploy()
    try:
        assert outputs["GlueCatalogDatabase"] == "cdlab_api_two"
        assert outputs["SourceBucket"] != lab.outputs()["SourceBucket"]
        pipelines = lab.json("codepipeline", "list-pipelines")["pipelines"]
        assert {STACK, "cdlab-api-two"} <= {p["name"] for p in pipelines}
    finally:
        lab.cloud.aws("cloudformation", "delete-stack", "--stack-name", "cdlab-api-two")


@pytest.mark.slow
def test_a_stack_name_over_34_characters_is_refused_at_deploy(lab: CliPipeline) -> None:
    name = "cdlab-a-pipeline-name-of-35-letters"
    assert len(name) == 35
    result = subprocess.run(
        [AWS_CLI, *deploy_args(lab.clone, name)],
        env={**os.environ, **lab.cloud.env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "failed to satisfy constraint: the stack name must be at most 34" in result.stderr
    assert "63 characters" in result.stderr


def git_head(clone: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()

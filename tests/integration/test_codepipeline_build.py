"""Build actions of the local CodePipeline on the local CodeBuild: the build runs on its input
artifact's S3 version (CODEBUILD_RESOLVED_SOURCE_VERSION), its output artifact goes on, a failed
build fails the action with CodePipeline's words and the build's id, and the build's output is
in CloudWatch Logs under /aws/codebuild/PROJECT."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest

from tests.integration.codepipelines import (
    SOURCE_KEY,
    declaration,
    executions,
    make_parts,
    one_action_stage,
    settled,
)
from tests.integration.test_codebuild import ENVIRONMENT, source_zip
from tests.polling import poll
from tests.roles import allowing, make_role, trusting

BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - echo "resolved=$CODEBUILD_RESOLVED_SOURCE_VERSION initiator=$CODEBUILD_INITIATOR"
      - test -f app.txt
      - mkdir -p out && cp app.txt out/built.txt
artifacts:
  files:
    - 'out/**/*'
"""
PIPELINE_ACTIONS = ("s3:*", "codebuild:StartBuild", "codebuild:BatchGetBuilds")


def build_pipeline(client, name: str, buildspec: str = BUILDSPEC):
    """Source -> Build (project ``name``, output BuildOutput)."""
    role = make_role(
        client("iam"),
        f"{name}-build",
        trusting("codebuild.amazonaws.com"),
        allowing({"Effect": "Allow", "Action": ["s3:*", "logs:*"], "Resource": "*"}),
    )
    client("codebuild").create_project(
        name=name,
        source={"type": "CODEPIPELINE", "buildspec": buildspec},
        artifacts={"type": "CODEPIPELINE"},
        environment=ENVIRONMENT,
        serviceRole=role,
    )
    pipe = make_parts(client, name, pipeline_actions=PIPELINE_ACTIONS)
    client("s3").put_bucket_versioning(
        Bucket=pipe.artifact_bucket, VersioningConfiguration={"Status": "Enabled"}
    )  # as pipeline.yml's artifact bucket
    declared = declaration(pipe)
    declared["stages"][1] = one_action_stage(
        "Build",
        "Build",
        "CodeBuild",
        {"ProjectName": name},
        inputArtifacts=["SourceOutput"],
        outputArtifacts=["BuildOutput"],
    )
    client("codepipeline").create_pipeline(pipeline=declared)
    settled(client("codepipeline"), name, 1, "Failed")
    return pipe


def test_a_build_action_of_two_outputs_is_refused_not_half_run(client) -> None:
    """Its second output would be a build's secondary artifact, which the local cloud does not
    make: the action would hand on the first alone."""
    name = f"twoout-{uuid.uuid4().hex[:8]}"
    pipe = build_pipeline(client, name)
    codepipeline = client("codepipeline")
    declared = codepipeline.get_pipeline(name=name)["pipeline"]
    declared["stages"][1]["actions"][0]["outputArtifacts"].append({"name": "Reports"})
    with pytest.raises(codepipeline.exceptions.InvalidStructureException) as info:
        codepipeline.update_pipeline(pipeline=declared)
    assert "one input artifact and at most one output artifact" in str(info.value)
    assert pipe.name == name and codepipeline.get_pipeline(name=name)["pipeline"]["version"] == 1


def _location(artifact: dict) -> dict[str, str]:
    return {"Bucket": artifact["s3location"]["bucket"], "Key": artifact["s3location"]["key"]}


@pytest.mark.slow  # a build of seconds
def test_a_build_action_builds_the_source_version_and_hands_on_its_artifact(client) -> None:
    codepipeline, s3 = client("codepipeline"), client("s3")
    name = f"build-{uuid.uuid4().hex[:8]}"
    pipe = build_pipeline(client, name)
    s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=source_zip({"app.txt": "v1\n"}))
    done = settled(codepipeline, name, 2, "Succeeded")
    details = {
        d["actionName"]: d
        for d in codepipeline.list_action_executions(
            pipelineName=name, filter={"pipelineExecutionId": done["pipelineExecutionId"]}
        )["actionExecutionDetails"]
    }
    train = details["Build"]
    [source] = details["Source"]["output"]["outputArtifacts"]
    assert train["input"]["inputArtifacts"] == [source]
    version = s3.head_object(**_location(source))["VersionId"]
    build_id = train["output"]["executionResult"]["externalExecutionId"]
    assert build_id.startswith(f"{name}:")
    [output] = train["output"]["outputArtifacts"]
    body = s3.get_object(**_location(output))
    with zipfile.ZipFile(io.BytesIO(body["Body"].read())) as archive:
        assert archive.read("out/built.txt") == b"v1\n"
    [build] = client("codebuild").batch_get_builds(ids=[build_id])["builds"]
    assert build["initiator"] == f"codepipeline/{name}"
    events = client("logs").get_log_events(
        logGroupName=f"/aws/codebuild/{name}", logStreamName=build["logs"]["streamName"]
    )["events"]
    text = "\n".join(e["message"] for e in events)
    assert f"resolved={version} initiator=codepipeline/{name}" in text


@pytest.mark.slow  # a build of seconds
def test_a_failed_build_fails_the_action_with_codepipelines_words(client) -> None:
    codepipeline, s3 = client("codepipeline"), client("s3")
    name = f"badbuild-{uuid.uuid4().hex[:8]}"
    pipe = build_pipeline(client, name)
    s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=source_zip({"other.txt": "x"}))
    settled(codepipeline, name, 2, "Failed")
    stage = codepipeline.get_pipeline_state(name=name)["stageStates"][1]
    latest = stage["actionStates"][0]["latestExecution"]
    assert stage["latestExecution"]["status"] == "Failed"
    assert latest["errorDetails"] == {
        "code": "JobFailed",
        "message": "Build terminated with state: FAILED. Phase: BUILD, Code: "
        "COMMAND_EXECUTION_ERROR, Message: Error while executing command: test -f app.txt. "
        "Reason: exit status 1",
    }
    assert latest["externalExecutionId"].startswith(f"{name}:")


@pytest.mark.slow  # a build of seconds runs to its end before the stop
def test_a_stop_without_abandon_lets_the_running_build_finish_then_stops(client) -> None:
    codepipeline, s3 = client("codepipeline"), client("s3")
    name = f"stopbuild-{uuid.uuid4().hex[:8]}"
    slow = BUILDSPEC.replace("      - test -f app.txt\n", "      - sleep 3\n")
    pipe = build_pipeline(client, name, slow)
    s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=source_zip({"app.txt": "x"}))
    building = poll(
        lambda: codepipeline.get_pipeline_state(name=name)["stageStates"][1],
        until=lambda s: s.get("latestExecution", {}).get("status") == "InProgress",
        what="the Build stage running",
    )
    running = building["latestExecution"]["pipelineExecutionId"]
    codepipeline.stop_pipeline_execution(
        pipelineName=name, pipelineExecutionId=running, reason="enough"
    )
    assert executions(codepipeline, name)[0]["status"] == "Stopping"
    with pytest.raises(codepipeline.exceptions.DuplicatedStopRequestException):
        codepipeline.stop_pipeline_execution(pipelineName=name, pipelineExecutionId=running)
    settled(codepipeline, name, 2, "Stopped")
    stage = codepipeline.get_pipeline_state(name=name)["stageStates"][1]
    assert stage["latestExecution"]["status"] == "Stopped"
    assert stage["actionStates"][0]["latestExecution"]["status"] == "Succeeded"
    codepipeline.retry_stage_execution(
        pipelineName=name, stageName="Build", pipelineExecutionId=running, retryMode="ALL_ACTIONS"
    )
    assert settled(codepipeline, name, 2, "Succeeded")["pipelineExecutionId"] == running

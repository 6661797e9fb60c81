"""StartPipelineExecution's source revision overrides
(https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-trigger-source-overrides.html):
the S3 source reads the object version the override names, not the current one, as the pipeline's
role (GetObject with a VersionId needs ``s3:GetObjectVersion``), and an override that cannot apply
is refused before anything starts. The pipelines' rules may not start them, so that only these
tests' calls do."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.aws_errors import refused
from tests.integration.codepipelines import SOURCE_KEY, approval, make_pipeline, settled

pytestmark = pytest.mark.slow  # each test runs a pipeline execution: 1.3-2 s

VERSION = "S3_OBJECT_VERSION_ID"


def override(kind: str, value: str, action: str = "Source") -> list[dict[str, str]]:
    return [{"actionName": action, "revisionType": kind, "revisionValue": value}]


def quiet_pipeline(client, prefix: str, actions: tuple[str, ...] = ("s3:*",)) -> Any:
    """A Source -> Approval pipeline whose uploads start nothing, its first run over."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    unstarted = ("s3:GetObject",)  # not codepipeline:StartPipelineExecution
    pipe = make_pipeline(client, name, pipeline_actions=actions, events_actions=unstarted)
    settled(client("codepipeline"), pipe.name, 1, "Failed")
    return pipe


def source_output(codepipeline: Any, pipeline: str, execution: str) -> dict[str, str]:
    """Where the execution's Source action put its output artifact."""
    details = codepipeline.list_action_executions(
        pipelineName=pipeline, filter={"pipelineExecutionId": execution}
    )["actionExecutionDetails"]
    [source] = [d for d in details if d["actionName"] == "Source"]
    return source["output"]["outputArtifacts"][0]["s3location"]


def test_an_execution_reads_the_version_its_override_names(client) -> None:
    codepipeline, s3 = client("codepipeline"), client("s3")
    pipe = quiet_pipeline(client, "older")
    older = s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=b"PK older")
    s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=b"PK newer")
    started = codepipeline.start_pipeline_execution(
        name=pipe.name, sourceRevisions=override(VERSION, older["VersionId"])
    )["pipelineExecutionId"]
    approval(codepipeline, pipe.name)  # its Source is done
    execution = codepipeline.get_pipeline_execution(
        pipelineName=pipe.name, pipelineExecutionId=started
    )["pipelineExecution"]
    assert [r["revisionId"] for r in execution["artifactRevisions"]] == [older["VersionId"]]
    stored = source_output(codepipeline, pipe.name, started)
    assert s3.get_object(Bucket=stored["bucket"], Key=stored["key"])["Body"].read() == b"PK older"


def test_reading_a_version_needs_get_object_version(client) -> None:
    codepipeline, s3 = client("codepipeline"), client("s3")
    actions = ("s3:GetObject", "s3:GetBucketVersioning", "s3:PutObject", "s3:GetBucketLocation")
    pipe = quiet_pipeline(client, "noversion", actions)
    put = s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=b"PK")
    codepipeline.start_pipeline_execution(name=pipe.name)  # the current version: GetObject
    approval(codepipeline, pipe.name)
    codepipeline.start_pipeline_execution(
        name=pipe.name, sourceRevisions=override(VERSION, put["VersionId"])
    )
    settled(codepipeline, pipe.name, 3, "Failed")
    source = codepipeline.get_pipeline_state(name=pipe.name)["stageStates"][0]["actionStates"][0]
    details = source["latestExecution"]["errorDetails"]
    assert details["code"] == "PermissionError"
    assert "s3:GetObjectVersion" in details["message"]


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        (override(VERSION, "v", action="Build"), "has no source action of that name "
                                                 "(its source actions: Source)"),
        (override("COMMIT_ID", "abc"), "a revision of type COMMIT_ID does not apply to a S3 "
                                       "source action"),
        (override("S3_OBJECT_KEY", "other.zip"), "S3_OBJECT_KEY needs the action's "
                                                 "configuration to set AllowOverrideFor"),
        (override(VERSION, "a") + override(VERSION, "b"), "S3_OBJECT_VERSION_ID is given more "
                                                          "than once"),
    ],
)  # fmt: skip
def test_an_override_that_cannot_apply_is_refused_and_starts_nothing(
    client, overrides: list[dict[str, str]], why: str
) -> None:
    codepipeline = client("codepipeline")
    pipe = quiet_pipeline(client, "refused")
    code, message, status = refused(
        codepipeline.start_pipeline_execution, name=pipe.name, sourceRevisions=overrides
    )
    assert (code, status) == ("ValidationException", 400)
    assert why in message
    assert len(codepipeline.list_pipeline_executions(pipelineName=pipe.name)[
        "pipelineExecutionSummaries"]) == 1  # fmt: skip

"""A restart of the local cloud keeps its pipelines and executions: one waiting at its approval
still waits, with the same token, and an approval then completes it."""

from __future__ import annotations

import pytest

from cdlab.localcloud import control
from tests.integration.codepipelines import SOURCE_KEY, approval, make_pipeline, settled

pytestmark = pytest.mark.slow


def test_an_execution_waiting_for_approval_still_waits_after_a_restart(private) -> None:
    private.up()
    pipe = make_pipeline(private.client, "restart")
    codepipeline = private.client("codepipeline")
    settled(codepipeline, pipe.name, 1, "Failed")
    private.client("s3").put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=b"PK")
    waiting = settled(codepipeline, pipe.name, 2, "InProgress")
    token = approval(codepipeline, pipe.name)["actionStates"][0]["latestExecution"]["token"]
    control.down(private.home)
    private.up()
    codepipeline = private.client("codepipeline")
    assert codepipeline.get_pipeline(name=pipe.name)["pipeline"]["version"] == 1
    stage = approval(codepipeline, pipe.name)
    assert stage["latestExecution"] == {
        "pipelineExecutionId": waiting["pipelineExecutionId"],
        "status": "InProgress",
    }
    assert stage["actionStates"][0]["latestExecution"]["token"] == token
    codepipeline.put_approval_result(
        pipelineName=pipe.name, stageName="Approval", actionName="Approve",
        result={"summary": "after the restart", "status": "Approved"}, token=token,
    )  # fmt: skip
    done = settled(codepipeline, pipe.name, 2, "Succeeded")
    assert done["pipelineExecutionId"] == waiting["pipelineExecutionId"]

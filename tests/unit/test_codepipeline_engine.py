"""The CodePipeline engine's bookkeeping without a cloud: structure checks, SUPERSEDED gates,
and what a restart makes of an execution that was running an action."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest

from cdlab.localcloud.codebuild.worker import Cloud
from cdlab.localcloud.codepipeline import structure, trigger
from cdlab.localcloud.codepipeline.engine import RESTARTED, Engine
from cdlab.localcloud.codepipeline.errors import InvalidStructureException
from cdlab.localcloud.codepipeline.gates import Gates
from cdlab.localcloud.codepipeline.records import Executions, new_execution, start_action
from cdlab.localcloud.iam.resources import Scope, resources
from cdlab.localcloud.moto.eventbridge import CreatedObject
from cdlab.localcloud.state.store import Store
from tests.integration.codepipelines import Pipeline, declaration, one_action_stage

PIPE = Pipeline("p", "src", "art", "arn:aws:iam::123456789012:role/r", "")


def test_a_valid_declaration_passes_and_an_input_from_nowhere_is_refused() -> None:
    pipeline = declaration(PIPE)
    structure.check(pipeline)
    broken = copy.deepcopy(pipeline)
    broken["stages"][1]["actions"][0].update(
        actionTypeId={"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
        configuration={"ProjectName": "x"},
        inputArtifacts=[{"name": "Nowhere"}],
    )
    with pytest.raises(InvalidStructureException, match="Nowhere is not the output"):
        structure.check(broken)
    one_stage = {**pipeline, "stages": pipeline["stages"][:1]}
    with pytest.raises(InvalidStructureException, match="minimum of 2 stages"):
        structure.check(one_stage)
    second = {**pipeline["stages"][1], "name": "Again"}
    sourceless = {**pipeline, "stages": [pipeline["stages"][1], second]}
    with pytest.raises(InvalidStructureException, match="first stage only"):
        structure.check(sourceless)


def deploying(mode: str) -> dict:
    """The test pipeline with a CloudFormation deploy action in ``mode`` as its second stage."""
    pipeline = declaration(PIPE)
    configuration = {"ActionMode": mode, "StackName": "s", "TemplatePath": "SourceOutput::t.json"}
    pipeline["stages"][1] = one_action_stage(
        "Deploy", "Deploy", "CloudFormation", configuration, inputArtifacts=["SourceOutput"]
    )
    return pipeline


@pytest.mark.parametrize("mode", ["DELETE_ONLY", "CHANGE_SET_REPLACE", "CHANGE_SET_EXECUTE"])
def test_a_deploy_mode_the_local_cloud_does_not_run_is_refused_naming_it(mode: str) -> None:
    structure.check(deploying("CREATE_UPDATE"))
    structure.check(deploying("REPLACE_ON_FAILURE"))
    with pytest.raises(InvalidStructureException) as refused:
        structure.check(deploying(mode))
    assert str(refused.value) == (
        f"action Deploy in stage Deploy: ActionMode {mode} does not run on the local cloud; "
        "it runs CREATE_UPDATE and REPLACE_ON_FAILURE."
    )


def test_a_newer_execution_waiting_at_a_stage_supersedes_the_one_waiting_before() -> None:
    async def scenario() -> tuple[bool, bool]:
        gates = Gates()
        assert await gates.enter("Approval", "first")
        second = asyncio.create_task(gates.enter("Approval", "second"))
        await asyncio.sleep(0)
        third = asyncio.create_task(gates.enter("Approval", "third"))
        superseded = await second
        await gates.leave("first", "Approval")
        return superseded, await third

    assert asyncio.run(scenario()) == (False, True)


def test_after_a_restart_an_action_that_was_running_failed_and_its_stage_is_retryable(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    pipeline = {**declaration(PIPE), "version": 1}
    execution = new_execution(pipeline, "StartPipelineExecution", "me")
    execution["stages"][0]["status"] = "InProgress"
    start_action(execution, "Source", pipeline["stages"][0]["actions"][0])
    executions = Executions(store)
    executions.save(execution)
    engine = Engine(executions, Cloud(tmp_path, 1, "us-east-1"), tmp_path)
    engine.resume({"p": pipeline})
    found = executions.get(execution["id"])
    assert found is not None
    assert (found["status"], found["stages"][0]["status"]) == ("Failed", "Failed")
    [action] = found["stages"][0]["actions"]
    assert action["status"] == "Failed"
    assert action["errorDetails"] == {"code": "JobFailed", "message": RESTARTED}
    assert engine.tasks == {}
    store.close()


@pytest.mark.parametrize("operation", ["StartPipelineExecution", "GetPipelineState"])
def test_the_operations_naming_their_pipeline_name_act_on_its_arn(operation: str) -> None:
    scope = Scope("us-east-1", "123456789012")
    assert resources("codepipeline", operation, {"name": "p"}, scope) == (
        "arn:aws:codepipeline:us-east-1:123456789012:p",
    )


@pytest.mark.parametrize(
    ("method", "query", "headers", "expected"),
    [
        ("PUT", {}, {}, "PutObject"),
        ("PUT", {"x-id": "PutObject"}, {}, "PutObject"),
        ("PUT", {}, {"X-Amz-Copy-Source": "/b/k"}, "CopyObject"),
        ("POST", {"uploadId": "u"}, {}, "CompleteMultipartUpload"),
        ("PUT", {"tagging": ""}, {}, None),
        ("PUT", {"partNumber": "1", "uploadId": "u"}, {}, None),
        ("DELETE", {}, {}, None),
    ],
)
def test_the_writes_that_create_an_object_are_the_events_reasons(
    method: str, query: dict[str, str], headers: dict[str, str], expected: str | None
) -> None:
    assert trigger.reason(method, query, headers) == expected


def test_the_object_created_event_has_s3s_fields() -> None:
    created = CreatedObject("src", "us-east-1", "k.zip", 3, "abc", "v1")
    event = trigger.object_created(created, "PutObject", "123456789012", "123456789012")
    assert (event["source"], event["detail-type"]) == ("aws.s3", "Object Created")
    assert event["resources"] == ["arn:aws:s3:::src"]
    assert event["detail"]["object"] | {"sequencer": ""} == {
        "key": "k.zip",
        "size": 3,
        "etag": "abc",
        "version-id": "v1",
        "sequencer": "",
    }
    assert event["detail"]["reason"] == "PutObject"

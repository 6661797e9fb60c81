"""CodePipeline in the local cloud, through boto3 (RPC v2 CBOR) and the AWS CLI: a pipeline's
first run on creation, an upload that starts an execution through EventBridge, the approval,
stop, retry, and IAM on the way (the rule's role, the pipeline's role)."""

from __future__ import annotations

import json
import uuid

import pytest

from cdlab.localcloud import control
from tests.integration.codepipelines import (
    SOURCE_KEY,
    approval,
    executions,
    make_pipeline,
    settled,
)
from tests.polling import poll


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_the_first_run_fails_at_source_because_nothing_was_uploaded(client) -> None:
    codepipeline = client("codepipeline")
    pipe = make_pipeline(client, unique("first"))
    first = settled(codepipeline, pipe.name, 1, "Failed")
    assert first["trigger"]["triggerType"] == "CreatePipeline"
    [source, after] = codepipeline.get_pipeline_state(name=pipe.name)["stageStates"]
    failed = source["actionStates"][0]["latestExecution"]
    assert failed["status"] == "Failed"
    assert failed["errorDetails"] == {
        "code": "JobFailed",
        "message": f"The object with key '{SOURCE_KEY}' does not exist.",
    }
    assert "latestExecution" not in after  # the Approval stage was never entered


@pytest.mark.slow  # a pipeline run to its end
def test_an_upload_starts_an_execution_that_waits_for_approval_then_succeeds(
    client, aws, tmp_path
) -> None:
    codepipeline = client("codepipeline")
    pipe = make_pipeline(client, unique("upload"))
    settled(codepipeline, pipe.name, 1, "Failed")
    archive = tmp_path / SOURCE_KEY
    archive.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    aws("s3", "cp", str(archive), f"s3://{pipe.source_bucket}/{SOURCE_KEY}")
    waiting = settled(codepipeline, pipe.name, 2, "InProgress")
    assert waiting["trigger"]["triggerType"] == "CloudWatchEvent"
    assert waiting["trigger"]["triggerDetail"].endswith(f":rule/{pipe.name}-source")
    version = client("s3").head_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY)["VersionId"]
    stage = approval(codepipeline, pipe.name)
    state = json.loads(aws("codepipeline", "get-pipeline-state", "--name", pipe.name).stdout)
    source = state["stageStates"][0]
    assert source["latestExecution"]["status"] == "Succeeded"
    assert source["actionStates"][0]["currentRevision"]["revisionId"] == version
    token = stage["actionStates"][0]["latestExecution"]["token"]
    aws(
        "codepipeline", "put-approval-result", "--pipeline-name", pipe.name,
        "--stage-name", "Approval", "--action-name", "Approve", "--token", token,
        "--result", "summary=looks good,status=Approved",
    )  # fmt: skip
    done = settled(codepipeline, pipe.name, 2, "Succeeded")
    assert done["sourceRevisions"] == [{"actionName": "Source", "revisionId": version}]
    [artifact] = codepipeline.get_pipeline_execution(
        pipelineName=pipe.name, pipelineExecutionId=done["pipelineExecutionId"]
    )["pipelineExecution"]["artifactRevisions"]
    assert (artifact["name"], artifact["revisionId"]) == ("SourceOutput", version)
    details = codepipeline.list_action_executions(
        pipelineName=pipe.name, filter={"pipelineExecutionId": done["pipelineExecutionId"]}
    )["actionExecutionDetails"]
    assert {d["actionName"]: d["status"] for d in details} == {
        "Source": "Succeeded",
        "Approve": "Succeeded",
    }
    [stored] = next(d for d in details if d["actionName"] == "Source")["output"]["outputArtifacts"]
    key = stored["s3location"]["key"]
    assert client("s3").get_object(Bucket=pipe.artifact_bucket, Key=key)["Body"].read()[:2] == b"PK"
    with pytest.raises(codepipeline.exceptions.ApprovalAlreadyCompletedException):
        codepipeline.put_approval_result(
            pipelineName=pipe.name, stageName="Approval", actionName="Approve",
            result={"summary": "again", "status": "Approved"}, token=token,
        )  # fmt: skip


def _started_and_waiting(client, prefix: str):
    codepipeline = client("codepipeline")
    pipe = make_pipeline(client, unique(prefix))
    settled(codepipeline, pipe.name, 1, "Failed")
    client("s3").put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=b"PK")
    settled(codepipeline, pipe.name, 2, "InProgress")
    return codepipeline, pipe, approval(codepipeline, pipe.name)


def test_executions_can_be_listed_by_the_stage_they_succeeded_in(client) -> None:
    codepipeline, pipe, stage = _started_and_waiting(client, "instage")
    waiting = stage["latestExecution"]["pipelineExecutionId"]

    def succeeded_in(name: str) -> list[str]:
        found = codepipeline.list_pipeline_executions(
            pipelineName=pipe.name, filter={"succeededInStage": {"stageName": name}}
        )["pipelineExecutionSummaries"]
        return [e["pipelineExecutionId"] for e in found]

    assert succeeded_in("Source") == [waiting]  # not the first run, which failed there
    assert succeeded_in("Approval") == []
    assert len(executions(codepipeline, pipe.name)) == 2


def test_a_rejection_fails_the_stage_and_a_retry_waits_again(client) -> None:
    codepipeline, pipe, stage = _started_and_waiting(client, "reject")
    token = stage["actionStates"][0]["latestExecution"]["token"]
    with pytest.raises(codepipeline.exceptions.InvalidApprovalTokenException):
        codepipeline.put_approval_result(
            pipelineName=pipe.name, stageName="Approval", actionName="Approve",
            result={"summary": "no", "status": "Rejected"}, token=str(uuid.uuid4()),
        )  # fmt: skip
    codepipeline.put_approval_result(
        pipelineName=pipe.name, stageName="Approval", actionName="Approve",
        result={"summary": "not this one", "status": "Rejected"}, token=token,
    )  # fmt: skip
    rejected = settled(codepipeline, pipe.name, 2, "Failed")
    action = codepipeline.get_pipeline_state(name=pipe.name)["stageStates"][1]["actionStates"][0]
    assert action["latestExecution"]["status"] == "Failed"
    assert action["latestExecution"]["summary"] == "not this one"
    assert action["latestExecution"]["errorDetails"]["message"] == "Rejected"
    codepipeline.retry_stage_execution(
        pipelineName=pipe.name, stageName="Approval",
        pipelineExecutionId=rejected["pipelineExecutionId"], retryMode="FAILED_ACTIONS",
    )  # fmt: skip
    again = approval(codepipeline, pipe.name)
    assert again["actionStates"][0]["latestExecution"]["token"] != token
    assert executions(codepipeline, pipe.name)[0]["status"] == "InProgress"
    with pytest.raises(codepipeline.exceptions.StageNotRetryableException):
        codepipeline.retry_stage_execution(
            pipelineName=pipe.name, stageName="Source",
            pipelineExecutionId=rejected["pipelineExecutionId"], retryMode="FAILED_ACTIONS",
        )  # fmt: skip


@pytest.mark.slow  # a pipeline run to its approval
def test_a_stop_abandons_the_waiting_approval(client, aws) -> None:
    codepipeline, pipe, _ = _started_and_waiting(client, "stop")
    [waiting, _] = executions(codepipeline, pipe.name)
    aws(
        "codepipeline", "stop-pipeline-execution", "--pipeline-name", pipe.name,
        "--pipeline-execution-id", waiting["pipelineExecutionId"], "--abandon",
        "--reason", "wrong archive",
    )  # fmt: skip
    stopped = settled(codepipeline, pipe.name, 2, "Stopped")
    assert stopped["stopTrigger"] == {"reason": "wrong archive"}
    stage = codepipeline.get_pipeline_state(name=pipe.name)["stageStates"][1]
    assert stage["latestExecution"]["status"] == "Stopped"
    assert stage["actionStates"][0]["latestExecution"]["status"] == "Abandoned"


def test_a_rule_role_without_start_permission_starts_nothing(client, cloud) -> None:
    codepipeline = client("codepipeline")
    pipe = make_pipeline(client, unique("norule"), events_actions=("s3:GetObject",))
    settled(codepipeline, pipe.name, 1, "Failed")
    client("s3").put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=b"PK")
    log = control.log_file(cloud.home)
    poll(
        lambda: log.read_text(errors="replace"),
        until=lambda text: f"did not start pipeline {pipe.name}" in text,
        what="the refusal in the cloud's log",
    )
    assert "codepipeline:StartPipelineExecution" in next(
        line for line in log.read_text().splitlines() if f"start pipeline {pipe.name}" in line
    )
    assert len(executions(codepipeline, pipe.name)) == 1


def test_a_pipeline_role_without_get_object_fails_source_with_access_denied(client) -> None:
    codepipeline = client("codepipeline")
    pipe = make_pipeline(client, unique("noget"), pipeline_actions=("s3:PutObject",))
    settled(codepipeline, pipe.name, 1, "Failed")
    client("s3").put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=b"PK")
    settled(codepipeline, pipe.name, 2, "Failed")
    action = codepipeline.get_pipeline_state(name=pipe.name)["stageStates"][0]["actionStates"][0]
    details = action["latestExecution"]["errorDetails"]
    assert details["code"] == "PermissionError"
    assert "AccessDenied" in details["message"]


def test_a_structure_the_local_cloud_cannot_run_is_refused(client) -> None:
    codepipeline = client("codepipeline")
    pipe = make_pipeline(client, unique("shape"))
    declared = codepipeline.get_pipeline(name=pipe.name)["pipeline"]
    declared["stages"][1]["actions"][0]["actionTypeId"]["provider"] = "Lambda"
    declared["stages"][1]["actions"][0]["actionTypeId"]["category"] = "Invoke"
    with pytest.raises(codepipeline.exceptions.InvalidStructureException) as refused:
        codepipeline.update_pipeline(pipeline=declared)
    assert "Approval/Manual" in str(refused.value)
    with pytest.raises(codepipeline.exceptions.PipelineNameInUseException):
        codepipeline.create_pipeline(pipeline=codepipeline.get_pipeline(name=pipe.name)["pipeline"])


def test_variables_the_local_cloud_does_not_resolve_are_refused(client) -> None:
    """Rather than an action handed ``#{SourceVariables.VersionId}`` as text."""
    codepipeline = client("codepipeline")
    pipe = make_pipeline(client, unique("vars"))
    declared = codepipeline.get_pipeline(name=pipe.name)["pipeline"]
    source, approve = declared["stages"][0]["actions"][0], declared["stages"][1]["actions"][0]
    changes = {
        "Pipeline variables (Release) are not resolved by the local cloud": {
            **declared, "variables": [{"name": "Release", "defaultValue": "1"}]},
        "action Source in stage Source: its namespace SourceVariables declares variables": {
            **declared, "stages": [{**declared["stages"][0], "actions": [
                {**source, "namespace": "SourceVariables"}]}, declared["stages"][1]]},
        "action Approve in stage Approval: its configuration (CustomData) refers to variables": {
            **declared, "stages": [declared["stages"][0], {**declared["stages"][1], "actions": [
                {**approve, "configuration": {"CustomData": "#{SourceVariables.VersionId}"}}]}]},
    }  # fmt: skip
    for why, changed in changes.items():
        with pytest.raises(codepipeline.exceptions.InvalidStructureException) as info:
            codepipeline.update_pipeline(pipeline=changed)
        assert why in str(info.value)
    with pytest.raises(codepipeline.exceptions.ValidationException) as info:
        codepipeline.start_pipeline_execution(
            name=pipe.name, variables=[{"name": "Release", "value": "2"}]
        )
    assert f"Pipeline '{pipe.name}' declares no variables" in str(info.value)
    assert codepipeline.get_pipeline(name=pipe.name)["metadata"]["pipelineArn"] == pipe.arn
    assert codepipeline.get_pipeline(name=pipe.name)["pipeline"]["version"] == 1


def test_declarations_the_local_cloud_would_keep_without_running_are_refused(client) -> None:
    """Stage conditions, triggers, cross-region artifact stores: refused, not stored unrun (and
    a declaration without an artifact store refused, not failed on)."""
    codepipeline = client("codepipeline")
    pipe = make_pipeline(client, unique("unrun"))
    declared = codepipeline.get_pipeline(name=pipe.name)["pipeline"]
    store = declared["artifactStore"]
    without_store = {k: v for k, v in declared.items() if k != "artifactStore"}
    rollback = {**declared["stages"][1], "onFailure": {"result": "ROLLBACK"}}
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {
            "sourceActionName": "Source",
            "push": [{"branches": {"includes": ["main"]}}],
        },
    }
    changes = {
        "Stage Approval: onFailure (conditions, automatic rollback or retry) are not run": {
            **declared, "stages": [declared["stages"][0], rollback]},
        "Pipeline triggers filter the git events of CodeStarSourceConnection sources": {
            **declared, "triggers": [trigger]},
        "declare artifactStore (the pipeline declares artifactStores)": {
            **without_store, "artifactStores": {"us-east-1": store}},
        "declare artifactStore (the pipeline declares artifactStore and artifactStores)": {
            **declared, "artifactStores": {"us-east-1": store}},
        "declare artifactStore (the pipeline declares neither)": without_store,
    }  # fmt: skip
    for why, changed in changes.items():
        with pytest.raises(codepipeline.exceptions.InvalidStructureException) as info:
            codepipeline.update_pipeline(pipeline=changed)
        assert why in str(info.value)
    assert codepipeline.get_pipeline(name=pipe.name)["pipeline"] == declared


@pytest.mark.slow  # three pipeline runs
def test_a_second_upload_waits_before_approval_and_a_third_supersedes_it(client) -> None:
    codepipeline, pipe, stage = _started_and_waiting(client, "queue")
    first = stage["latestExecution"]["pipelineExecutionId"]
    s3 = client("s3")
    s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=b"PK2")
    second = poll(
        lambda: codepipeline.get_pipeline_state(name=pipe.name)["stageStates"][1],
        until=lambda s: "inboundExecution" in s,
        what="the second execution waiting at the Approval transition",
    )["inboundExecution"]["pipelineExecutionId"]
    s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=b"PK3")
    poll(
        lambda: {
            e["pipelineExecutionId"]: e["status"] for e in executions(codepipeline, pipe.name)
        },
        until=lambda found: found.get(second) == "Superseded" and len(found) == 4,
        what="the second execution superseded by the third",
    )
    held = codepipeline.get_pipeline_state(name=pipe.name)["stageStates"][1]
    assert held["latestExecution"]["pipelineExecutionId"] == first
    third = held["inboundExecution"]["pipelineExecutionId"]
    codepipeline.put_approval_result(
        pipelineName=pipe.name, stageName="Approval", actionName="Approve",
        result={"summary": "first", "status": "Approved"},
        token=held["actionStates"][0]["latestExecution"]["token"],
    )  # fmt: skip
    nxt = approval(codepipeline, pipe.name)
    assert nxt["latestExecution"]["pipelineExecutionId"] == third
    statuses = {e["pipelineExecutionId"]: e["status"] for e in executions(codepipeline, pipe.name)}
    assert (statuses[first], statuses[third]) == ("Succeeded", "InProgress")


def test_get_pipeline_answers_its_latest_version_only(client) -> None:
    codepipeline = client("codepipeline")
    pipe = make_pipeline(client, unique("version"))
    assert codepipeline.get_pipeline(name=pipe.name, version=1)["pipeline"]["version"] == 1
    with pytest.raises(codepipeline.exceptions.PipelineVersionNotFoundException):
        codepipeline.get_pipeline(name=pipe.name, version=2)
    with pytest.raises(codepipeline.exceptions.PipelineNotFoundException):
        codepipeline.get_pipeline_state(name=f"{pipe.name}-missing")


def test_executions_and_action_executions_come_in_pages(client) -> None:
    """maxResults a page, a cursor nextToken while more remain, every item once, newest first;
    a token the listing did not give is refused as CodePipeline refuses it."""
    codepipeline, pipe, _ = _started_and_waiting(client, "pages")
    for operation, key in (
        ("list_pipeline_executions", "pipelineExecutionSummaries"),
        ("list_action_executions", "actionExecutionDetails"),
    ):
        call = getattr(codepipeline, operation)
        whole = call(pipelineName=pipe.name)[key]
        pages, params = [], {"pipelineName": pipe.name, "maxResults": 1}
        while True:
            answer = call(**params)
            pages.append(answer[key])
            if "nextToken" not in answer:
                break
            params["nextToken"] = answer["nextToken"]
        assert pages == [[item] for item in whole] and len(whole) >= 2
        with pytest.raises(codepipeline.exceptions.InvalidNextTokenException):
            call(pipelineName=pipe.name, nextToken="1")


@pytest.mark.slow  # more than a page of pipelines
def test_pipelines_come_in_pages_by_name(client) -> None:
    """ListPipelines pages as CodePipeline does (``maxResults``, a ``nextToken`` while more
    remain): boto3's paginator walks every pipeline once, by name."""
    codepipeline = client("codepipeline")
    made = {make_pipeline(client, unique("listed")).name for _ in range(3)}
    paginator = codepipeline.get_paginator("list_pipelines")
    pages = [
        [p["name"] for p in page["pipelines"]]
        for page in paginator.paginate(PaginationConfig={"PageSize": 2})
    ]
    names = [name for page in pages for name in page]
    assert all(len(page) <= 2 for page in pages) and len(pages) >= 2
    assert names == sorted(set(names)) and made <= set(names)
    with pytest.raises(codepipeline.exceptions.InvalidNextTokenException):
        codepipeline.list_pipelines(nextToken="1")

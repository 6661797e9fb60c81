"""A CloudFormation deploy action of the local CodePipeline: the template comes from the source
artifact, the stack is created as the pipeline's role, a broken template fails the action
with CloudFormation's words, and under REPLACE_ON_FAILURE a stack whose creation failed is
replaced by the next run."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

import pytest

from tests.integration.codepipelines import (
    SOURCE_KEY,
    declaration,
    make_parts,
    one_action_stage,
    settled,
)

ALARM = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {
        "MetricName": "Invocations",
        "Namespace": "AWS/SageMaker",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanThreshold",
    },
}


def archive(template: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("template.json", json.dumps(template))
    return buffer.getvalue()


def deploy_stage(stack: str, mode: str) -> dict:
    configuration = {
        "ActionMode": mode,
        "StackName": stack,
        "TemplatePath": "SourceOutput::template.json",
    }
    return one_action_stage(
        "Deploy", "Deploy", "CloudFormation", configuration, inputArtifacts=["SourceOutput"]
    )


def deploy_action(codepipeline: Any, name: str) -> dict:
    return codepipeline.get_pipeline_state(name=name)["stageStates"][1]["actionStates"][0]


@pytest.mark.slow  # a stack with an endpoint
def test_a_deploy_action_creates_the_stack_from_the_source_artifact(client) -> None:
    codepipeline, cfn = client("codepipeline"), client("cloudformation")
    name = f"deploy-{uuid.uuid4().hex[:8]}"
    pipe = make_parts(client, name, pipeline_actions=("s3:*", "cloudformation:*", "cloudwatch:*"))
    declared = declaration(pipe)
    declared["stages"][1] = deploy_stage(f"{name}-app", "CREATE_UPDATE")
    codepipeline.create_pipeline(pipeline=declared)
    settled(codepipeline, name, 1, "Failed")
    s3 = client("s3")
    s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=archive({"Resources": {}}))
    settled(codepipeline, name, 2, "Failed")
    action = deploy_action(codepipeline, name)
    assert action["latestExecution"]["errorDetails"]["code"] == "JobFailed"
    assert "ValidationError" in action["latestExecution"]["errorDetails"]["message"]
    s3.put_object(
        Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=archive({"Resources": {"Alarm": ALARM}})
    )
    settled(codepipeline, name, 3, "Succeeded")
    [stack] = cfn.describe_stacks(StackName=f"{name}-app")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    action = deploy_action(codepipeline, name)
    assert action["latestExecution"]["externalExecutionId"] == f"{name}-app"


@pytest.mark.slow  # five pipeline runs
def test_replace_on_failure_replaces_a_stack_whose_creation_failed(client) -> None:
    """The workshop's case: a first deploy fails, leaving the stack ROLLBACK_COMPLETE. Under
    CREATE_UPDATE every later run fails there (UpdateStack refuses that state); under
    REPLACE_ON_FAILURE the next run deletes it and creates it, and a healthy stack is updated."""
    codepipeline, cfn, s3 = client("codepipeline"), client("cloudformation"), client("s3")
    name = f"replace-{uuid.uuid4().hex[:8]}"
    stack = f"{name}-app"
    pipe = make_parts(client, name, pipeline_actions=("s3:*", "cloudformation:*", "cloudwatch:*"))
    declared = declaration(pipe)
    declared["stages"][1] = deploy_stage(stack, "CREATE_UPDATE")
    codepipeline.create_pipeline(pipeline=declared)
    settled(codepipeline, name, 1, "Failed")
    taken = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": pipe.source_bucket}}
    s3.put_object(
        Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=archive({"Resources": {"Taken": taken}})
    )
    settled(codepipeline, name, 2, "Failed")
    [failed] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert failed["StackStatus"] == "ROLLBACK_COMPLETE"
    good = archive({"Resources": {"Alarm": ALARM}})
    s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=good)
    settled(codepipeline, name, 3, "Failed")
    message = deploy_action(codepipeline, name)["latestExecution"]["errorDetails"]["message"]
    assert message == (
        f"{stack}: ValidationError: Stack:{failed['StackId']} is in ROLLBACK_COMPLETE state and "
        "can not be updated."
    )

    declared = codepipeline.get_pipeline(name=name)["pipeline"]
    declared["stages"][1] = deploy_stage(stack, "REPLACE_ON_FAILURE")
    codepipeline.update_pipeline(pipeline=declared)
    codepipeline.start_pipeline_execution(name=name)
    settled(codepipeline, name, 4, "Succeeded")
    [replaced] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert replaced["StackStatus"] == "CREATE_COMPLETE"
    assert replaced["StackId"] != failed["StackId"]
    [gone] = cfn.describe_stacks(StackName=failed["StackId"])["Stacks"]
    assert gone["StackStatus"] == "DELETE_COMPLETE"
    latest = deploy_action(codepipeline, name)["latestExecution"]
    assert latest["summary"] == f"Stack {stack} replaced"

    codepipeline.start_pipeline_execution(name=name)  # a healthy stack is kept
    settled(codepipeline, name, 5, "Succeeded")
    assert deploy_action(codepipeline, name)["latestExecution"]["summary"] == (
        f"Stack {stack} unchanged"
    )
    [kept] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert kept["StackId"] == replaced["StackId"]

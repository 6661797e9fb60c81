"""A CloudFormation deploy action of the local CodePipeline: the template comes from the source
artifact, the stack is created as the pipeline's role, and a broken template fails the action
with CloudFormation's words."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

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


@pytest.mark.slow  # a stack with an endpoint
def test_a_deploy_action_creates_the_stack_from_the_source_artifact(client) -> None:
    codepipeline, cfn = client("codepipeline"), client("cloudformation")
    name = f"deploy-{uuid.uuid4().hex[:8]}"
    pipe = make_parts(client, name, pipeline_actions=("s3:*", "cloudformation:*", "cloudwatch:*"))
    declared = declaration(pipe)
    declared["stages"][1] = one_action_stage(
        "Deploy",
        "Deploy",
        "CloudFormation",
        {
            "ActionMode": "CREATE_UPDATE",
            "StackName": f"{name}-app",
            "TemplatePath": "SourceOutput::template.json",
        },
        inputArtifacts=["SourceOutput"],
    )
    codepipeline.create_pipeline(pipeline=declared)
    settled(codepipeline, name, 1, "Failed")
    s3 = client("s3")
    s3.put_object(Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=archive({"Resources": {}}))
    settled(codepipeline, name, 2, "Failed")
    action = codepipeline.get_pipeline_state(name=name)["stageStates"][1]["actionStates"][0]
    assert action["latestExecution"]["errorDetails"]["code"] == "JobFailed"
    assert "ValidationError" in action["latestExecution"]["errorDetails"]["message"]
    s3.put_object(
        Bucket=pipe.source_bucket, Key=SOURCE_KEY, Body=archive({"Resources": {"Alarm": ALARM}})
    )
    settled(codepipeline, name, 3, "Succeeded")
    [stack] = cfn.describe_stacks(StackName=f"{name}-app")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    action = codepipeline.get_pipeline_state(name=name)["stageStates"][1]["actionStates"][0]
    assert action["latestExecution"]["externalExecutionId"] == f"{name}-app"

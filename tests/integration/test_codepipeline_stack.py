"""AWS::CodePipeline::Pipeline in the local CloudFormation: created, updated in place (a new
version) and deleted through the local CodePipeline's API."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.codepipelines import SOURCE_KEY, make_parts, settled


def template(pipe, note: str) -> str:
    kind = {"Owner": "AWS", "Version": "1"}
    pipeline = {
        "Type": "AWS::CodePipeline::Pipeline",
        "Properties": {
            "RoleArn": pipe.role_arn,
            "PipelineType": "V2",
            "RestartExecutionOnUpdate": False,
            "ArtifactStore": {"Type": "S3", "Location": pipe.artifact_bucket},
            "Stages": [
                {
                    "Name": "Source",
                    "Actions": [
                        {
                            "Name": "Source",
                            "ActionTypeId": {**kind, "Category": "Source", "Provider": "S3"},
                            "Configuration": {
                                "S3Bucket": pipe.source_bucket,
                                "S3ObjectKey": SOURCE_KEY,
                                "PollForSourceChanges": False,
                            },
                            "OutputArtifacts": [{"Name": "SourceOutput"}],
                            "RunOrder": 1,
                        }
                    ],
                },
                {
                    "Name": "Approval",
                    "Actions": [
                        {
                            "Name": "Approve",
                            "ActionTypeId": {**kind, "Category": "Approval", "Provider": "Manual"},
                            "Configuration": {"CustomData": note},
                        }
                    ],
                },
            ],
        },
    }
    return json.dumps(
        {
            "Resources": {"Pipeline": pipeline},
            "Outputs": {
                "Name": {"Value": {"Ref": "Pipeline"}},
                "Version": {"Value": {"Fn::GetAtt": ["Pipeline", "Version"]}},
            },
        }
    )


def outputs(cfn, stack: str) -> dict[str, str]:
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def test_a_stack_creates_updates_and_deletes_its_pipeline(client) -> None:
    cfn, codepipeline = client("cloudformation"), client("codepipeline")
    stack = f"pipe-{uuid.uuid4().hex[:8]}"
    pipe = make_parts(client, stack)
    cfn.create_stack(StackName=stack, TemplateBody=template(pipe, "first"))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    made = outputs(cfn, stack)
    assert made["Name"].startswith(f"{stack}-Pipeline-")
    assert made["Version"] == "1"
    declared = codepipeline.get_pipeline(name=made["Name"])["pipeline"]
    assert declared["stages"][0]["actions"][0]["configuration"]["PollForSourceChanges"] == "false"
    assert settled(codepipeline, made["Name"], 1, "Failed")["trigger"]["triggerType"] == (
        "CreatePipeline"
    )
    cfn.update_stack(StackName=stack, TemplateBody=template(pipe, "second"))
    cfn.get_waiter("stack_update_complete").wait(StackName=stack)
    assert outputs(cfn, stack) == {"Name": made["Name"], "Version": "2"}
    approval = codepipeline.get_pipeline(name=made["Name"])["pipeline"]["stages"][1]
    assert approval["actions"][0]["configuration"] == {"CustomData": "second"}
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack)
    with pytest.raises(codepipeline.exceptions.PipelineNotFoundException):
        codepipeline.get_pipeline(name=made["Name"])

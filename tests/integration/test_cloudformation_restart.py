"""A stack's scalable targets, scaling policies, alarms and roles live in moto's memory: a local
cloud killed and started again brings them back (the journal replays the stack's changes), as
they were deployed, before the endpoints that act as them come back."""

from __future__ import annotations

import pytest

from tests.aws_errors import refused
from tests.integration.private_cloud import PrivateCloud
from tests.integration.test_cloudformation import SCALING_YML
from tests.integration.test_cloudformation_safeguards import WATCHED_YML
from tests.polling import poll

pytestmark = pytest.mark.slow

RESOURCE_ID = "endpoint/cfn-scaling/variant/AllTraffic"  # no such endpoint: none is needed


def scaling(private: PrivateCloud) -> tuple[list[dict], list[dict], list[dict]]:
    """The stack's scalable targets, scaling policies and (by its generated name) alarms."""
    autoscaling, cloudwatch = (
        private.client("application-autoscaling"),
        private.client("cloudwatch"),
    )
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in private.client("cloudformation").describe_stack_resources(StackName="scaling")[
            "StackResources"
        ]
    }
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[RESOURCE_ID]
    )["ScalableTargets"]
    policies = autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=RESOURCE_ID
    )["ScalingPolicies"]
    alarms = cloudwatch.describe_alarms(AlarmNames=[physical["Alarm"]])["MetricAlarms"]
    return targets, policies, alarms


def test_scaling_resources_come_back_after_a_kill(private: PrivateCloud) -> None:
    private.up()
    cfn = private.client("cloudformation")
    cfn.create_stack(StackName="scaling", TemplateBody=SCALING_YML)
    cfn.get_waiter("stack_create_complete").wait(StackName="scaling")
    [target], [policy], [alarm] = scaling(private)
    alarm_name, policy_arn = alarm["AlarmName"], policy["PolicyARN"]
    assert alarm_name.startswith("scaling-Alarm-")

    private.kill()
    private.up()
    cfn = private.client("cloudformation")
    assert cfn.describe_stacks(StackName="scaling")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    [target], [policy], [alarm] = scaling(private)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    assert (policy["PolicyName"], policy["PolicyType"]) == ("invocations", "TargetTrackingScaling")
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 100.0
    assert (alarm["AlarmName"], alarm["MetricName"], alarm["Threshold"]) == (
        alarm_name, "Invocation5XXErrors", 1.0,
    )  # fmt: skip
    [stack_policy] = cfn.describe_stack_resources(StackName="scaling", LogicalResourceId="Policy")[
        "StackResources"
    ]
    assert stack_policy["PhysicalResourceId"] == policy["PolicyARN"] == policy_arn
    outputs = cfn.describe_stacks(StackName="scaling")["Stacks"][0]["Outputs"]
    assert {o["OutputKey"]: o["OutputValue"] for o in outputs}["PolicyArn"] == policy_arn

    cfn.delete_stack(StackName="scaling")
    cfn.get_waiter("stack_delete_complete").wait(StackName="scaling")
    autoscaling, cloudwatch = (
        private.client("application-autoscaling"),
        private.client("cloudwatch"),
    )
    assert (
        autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    )
    assert (
        autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []
    )
    assert cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"] == []


MODEL_ROLE_YML = """
Resources:
  ModelRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: sagemaker.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: models
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: s3:GetObject
                Resource: arn:aws:s3:::role-models/*
Outputs:
  RoleArn:
    Value: !GetAtt ModelRole.Arn
"""


def test_an_endpoint_whose_model_acts_as_a_stack_role_comes_back_after_a_kill(
    private: PrivateCloud,
) -> None:
    """The stack's role is back before the endpoint's instances fetch their model as it."""
    private.up()
    cfn = private.client("cloudformation")
    cfn.create_stack(
        StackName="model-role", TemplateBody=MODEL_ROLE_YML, Capabilities=["CAPABILITY_IAM"]
    )
    cfn.get_waiter("stack_create_complete").wait(StackName="model-role")
    [stack] = cfn.describe_stacks(StackName="model-role")["Stacks"]
    [role] = [o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "RoleArn"]
    private.deploy("as-role", count=1, bucket="role-models", role=role)
    score = private.score("as-role")

    private.kill()
    private.up()
    sm = private.client("sagemaker")
    described = poll(
        lambda: sm.describe_endpoint(EndpointName="as-role"),
        until=lambda d: d["EndpointStatus"] in ("InService", "Failed"),
        what="the endpoint back in service, or failed",
    )
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert private.score("as-role") == score


def test_termination_protection_survives_a_kill(private: PrivateCloud) -> None:
    private.up()
    cfn = private.client("cloudformation")
    cfn.create_stack(
        StackName="guarded", TemplateBody=WATCHED_YML, EnableTerminationProtection=True
    )
    cfn.get_waiter("stack_create_complete").wait(StackName="guarded")

    private.kill()
    private.up()
    cfn = private.client("cloudformation")
    assert cfn.describe_stacks(StackName="guarded")["Stacks"][0]["EnableTerminationProtection"]
    assert refused(cfn.delete_stack, StackName="guarded")[1] == (
        "Stack [guarded] cannot be deleted while TerminationProtection is enabled"
    )
    cfn.update_termination_protection(StackName="guarded", EnableTerminationProtection=False)
    cfn.delete_stack(StackName="guarded")
    cfn.get_waiter("stack_delete_complete").wait(StackName="guarded")

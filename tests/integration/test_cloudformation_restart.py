"""A stack's scalable targets, scaling policies and alarms live in moto's memory: a local cloud
killed and started again puts them back from the stack, as they were deployed."""

from __future__ import annotations

import pytest

from tests.integration.private_cloud import PrivateCloud
from tests.integration.test_cloudformation import SCALING_YML

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

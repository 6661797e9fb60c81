"""DeregisterScalableTarget deletes the target's scaling policies and scheduled actions, and so
the alarms target tracking made for its policies, as on AWS; whether a client deregisters it or a
stack deletes it, and still after a restart. Another target keeps its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import small_model
from tests.integration.scaled import (
    FEATURES,
    ScaledCloud,
    pressure_policy,
    scaled_cloud,
    variant_target,
)
from tests.polling import poll

pytestmark = pytest.mark.slow

Held = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
TARGET_YML = """
Resources:
  Target:
    Type: AWS::ApplicationAutoScaling::ScalableTarget
    Properties:
      ServiceNamespace: sagemaker
      ResourceId: endpoint/{endpoint}/variant/AllTraffic
      ScalableDimension: sagemaker:variant:DesiredInstanceCount
      MinCapacity: 1
      MaxCapacity: 1
"""


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory)


def scaled_by_client(scaled: ScaledCloud, resource: dict) -> tuple[str, str]:
    """A target tracking policy ``pressure`` and a scheduled action ``nightly`` on the
    (registered) target ``resource``; the policy's two alarms."""
    autoscaling = scaled.client("application-autoscaling")
    alarms = pressure_policy(autoscaling, resource, "pressure")
    autoscaling.put_scheduled_action(
        ScheduledActionName="nightly",
        Schedule="cron(0 2 * * ? *)",
        ScalableTargetAction={"MinCapacity": 1, "MaxCapacity": 1},
        **resource,
    )
    return alarms


def held(scaled: ScaledCloud, endpoint: str) -> Held:
    """What the endpoint's variant target has: its policies', scheduled actions' and target
    tracking alarms' names."""
    autoscaling, resource = scaled.client("application-autoscaling"), variant_target(endpoint)
    policies = autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"]
    actions = autoscaling.describe_scheduled_actions(**resource)["ScheduledActions"]
    prefix = f"TargetTracking-{resource['ResourceId']}-"
    alarms = scaled.client("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    return (
        tuple(p["PolicyName"] for p in policies),
        tuple(a["ScheduledActionName"] for a in actions),
        tuple(sorted(a["AlarmName"] for a in alarms)),
    )


def test_a_deregistered_targets_policies_alarms_and_scheduled_actions_are_deleted(
    scaled: ScaledCloud,
) -> None:
    """DeregisterScalableTarget deletes what the target had, and only that; so does a stack
    delete of its ScalableTarget; a restart brings none of it back."""
    autoscaling = scaled.client("application-autoscaling")
    deregistered = scaled.endpoint("deregistered", small_model(7, feature_dim=FEATURES))
    kept = scaled.endpoint("kept", small_model(8, feature_dim=FEATURES))
    for endpoint in (deregistered, kept):
        autoscaling.register_scalable_target(
            **variant_target(endpoint), MinCapacity=1, MaxCapacity=1
        )
    stacked = "stacked"  # no such endpoint: a stack's target needs none
    cfn = scaled.client("cloudformation")
    cfn.create_stack(StackName="stacked", TemplateBody=TARGET_YML.format(endpoint=stacked))
    cfn.get_waiter("stack_create_complete").wait(StackName="stacked", WaiterConfig={"Delay": 1})
    kept_alarms = scaled_by_client(scaled, variant_target(kept))
    for endpoint in (deregistered, stacked):
        scaled_by_client(scaled, variant_target(endpoint))
    kept_held = (("pressure",), ("nightly",), tuple(sorted(kept_alarms)))
    assert held(scaled, kept) == kept_held

    autoscaling.deregister_scalable_target(**variant_target(deregistered))
    cfn.delete_stack(StackName="stacked")
    cfn.get_waiter("stack_delete_complete").wait(StackName="stacked", WaiterConfig={"Delay": 1})
    expected = {deregistered: ((), (), ()), stacked: ((), (), ()), kept: kept_held}
    poll(
        lambda: {endpoint: held(scaled, endpoint) for endpoint in expected},
        until=lambda found: found == expected,
        what="the deregistered targets' policies, scheduled actions and alarms to be deleted",
    )

    scaled.restart()
    assert {endpoint: held(scaled, endpoint) for endpoint in expected} == expected

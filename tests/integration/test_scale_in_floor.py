"""Automatic scaling never takes a variant below one instance, at ``CDLAB_TIME_SCALE=60``: a
variant's target may have MinCapacity 0, as Application Auto Scaling accepts, but only an
endpoint that hosts inference components scales to zero, and the local cloud hosts none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import small_model
from tests.integration.scaled import (
    FEATURES,
    ScaledCloud,
    policy_alarms,
    scaled_cloud,
    variant_target,
)
from tests.polling import poll

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory)


def test_a_target_at_min_capacity_0_scales_in_no_further_than_one_instance(
    scaled: ScaledCloud,
) -> None:
    """A metric a client puts at 0 brings the policy's low alarm into ALARM; the capacity
    computed (0) is held at one instance, so nothing scales and a not scaled activity says the
    variant is already at the desired capacity (before, the variant went to 0 instances)."""
    name = scaled.endpoint("floor", small_model(6, feature_dim=FEATURES))
    autoscaling = scaled.client("application-autoscaling")
    resource = variant_target(name)
    autoscaling.register_scalable_target(**resource, MinCapacity=0, MaxCapacity=2)
    dimensions = [{"Name": "EndpointName", "Value": name}]
    autoscaling.put_scaling_policy(
        PolicyName="idle",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 10,
            "CustomizedMetricSpecification": {
                "Namespace": "CDLab/Tests", "MetricName": "Idle", "Dimensions": dimensions,
                "Statistic": "Average", "Unit": "Count",
            },
            "ScaleInCooldown": 0,
        },
        **resource,
    )  # fmt: skip
    _, low = policy_alarms(autoscaling, resource, "idle")
    cloudwatch = scaled.client("cloudwatch")

    def put_idle_and_list() -> list[dict]:
        """Put the metric at 0 (every period the low alarm looks at gets one, for as long as
        the poll lasts); the target's activities, not scaled ones too."""
        cloudwatch.put_metric_data(
            Namespace="CDLab/Tests",
            MetricData=[
                {"MetricName": "Idle", "Dimensions": dimensions, "Value": 0, "Unit": "Count"}
            ],
        )
        return autoscaling.describe_scaling_activities(
            ServiceNamespace="sagemaker",
            ResourceId=resource["ResourceId"],
            IncludeNotScaledActivities=True,
        )["ScalingActivities"]

    [activity] = poll(
        put_idle_and_list,
        timeout=60,
        interval=0.2,
        what=f"an activity of {name}'s target once its low alarm is in ALARM",
    )
    assert activity.get("NotScaledReasons") == [
        {"Code": "AlreadyAtDesiredCapacity", "CurrentCapacity": 1}
    ], f"{activity['Description']} {activity['StatusCode']}"
    assert activity["Cause"] == f"monitor alarm {low} in state ALARM triggered policy idle"
    described = scaled.client("sagemaker").describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    [variant] = described["ProductionVariants"]
    assert variant["DesiredInstanceCount"] == variant["CurrentInstanceCount"] == 1

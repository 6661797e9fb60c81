"""The predefined metric types each scalable dimension takes (``metrictypes``): every type the
API has is placed, and a target tracking configuration naming one its dimension does not take
is refused in AWS's words; so is one that names no metric, or a resource label on a type that
takes none."""

from __future__ import annotations

import botocore.session
import pytest
from moto.applicationautoscaling.exceptions import AWSValidationException

from cdlab.localcloud.autoscaling.tracked import VARIANT_METRICS, caveat, policy_metric
from cdlab.localcloud.moto.metrictypes import (
    BY_NAMESPACE,
    LABEL_NOT_TAKEN,
    NO_METRIC,
    SAGEMAKER,
    check_metric_type,
    check_resource_label,
    check_tracked_metric,
    supported,
)

VARIANT = "sagemaker:variant:DesiredInstanceCount"
RESOURCE = "endpoint/e/variant/v"


def tracking(metric_type: str) -> dict:
    return {
        "TargetValue": 1.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": metric_type},
    }


def test_every_type_of_the_api_is_placed_and_none_other() -> None:
    model = botocore.session.get_session().get_service_model("application-autoscaling")
    enum = model.shape_for("MetricType").enum
    placed = {t for types in (*BY_NAMESPACE.values(), *SAGEMAKER.values()) for t in types}
    assert placed == set(enum)
    for types in (*BY_NAMESPACE.values(), *SAGEMAKER.values()):
        assert list(types) == sorted(types, key=enum.index)  # in the enum's order


def test_a_type_the_dimension_does_not_take_is_refused_in_awss_words() -> None:
    with pytest.raises(AWSValidationException) as refused:
        check_metric_type(VARIANT, tracking("ECSServiceAverageCPUUtilization"))
    assert refused.value.message == (
        f"Scalable dimension {VARIANT} only supports the following predefined metric types: "
        "SageMakerVariantInvocationsPerInstance, "
        "SageMakerVariantConcurrentRequestsPerModelHighResolution"
    )
    serverless = "sagemaker:variant:DesiredProvisionedConcurrency"
    with pytest.raises(AWSValidationException) as refused:
        check_metric_type(serverless, tracking("LambdaProvisionedConcurrencyUtilization"))
    assert refused.value.message == (  # as AWS answered it (aws/aws-cdk#29065)
        f"Scalable dimension {serverless} only supports the following predefined metric types: "
        "SageMakerVariantProvisionedConcurrencyUtilization"
    )
    emr = "elasticmapreduce:instancegroup:InstanceCount"
    with pytest.raises(AWSValidationException) as refused:
        check_metric_type(emr, tracking("ECSServiceAverageCPUUtilization"))
    assert (
        refused.value.message
        == f"Scalable dimension {emr} does not support predefined metric types"
    )


def test_what_is_taken_or_names_no_predefined_type_passes() -> None:
    for metric_type in supported(VARIANT):
        check_metric_type(VARIANT, tracking(metric_type))
    check_metric_type("ecs:service:DesiredCount", tracking("ALBRequestCountPerTarget"))
    check_metric_type("ec2:spot-fleet-request:TargetCapacity", tracking("ALBRequestCountPerTarget"))
    customized = {"TargetValue": 1.0, "CustomizedMetricSpecification": {"MetricName": "m"}}
    check_metric_type(VARIANT, customized)
    check_metric_type(VARIANT, {"StepAdjustments": [{"ScalingAdjustment": 1}]})
    check_metric_type(VARIANT, None)


def test_a_target_tracking_configuration_naming_no_metric_is_refused() -> None:
    for nothing in (
        {"TargetValue": 1.0},
        {"TargetValue": 1.0, "ScaleInCooldown": 60, "DisableScaleIn": True},
    ):
        with pytest.raises(AWSValidationException) as refused:
            check_tracked_metric(nothing)
        assert refused.value.message == NO_METRIC
    check_tracked_metric(tracking("SageMakerVariantInvocationsPerInstance"))
    check_tracked_metric({"TargetValue": 1.0, "CustomizedMetricSpecification": {"Metrics": []}})
    check_tracked_metric({"StepAdjustments": [{"ScalingAdjustment": 1}]})  # a step scaling one
    check_tracked_metric(None)  # an update that leaves the configuration out


def test_a_resource_label_is_taken_by_alb_request_count_per_target_only() -> None:
    label = "app/my-alb/778d41231b141a0f/targetgroup/my-alb-target-group/943f017f100becff"
    for metric_type in (
        "SageMakerVariantInvocationsPerInstance",
        "ECSServiceAverageCPUUtilization",
    ):
        labelled = tracking(metric_type)
        labelled["PredefinedMetricSpecification"]["ResourceLabel"] = label
        with pytest.raises(AWSValidationException) as refused:
            check_resource_label(labelled)
        assert refused.value.message == (
            "You can't specify a resource label unless the metric type is ALBRequestCountPerTarget"
        )
        assert refused.value.message == LABEL_NOT_TAKEN
    alb = tracking("ALBRequestCountPerTarget")
    alb["PredefinedMetricSpecification"]["ResourceLabel"] = label
    check_resource_label(alb)
    check_resource_label(tracking("SageMakerVariantInvocationsPerInstance"))  # no label
    check_resource_label(None)


def test_each_variant_type_tracks_the_metric_it_names() -> None:
    dims = frozenset({("EndpointName", "e"), ("VariantName", "v")})
    invocations = policy_metric(tracking("SageMakerVariantInvocationsPerInstance"), RESOURCE)
    assert invocations is not None
    assert (invocations.key, invocations.statistic) == (
        ("AWS/SageMaker", "InvocationsPerInstance", dims),
        "Sum",
    )
    assert caveat(tracking("SageMakerVariantInvocationsPerInstance"), RESOURCE) is None
    concurrent = "SageMakerVariantConcurrentRequestsPerModelHighResolution"
    metric = policy_metric(tracking(concurrent), RESOURCE)
    assert metric is not None
    assert metric.key == ("AWS/SageMaker", "ConcurrentRequestsPerModel", dims)
    assert caveat(tracking(concurrent), RESOURCE) == (
        "tracks ConcurrentRequestsPerModel, which the local cloud does not emit: its alarms see "
        "no data, and the policy never scales"
    )
    for nothing in (tracking("ECSServiceAverageCPUUtilization"), {"TargetValue": 1.0}):
        assert policy_metric(nothing, RESOURCE) is None  # it was tracked as invocations
        assert caveat(nothing, RESOURCE) == (
            "names no metric the local cloud tracks: it makes no alarms for it, and the policy "
            "never scales"
        )


def test_the_autoscaler_tracks_each_type_a_variant_takes_and_no_other() -> None:
    """``tracked.VARIANT_METRICS`` (the metric each type tracks) and ``metrictypes`` (the types
    PutScalingPolicy takes for a variant) list the same types."""
    assert set(VARIANT_METRICS) == set(SAGEMAKER[VARIANT])

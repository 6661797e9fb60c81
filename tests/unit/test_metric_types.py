"""The predefined metric types each scalable dimension takes (``metrictypes``): every type the
API has is placed, and a target tracking configuration naming one its dimension does not take
is refused in AWS's words."""

from __future__ import annotations

import botocore.session
import pytest
from moto.applicationautoscaling.exceptions import AWSValidationException

from cdlab.localcloud.autoscaling.tracked import caveat, policy_metric
from cdlab.localcloud.moto.metrictypes import (
    BY_NAMESPACE,
    SAGEMAKER,
    check_metric_type,
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

"""Application Auto Scaling refuses what AWS refuses, in AWS's codes: a policy or scheduled action
on a target not registered, a new target without its capacities or with the maximum below the
minimum, a variant's resource id that is not one, a new policy without its type's configuration,
a predefined metric type the target's dimension does not take, a target tracking configuration
that names no metric, a resource label on a type that takes none, and the deletion of what does
not exist; DeleteEndpoint deregisters the endpoint's variants, and is refused to a caller that
may not deregister them."""

from __future__ import annotations

import uuid

import pytest

from tests.aws_errors import refused
from tests.integration.test_iam_enforcement import not_allowed, role_session

SUFFIX = uuid.uuid4().hex[:8]
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
TRACKING = {
    "TargetValue": 100.0,
    "PredefinedMetricSpecification": {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    },
}


def target(endpoint: str) -> dict[str, str]:
    """The scalable target of this module's endpoint ``endpoint``'s AllTraffic variant."""
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/AllTraffic",
        "ScalableDimension": DIMENSION,
    }


def named(resource: dict[str, str]) -> str:
    return (
        f"service namespace: sagemaker, resource ID: {resource['ResourceId']}, "
        f"scalable dimension: {DIMENSION}"
    )


@pytest.fixture
def autoscaling(client):
    return client("application-autoscaling")


def registered(autoscaling, resource: dict[str, str]) -> list[tuple[int, int]]:
    """The (MinCapacity, MaxCapacity) of the target, if registered."""
    found = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource["ResourceId"]]
    )["ScalableTargets"]
    return [(t["MinCapacity"], t["MaxCapacity"]) for t in found]


def test_a_policy_or_scheduled_action_needs_a_registered_target(autoscaling) -> None:
    resource = target(f"cdlab-unregistered-{SUFFIX}")
    not_registered = f"No scalable target registered for {named(resource)}"
    assert refused(
        autoscaling.put_scaling_policy,
        PolicyName="p",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=TRACKING,
        **resource,
    ) == ("ObjectNotFoundException", not_registered, 400)
    assert refused(
        autoscaling.put_scheduled_action,
        ScheduledActionName="nightly",
        Schedule="cron(0 2 * * ? *)",
        ScalableTargetAction={"MinCapacity": 1, "MaxCapacity": 1},
        **resource,
    ) == ("ObjectNotFoundException", not_registered, 400)
    assert autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"] == []
    assert autoscaling.describe_scheduled_actions(**resource)["ScheduledActions"] == []


def test_a_new_target_needs_its_capacities_the_maximum_not_below_the_minimum(autoscaling) -> None:
    resource = target(f"cdlab-capacities-{SUFFIX}")
    required = "MinCapacity and MaxCapacity are required to register a new scalable target"
    below = "Maximum capacity cannot be less than minimum capacity"
    for capacities in ({}, {"MinCapacity": 1}, {"MaxCapacity": 2}):
        assert refused(autoscaling.register_scalable_target, **resource, **capacities) == (
            "ValidationException",
            required,
            400,
        )
    assert refused(
        autoscaling.register_scalable_target, **resource, MinCapacity=3, MaxCapacity=2
    ) == ("ValidationException", below, 400)
    assert registered(autoscaling, resource) == []

    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    try:
        suspended = {"DynamicScalingInSuspended": True}
        autoscaling.register_scalable_target(**resource, SuspendedState=suspended)  # an update
        assert registered(autoscaling, resource) == [(1, 2)]
        assert refused(autoscaling.register_scalable_target, **resource, MinCapacity=3) == (
            "ValidationException",
            below,
            400,
        )
        assert registered(autoscaling, resource) == [(1, 2)]
    finally:
        autoscaling.deregister_scalable_target(**resource)


@pytest.mark.parametrize("resource_id", ["endpoint/x", "endpoint/x/variant", "variant/x/y/z"])
def test_a_variant_resource_id_that_is_not_one_is_refused_at_once(
    autoscaling, resource_id: str
) -> None:
    """Moto failed on ``endpoint/x`` (an IndexError, HTTP 500, which the SDK retried)."""
    resource = {**target("x"), "ResourceId": resource_id}
    code, message, status = refused(
        autoscaling.register_scalable_target, **resource, MinCapacity=1, MaxCapacity=2
    )
    assert (code, message, status) == (
        "ValidationException",
        "Unsupported service namespace, resource type or scalable dimension",
        400,
    )


def test_a_new_policy_needs_its_types_configuration(autoscaling) -> None:
    resource = target(f"cdlab-configuration-{SUFFIX}")
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    required = "{} is required if you are creating a policy and the policy type is {}"
    try:
        assert refused(
            autoscaling.put_scaling_policy,
            PolicyName="p",
            PolicyType="TargetTrackingScaling",
            **resource,
        ) == (
            "ValidationException",
            required.format("TargetTrackingScalingPolicyConfiguration", "TargetTrackingScaling"),
            400,
        )
        assert refused(
            autoscaling.put_scaling_policy,
            PolicyName="p",
            PolicyType="StepScaling",
            TargetTrackingScalingPolicyConfiguration=TRACKING,
            **resource,
        ) == (
            "ValidationException",
            required.format("StepScalingPolicyConfiguration", "StepScaling"),
            400,
        )
        assert autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"] == []
    finally:
        autoscaling.deregister_scalable_target(**resource)


VARIANT_TYPES = (
    "SageMakerVariantInvocationsPerInstance, "
    "SageMakerVariantConcurrentRequestsPerModelHighResolution"
)


def tracking(metric_type: str) -> dict:
    return {
        "TargetValue": 5.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": metric_type},
    }


def put_tracking(autoscaling, resource: dict[str, str], configuration: dict) -> dict:
    return autoscaling.put_scaling_policy(
        PolicyName="p",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=configuration,
        **resource,
    )


def refused_new_and_as_update(
    autoscaling, resource: dict[str, str], configuration: dict
) -> tuple[tuple[str, str, int], tuple[str, str, int]]:
    """The refusals of ``configuration`` as a new policy (none is kept), then as the update of a
    policy made with TRACKING (which is kept as it was)."""
    as_new = refused(lambda: put_tracking(autoscaling, resource, configuration))
    assert autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"] == []
    put_tracking(autoscaling, resource, TRACKING)
    as_update = refused(lambda: put_tracking(autoscaling, resource, configuration))
    [policy] = autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"]
    kept = policy["TargetTrackingScalingPolicyConfiguration"]
    assert kept["PredefinedMetricSpecification"] == TRACKING["PredefinedMetricSpecification"]
    return as_new, as_update


@pytest.mark.parametrize(
    "metric_type",
    [
        "ECSServiceAverageCPUUtilization",  # another service's
        "ALBRequestCountPerTarget",  # Spot Fleets' and ECS services' only
        "SageMakerVariantProvisionedConcurrencyUtilization",  # a serverless variant's
        "SageMakerInferenceComponentInvocationsPerCopy",  # an inference component's
        "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution",
    ],
)
def test_a_predefined_metric_type_a_variant_on_instances_does_not_take_is_refused(
    autoscaling, metric_type: str
) -> None:
    """Moto kept such a policy, and the autoscaler scaled the variant on its invocations."""
    resource = target(f"cdlab-metrictype-{SUFFIX}")
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    only = f"Scalable dimension {DIMENSION} only supports the following predefined metric types: "
    try:
        refusal = ("ValidationException", only + VARIANT_TYPES, 400)
        assert refused_new_and_as_update(autoscaling, resource, tracking(metric_type)) == (
            refusal,
            refusal,
        )
    finally:
        autoscaling.deregister_scalable_target(**resource)


def test_a_variants_two_predefined_metric_types_are_taken(autoscaling) -> None:
    resource = target(f"cdlab-metrictypes-{SUFFIX}")
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    try:
        for metric_type in VARIANT_TYPES.split(", "):
            autoscaling.put_scaling_policy(
                PolicyName=metric_type,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration=tracking(metric_type),
                **resource,
            )
        policies = autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"]
        assert sorted(p["PolicyName"] for p in policies) == sorted(VARIANT_TYPES.split(", "))
    finally:
        autoscaling.deregister_scalable_target(**resource)


def test_a_target_tracking_configuration_naming_no_metric_is_refused(autoscaling) -> None:
    """Moto kept such a policy, new or updated, which tracked nothing (no alarms, no scaling)."""
    resource = target(f"cdlab-nometric-{SUFFIX}")
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    no_metric = (
        "TargetTrackingScalingPolicyConfiguration must specify either "
        "PredefinedMetricSpecification or CustomizedMetricSpecification"
    )
    refusal = ("ValidationException", no_metric, 400)
    try:
        scale_in_off = {"TargetValue": 5.0, "DisableScaleIn": True}
        assert refused(lambda: put_tracking(autoscaling, resource, scale_in_off)) == refusal
        assert refused_new_and_as_update(autoscaling, resource, {"TargetValue": 5.0}) == (
            refusal,
            refusal,
        )
    finally:
        autoscaling.deregister_scalable_target(**resource)


def test_a_resource_label_on_a_type_other_than_alb_request_count_is_refused(autoscaling) -> None:
    """The API reference's rule, in its words (AWS's answer is not quoted anywhere found):
    https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PredefinedMetricSpecification.html.
    Moto kept the label on a variant's invocations."""
    resource = target(f"cdlab-label-{SUFFIX}")
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    labelled = tracking("SageMakerVariantInvocationsPerInstance")
    labelled["PredefinedMetricSpecification"]["ResourceLabel"] = (
        "app/my-alb/778d41231b141a0f/targetgroup/my-alb-target-group/943f017f100becff"
    )
    try:
        assert refused(lambda: put_tracking(autoscaling, resource, labelled)) == (
            "ValidationException",
            "You can't specify a resource label unless the metric type is ALBRequestCountPerTarget",
            400,
        )
        assert autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"] == []
    finally:
        autoscaling.deregister_scalable_target(**resource)


def test_deleting_what_does_not_exist_is_object_not_found(autoscaling) -> None:
    resource = target(f"cdlab-nothing-{SUFFIX}")
    assert refused(autoscaling.deregister_scalable_target, **resource) == (
        "ObjectNotFoundException",
        f"No scalable target found for {named(resource)}",
        400,
    )
    assert refused(autoscaling.delete_scaling_policy, PolicyName="p", **resource) == (
        "ObjectNotFoundException",
        f"No scaling policy found for {named(resource)}, policy name: p",
        400,
    )
    assert refused(autoscaling.delete_scheduled_action, ScheduledActionName="n", **resource) == (
        "ObjectNotFoundException",
        f"No scheduled action found for {named(resource)}, scheduled action name: n",
        400,
    )


def test_delete_endpoint_deregisters_its_variants_scalable_targets(autoscaling, sm, deploy) -> None:
    endpoint = deploy("cdlab-dereg", {"AllTraffic": (1, 1, 1)})
    resource, other = target(endpoint), target(f"{endpoint}-other")
    for scaled in (resource, other):
        autoscaling.register_scalable_target(**scaled, MinCapacity=1, MaxCapacity=2)
    autoscaling.put_scaling_policy(
        PolicyName="p",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=TRACKING,
        **resource,
    )
    try:
        sm.delete_endpoint(EndpointName=endpoint)
        assert registered(autoscaling, resource) == []
        assert autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"] == []
        assert refused(autoscaling.deregister_scalable_target, **resource) == (
            "ObjectNotFoundException",
            f"No scalable target found for {named(resource)}",
            400,
        )
        assert registered(autoscaling, other) == [(1, 2)]  # another endpoint's
        sm.get_waiter("endpoint_deleted").wait(EndpointName=endpoint)
    finally:
        autoscaling.deregister_scalable_target(**other)


def test_delete_endpoint_needs_permission_to_deregister_its_variants(
    client, aws_env, autoscaling, sm, deploy
) -> None:
    """A caller IAM does not allow DeregisterScalableTarget may not delete a scaled endpoint;
    nothing is deleted. One it allows deletes both."""
    endpoint = deploy("cdlab-deregperm", {"AllTraffic": (1, 1, 1)})
    resource = target(endpoint)
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    sagemaker_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}],
    }
    action = "application-autoscaling:DeregisterScalableTarget"
    with role_session(client, aws_env, f"cdlab-smonly-{SUFFIX}", sagemaker_only) as session:
        assert refused(session.client("sagemaker").delete_endpoint, EndpointName=endpoint) == (
            "AccessDeniedException",
            not_allowed(session.arn, action),
            400,
        )
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    assert registered(autoscaling, resource) == [(1, 2)]

    both = {"Version": "2012-10-17", "Statement": [{**sagemaker_only["Statement"][0]}]}
    both["Statement"].append({"Effect": "Allow", "Action": action, "Resource": "*"})
    with role_session(client, aws_env, f"cdlab-smdereg-{SUFFIX}", both) as session:
        session.client("sagemaker").delete_endpoint(EndpointName=endpoint)
    assert registered(autoscaling, resource) == []
    sm.get_waiter("endpoint_deleted").wait(EndpointName=endpoint)

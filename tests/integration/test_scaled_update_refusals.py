"""What SageMaker refuses of an endpoint's update that the local cloud once let through: an
UpdateEndpoint that would remove a variant registered for automatic scaling (AWS: deregister it
first), and an UpdateEndpointWeightsAndCapacities to 0 instances (AWS: only an endpoint that
hosts inference components scales to zero, and the local cloud hosts none)."""

from __future__ import annotations

import contextlib

import pytest

from tests.aws_errors import refused
from tests.integration.test_scaling_refusals import DIMENSION, registered


@pytest.fixture
def autoscaling(client):
    return client("application-autoscaling")


def target(endpoint: str, variant: str) -> dict[str, str]:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/{variant}",
        "ScalableDimension": DIMENSION,
    }


def variants(sm, endpoint: str) -> list[str]:
    described = sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    return [v["VariantName"] for v in described["ProductionVariants"]]


def test_update_endpoint_may_not_remove_a_variant_registered_for_scaling(
    autoscaling, sm, deploy
) -> None:
    """Refused, nothing changed, while the variant is a scalable target; once deregistered the
    same update goes through. A target registered for a variant the endpoint does not have yet
    is no bar."""
    endpoint = deploy("cdlab-rmscaled", {"AllTraffic": (1, 1, 1)})
    config = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    renamed = deploy.config("cdlab-rmscaled", {"Renamed": (2, 1, 1)})
    scaled, ahead = target(endpoint, "AllTraffic"), target(endpoint, "Renamed")
    for resource in (scaled, ahead):
        autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    try:
        arn = sm.describe_endpoint(EndpointName=endpoint)["EndpointArn"]
        assert refused(sm.update_endpoint, EndpointName=endpoint, EndpointConfigName=renamed) == (
            "ValidationException",
            f'Cannot update endpoint "{arn}": variant(s) AllTraffic would be removed while '
            "registered for automatic scaling. Deregister the scalable target "
            "(DeregisterScalableTarget) first, then update the endpoint.",
            400,
        )
        # The endpoint's name in another case names the same endpoint, and the same targets.
        upper = refused(
            sm.update_endpoint, EndpointName=endpoint.upper(), EndpointConfigName=renamed
        )
        assert upper[0] == "ValidationException" and "would be removed" in upper[1]
        assert variants(sm, endpoint) == ["AllTraffic"]
        assert sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"] == config
        assert registered(autoscaling, scaled) == [(1, 2)]

        autoscaling.deregister_scalable_target(**scaled)
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=renamed)
        sm.get_waiter("endpoint_in_service").wait(EndpointName=endpoint)
        assert variants(sm, endpoint) == ["Renamed"]
        assert registered(autoscaling, ahead) == [(1, 2)]
    finally:
        for resource in (scaled, ahead):
            with contextlib.suppress(autoscaling.exceptions.ObjectNotFoundException):
                autoscaling.deregister_scalable_target(**resource)


def test_desired_instance_count_0_is_refused_and_changes_nothing(sm, deploy) -> None:
    endpoint = deploy("cdlab-zero", {"AllTraffic": (1, 1, 1)})
    arn = sm.describe_endpoint(EndpointName=endpoint)["EndpointArn"]
    zero = [{"VariantName": "AllTraffic", "DesiredInstanceCount": 0}]
    assert refused(
        sm.update_endpoint_weights_and_capacities,
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=zero,
    ) == (
        "ValidationException",
        f'Cannot update endpoint "{arn}": DesiredInstanceCount 0 for variant(s) AllTraffic. '
        "Only an endpoint that hosts inference components can scale to zero instances; give "
        "each variant at least 1.",
        400,
    )
    described = sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    [variant] = described["ProductionVariants"]
    assert variant["CurrentInstanceCount"] == variant["DesiredInstanceCount"] == 1

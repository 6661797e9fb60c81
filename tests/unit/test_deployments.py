"""Blue/green traffic plans and their limits (no cloud needed)."""

from __future__ import annotations

import pytest

from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker import deployments


def policy(kind: str, unit: str | None = None, value: int = 0) -> dict:
    routing: dict = {"Type": kind}
    if unit is not None:
        routing["CanarySize" if kind == "CANARY" else "LinearStepSize"] = {
            "Type": unit,
            "Value": value,
        }
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}}


@pytest.mark.parametrize(
    ("deployment", "fleet", "steps"),
    [
        ({}, 3, [1.0]),
        (policy("ALL_AT_ONCE"), 2, [1.0]),
        (policy("CANARY", "INSTANCE_COUNT", 1), 4, [0.25, 1.0]),
        (policy("CANARY", "CAPACITY_PERCENT", 10), 4, [0.25, 1.0]),  # at least one instance
        (policy("LINEAR", "INSTANCE_COUNT", 1), 3, [1 / 3, 2 / 3, 1.0]),
        (policy("LINEAR", "CAPACITY_PERCENT", 40), 5, [0.4, 0.8, 1.0]),
    ],
)
def test_traffic_steps_end_with_all_traffic_on_the_new_fleet(deployment, fleet, steps) -> None:
    deployments.validate(deployment, fleet, {})
    assert deployments.traffic_steps(deployment, fleet) == pytest.approx(steps)


@pytest.mark.parametrize(
    ("deployment", "fleet", "message"),
    [
        (policy("CANARY", "INSTANCE_COUNT", 2), 3, "at most 50%"),
        (policy("CANARY", "CAPACITY_PERCENT", 51), 10, "at most 50%"),
        (policy("LINEAR", "CAPACITY_PERCENT", 9), 10, "between 10% and 50%"),
        (policy("LINEAR", "INSTANCE_COUNT", 2), 3, "between 10% and 50%"),
        (policy("LINEAR"), 3, "LinearStepSize must be specified"),
        ({"RollingUpdatePolicy": {}}, 3, "RollingUpdatePolicy"),
    ],
)
def test_sizes_out_of_limits_are_refused(deployment, fleet, message) -> None:
    with pytest.raises(ValidationException, match=message):
        deployments.validate(deployment, fleet, {})


def test_bake_time_and_deadline_follow_the_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    deployment = policy("CANARY", "INSTANCE_COUNT", 1)
    deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"] = (
        600
    )
    assert deployments.bake_seconds(deployment) == 10
    assert deployments.deadline({}) == float("inf")

"""Blue/green deployment plans: how much traffic the new fleet takes at each step, and baking.

UpdateEndpoint's ``DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration`` becomes a
list of shares of the endpoint's traffic sent to the new (green) fleet: ALL_AT_ONCE ``[1.0]``;
CANARY the canary's share of the new fleet's capacity, then ``1.0``; LINEAR one more step each
time. After each step the new fleet bakes for WaitIntervalInSeconds (scaled by
``CDLAB_TIME_SCALE``) while the AutoRollbackConfiguration alarms are watched; one in ALARM rolls
the traffic back. No policy means blue/green, all at once, with no baking.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from typing import Any

from cdlab import config
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationException

BAKE_POLL_SECONDS = 0.05


def _size(capacity: dict[str, Any], fleet: int) -> int:
    """A CapacitySize as a number of the new fleet's instances (at least one)."""
    if capacity["Type"] == "INSTANCE_COUNT":
        return int(capacity["Value"])
    return max(1, math.ceil(fleet * float(capacity["Value"]) / 100))


def _percent(capacity: dict[str, Any], fleet: int) -> float:
    if capacity["Type"] == "INSTANCE_COUNT":
        return 100.0 * int(capacity["Value"]) / fleet
    return float(capacity["Value"])


def routing(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment.get("BlueGreenUpdatePolicy", {}).get("TrafficRoutingConfiguration") or {
        "Type": "ALL_AT_ONCE",
        "WaitIntervalInSeconds": 0,
    }


def validate(deployment: dict[str, Any], fleet: int, alarms: Mapping[str, str]) -> None:
    """SageMaker's limits: CanarySize at most 50% of the fleet, LinearStepSize 10-50%; the
    rollback alarms exist (``alarms``: the state of each existing alarm, by name)."""
    if "RollingUpdatePolicy" in deployment:
        raise ValidationException(
            "The local cloud deploys with BlueGreenUpdatePolicy; RollingUpdatePolicy is not "
            "available locally."
        )
    for name in alarm_names(deployment):
        if name not in alarms:
            raise ValidationException(
                f"The CloudWatch alarm {name} in AutoRollbackConfiguration does not exist; "
                "create it with put-metric-alarm first."
            )
    route = routing(deployment)
    kind = route["Type"]
    if kind == "CANARY":
        size = route.get("CanarySize")
        if size is None:
            raise ValidationException("CanarySize must be specified for CANARY traffic routing.")
        if _percent(size, fleet) > 50:
            raise ValidationException(
                f"CanarySize {size['Value']} ({size['Type']}) must be at most 50% of the "
                f"variants' total instance count ({fleet})."
            )
    elif kind == "LINEAR":
        size = route.get("LinearStepSize")
        if size is None:
            raise ValidationException(
                "LinearStepSize must be specified for LINEAR traffic routing."
            )
        if not 10 <= _percent(size, fleet) <= 50:
            raise ValidationException(
                f"LinearStepSize {size['Value']} ({size['Type']}) must be between 10% and 50% "
                f"of the variants' total instance count ({fleet})."
            )
    elif "CanarySize" in route or "LinearStepSize" in route:
        raise ValidationException(
            "CanarySize and LinearStepSize apply only to CANARY and LINEAR traffic routing."
        )


def traffic_steps(deployment: dict[str, Any], fleet: int) -> list[float]:
    """The new fleet's share of traffic at each step, ending at 1.0."""
    route = routing(deployment)
    if route["Type"] == "CANARY":
        return [min(1.0, _size(route["CanarySize"], fleet) / fleet), 1.0]
    if route["Type"] == "LINEAR":
        step = _size(route["LinearStepSize"], fleet)
        return [min(1.0, n * step / fleet) for n in range(1, math.ceil(fleet / step) + 1)]
    return [1.0]


def bake_seconds(deployment: dict[str, Any]) -> float:
    return float(routing(deployment).get("WaitIntervalInSeconds", 0)) / config.time_scale()


def deadline(deployment: dict[str, Any]) -> float:
    """The monotonic time the whole deployment must finish by (MaximumExecutionTimeout)."""
    limit = deployment.get("BlueGreenUpdatePolicy", {}).get("MaximumExecutionTimeoutInSeconds")
    return math.inf if limit is None else time.monotonic() + float(limit) / config.time_scale()


def alarm_names(deployment: dict[str, Any]) -> list[str]:
    return [
        a["AlarmName"] for a in deployment.get("AutoRollbackConfiguration", {}).get("Alarms", [])
    ]


async def bake(moto: MotoState, seconds: float, names: list[str], until: float) -> str | None:
    """Wait ``seconds`` while watching the alarms; the reason to roll back, or None."""
    end = time.monotonic() + seconds
    while True:
        states = await moto.run(moto.alarm_states, names) if names else {}
        alarm = next((n for n in names if states.get(n) == "ALARM"), None)
        if alarm is not None:
            return f"the alarm {alarm} went into ALARM state"
        if time.monotonic() >= until:
            return "the deployment exceeded MaximumExecutionTimeoutInSeconds"
        if time.monotonic() >= end:
            return None
        await asyncio.sleep(min(BAKE_POLL_SECONDS, max(0.0, end - time.monotonic())))

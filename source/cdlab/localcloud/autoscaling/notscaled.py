"""Not scaled activities: what Application Auto Scaling records when a triggered policy changes
nothing.

When a target tracking alarm is in ALARM but the capacity cannot or need not change (the target
is at its MaxCapacity when scaling out, at its MinCapacity when scaling in, or the capacity
computed equals the current one), AWS records a *not scaled activity*: StatusCode ``Failed``,
Description ``Attempting to scale due to alarm triggered``, the Cause of any alarm-driven activity
(``monitor alarm <alarm> in state ALARM triggered policy <policy>``) and ``NotScaledReasons``,
each a Code (``AlreadyAtMaxCapacity``, ``AlreadyAtMinCapacity``, ``AlreadyAtDesiredCapacity``;
AWS has two more, for flapping and an unscalable resource, that the kit never meets) with the
capacity that applies. DescribeScalingActivities lists them only with IncludeNotScaledActivities
(https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-scaling-activities.html,
https://docs.aws.amazon.com/autoscaling/application/APIReference/API_NotScaledReason.html).

AWS does not say how often it records them, and an alarm stays in ALARM for as long as the metric
breaches, so the kit records at most one per policy and reason until the target scales again
(:class:`Recorded`), which it works out again from the kept activities after a restart.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from cdlab.localcloud.moto.records import ScalableTarget

AT_MAX = "AlreadyAtMaxCapacity"
AT_MIN = "AlreadyAtMinCapacity"
AT_DESIRED = "AlreadyAtDesiredCapacity"
DESCRIPTION = "Attempting to scale due to alarm triggered"
TRIGGERED = " triggered policy "


def alarm_cause(alarm: str, policy_name: str) -> str:
    """The Cause of an activity an alarm started, as AWS words it."""
    return f"monitor alarm {alarm} in state ALARM{TRIGGERED}{policy_name}"


def bound_reason(scaling_out: bool, current: int, target: ScalableTarget) -> dict[str, Any] | None:
    """The NotScaledReason when the target's bound on the side asked blocks any change."""
    if scaling_out and current >= target.max_capacity:
        return {"Code": AT_MAX, "MaxCapacity": target.max_capacity}
    if not scaling_out and current <= target.min_capacity:
        return {"Code": AT_MIN, "MinCapacity": target.min_capacity}
    return None


def desired_reason(current: int) -> dict[str, Any]:
    """The NotScaledReason when the capacity computed is the current one."""
    return {"Code": AT_DESIRED, "CurrentCapacity": current}


def activity(
    resource_id: str, dimension: str, cause: str, reason: dict[str, Any]
) -> dict[str, Any]:
    """A not scaled activity, as DescribeScalingActivities lists it."""
    return {
        "ActivityId": str(uuid.uuid4()),
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource_id,
        "ScalableDimension": dimension,
        "Description": DESCRIPTION,
        "Cause": cause,
        "StartTime": time.time(),
        "StatusCode": "Failed",
        "NotScaledReasons": [reason],
    }


class Recorded:
    """Which (policy name, reason code) each target has a not scaled activity for since it last
    scaled, so an alarm that stays in ALARM records its reason once."""

    def __init__(self, newest_first: list[dict[str, Any]]) -> None:
        self.since: dict[str, set[tuple[str, str]]] = {}
        scaled: set[str] = set()
        for kept in newest_first:
            resource = kept["ResourceId"]
            if "NotScaledReasons" not in kept:
                scaled.add(resource)
            elif resource not in scaled:
                policy = kept["Cause"].split(TRIGGERED, 1)[-1]
                self.since.setdefault(resource, set()).update(
                    (policy, reason["Code"]) for reason in kept["NotScaledReasons"]
                )

    def first(self, resource_id: str, policy_name: str, code: str) -> bool:
        """Whether this is the first such reason since the target scaled; it is now recorded."""
        recorded = self.since.setdefault(resource_id, set())
        key = (policy_name, code)
        if key in recorded:
            return False
        recorded.add(key)
        return True

    def scaled(self, resource_id: str) -> None:
        """The target scales: its reasons may be recorded again."""
        self.since.pop(resource_id, None)

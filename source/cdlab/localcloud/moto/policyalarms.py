"""The alarms target tracking makes for a scaling policy, as moto keeps them: in CloudWatch, and
in the policy's own list (DescribeScalingPolicies' ``Alarms``); run by ``MotoState`` on the
backends it hands over, on moto's thread.

On AWS a target tracking policy's alarms stay as they were made, under their names, until the
policy is replaced or deleted, which deletes them
(https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html#target-tracking-considerations,
https://docs.aws.amazon.com/autoscaling/application/userguide/delete-target-tracking-policy.html).
So putting them is journaled (``MotoState.put_policy_alarms`` is replayable) and a restart brings
the same alarms back, listed by their policy; a policy that has its alarms already gets no more.
Moto deletes a policy's alarms with the policy, but a policy put again under its name is a new
one (a new ARN, no alarms): the old one's are then :func:`stale`, for their owner to delete.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moto.cloudwatch.models import Alarm, CloudWatchBackend

if TYPE_CHECKING:
    from moto.applicationautoscaling.models import (
        ApplicationAutoscalingBackend,
        FakeApplicationAutoscalingPolicy,
    )

PREFIX = "TargetTracking-"  # how target tracking names the alarms it makes
SCALING_POLICY = ":scalingPolicy:"  # in a scaling policy's ARN, an alarm's action


def find(
    autoscaling: ApplicationAutoscalingBackend, policy_arn: str
) -> FakeApplicationAutoscalingPolicy | None:
    return next((p for p in autoscaling.policies.values() if p.policy_arn == policy_arn), None)


def put(
    autoscaling: ApplicationAutoscalingBackend,
    cloudwatch: CloudWatchBackend,
    policy_arn: str,
    alarms: list[dict[str, Any]],
) -> list[str] | None:
    """Put ``alarms`` (PutMetricAlarm's parameters, moto's names) as the policy's own; their
    names, or those of the alarms it has already (nothing put), or None if it is gone."""
    policy = find(autoscaling, policy_arn)
    if policy is None:
        return None
    if not policy.alarms:
        policy.alarms.extend(cloudwatch.put_metric_alarm(**params) for params in alarms)
    return [alarm.name for alarm in policy.alarms]


def stale(autoscaling: ApplicationAutoscalingBackend, cloudwatch: CloudWatchBackend) -> list[str]:
    """The names of the alarms target tracking made that no policy has now: a replaced or
    deleted policy's."""
    owned = {alarm.name for policy in autoscaling.policies.values() for alarm in policy.alarms}
    return sorted(
        name
        for name, alarm in cloudwatch.alarms.items()
        if name not in owned and _made_by_target_tracking(alarm)
    )


def _made_by_target_tracking(alarm: Alarm) -> bool:
    """Named as target tracking names its alarms, with one action: a scaling policy's ARN."""
    actions = list(alarm.alarm_actions or [])
    return alarm.name.startswith(PREFIX) and len(actions) == 1 and SCALING_POLICY in actions[0]

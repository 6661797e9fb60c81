"""Rollback triggers: the CloudWatch alarms a stack's RollbackConfiguration names, watched while
a create or update runs and for MonitoringTimeInMinutes once its resources are in place (a
minute scaled like every CloudWatch period, ``CDLAB_TIME_SCALE``). A trigger whose alarm is in
ALARM, or does not exist, fails the operation, which rolls back; after a quiet monitoring time an
update goes on to its cleanup
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-rollback-triggers.html).

The alarms are looked at before the first resource, after each one, and all through the
monitoring time; an alarm that goes into ALARM and out again while one resource is being made is
not seen. A local cloud stopped during the monitoring time rolls the operation back at its next
start, as any operation it was running.
"""

from __future__ import annotations

import math
from typing import Any

from cdlab.localcloud.cloudwatch.metrics import period_seconds
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.sagemaker.update import bake


class RollbackTriggered(Exception):
    """A rollback trigger fails the operation; the message is the stack's status reason."""


def alarm_name(arn: str) -> str:
    """The name of the alarm an ``arn:aws:cloudwatch:<region>:<account>:alarm:<name>`` names."""
    return arn.split(":alarm:", 1)[1]


async def watch(moto: MotoState, doc: dict[str, Any], monitoring: bool = False) -> None:
    """Raise RollbackTriggered if one of the stack's rollback triggers is missing or in ALARM;
    with ``monitoring``, keep watching them for the stack's MonitoringTimeInMinutes."""
    configuration = doc.get("RollbackConfiguration") or {}
    arns = [trigger["Arn"] for trigger in configuration.get("RollbackTriggers", [])]
    names = [alarm_name(arn) for arn in arns]
    found = await moto.run(moto.alarm_states, names) if names else {}
    missing = [arn for arn, name in zip(arns, names, strict=True) if name not in found]
    if missing:
        raise RollbackTriggered(f"The rollback trigger {missing[0]} does not exist.")
    minutes = configuration.get("MonitoringTimeInMinutes", 0) if monitoring else 0
    fired = await bake(moto, minutes * period_seconds(), names, math.inf)
    if fired is not None:
        raise RollbackTriggered(f"Rollback trigger: {fired}.")

"""An alarm's state when PutMetricAlarm creates or updates it, as CloudWatch sets it.

Moto makes every new alarm ``OK`` and, when PutMetricAlarm names an alarm that exists, replaces
it whole: ``OK`` again, its history gone. CloudWatch starts a new alarm in ``INSUFFICIENT_DATA``
(reason ``Unchecked: Initial alarm creation``) and evaluates it from there; an update overwrites
the configuration and leaves the state as it was
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html;
https://docs.aws.amazon.com/autoscaling/application/userguide/cloudwatch-alarm-notifications.html
calls INSUFFICIENT_DATA "the initial state of a new alarm"). So a rollback alarm made just
before a deployment, or a target tracking alarm, is not ``OK`` before anything was measured.

Every way the kit puts an alarm (PutMetricAlarm through moto's server app, CloudFormation's
``AWS::CloudWatch::Alarm``, a target tracking policy's alarms) ends in moto's
``CloudWatchBackend.put_metric_alarm``: :func:`install` wraps it (:mod:`wrapping`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudwatch.models import Alarm, CloudWatchBackend

from cdlab.localcloud.moto.wrapping import wrap_once

INITIAL_STATE = "INSUFFICIENT_DATA"
KEPT = ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp")


def install() -> None:
    """Wrap moto's PutMetricAlarm so that alarms start and stay as CloudWatch has them."""
    wrap_once(CloudWatchBackend, "put_metric_alarm", _setting_states)


def _setting_states(put: Callable[..., Alarm]) -> Callable[..., Alarm]:
    def put_metric_alarm(backend: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
        name = kwargs["name"] if "name" in kwargs else args[0]
        before = backend.alarms.get(name)
        alarm = put(backend, *args, **kwargs)
        if before is None:
            alarm.state_value = INITIAL_STATE
        else:
            for attribute in KEPT:
                setattr(alarm, attribute, getattr(before, attribute))
        return alarm

    return put_metric_alarm

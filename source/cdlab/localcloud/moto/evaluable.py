"""The metric alarms the local evaluation evaluates, read from moto's CloudWatch backend (by
``MotoState``, on moto's thread): those on one metric's statistic, as :class:`MetricAlarm`.

Metric math, composite and percentile alarms are left out, as the evaluation does not evaluate
them. So is an alarm it cannot evaluate: one without a Period, EvaluationPeriods or Threshold
(CloudWatch refuses it, and so does the kit now, :mod:`metricrules`), or with a Statistic
CloudWatch does not have (botocore's model refuses it). A journal an older kit wrote may hold
one that moto kept then, and the kit's replay of it now fails; but read as the others, such an
alarm failed the evaluation of every alarm, each period. It is logged once (again only if it
was evaluable in between), and the other alarms are evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import MutableSet

from moto.cloudwatch.models import Alarm, CloudWatchBackend

from cdlab.localcloud.moto.records import MetricAlarm

log = logging.getLogger("cdlab.alarms")

STATISTICS = frozenset({"SampleCount", "Average", "Sum", "Minimum", "Maximum"})


def metric_alarms(cloudwatch: CloudWatchBackend, logged: MutableSet[str]) -> list[MetricAlarm]:
    """The alarms on one metric's statistic that can be evaluated; one that cannot is logged,
    unless its name is in ``logged`` (where it is added, and taken out when it can be)."""
    alarms = []
    for alarm in cloudwatch.alarms.values():
        if alarm.metric_data_queries or alarm.rule or not alarm.statistic:
            continue
        try:
            alarms.append(_record(alarm))
        except (TypeError, ValueError) as e:
            if alarm.name not in logged:
                log.warning("alarm %s is not evaluated: %s", alarm.name, e)
                logged.add(alarm.name)
            continue
        logged.discard(alarm.name)
    return alarms


def _record(alarm: Alarm) -> MetricAlarm:
    """The alarm as the evaluation reads it; ValueError (or TypeError) if it cannot be."""
    for name, value in (
        ("Period", alarm.period),
        ("EvaluationPeriods", alarm.evaluation_periods),
        ("Threshold", alarm.threshold),
    ):
        if value is None:
            raise ValueError(f"it has no {name}")
    if alarm.statistic not in STATISTICS:
        raise ValueError(f"CloudWatch has no statistic {alarm.statistic}")
    period, periods = int(alarm.period), int(alarm.evaluation_periods)
    if period < 1 or periods < 1:
        raise ValueError(f"its Period ({period}) or EvaluationPeriods ({periods}) is under 1")
    return MetricAlarm(
        name=alarm.name,
        namespace=alarm.namespace,
        metric_name=alarm.metric_name,
        dimensions={d.name: d.value for d in alarm.dimensions},
        statistic=alarm.statistic,
        comparison_operator=alarm.comparison_operator,
        period=period,
        evaluation_periods=periods,
        datapoints_to_alarm=int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm else None,
        threshold=float(alarm.threshold),
        treat_missing_data=alarm.treat_missing_data,
        state=alarm.state_value,
        unit=alarm.unit,
    )

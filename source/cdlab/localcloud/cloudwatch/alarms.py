"""CloudWatch metric alarms evaluated on the endpoints' datapoints, their state kept in moto.

Moto stores alarms (PutMetricAlarm, DescribeAlarms) but never evaluates them. After each metrics
flush this evaluates every single-metric alarm whose series the local cloud emits: the last
EvaluationPeriods periods of Period seconds (scaled like every CloudWatch period), ALARM when at
least DatapointsToAlarm of them breach, OK when none of those with data does, and missing data
treated as TreatMissingData says (default ``missing``: the state stays). The new state is set
with moto's own ``set_alarm_state``, so DescribeAlarms and its history show it.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends

from cdlab import config
from cdlab.localcloud.cloudwatch.metrics import (
    MINUTE,
    Datapoint,
    Metrics,
    period_seconds,
    series_key,
)

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


def backend() -> Any:
    return cloudwatch_backends[config.ACCOUNT_ID][config.region()]


def state(name: str) -> str | None:
    """An alarm's state (OK, ALARM, INSUFFICIENT_DATA), or None if there is no such alarm."""
    alarm = backend().alarms.get(name)
    return None if alarm is None else alarm.state_value


class AlarmEvaluator:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def evaluate(self) -> None:
        for alarm in list(backend().alarms.values()):
            if alarm.metric_data_queries or alarm.rule or alarm.comparison_operator not in WORDS:
                continue  # metric math and composite alarms are not evaluated locally
            if not alarm.statistic:
                continue
            self._evaluate(alarm)

    def _evaluate(self, alarm: Any) -> None:
        dims = {d.name: d.value for d in alarm.dimensions}
        key = series_key(alarm.namespace, alarm.metric_name, dims)
        if key not in self.metrics.history:
            return
        periods = int(alarm.evaluation_periods)
        window = int(alarm.period) / MINUTE * period_seconds()
        points = self.metrics.windows(key, periods, window)
        threshold = float(alarm.threshold)
        compare = COMPARISONS[alarm.comparison_operator]
        breaching = [
            p for p in points if p is not None and compare(p.statistic(alarm.statistic), threshold)
        ]
        missing = sum(p is None for p in points)
        treat = alarm.treat_missing_data or "missing"
        breaching_count = len(breaching) + (missing if treat == "breaching" else 0)
        needed = int(alarm.datapoints_to_alarm or periods)
        if breaching_count >= needed:
            new = "ALARM"
        elif missing == periods and treat == "missing":
            return
        else:
            new = "OK"
        if new != alarm.state_value:
            reason, data = self._reason(alarm, points, breaching, new, threshold)
            backend().set_alarm_state(alarm.name, reason, json.dumps(data), new)

    @staticmethod
    def _reason(
        alarm: Any,
        points: list[Datapoint | None],
        breaching: list[Datapoint],
        new: str,
        threshold: float,
    ) -> tuple[str, dict[str, Any]]:
        shown = breaching if new == "ALARM" else [p for p in points if p is not None]
        values = ", ".join(
            f"{p.statistic(alarm.statistic):g} "
            f"({datetime.fromtimestamp(p.timestamp, UTC):%d/%m/%y %H:%M:%S})"
            for p in shown
        )
        verb = WORDS[alarm.comparison_operator]
        negation = "" if new == "ALARM" else "not "
        reason = (
            f"Threshold Crossed: {len(shown)} datapoint(s) [{values}] "
            f"{'was' if new == 'ALARM' else 'were'} {negation}{verb} the threshold ({threshold:g})."
        )
        data = {
            "version": "1.0",
            "statistic": alarm.statistic,
            "period": int(alarm.period),
            "recentDatapoints": [p.statistic(alarm.statistic) for p in shown],
            "threshold": threshold,
        }
        return reason, data

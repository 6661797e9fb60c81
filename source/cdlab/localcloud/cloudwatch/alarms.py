"""CloudWatch metric alarms evaluated on the endpoints' datapoints, their state kept in moto.

Moto stores alarms (PutMetricAlarm, DescribeAlarms) but never evaluates them. After each metrics
flush this evaluates every single-metric alarm whose series the local cloud emits, or a client put
with PutMetricData (a notebook's own quality metric, say; only datapoints in the alarm's Unit, if
it has one), read as target tracking reads them (``Metrics.series_windows``): the last
EvaluationPeriods periods of Period seconds (scaled like every CloudWatch period), ALARM when at
least DatapointsToAlarm of them breach, OK when fewer do, and missing data treated as
TreatMissingData says: ``breaching`` and ``notBreaching`` count a missing period as such,
``missing`` (the default) and ``ignore`` leave it out, and when every period is missing the first
makes the alarm INSUFFICIENT_DATA (``Insufficient Data: 3 datapoints were unknown.``) and the
second keeps its state
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data).
A new alarm starts in INSUFFICIENT_DATA (:mod:`..moto.alarmstates`). The states set here are
journaled, the latest of each alarm only, so a restart brings every alarm back in its state. The
alarms are read
from moto and the new states set with moto's own ``set_alarm_state`` (so DescribeAlarms and its
history show them) on moto's thread, through its owner; the evaluation runs on the event loop,
which owns the datapoints.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cdlab.localcloud.cloudwatch.metrics import (
    MINUTE,
    Datapoint,
    Metrics,
    SeriesKey,
    period_seconds,
    series_key,
)
from cdlab.localcloud.moto.records import MetricAlarm
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import AWSError
from cdlab.localcloud.state.journal import Journal

log = logging.getLogger("cdlab.alarms")

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


class AlarmEvaluator:
    def __init__(self, metrics: Metrics, moto: MotoState, journal: Journal) -> None:
        self.metrics = metrics
        self.moto = moto
        self.journal = journal  # the states it sets, so that a restart brings them back
        self.written: set[SeriesKey] = set()  # series that have had datapoints since the start

    async def evaluate(self) -> None:
        for alarm in await self.moto.run(self.moto.metric_alarms):
            if alarm.comparison_operator not in WORDS:
                continue
            points = await self._points(alarm)
            change = None if points is None else self._evaluate(alarm, points)
            if change is not None:
                await self._set_state(alarm.name, change)

    async def _set_state(self, name: str, change: tuple[str, str, str]) -> None:
        """Set the alarm's new state, journaled in place of the last one this set it to, so a
        restart brings the alarm back in it, as CloudWatch keeps it (its time too); set all the
        same, and logged, if the state dir cannot keep it."""
        replacing = "alarm-state-" + hashlib.sha256(name.encode()).hexdigest()
        args = (name, *change, time.time())
        try:
            await self.journal.change(
                self.moto, MotoState.set_alarm_state, *args, replacing=replacing
            )
        except AWSError as e:
            log.warning("alarm %s: its state is not kept across a restart: %s", name, e.message)
            await self.moto.run(self.moto.set_alarm_state, *args)

    async def _points(self, alarm: MetricAlarm) -> list[Datapoint | None] | None:
        """The alarm's evaluation windows, newest first: on a series the local cloud emits, from
        its history; else on what clients put (PutMetricData) in the alarm's Unit, if it has
        one; None for a series nobody wrote since the local cloud started (its state stays, as
        on a metric that does not exist)."""
        window = alarm.period / MINUTE * period_seconds()
        key = series_key(alarm.namespace, alarm.metric_name, alarm.dimensions)
        points, found = await self.metrics.series_windows(
            key, alarm.evaluation_periods, window, alarm.unit
        )
        if found:
            self.written.add(key)
        elif key not in self.written:
            return None
        return points

    def _evaluate(
        self, alarm: MetricAlarm, points: list[Datapoint | None]
    ) -> tuple[str, str, str] | None:
        """The alarm's new (reason, reason data, state), or None if its state stays."""
        periods = alarm.evaluation_periods
        threshold = alarm.threshold
        compare = COMPARISONS[alarm.comparison_operator]
        breaching = [
            p for p in points if p is not None and compare(p.statistic(alarm.statistic), threshold)
        ]
        missing = sum(p is None for p in points)
        treat = alarm.treat_missing_data or "missing"
        breaching_count = len(breaching) + (missing if treat == "breaching" else 0)
        needed = alarm.datapoints_to_alarm or periods
        if breaching_count >= needed:
            new = "ALARM"
        elif missing == periods and treat == "ignore":
            return None
        elif missing == periods and treat == "missing":
            new = "INSUFFICIENT_DATA"
        else:
            new = "OK"
        if new == alarm.state:
            return None
        reason, data = self._reason(alarm, points, breaching, new, threshold)
        return reason, json.dumps(data), new

    @staticmethod
    def _reason(
        alarm: MetricAlarm,
        points: list[Datapoint | None],
        breaching: list[Datapoint],
        new: str,
        threshold: float,
    ) -> tuple[str, dict[str, Any]]:
        shown = breaching if new == "ALARM" else [p for p in points if p is not None]
        data = {
            "version": "1.0",
            "statistic": alarm.statistic,
            "period": alarm.period,
            "recentDatapoints": [p.statistic(alarm.statistic) for p in shown],
            "threshold": threshold,
        }
        if new == "INSUFFICIENT_DATA":
            unknown = len(points)
            were = "datapoint was" if unknown == 1 else "datapoints were"
            return f"Insufficient Data: {unknown} {were} unknown.", data
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
        return reason, data

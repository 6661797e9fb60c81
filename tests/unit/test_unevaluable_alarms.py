"""An alarm the local evaluation cannot evaluate (no Period, no Threshold: CloudWatch refuses it,
and so does the kit now, but moto kept it for an older kit, whose journal may hold it) is left
out and logged once; the other alarms are evaluated, where each evaluation failed on it before."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time

import pytest
from moto.cloudwatch.models import CloudWatchBackend

from cdlab.localcloud.cloudwatch.alarms import AlarmEvaluator
from cdlab.localcloud.cloudwatch.metrics import Metrics
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.journal import Journal
from cdlab.localcloud.state.store import Store

ALARM = {
    "namespace": "CDLab/Notebooks", "metric_name": "MatchRate", "statistic": "Average",
    "comparison_operator": "LessThanThreshold", "evaluation_periods": 1, "period": 60,
    "threshold": 0.8, "description": None, "dimensions": [], "alarm_actions": [],
}  # fmt: skip


def kept_as_moto_kept_it(moto: MotoState, name: str, **changes: object) -> None:
    """Put an alarm with moto's own PutMetricAlarm, unchecked, as an older kit let moto keep
    it (and as its journal's replay once made it)."""
    unchecked = inspect.unwrap(CloudWatchBackend.put_metric_alarm)
    moto.call(lambda: unchecked(moto.cloudwatch_backend(), **{**ALARM, "name": name, **changes}))


def test_an_alarm_without_period_or_threshold_is_skipped_and_logged_once(
    moto: MotoState, moto_client, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    kept_as_moto_kept_it(moto, "unevaluable-no-period", period=None)
    kept_as_moto_kept_it(moto, "unevaluable-no-threshold", threshold=None)
    cloudwatch = moto_client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="unevaluable-quality", Namespace="CDLab/Notebooks", MetricName="MatchRate",
        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=0.8,
        ComparisonOperator="LessThanThreshold",
    )  # fmt: skip
    cloudwatch.put_metric_data(
        Namespace="CDLab/Notebooks", MetricData=[{"MetricName": "MatchRate", "Value": 0.5}]
    )
    metrics = Metrics(moto)
    evaluator = AlarmEvaluator(metrics, moto, Journal(Store(tmp_path / "state.db")))
    with caplog.at_level(logging.WARNING, logger="cdlab.alarms"):
        for _ in range(2):
            metrics.last_flush = time.time() + 0.01
            asyncio.run(evaluator.evaluate())
    states = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert states["unevaluable-quality"] == "ALARM"
    assert [r.getMessage() for r in caplog.records if "unevaluable-" in r.getMessage()] == [
        "alarm unevaluable-no-period is not evaluated: it has no Period",
        "alarm unevaluable-no-threshold is not evaluated: it has no Threshold",
    ]  # once each, not every period
    # moto's backends are the process's: other tests' alarms may be there too
    evaluated = {a.name for a in moto.metric_alarms() if a.name.startswith("unevaluable-")}
    assert evaluated == {"unevaluable-quality"}

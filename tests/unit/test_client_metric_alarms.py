"""Alarms on a metric a client puts (PutMetricData), evaluated like the local cloud's own series:
notebook 07's match-rate alarm rolls back a canary that answers, but badly."""

from __future__ import annotations

import asyncio
import time

import pytest

from cdlab.localcloud.cloudwatch.alarms import AlarmEvaluator
from cdlab.localcloud.cloudwatch.metrics import Metrics
from cdlab.localcloud.moto.state import MotoState

DIMENSIONS = [{"Name": "EndpointName", "Value": "shop"}]


def alarm_on(cloudwatch, name: str, metric: str, treat: str = "notBreaching") -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="CDLab/Notebooks", MetricName=metric, Dimensions=DIMENSIONS,
        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=0.8,
        ComparisonOperator="LessThanThreshold", TreatMissingData=treat,
    )  # fmt: skip


def put(cloudwatch, metric: str, *values: float) -> None:
    data = [{"MetricName": metric, "Dimensions": DIMENSIONS, "Value": v} for v in values]
    cloudwatch.put_metric_data(Namespace="CDLab/Notebooks", MetricData=data)


def state(cloudwatch, name: str) -> str:
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


@pytest.fixture
def evaluate(monkeypatch: pytest.MonkeyPatch, moto: MotoState):
    """One evaluation as after a flush that ends now (a CloudWatch minute is a second at 60)."""
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    metrics = Metrics(moto)
    evaluator = AlarmEvaluator(metrics, moto)

    def run() -> None:
        metrics.last_flush = time.time() + 0.01
        asyncio.run(evaluator.evaluate())

    return run


def test_a_low_average_puts_the_alarm_in_alarm_and_a_good_minute_back_to_ok(
    moto_client, evaluate
) -> None:
    cloudwatch = moto_client("cloudwatch")
    alarm_on(cloudwatch, "match-rate", "MatchRate")
    put(cloudwatch, "MatchRate", 0.9, 0.5, 0.6)  # a canary's bad answers pull the average down
    evaluate()
    assert state(cloudwatch, "match-rate") == "ALARM"
    time.sleep(1.1)  # the next minute
    put(cloudwatch, "MatchRate", 0.9, 0.85)
    evaluate()
    assert state(cloudwatch, "match-rate") == "OK"


def test_a_quiet_minute_after_data_is_missing_data_as_the_alarm_treats_it(
    moto_client, evaluate
) -> None:
    cloudwatch = moto_client("cloudwatch")
    alarm_on(cloudwatch, "match-rate", "MatchRate")
    put(cloudwatch, "MatchRate", 0.1)
    evaluate()
    assert state(cloudwatch, "match-rate") == "ALARM"
    time.sleep(1.1)
    evaluate()
    assert state(cloudwatch, "match-rate") == "OK"  # notBreaching


def test_an_alarm_on_a_series_nobody_wrote_keeps_its_state(moto_client, evaluate) -> None:
    cloudwatch = moto_client("cloudwatch")
    alarm_on(cloudwatch, "never", "NoSuchMetric")
    cloudwatch.set_alarm_state(AlarmName="never", StateValue="ALARM", StateReason="set by hand")
    put(cloudwatch, "MatchRate", 0.9)  # another series
    evaluate()
    assert state(cloudwatch, "never") == "ALARM"


def test_an_alarm_with_a_unit_reads_only_the_datapoints_put_in_it(moto_client, evaluate) -> None:
    """As GetMetricStatistics with a Unit: data put in another unit (or in none) is not read."""
    cloudwatch = moto_client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="backlog", Namespace="CDLab/Notebooks", MetricName="Backlog",
        Dimensions=DIMENSIONS, Statistic="Average", Unit="Count", Period=60,
        EvaluationPeriods=1, Threshold=10, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    before = state(cloudwatch, "backlog")  # moto's first state
    high = {"MetricName": "Backlog", "Dimensions": DIMENSIONS, "Value": 100.0}
    cloudwatch.put_metric_data(Namespace="CDLab/Notebooks", MetricData=[high])  # no unit
    cloudwatch.put_metric_data(
        Namespace="CDLab/Notebooks", MetricData=[{**high, "Unit": "Percent"}]
    )
    evaluate()
    assert state(cloudwatch, "backlog") == before != "ALARM"
    cloudwatch.put_metric_data(Namespace="CDLab/Notebooks", MetricData=[{**high, "Unit": "Count"}])
    evaluate()
    assert state(cloudwatch, "backlog") == "ALARM"


def test_every_period_missing_is_insufficient_data_unless_missing_data_is_ignored(
    moto_client, evaluate
) -> None:
    cloudwatch = moto_client("cloudwatch")
    alarm_on(cloudwatch, "missing", "Gaps", treat="missing")
    alarm_on(cloudwatch, "ignored", "Gaps", treat="ignore")
    put(cloudwatch, "Gaps", 0.5)  # breaching: under the threshold of 0.8
    evaluate()
    assert state(cloudwatch, "missing") == state(cloudwatch, "ignored") == "ALARM"
    time.sleep(1.1)  # the next minute, with nothing put
    evaluate()
    alarm = cloudwatch.describe_alarms(AlarmNames=["missing"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Insufficient Data: 1 datapoint was unknown."
    assert state(cloudwatch, "ignored") == "ALARM"

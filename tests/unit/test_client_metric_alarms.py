"""Alarms on a metric a client puts (PutMetricData), evaluated like the local cloud's own series:
notebook 07's match-rate alarm rolls back a canary that answers, but badly."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cdlab.localcloud.cloudwatch.alarms import AlarmEvaluator
from cdlab.localcloud.cloudwatch.metrics import Metrics
from cdlab.localcloud.moto.bridge import MotoBridge
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.journal import KIND, Journal
from cdlab.localcloud.state.store import Store

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
def journal(tmp_path: Path) -> Journal:
    return Journal(Store(tmp_path / "state.db"))


@pytest.fixture
def evaluate(monkeypatch: pytest.MonkeyPatch, moto: MotoState, journal: Journal):
    """One evaluation as after a flush that ends now (a CloudWatch minute is a second at 60)."""
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    metrics = Metrics(moto)
    evaluator = AlarmEvaluator(metrics, moto, journal)

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


def test_the_states_it_sets_come_back_from_the_journal_the_latest_only(
    moto: MotoState, moto_client, evaluate, journal: Journal
) -> None:
    """As after a restart: the alarm is made again from the journal, then put back in the
    state the evaluator last set, which took the place of the one before it."""
    cloudwatch = moto_client("cloudwatch")
    alarm = {
        "name": "kept-across", "namespace": "CDLab/Notebooks", "metric_name": "Kept",
        "dimensions": DIMENSIONS, "statistic": "Average", "period": 60, "evaluation_periods": 1,
        "threshold": 0.8, "comparison_operator": "LessThanThreshold", "description": "",
        "alarm_actions": [], "treat_missing_data": "notBreaching",
    }  # fmt: skip
    moto.call(journal.call, moto, MotoState.put_metric_alarm, (), alarm)
    put(cloudwatch, "Kept", 0.5)
    evaluate()
    assert state(cloudwatch, "kept-across") == "ALARM"
    time.sleep(1.1)  # the next minute
    put(cloudwatch, "Kept", 0.9)
    evaluate()
    before = cloudwatch.describe_alarms(AlarmNames=["kept-across"])["MetricAlarms"][0]
    assert before["StateValue"] == "OK"
    assert len(journal.store.all(KIND)) == 2  # the alarm, and its latest state

    moto.call(moto.delete_alarms, ["kept-across"])  # what a restart loses
    assert journal.replay(MotoBridge(moto)) == 2
    after = cloudwatch.describe_alarms(AlarmNames=["kept-across"])["MetricAlarms"][0]
    assert (after["StateValue"], after["StateReason"]) == ("OK", before["StateReason"])
    assert after["StateUpdatedTimestamp"] == before["StateUpdatedTimestamp"]  # not the replay's

"""An alarm's state as PutMetricAlarm leaves it: INSUFFICIENT_DATA when new, unchanged when
updated (moto makes both OK)."""

from __future__ import annotations

from typing import Any

ALARM = {
    "AlarmName": "new-errors", "Namespace": "AWS/SageMaker", "MetricName": "Invocation5XXErrors",
    "Dimensions": [{"Name": "EndpointName", "Value": "shop"}], "Statistic": "Sum",
    "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
}  # fmt: skip


def described(cloudwatch: Any, name: str) -> dict[str, Any]:
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def test_a_new_alarm_is_insufficient_data_until_evaluated(moto_client) -> None:
    cloudwatch = moto_client("cloudwatch")
    cloudwatch.put_metric_alarm(**ALARM)
    alarm = described(cloudwatch, "new-errors")
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert "new-errors" not in [
        a["AlarmName"] for a in cloudwatch.describe_alarms(StateValue="OK")["MetricAlarms"]
    ]


def test_an_update_changes_the_configuration_and_keeps_the_state(moto_client) -> None:
    cloudwatch = moto_client("cloudwatch")
    cloudwatch.put_metric_alarm(**ALARM | {"AlarmName": "kept-state"})
    cloudwatch.set_alarm_state(
        AlarmName="kept-state", StateValue="ALARM", StateReason="five errors"
    )
    before = described(cloudwatch, "kept-state")
    cloudwatch.put_metric_alarm(**ALARM | {"AlarmName": "kept-state", "Threshold": 5})
    after = described(cloudwatch, "kept-state")
    assert after["Threshold"] == 5
    assert (after["StateValue"], after["StateReason"]) == ("ALARM", "five errors")
    assert after["StateUpdatedTimestamp"] == before["StateUpdatedTimestamp"]

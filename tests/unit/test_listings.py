"""DescribeAlarms' AlarmTypes as the bridge serves it, in-process: composite alarms only when
AlarmTypes names them, metric alarms only when it names them or names nothing, both kinds in one
name order across the pages (:mod:`cdlab.localcloud.moto.listings`). A composite alarm is put
into moto's backend directly: moto's wire API has no PutCompositeAlarm."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from cdlab.localcloud.moto.state import MotoState

PREFIX = f"listings-{uuid.uuid4().hex[:8]}-"  # moto's backends outlive a test
METRIC = [f"{PREFIX}a", f"{PREFIX}c"]
COMPOSITE = [f"{PREFIX}b", f"{PREFIX}d"]


@pytest.fixture
def cloudwatch(moto: MotoState, moto_client: Callable[[str], Any]) -> Any:
    made = moto_client("cloudwatch")
    for name in METRIC:
        made.put_metric_alarm(
            AlarmName=name, Namespace="ns", MetricName="m", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    for name in COMPOSITE:
        moto.put_metric_alarm(
            name=name, namespace=None, metric_name=None, comparison_operator=None,
            evaluation_periods=None, period=None, threshold=None, statistic=None,
            description=None, dimensions=[], alarm_actions=[], rule=f'ALARM("{METRIC[0]}")',
        )  # fmt: skip
    return made


def names(page: dict[str, Any]) -> dict[str, list[str]]:
    return {
        kind: [alarm["AlarmName"] for alarm in page.get(kind, [])]
        for kind in ("MetricAlarms", "CompositeAlarms")
    }


def test_without_alarm_types_only_metric_alarms_are_described(cloudwatch: Any) -> None:
    page = cloudwatch.describe_alarms(AlarmNamePrefix=PREFIX)
    assert names(page) == {"MetricAlarms": METRIC, "CompositeAlarms": []}
    asked = cloudwatch.describe_alarms(AlarmNamePrefix=PREFIX, AlarmTypes=["MetricAlarm"])
    assert names(asked) == names(page)


def test_composite_alarm_types_leave_the_metric_alarms_out(cloudwatch: Any) -> None:
    page = cloudwatch.describe_alarms(AlarmNamePrefix=PREFIX, AlarmTypes=["CompositeAlarm"])
    assert names(page) == {"MetricAlarms": [], "CompositeAlarms": COMPOSITE}
    assert page["CompositeAlarms"][0]["AlarmRule"] == f'ALARM("{METRIC[0]}")'


def test_both_types_page_together_in_name_order(cloudwatch: Any) -> None:
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=PREFIX,
        AlarmTypes=["MetricAlarm", "CompositeAlarm", "MetricAlarm"],
        PaginationConfig={"PageSize": 3},
    )
    seen = [names(page) for page in pages]
    assert seen == [
        {"MetricAlarms": [METRIC[0], METRIC[1]], "CompositeAlarms": [COMPOSITE[0]]},
        {"MetricAlarms": [], "CompositeAlarms": [COMPOSITE[1]]},
    ]

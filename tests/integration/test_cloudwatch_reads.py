"""CloudWatch's metric reads as AWS answers them, where moto answered more kindly, over each
protocol a botocore client speaks to CloudWatch (:mod:`cdlab.localcloud.moto.metricreads`):
GetMetricStatistics of exactly the dimensions asked, on CloudWatch's grid, at most 1,440
datapoints, with its percentiles; GetMetricData's query rules and statistics; ListMetrics, each
metric once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests import protocols
from tests.aws_errors import refused

PROTOCOLS = ["json", "query", "smithy-rpc-v2-cbor"]
DIMENSIONS = [{"Name": "EndpointName", "Value": "shop"}, {"Name": "VariantName", "Value": "blue"}]
LATENCY = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 10.0]  # one minute's values


@pytest.fixture(scope="module")
def speaking(tmp_path_factory: pytest.TempPathFactory, aws_env) -> Callable[..., Any]:
    """``speaking(protocol)``: a CloudWatch client of the local cloud that speaks ``protocol``."""
    root = tmp_path_factory.mktemp("models")
    return lambda protocol: protocols.speaking("cloudwatch", protocol, root / protocol)


@pytest.fixture
def minute() -> datetime:
    """The start of a whole minute three minutes ago: the datapoints go in it."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)


def put(cloudwatch: Any, minute: datetime) -> str:
    """A namespace of the test's own, holding, in ``minute``: Latency (LATENCY, the variant's
    two dimensions, written in the other order), Latency of the same endpoint's other variant,
    Latency without dimensions (one value), and Load (a statistic set of unequal values)."""
    namespace = f"CDLab/Reads/{uuid.uuid4().hex[:8]}"
    at = minute + timedelta(seconds=15)
    data = [
        {"MetricName": "Latency", "Dimensions": DIMENSIONS[::-1], "Values": LATENCY},
        {"MetricName": "Latency", "Dimensions": [DIMENSIONS[0], {**DIMENSIONS[1], "Value": "x"}],
         "Value": 100.0},
        {"MetricName": "Latency", "Value": 1000.0},
        {"MetricName": "Load", "Dimensions": DIMENSIONS,
         "StatisticValues": {"SampleCount": 2, "Sum": 3.0, "Minimum": 1.0, "Maximum": 2.0}},
    ]  # fmt: skip
    cloudwatch.put_metric_data(
        Namespace=namespace, MetricData=[{**d, "Timestamp": at, "Unit": "Count"} for d in data]
    )
    cloudwatch.put_metric_data(  # the same metrics again, 20 s on: the same minute's period
        Namespace=namespace,
        MetricData=[{**d, "Timestamp": at + timedelta(seconds=20)} for d in data[:3]],
    )
    return namespace


def window(minute: datetime, **changes: Any) -> dict[str, Any]:
    """GetMetricStatistics' time range around ``minute``, StartTime mid-minute (rounded down)."""
    return {
        "StartTime": minute - timedelta(seconds=30),
        "EndTime": minute + timedelta(minutes=2),
        "Period": 60,
        **changes,
    }


def sums(cloudwatch: Any, namespace: str, dimensions: list[dict[str, str]], minute) -> list:
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName="Latency", Dimensions=dimensions,
        Statistics=["Sum", "SampleCount"], **window(minute),
    )["Datapoints"]  # fmt: skip
    return [(p["Timestamp"], p["SampleCount"], p["Sum"]) for p in points]


def test_get_metric_statistics_reads_the_metric_of_exactly_the_dimensions_asked(
    client, minute: datetime
) -> None:
    """GetMetricStatistics: "You must specify the same dimensions that were used when the
    metrics were created"
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html):
    one of two dimensions reads nothing (moto summed both variants), none reads the metric put
    without dimensions, and the order they are given in does not matter. The period starts on
    the whole minute, StartTime rounded down ("Start time less than 15 days ago - Round down to
    the nearest whole minute"), not at the first datapoint, as moto had it."""
    cloudwatch = client("cloudwatch")
    namespace = put(cloudwatch, minute)
    variant = sum(LATENCY) * 2
    assert sums(cloudwatch, namespace, DIMENSIONS, minute) == [(minute, 20.0, variant)]
    assert sums(cloudwatch, namespace, DIMENSIONS[::-1], minute) == [(minute, 20.0, variant)]
    assert sums(cloudwatch, namespace, DIMENSIONS[:1], minute) == []
    assert sums(cloudwatch, namespace, [], minute) == [(minute, 2.0, 2000.0)]


def test_get_metric_data_reads_the_metric_of_exactly_the_dimensions_asked(
    client, minute: datetime
) -> None:
    """The same metric in GetMetricData: moto matched a query with dimensions in any namespace,
    and one without to every metric of the name. A query of ReturnData false is not answered,
    and moto's metric math (an Expression naming another query) still is."""
    cloudwatch = client("cloudwatch")
    namespace = put(cloudwatch, minute)

    def query(id_: str, namespace: str, dimensions: list[dict[str, str]]) -> dict[str, Any]:
        metric = {"Namespace": namespace, "MetricName": "Latency", "Dimensions": dimensions}
        return {"Id": id_, "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}

    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            query("variant", namespace, DIMENSIONS[::-1]),
            query("elsewhere", f"{namespace}/other", DIMENSIONS),
            query("none", namespace, []),
            query("some", namespace, DIMENSIONS[:1]),
            {**query("hidden", namespace, DIMENSIONS), "ReturnData": False},
            {"Id": "shown", "Expression": "hidden"},  # moto's metric math: another query's Id
        ],
        StartTime=minute - timedelta(seconds=30),
        EndTime=minute + timedelta(minutes=2),
    )["MetricDataResults"]
    assert [(r["Id"], r["Timestamps"], r["Values"]) for r in answer] == [
        ("variant", [minute], [sum(LATENCY) * 2]),
        ("elsewhere", [], []),
        ("none", [minute], [2000.0]),
        ("some", [], []),
        ("shown", [minute], [sum(LATENCY) * 2]),
    ]


def test_list_metrics_lists_each_metric_once(client, minute: datetime) -> None:
    """ListMetrics: "List the specified metrics"
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html):
    one entry a metric, whatever its datapoints; moto listed a metric without dimensions, or
    with two, once a datapoint."""
    cloudwatch = client("cloudwatch")
    namespace = put(cloudwatch, minute)
    listed = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert sorted(
        (m["MetricName"], sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed
    ) == [
        ("Latency", []),
        ("Latency", [("EndpointName", "shop"), ("VariantName", "blue")]),
        ("Latency", [("EndpointName", "shop"), ("VariantName", "x")]),
        ("Load", [("EndpointName", "shop"), ("VariantName", "blue")]),
    ]
    by_variant = cloudwatch.list_metrics(
        Namespace=namespace, Dimensions=[{"Name": "VariantName", "Value": "blue"}]
    )["Metrics"]
    assert sorted(m["MetricName"] for m in by_variant) == ["Latency", "Load"]


def test_get_metric_statistics_over_1440_datapoints_is_refused(client, minute: datetime) -> None:
    """GetMetricStatistics: "If you request more than 1,440 data points, CloudWatch returns an
    error"
    (API_GetMetricStatistics.html), in the words
    https://github.com/cloud-custodian/cloud-custodian/issues/7683 quotes: a day at a Period
    of 1 is 86,400."""
    cloudwatch = client("cloudwatch")
    namespace = put(cloudwatch, minute)
    ask = {"Namespace": namespace, "MetricName": "Latency", "Dimensions": DIMENSIONS}
    start = minute - timedelta(days=1)
    assert refused(
        cloudwatch.get_metric_statistics, **ask, Statistics=["Sum"],
        StartTime=start, EndTime=minute, Period=1,
    ) == (
        "InvalidParameterCombination",
        "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may "
        "reduce the datapoints requested by increasing Period, or decreasing the time range.",
        400,
    )  # fmt: skip
    kept = cloudwatch.get_metric_statistics(  # 1,440 exactly
        **ask, Statistics=["Sum"], StartTime=start + timedelta(minutes=2),
        EndTime=minute + timedelta(minutes=2), Period=60,
    )["Datapoints"]  # fmt: skip
    assert [p["Sum"] for p in kept] == [sum(LATENCY) * 2]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_get_metric_statistics_answers_percentiles_and_refuses_what_cloudwatch_does(
    speaking, protocol: str, minute: datetime
) -> None:
    """ExtendedStatistics: "The percentile statistics. Specify values between p0.0 and p100 ...
    you must specify either Statistics or ExtendedStatistics, but not both"
    (API_GetMetricStatistics.html). Moto answered datapoints without them, and took any value
    and both. The percentiles are computed from the values put (by nearest rank); of a statistic
    set of unequal values ("CloudWatch needs raw data points to calculate percentile
    statistics") the local cloud refuses them in its own words."""
    cloudwatch = speaking(protocol)
    namespace = put(cloudwatch, minute)
    ask = {"Namespace": namespace, "MetricName": "Latency", "Dimensions": DIMENSIONS}
    points = cloudwatch.get_metric_statistics(
        **ask, ExtendedStatistics=["p0", "p50", "p90", "p99.5", "p100"], **window(minute)
    )["Datapoints"]
    assert [(p["Timestamp"], p["ExtendedStatistics"]) for p in points] == [
        (minute, {"p0": 1.0, "p50": 5.0, "p90": 9.0, "p99.5": 10.0, "p100": 10.0})
    ]
    assert refused(
        cloudwatch.get_metric_statistics, **ask, ExtendedStatistics=["p50", "p100.5"],
        **window(minute),
    ) == (
        "InvalidParameterValue",
        "The value p100.5 for parameter ExtendedStatistics.member.2 is not a valid statistic.",
        400,
    )  # fmt: skip
    assert refused(
        cloudwatch.get_metric_statistics, **ask, Statistics=["Sum"], ExtendedStatistics=["p99"],
        **window(minute),
    ) == (
        "InvalidParameterCombination",
        "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have "
        "specified both.",
        400,
    )  # fmt: skip
    assert refused(
        cloudwatch.get_metric_statistics, **{**ask, "MetricName": "Load"},
        ExtendedStatistics=["p99"], **window(minute),
    ) == (
        "InvalidParameterCombination",
        f"The local cloud cannot compute p99 of {namespace} Load: it holds datapoints of it as "
        "statistic sets, and CloudWatch computes a percentile of a statistic set only if its "
        "SampleCount is 1 or its Minimum equals its Maximum.",
        400,
    )  # fmt: skip


def data_query(id_: str, namespace: str, stat: str = "Sum", **more: Any) -> dict[str, Any]:
    metric = {"Namespace": namespace, "MetricName": "Latency", "Dimensions": DIMENSIONS}
    return {"Id": id_, "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}, **more}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_get_metric_data_refuses_what_cloudwatch_does(
    speaking, protocol: str, minute: datetime
) -> None:
    """A query's Id "must be unique ... The first character must be a lowercase letter"
    (API_MetricDataQuery.html), a query names Expression or MetricStat "but not both", a Stat is
    a statistic, at most 500 queries (API_GetMetricData.html): ValidationError, in the words
    CloudWatch's users quote (telegraf#5420, quota-monitor-for-aws#171,
    yet-another-cloudwatch-exporter#385). Moto took them all, and failed (HTTP 500) on a Stat
    that is no statistic."""
    cloudwatch = speaking(protocol)
    namespace = put(cloudwatch, minute)
    times = {"StartTime": minute - timedelta(minutes=1), "EndTime": minute + timedelta(minutes=2)}

    def refusal(*queries: dict[str, Any]) -> tuple[str, str, int]:
        return refused(cloudwatch.get_metric_data, MetricDataQueries=list(queries), **times)

    pattern = "is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$."
    assert refusal(
        data_query("Upper", namespace), data_query("ok", namespace, "Total"),
        data_query("9lives", namespace),
    ) == (
        "ValidationError",
        f"The value Upper for parameter MetricDataQueries.member.1.Id {pattern}\n"
        "The value Total for parameter MetricDataQueries.member.2.MetricStat.Stat is not a "
        "valid statistic.\n"
        f"The value 9lives for parameter MetricDataQueries.member.3.Id {pattern}",
        400,
    )  # fmt: skip
    assert refusal(data_query("a", namespace), data_query("a", namespace, "Maximum")) == (
        "ValidationError",
        "The values for parameter id in MetricDataQueries are not unique.",
        400,
    )
    assert refusal(data_query("a", namespace, Expression="b"), data_query("b", namespace)) == (
        "ValidationError",
        "The parameters MetricDataQuery Expression and MetricStat are mutually exclusive and you "
        "have specified both.",
        400,
    )
    many = [data_query(f"q{i}", namespace) for i in range(501)]
    code, message, status = refusal(*many)
    assert (code, status) == ("ValidationError", 400)
    assert message.endswith(
        "at 'metricDataQueries' failed to satisfy constraint: Member must have length less than "
        "or equal to 500"
    )
    answered = cloudwatch.get_metric_data(MetricDataQueries=many[:500], **times)
    assert len(answered["MetricDataResults"]) == 500


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_get_metric_data_answers_percentiles(speaking, protocol: str, minute: datetime) -> None:
    """A Stat is "any CloudWatch statistic or extended statistic" (API_MetricStat.html): a
    percentile is computed from the values put (moto failed on it, HTTP 500); the other extended
    statistics (tm90 ...) are refused in the local cloud's words, as is a percentile of a
    statistic set of unequal values."""
    cloudwatch = speaking(protocol)
    namespace = put(cloudwatch, minute)
    times = {"StartTime": minute - timedelta(minutes=1), "EndTime": minute + timedelta(minutes=2)}
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[data_query("p", namespace, "p90"), data_query("m", namespace, "Sum")],
        **times,
    )["MetricDataResults"]
    assert [(r["Id"], r["Values"]) for r in answer] == [
        ("p", [9.0]),
        ("m", [sum(LATENCY) * 2]),
    ]
    assert refused(
        cloudwatch.get_metric_data, MetricDataQueries=[data_query("t", namespace, "tm90")], **times
    ) == (
        "InvalidParameterCombination",
        "The local cloud does not compute the statistic tm90: it computes SampleCount, Average, "
        "Sum, Minimum, Maximum and percentiles (p0 to p100).",
        400,
    )
    load = data_query("l", namespace, "p50")
    load["MetricStat"]["Metric"]["MetricName"] = "Load"
    code, message, _ = refused(cloudwatch.get_metric_data, MetricDataQueries=[load], **times)
    assert (code, message.partition(":")[0]) == (
        "InvalidParameterCombination",
        f"The local cloud cannot compute p50 of {namespace} Load",
    )

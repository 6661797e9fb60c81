"""CloudWatch's metric reads where moto answers more kindly than AWS: GetMetricStatistics,
GetMetricData and ListMetrics, corrected by wrapping moto's backend and response methods
(:mod:`wrapping`), so the API and the kit's own in-process reads (the console's charts) agree.

GetMetricStatistics
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html):

- the metric of exactly the dimensions asked ("You must specify the same dimensions that were
  used when the metrics were created", :func:`.metricdata.series_of`); moto answered any metric
  holding them, so one dimension of two summed every variant;
- "The maximum number of data points returned from a single call is 1,440. If you request more
  than 1,440 data points, CloudWatch returns an error": ``InvalidParameterCombination``, "You
  have requested up to 86400 datapoints, which exceeds the limit of 1440. You may reduce the
  datapoints requested by increasing Period, or decreasing the time range." (as
  https://github.com/cloud-custodian/cloud-custodian/issues/7683 quotes it: one day at a Period
  of 1, so the count is the time range over the Period, StartTime not rounded);
- StartTime rounded down, so the periods sit on CloudWatch's grid ("Start time less than 15 days
  ago - Round down to the nearest whole minute", 5 minutes up to 63 days, an hour beyond; "If you
  set Period to 5, 10, 20, or 30, the start time of your request is rounded down to the nearest
  time that corresponds to even 5-, 10-, 20-, or 30-second divisions of a minute", a Period of 1
  to the second, the kit's reading); moto's periods began at the first datapoint found. The same
  rounding is documented for GetMetricData's StartTime
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html);
- ``ExtendedStatistics``, which moto ignored: each datapoint's percentiles (:mod:`metricstats`);
  a value other than a percentile p0 to p100 refused (``InvalidParameterValue``, the kit's words
  in the form GetMetricData's are quoted below); both it and ``Statistics``: "you must specify
  either Statistics or ExtendedStatistics, but not both" (``InvalidParameterCombination``, in the
  form CloudWatch words two exclusive parameters of PutMetricData, "The parameters
  MetricData.member.4.Value and MetricData.member.4.StatisticValues are mutually exclusive and
  you have specified both.", https://github.com/AdRoll/goamz/issues/355).

GetMetricData: its queries' ``Id`` "must be unique within a single call to GetMetricData ...
The first character must be a lowercase letter" (API_MetricDataQuery.html), each names
"either Expression or MetricStat but not both", and ``Stat`` is "any CloudWatch statistic or
extended statistic" (API_MetricStat.html); CloudWatch refuses them with ``ValidationError``, in
the words its users quote: "The value 5xx_error_FooBar_average for parameter
MetricDataQueries.member.1.Id is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$." (one
line a query, https://github.com/influxdata/telegraf/issues/5420), "The values for parameter id
in MetricDataQueries are not unique."
(https://github.com/aws-solutions/quota-monitor-for-aws/issues/171), "The value None for
parameter MetricDataQueries.member.223.MetricStat.Stat is not a valid statistic."
(https://github.com/prometheus-community/yet-another-cloudwatch-exporter/issues/385); both
Expression and MetricStat in PutMetricAlarm's words for its MetricDataQuery, "The parameters
MetricDataQuery Expression and MetricStat are mutually exclusive and you have specified both."
(https://github.com/boto/boto3/issues/3856). At most 500 queries: ``DOCUMENTED_LIMITS``
(:mod:`..protocols.awsjson`). Moto matched a query with dimensions in any namespace and one
without dimensions to every metric of its name, and failed (HTTP 500) on a percentile or a
name that is no statistic; its MetricStat queries are answered here (its metric math, an
Expression that is another query's Id, and its Metrics Insights queries are moto's still).

ListMetrics: "List the specified metrics"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html), each
once; moto listed a metric once a datapoint when it had no dimension or two and more.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.exceptions import (
    InvalidParameterCombination,
    InvalidParameterValue,
    ValidationError,
)
from moto.cloudwatch.metric_data_expression_parser import parse_expression
from moto.cloudwatch.models import CloudWatchBackend, MetricDatumBase, Statistics
from moto.cloudwatch.responses import CloudWatchResponse

from cdlab.localcloud.moto import metricstats
from cdlab.localcloud.moto.metricdata import Series, epoch, in_unit, series, series_of
from cdlab.localcloud.moto.wrapping import wrap_once

MAX_DATAPOINTS = 1440
TOO_MANY = (
    "You have requested up to {} datapoints, which exceeds the limit of 1440. You may reduce the "
    "datapoints requested by increasing Period, or decreasing the time range."
)
BOTH_STATISTICS = (
    "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have "
    "specified both."
)
NOT_A_PERCENTILE = (
    "The value {} for parameter ExtendedStatistics.member.{} is not a valid statistic."
)
METRIC_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")
BAD_ID = (
    "The value {} for parameter MetricDataQueries.member.{}.Id is not matching the expected "
    "pattern ^[a-z][a-zA-Z0-9_]*$."
)
BAD_STAT = (
    "The value {} for parameter MetricDataQueries.member.{}.MetricStat.Stat is not a valid "
    "statistic."
)
NOT_UNIQUE = "The values for parameter id in MetricDataQueries are not unique."
BOTH_QUERIES = (
    "The parameters MetricDataQuery Expression and MetricStat are mutually exclusive and you "
    "have specified both."
)
SUB_MINUTE_PERIODS = (1, 5, 10, 20, 30)
DAY = 86_400.0
Period = tuple[datetime, list[MetricDatumBase]]  # its start (naive UTC) and its datapoints


def install() -> None:
    """Wrap moto's GetMetricStatistics (backend and response), GetMetricData and ListMetrics."""
    wrap_once(CloudWatchBackend, "get_metric_statistics", _exact_statistics)
    wrap_once(CloudWatchResponse, "get_metric_statistics", _extended_statistics)
    wrap_once(CloudWatchBackend, "get_metric_data", _exact_data)
    wrap_once(CloudWatchBackend, "get_filtered_metrics", _each_metric_once)


def rounded_start(start: float, period: int, now: float) -> float:
    """StartTime (epoch seconds) as CloudWatch rounds it down, by the Period and its age
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html):
    to the cloud's minute, 5 or 60 of them, the age in the cloud's time (a minute of
    ``period_seconds()`` real seconds at CDLAB_TIME_SCALE, 60 at scale 1)."""
    if period in SUB_MINUTE_PERIODS:
        step = float(period)
    else:
        # here, not at the top: cloudwatch.metrics imports moto.state, which imports this module
        from cdlab.localcloud.cloudwatch.metrics import MINUTE, period_seconds

        minute = period_seconds()
        age = (now - start) / minute * MINUTE  # in the cloud's seconds
        step = minute * (1 if age < 15 * DAY else 5 if age < 63 * DAY else 60)
    return math.floor(start / step) * step


def periods(
    backend: CloudWatchBackend,
    metric: Series,
    unit: str | None,
    window: tuple[float, float],
    period: int,
) -> list[Period]:
    """The periods of ``metric``'s datapoints (in ``unit``, if given) from ``window``'s rounded
    start to its end (excluded) that have any, in time order."""
    first = rounded_start(window[0], period, time.time())
    found: dict[int, list[MetricDatumBase]] = {}
    for datum in backend.get_all_metrics():
        if datum.name != metric[1] or datum.namespace != metric[0]:
            continue
        at = epoch(datum.timestamp)
        if first <= at < window[1] and series_of(datum) == metric and in_unit(datum, unit):
            found.setdefault(int((at - first) // period), []).append(datum)
    return [(_naive(first + index * period), found[index]) for index in sorted(found)]


def _naive(at: float) -> datetime:
    """Epoch seconds as moto's timestamps are: naive UTC."""
    return datetime.fromtimestamp(at, UTC).replace(tzinfo=None)


def _exact_statistics(_moto: Callable[..., list[Statistics]]) -> Callable[..., list[Statistics]]:
    """GetMetricStatistics of the metric of exactly these dimensions, on CloudWatch's grid, at
    most 1,440 datapoints (API_GetMetricStatistics.html, above); replaces moto's."""

    def get_metric_statistics(
        backend: CloudWatchBackend,
        namespace: str,
        metric_name: str,
        start_time: datetime,
        end_time: datetime,
        period: int,
        stats: list[str],
        dimensions: list[dict[str, str]],
        unit: str | None = None,
    ) -> list[Statistics]:
        start, end = epoch(start_time), epoch(end_time)
        if start >= end:  # moto's refusal, in its words
            raise InvalidParameterValue(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        requested = math.ceil((end - start) / period)
        if requested > MAX_DATAPOINTS:
            raise InvalidParameterCombination(TOO_MANY.format(requested))
        metric = series(namespace, metric_name, ((d["Name"], d["Value"]) for d in dimensions))
        answered = []
        for stamp, data in periods(backend, metric, unit, (start, end), period):
            statistics = Statistics(stats, stamp)
            statistics.metric_data = data
            statistics.unit = data[-1].unit
            answered.append(statistics)
        return answered

    return get_metric_statistics


def _extended_statistics(get: Callable[..., Any]) -> Callable[..., Any]:
    """GetMetricStatistics' ExtendedStatistics: refused with Statistics or other than a
    percentile, else each datapoint's percentiles."""

    def get_metric_statistics(response: CloudWatchResponse) -> Any:
        extended = response._get_param("ExtendedStatistics") or []
        if extended and response._get_param("Statistics"):
            raise InvalidParameterCombination(BOTH_STATISTICS)
        for number, name in enumerate(extended, start=1):
            if metricstats.percentile(name) is None:
                raise InvalidParameterValue(NOT_A_PERCENTILE.format(name, number))
        answer = get(response)
        metric = f"{response._get_param('Namespace')} {response._get_param('MetricName')}"
        for point in answer.result["Datapoints"] if extended else ():
            point.extended_statistics = {  # serialized as the datapoint's ExtendedStatistics
                name: metricstats.percentile_of(point.metric_data, name, metric)
                for name in extended
            }
        return answer

    return get_metric_statistics


def query_refusal(queries: list[dict[str, Any]]) -> str | None:
    """Why CloudWatch refuses GetMetricData's ``queries`` (``ValidationError``), in its words;
    None if it does not."""
    lines = []
    for number, query in enumerate(queries, start=1):
        if not METRIC_ID.fullmatch(str(query.get("Id", ""))):
            lines.append(BAD_ID.format(query.get("Id"), number))
        stat = (query.get("MetricStat") or {}).get("Stat")
        if stat is not None and not metricstats.is_statistic(stat):
            lines.append(BAD_STAT.format(stat, number))
    if lines:
        return "\n".join(lines)
    ids = [query["Id"] for query in queries]
    if len(set(ids)) != len(ids):
        return NOT_UNIQUE
    if any("Expression" in query and "MetricStat" in query for query in queries):
        return BOTH_QUERIES
    return None


def _exact_data(get: Callable[..., list[dict[str, Any]]]) -> Callable[..., list[dict[str, Any]]]:
    """GetMetricData, its MetricStat queries answered here (moto's own for the rest)."""

    def get_metric_data(
        backend: CloudWatchBackend,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        refused = query_refusal(queries)
        if refused is not None:
            raise ValidationError(refused)
        for query in queries:
            stat = (query.get("MetricStat") or {}).get("Stat")
            uncomputed = None if stat is None else metricstats.not_computed(stat)
            if uncomputed is not None:
                raise InvalidParameterCombination(uncomputed)
        insights = [q for q in queries if str(q.get("Expression", "")).startswith("SELECT")]
        # moto's own answer: its refusals of the time range, and its Metrics Insights queries
        answered = {r["id"]: r for r in get(backend, insights, start_time, end_time, scan_by)}
        window = (epoch(start_time), epoch(end_time))
        stats = [_stat_result(backend, q, window, scan_by) for q in queries if "MetricStat" in q]
        answered.update((r["id"], r) for r in stats)
        for query in queries:
            if query["Id"] not in answered:  # moto's metric math: the values of the query named
                values, stamps = parse_expression(query["Expression"], stats)
                answered[query["Id"]] = _result(query, query["Id"], values, stamps)
        return [answered[q["Id"]] for q in queries if _returned(q)]

    return get_metric_data


def _returned(query: dict[str, Any]) -> bool:
    """Whether a query's values are answered: ReturnData, true unless given false."""
    return str(query.get("ReturnData", True)).lower() != "false"


def _stat_result(
    backend: CloudWatchBackend,
    query: dict[str, Any],
    window: tuple[float, float],
    scan_by: str,
) -> dict[str, Any]:
    """One MetricStat query's answer, moto's shape: its periods' values of its Stat."""
    stat, asked = query["MetricStat"]["Stat"], query["MetricStat"]
    named = asked["Metric"]
    metric = series(
        named["Namespace"],
        named["MetricName"],
        ((d["Name"], d["Value"]) for d in named.get("Dimensions") or []),
    )
    found = periods(backend, metric, asked.get("Unit"), window, int(asked["Period"]))
    if scan_by == "TimestampDescending":
        found.reverse()
    values = [_value(data, stamp, stat, f"{metric[0]} {metric[1]}") for stamp, data in found]
    return _result(query, f"{metric[1]} {stat}", values, [stamp for stamp, _ in found])


def _value(data: list[MetricDatumBase], stamp: datetime, stat: str, metric: str) -> float:
    if metricstats.percentile(stat) is not None:
        return metricstats.percentile_of(data, stat, metric)
    statistics = Statistics([stat], stamp)
    statistics.metric_data = data
    return float(statistics.get_statistics_for_type(stat))  # type: ignore[arg-type]


def _result(
    query: dict[str, Any], label: str, values: list[Any], stamps: list[datetime]
) -> dict[str, Any]:
    """A query's answer as moto's serializer takes it (moto's default label)."""
    return {
        "id": query["Id"],
        "label": query.get("Label") or label,
        "values": values,
        "timestamps": stamps,
        "status_code": "Complete",
    }


def _each_metric_once(
    _moto: Callable[..., list[MetricDatumBase]],
) -> Callable[..., list[MetricDatumBase]]:
    """ListMetrics' metrics, each once (one datapoint of each stands for it,
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html);
    replaces moto's filter, which compared every datapoint with every metric listed before."""

    def get_filtered_metrics(
        backend: CloudWatchBackend,
        metric_name: str,
        namespace: str,
        dimensions: list[dict[str, str]],
    ) -> list[MetricDatumBase]:
        listed: dict[Series, MetricDatumBase] = {}
        for datum in backend.get_all_metrics():
            if datum.filter(namespace, metric_name, dimensions):
                listed.setdefault(series_of(datum), datum)
        return list(listed.values())

    return get_filtered_metrics

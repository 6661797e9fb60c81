"""CloudWatch's statistics by name, percentiles of a period's datapoints, and StartTime's
rounding (:mod:`cdlab.localcloud.moto.metricstats`, :mod:`cdlab.localcloud.moto.metricreads`)."""

from __future__ import annotations

from datetime import datetime

import pytest
from moto.cloudwatch.exceptions import InvalidParameterCombination
from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum

from cdlab.localcloud.moto import metricstats
from cdlab.localcloud.moto.metricreads import rounded_start

AT = datetime(2025, 1, 1)
DAY = 86_400.0


def value(v: float) -> MetricDatum:
    return MetricDatum("N", "M", v, [], AT)


def statistic_set(count: float, total: float, low: float, high: float) -> MetricAggregatedDatum:
    return MetricAggregatedDatum("N", "M", low, high, count, total, [], AT)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("Sum", True), ("SampleCount", True), ("p0", True), ("p99.99", True), ("p100", True),
        ("tm90", True), ("TM(2%:98%)", True), ("TM(150:1000)", True), ("IQM", True),
        ("wm98", True), ("WM(10%:90%)", True), ("PR(:300)", True), ("PR(100:2000)", True),
        ("tc90", True), ("TS(80%:)", True),
        ("p100.5", False), ("p", False), ("P99", False), ("sum", False), ("tm101", False),
        ("TM(2%)", False), ("Total", False), ("", False),
    ],
)  # fmt: skip
def test_the_statistics_are_those_cloudwatch_defines(name: str, valid: bool) -> None:
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html"""
    assert metricstats.is_statistic(name) is valid


def test_only_the_basic_statistics_and_percentiles_are_computed() -> None:
    assert metricstats.not_computed("Average") is None
    assert metricstats.not_computed("p50") is None
    assert metricstats.not_computed("IQM") == (
        "The local cloud does not compute the statistic IQM: it computes SampleCount, Average, "
        "Sum, Minimum, Maximum and percentiles (p0 to p100)."
    )


def test_a_percentile_is_the_nearest_rank_of_the_values_each_as_often_as_put() -> None:
    data = [value(3.0), value(1.0), statistic_set(3, 6.0, 2.0, 2.0), statistic_set(1, 9.0, 9, 9)]
    # the values: 1, 2, 2, 2, 3, 9
    found = {p: metricstats.percentile_of(data, p, "N M") for p in ("p0", "p50", "p67", "p100")}
    assert found == {"p0": 1.0, "p50": 2.0, "p67": 3.0, "p100": 9.0}


def test_a_percentile_of_a_statistic_set_of_unequal_values_or_of_negatives_is_refused() -> None:
    with pytest.raises(InvalidParameterCombination, match="holds datapoints of it as statistic"):
        metricstats.percentile_of([value(1.0), statistic_set(2, 3.0, 1.0, 2.0)], "p50", "N M")
    with pytest.raises(InvalidParameterCombination, match="it has negative values"):
        metricstats.percentile_of([value(1.0), value(-1.0)], "p50", "N M")


@pytest.mark.parametrize(
    ("period", "age", "step"),
    [(60, 1 * DAY, 60), (300, 20 * DAY, 300), (60, 20 * DAY, 300), (3600, 100 * DAY, 3600),
     (1, 100 * DAY, 1), (10, 1 * DAY, 10), (30, 1 * DAY, 30), (6, 1 * DAY, 60)],
)  # fmt: skip
def test_start_time_is_rounded_down_by_the_period_and_its_age(
    period: int, age: float, step: int
) -> None:
    """CloudWatch: "Start time less than 15 days ago - Round down to the nearest whole
    minute", 5 minutes from 15 to 63 days, an hour beyond; a Period of 5, 10, 20 or 30 to
    that many seconds
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html)."""
    now = 1_750_000_000.0
    start = now - age + 1234.5
    rounded = rounded_start(start, period, now)
    assert rounded <= start < rounded + step and rounded % step == 0


@pytest.mark.parametrize(("scale", "age", "step"), [(10, 3600, 6), (10, 20 * DAY / 10, 30)])
def test_start_time_is_rounded_to_the_clouds_minute(
    monkeypatch: pytest.MonkeyPatch, scale: int, age: float, step: float
) -> None:
    """At CDLAB_TIME_SCALE 10 a CloudWatch minute is 6 real seconds: a Period of 60 rounds
    StartTime down to 6 seconds, not to 60 (which would reach up to 9 of the cloud's minutes
    early); 5 of them once the start is 15 of the cloud's days old."""
    monkeypatch.setenv("CDLAB_TIME_SCALE", str(scale))
    now = 1_750_000_000.0
    start = now - age + 7.5
    rounded = rounded_start(start, 60, now)
    assert rounded <= start < rounded + step and rounded % step == 0

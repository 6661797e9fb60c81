"""CloudWatch's statistics by name: which names are statistics, and a period's value of one
where moto computes none (a percentile), for GetMetricStatistics' ``ExtendedStatistics`` and
GetMetricData's ``Stat`` (:mod:`metricreads`).

The names (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html):
SampleCount, Sum, Average, Minimum, Maximum; a percentile ``pNN.NN`` ("p95 is the 95th
percentile"); a trimmed mean ``tm90`` or ``TM(2%:98%)``, the interquartile mean ``IQM``, a
winsorized mean ``wm98`` or ``WM(10%:90%)``, a percentile rank ``PR(:300)``, a trimmed count
``tc90`` and a trimmed sum ``ts90`` (each with its long form). GetMetricStatistics takes
percentiles only in ``ExtendedStatistics``: "Specify values between p0.0 and p100"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html).

A percentile needs the values themselves: "CloudWatch needs raw data points to calculate
percentile statistics. If you publish data using a statistic set instead, you can only retrieve
percentile statistics for this data if one of the following conditions is true: The SampleCount
value of the statistic set is 1. The Min and the Max values of the statistic set are equal.
Percentile statistics are not available for metrics when any of the metric values are negative
numbers" (the same page). Moto keeps each value a client puts (``Value``, ``Values`` and
``Counts``) and each statistic set, so the local cloud computes a percentile of a period whose
datapoints are values or such statistic sets, by nearest rank (the kit's choice: AWS does not
say how it interpolates). It cannot compute one of other statistic sets (the local cloud's own
endpoint metrics are statistic sets of a minute each, where SageMaker's on AWS are raw), nor one
of negative values, nor the other extended statistics, and refuses each in words of its own
(``InvalidParameterCombination``) rather than answer without the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from moto.cloudwatch.exceptions import InvalidParameterCombination
from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatumBase

BASIC = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
PERCENTILE = re.compile(r"p(\d+(?:\.\d+)?)")
_NUMBER = r"\d+(?:\.\d+)?"
_BOUND = rf"(?:-?{_NUMBER}%?)?"
OTHER_EXTENDED = re.compile(
    rf"(?:tm|wm|tc|ts)({_NUMBER})|(?:TM|WM|TC|TS|PR)\({_BOUND}:{_BOUND}\)|IQM"
)
COMPUTED = "SampleCount, Average, Sum, Minimum, Maximum and percentiles (p0 to p100)"


def percentile(name: str) -> float | None:
    """The percentile ``name`` asks for (``p99.5``: 99.5), None if it names none."""
    matched = PERCENTILE.fullmatch(name)
    if matched is None or float(matched.group(1)) > 100:
        return None
    return float(matched.group(1))


def is_statistic(name: str) -> bool:
    """Whether ``name`` is one of CloudWatch's statistics (GetMetricData's ``Stat``)."""
    if name in BASIC or percentile(name) is not None:
        return True
    matched = OTHER_EXTENDED.fullmatch(name)
    return matched is not None and (matched.group(1) is None or float(matched.group(1)) <= 100)


def not_computed(name: str) -> str | None:
    """Why the local cloud refuses statistic ``name`` (one of CloudWatch's), in its words; None
    for one it computes."""
    if name in BASIC or percentile(name) is not None:
        return None
    return f"The local cloud does not compute the statistic {name}: it computes {COMPUTED}."


def percentile_of(data: Iterable[MetricDatumBase], name: str, metric: str) -> float:
    """Percentile ``name`` of one period's datapoints (one or more) of ``metric`` (its namespace
    and name, for the refusal), by nearest rank over their values, each as often as it was put;
    refused (``InvalidParameterCombination``) where CloudWatch's conditions above are not met."""
    wanted = percentile(name)
    assert wanted is not None
    weighted = sorted(_weighted(data, name, metric))
    total = sum(weight for _, weight in weighted)
    rank, running = wanted / 100 * total, 0.0
    for value, weight in weighted:
        running += weight
        if running >= rank * (1 - 1e-12):
            return value
    return weighted[-1][0]


def _weighted(data: Iterable[MetricDatumBase], name: str, metric: str) -> list[tuple[float, float]]:
    """Each value of the datapoints with how many times it counts."""
    found = []
    for datum in data:
        if not isinstance(datum, MetricAggregatedDatum):
            found.append((float(datum.value), 1.0))  # type: ignore[attr-defined]
        elif datum.sample_count == 1:
            found.append((float(datum.sum), 1.0))
        elif datum.min == datum.max:
            found.append((float(datum.min), float(datum.sample_count)))
        else:
            raise InvalidParameterCombination(
                f"The local cloud cannot compute {name} of {metric}: it holds datapoints of it "
                "as statistic sets, and CloudWatch computes a percentile of a statistic set only "
                "if its SampleCount is 1 or its Minimum equals its Maximum."
            )
    if any(value < 0 for value, _ in found):
        raise InvalidParameterCombination(
            f"The local cloud cannot compute {name} of {metric}: it has negative values, and "
            "percentile statistics are not available for metrics with negative values."
        )
    return [(value, weight) for value, weight in found if weight > 0] or found

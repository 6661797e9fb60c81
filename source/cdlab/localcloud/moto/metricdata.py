"""The datapoints clients put with PutMetricData, read from moto's CloudWatch backend (on moto's
thread, through ``MotoState.client_datapoints``), for alarms on metrics the kit does not emit;
and which metric a datapoint is of, as every read of moto's datapoints tells it
(:mod:`metricreads` too).

"CloudWatch treats each unique combination of dimensions as a separate metric ... You must
specify the same dimensions that were used when the metrics were created"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html):
a metric is its namespace, its name and its whole set of dimensions (:func:`series_of`), which a
read matches exactly, never a subset of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatumBase

LATE_SECONDS = 3600.0  # how late a client's datapoint may arrive and still be found
Point = tuple[float, float, float, float, float]  # timestamp, sample count, sum, minimum, maximum
Series = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, name, dimensions in name order


def series(namespace: str, metric: str, dimensions: Iterable[tuple[str, str]]) -> Series:
    """The metric of ``namespace``, name ``metric`` and exactly these (name, value) dimensions."""
    return namespace, metric, tuple(sorted(dimensions))


def series_of(datum: MetricDatumBase) -> Series:
    """The metric a datapoint in moto's backend is of."""
    return series(datum.namespace, datum.name, ((d.name, d.value) for d in datum.dimensions))


def in_unit(datum: MetricDatumBase, unit: str | None) -> bool:
    """Whether a read asking for ``unit`` (None: any) finds ``datum``: CloudWatch returns only
    the data put in the unit asked for (API_GetMetricStatistics.html, above); one put without a
    Unit counts as ``None``, CloudWatch's name for no unit."""
    return unit is None or (datum.unit or "None") == unit


def epoch(stamp: datetime) -> float:
    """A timestamp of moto's (naive ones are UTC) in epoch seconds."""
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def client_datapoints(
    cloudwatch: CloudWatchBackend,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, str],
    since: float,
    unit: str | None = None,
) -> list[Point]:
    """The datapoints on one series (exactly these dimensions) from epoch second ``since`` on,
    newest first; with ``unit``, only those put in it (:func:`in_unit`).
    Moto keeps them in arrival order, so the scan stops at the first datapoint of any series
    older than ``since`` by more than ``LATE_SECONDS``."""
    wanted = series(namespace, metric, dimensions.items())
    found: list[Point] = []
    for datum in reversed(cloudwatch.metric_data):
        at = epoch(datum.timestamp)
        if at < since - LATE_SECONDS:
            break
        if at < since or datum.namespace != namespace or datum.name != metric:
            continue
        if series_of(datum) != wanted or not in_unit(datum, unit):
            continue
        if isinstance(datum, MetricAggregatedDatum):
            found.append((at, datum.sample_count, datum.sum, datum.min, datum.max))
        else:
            found.append((at, 1.0, datum.value, datum.value, datum.value))
    return sorted(found, reverse=True)

"""The datapoints clients put with PutMetricData, read from moto's CloudWatch backend (on moto's
thread, through ``MotoState.client_datapoints``), for alarms on metrics the kit does not emit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC

from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum

LATE_SECONDS = 3600.0  # how late a client's datapoint may arrive and still be found
Point = tuple[float, float, float, float, float]  # timestamp, sample count, sum, minimum, maximum


def client_datapoints(
    cloudwatch: CloudWatchBackend,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, str],
    since: float,
    unit: str | None = None,
) -> list[Point]:
    """The datapoints on one series (exactly these dimensions) from epoch second ``since`` on,
    newest first; with ``unit``, only those put in it, as CloudWatch returns only the data put
    in the unit asked for
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html;
    one put without a Unit counts as ``None``, CloudWatch's name for no unit).
    Moto keeps them in arrival order, so the scan stops at the first datapoint of any series
    older than ``since`` by more than ``LATE_SECONDS``."""
    wanted = sorted(dimensions.items())
    found: list[Point] = []
    for datum in reversed(cloudwatch.metric_data):
        stamp = datum.timestamp
        at = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
        if at < since - LATE_SECONDS:
            break
        if at < since or datum.namespace != namespace or datum.name != metric:
            continue
        if sorted((d.name, d.value) for d in datum.dimensions) != wanted:
            continue
        if unit is not None and (datum.unit or "None") != unit:
            continue
        if isinstance(datum, MetricAggregatedDatum):
            found.append((at, datum.sample_count, datum.sum, datum.min, datum.max))
        else:
            found.append((at, 1.0, datum.value, datum.value, datum.value))
    return sorted(found, reverse=True)

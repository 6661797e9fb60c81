"""GetMetricStatistics in-process: moto's own backend call (as :mod:`metricreads` corrects it),
on moto's thread, for readers that want CloudWatch's figures without the wire (the local
console's charts). Like :mod:`state`, it
returns plain data only, never one of moto's objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cdlab.localcloud.moto.state import MotoState

Points = list[tuple[datetime, float]]


@dataclass(frozen=True)
class MetricQuery:
    """One GetMetricStatistics question: a series and the statistic wanted of it."""

    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    statistic: str


def _answer(
    moto: MotoState,
    queries: Sequence[MetricQuery],
    window: tuple[datetime, datetime],
    period: int,
) -> list[Points]:
    cloudwatch = moto.cloudwatch_backend()
    answers = []
    for q in queries:
        dims = [{"Name": n, "Value": v} for n, v in sorted(q.dimensions.items())]
        found = cloudwatch.get_metric_statistics(
            q.namespace, q.metric, window[0], window[1], period, [q.statistic], dims
        )
        answers.append(
            [(s.timestamp, float(s.get_statistics_for_type(q.statistic) or 0.0)) for s in found]
        )
    return answers


async def metric_statistics(
    moto: MotoState,
    queries: Sequence[MetricQuery],
    window: tuple[datetime, datetime],
    period: int,
) -> list[Points]:
    """For each query, each period's (timestamp, value) of its statistic in ``window`` (naive
    UTC start and end), as GetMetricStatistics answers; all in one turn of moto's thread."""
    return await moto.run(_answer, moto, queries, window, period)

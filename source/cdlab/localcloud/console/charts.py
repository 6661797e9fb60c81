"""The console's charts: per endpoint, each variant's series over the last cloud half hour.

The figures are what GetMetricStatistics answers (the same moto backend call, over the same
datapoints the telemetry flushes), one period per CloudWatch minute of the cloud's time scale,
so ``aws cloudwatch get-metric-statistics`` with the chart's window and period gives the same
numbers. They change only when the metrics are flushed, so they are worked out once per flush
however many pages poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cdlab.localcloud.cloudwatch.metrics import (
    INSTANCES,
    SAGEMAKER,
    Metrics,
    period_seconds,
    variant_dimensions,
)
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.moto.statistics import MetricQuery, metric_statistics

WINDOW_MINUTES = 30  # cloud minutes shown


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    unit: str
    namespace: str
    metrics: tuple[str, ...]
    statistic: str


CHARTS = (
    Chart("invocations", "Invocations per minute", "count", SAGEMAKER, ("Invocations",), "Sum"),
    Chart("latency", "Model latency (average)", "µs", SAGEMAKER, ("ModelLatency",), "Average"),
    Chart(
        "errors",
        "4XX and 5XX errors per minute",
        "count",
        SAGEMAKER,
        ("Invocation4XXErrors", "Invocation5XXErrors"),
        "Sum",
    ),
    Chart("cpu", "CPU utilization (average)", "%", INSTANCES, ("CPUUtilization",), "Average"),
)


def period() -> int:
    """GetMetricStatistics' period for one cloud minute: whole seconds, at least one."""
    return max(1, round(period_seconds()))


def window(last_flush: float) -> tuple[datetime, datetime]:
    """The charts' window (naive UTC, whole seconds, as CloudWatch takes it): the last
    ``WINDOW_MINUTES`` cloud minutes up to the end of the last flushed one (the next one starts
    at ``last_flush``, so on or after the end: the figures of a window never change)."""
    end = datetime.fromtimestamp(int(last_flush), UTC).replace(tzinfo=None)
    start = datetime.fromtimestamp(int(last_flush) - WINDOW_MINUTES * period(), UTC)
    return start.replace(tzinfo=None), end


def _queries(endpoint: str, variants: Sequence[str]) -> list[tuple[str, str, MetricQuery]]:
    """(chart key, series label, query) for every chart of the endpoint."""
    found = []
    for chart in CHARTS:
        for variant in variants:
            for metric in chart.metrics:
                short = metric.removeprefix("Invocation").removesuffix("Errors")
                label = variant if len(chart.metrics) == 1 else f"{variant} {short}"
                dims = variant_dimensions(endpoint, variant)
                query = MetricQuery(chart.namespace, metric, dims, chart.statistic)
                found.append((chart.key, label, query))
    return found


class Charts:
    def __init__(self, metrics: Metrics, moto: MotoState) -> None:
        self.metrics = metrics
        self.moto = moto
        self.cached: tuple[object, dict[str, Any]] | None = None

    async def of(self, endpoints: dict[str, list[str]]) -> dict[str, Any]:
        """The charts of each endpoint (name -> its variants), with their window and period."""
        last_flush = self.metrics.last_flush
        key = (last_flush, sorted((n, tuple(v)) for n, v in endpoints.items()))
        if self.cached is not None and self.cached[0] == key:
            return self.cached[1]
        answer = await self._compute(endpoints, last_flush)
        self.cached = (key, answer)
        return answer

    async def _compute(self, endpoints: dict[str, list[str]], last_flush: float | None) -> dict:
        if last_flush is None:
            return {"period": period(), "minutes": WINDOW_MINUTES, "window": None, "endpoints": {}}
        start, end = window(last_flush)
        asked = [
            (name, *q) for name, variants in endpoints.items() for q in _queries(name, variants)
        ]
        answers = await metric_statistics(self.moto, [q for *_, q in asked], (start, end), period())
        by_endpoint: dict[str, dict[str, Any]] = {
            name: {c.key: {"title": c.title, "unit": c.unit, "series": {}} for c in CHARTS}
            for name in endpoints
        }
        for (name, chart, label, query), points in zip(asked, answers, strict=True):
            by_endpoint[name][chart]["series"][label] = {
                "metric": query.metric,
                "variant": query.dimensions["VariantName"],
                "statistic": query.statistic,
                "points": [[t.replace(tzinfo=UTC).timestamp(), v] for t, v in points],
            }
        return {
            "period": period(),
            "minutes": WINDOW_MINUTES,
            "window": [start.isoformat() + "Z", end.isoformat() + "Z"],
            "endpoints": by_endpoint,
        }

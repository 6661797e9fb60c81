"""Endpoint metrics: counted in memory on the hot path, written to CloudWatch once per period.

SageMaker's series (docs/aws-compatibility.md, "Application Auto Scaling and CloudWatch"):
namespace ``AWS/SageMaker`` (Invocations, InvocationsPerInstance, ModelLatency and OverheadLatency
in microseconds, Invocation4XXErrors, Invocation5XXErrors) and ``/aws/sagemaker/Endpoints``
(CPUUtilization, MemoryUtilization), all with dimensions EndpointName and VariantName.

Compressed time: a CloudWatch minute lasts ``60 / CDLAB_TIME_SCALE`` real seconds. Each flush
writes one datapoint per series (as a statistic set) for the scaled minute that just ended,
timestamped with that minute's real wall-clock start, into moto's CloudWatch backend in-process
(on moto's thread, through its owner), so ``get-metric-statistics`` and ``get-metric-data`` read
them. At scale 60 a query with ``--period 60`` therefore sums 60 scaled minutes into one
datapoint; the totals (Sum, SampleCount) over any time range are exact at every scale. At scale 1
it is CloudWatch's one-minute resolution.

Counts are written for every in-service variant each period, zero included, so that alarms and
target tracking see a quiet endpoint as quiet rather than as missing data.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cdlab import config
from cdlab.localcloud.moto.state import MotoState

SAGEMAKER = "AWS/SageMaker"
INSTANCES = "/aws/sagemaker/Endpoints"
HISTORY_PERIODS = 1440  # a (scaled) day of datapoints per series, for alarms and scaling
MINUTE = 60.0
EPSILON = 1e-3  # seconds: datapoints sit on period starts, windows end just before the next


def period_seconds() -> float:
    """Real seconds in one CloudWatch minute at this process's time scale."""
    return MINUTE / config.time_scale()


@dataclass(frozen=True)
class Datapoint:
    """A statistic set for one period; ``timestamp`` is the real epoch second it starts at."""

    timestamp: float
    sample_count: float
    sum: float
    minimum: float
    maximum: float

    def statistic(self, name: str) -> float:
        if name == "Average":
            return self.sum / self.sample_count if self.sample_count else 0.0
        return {
            "Sum": self.sum,
            "SampleCount": self.sample_count,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
        }[name]

    @staticmethod
    def combine(timestamp: float, points: Iterable[Datapoint]) -> Datapoint | None:
        points = list(points)
        if not points:
            return None
        return Datapoint(
            timestamp,
            sum(p.sample_count for p in points),
            sum(p.sum for p in points),
            min(p.minimum for p in points),
            max(p.maximum for p in points),
        )

    @staticmethod
    def of(timestamp: float, values: list[float]) -> Datapoint:
        return Datapoint(timestamp, len(values), sum(values), min(values), max(values))


class _Latency:
    __slots__ = ("count", "high", "low", "total")

    def __init__(self) -> None:
        self.count, self.total, self.low, self.high = 0, 0.0, math.inf, -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value

    def datapoint(self, timestamp: float) -> Datapoint:
        return Datapoint(timestamp, self.count, self.total, self.low, self.high)


class _Counters:
    """One variant's requests in the current period."""

    __slots__ = ("errors_4xx", "errors_5xx", "invocations", "model", "overhead")

    def __init__(self) -> None:
        self.invocations = self.errors_4xx = self.errors_5xx = 0
        self.model, self.overhead = _Latency(), _Latency()


SeriesKey = tuple[str, str, frozenset[tuple[str, str]]]


def series_key(namespace: str, metric: str, dimensions: Mapping[str, str]) -> SeriesKey:
    return namespace, metric, frozenset(dimensions.items())


def variant_dimensions(endpoint: str, variant: str) -> dict[str, str]:
    return {"EndpointName": endpoint, "VariantName": variant}


class Metrics:
    def __init__(self, moto: MotoState) -> None:
        self.moto = moto
        self.current: dict[tuple[str, str], _Counters] = {}
        self.history: dict[SeriesKey, deque[Datapoint]] = {}
        self.last_flush: float | None = None

    def record(
        self, endpoint: str, variant: str, status: int, model_seconds: float, total_seconds: float
    ) -> None:
        """Count one invocation (the hot path: a few additions)."""
        counters = self.current.get((endpoint, variant))
        if counters is None:
            counters = self.current[(endpoint, variant)] = _Counters()
        counters.invocations += 1
        if status >= 500:
            counters.errors_5xx += 1
        elif status >= 400:
            counters.errors_4xx += 1
        counters.model.add(model_seconds * 1e6)
        counters.overhead.add(max(0.0, total_seconds - model_seconds) * 1e6)

    async def flush(
        self,
        started: float,
        instance_counts: Mapping[tuple[str, str], int],
        usage: Mapping[tuple[str, str], list[tuple[float, float]]],
    ) -> None:
        """Write the period that started at ``started`` (real epoch seconds) and start a new one.

        ``instance_counts``: the in-service variants and their instances; ``usage``: per variant,
        each instance's (CPU percent, memory percent) over the period.
        """
        current, self.current = self.current, {}
        series: list[tuple[SeriesKey, str, Datapoint]] = []
        for key in set(instance_counts) | set(current):
            dims = variant_dimensions(*key)
            counters = current.get(key) or _Counters()
            count = instance_counts.get(key, 0)
            for metric, value in (
                ("Invocations", counters.invocations),
                ("Invocation4XXErrors", counters.errors_4xx),
                ("Invocation5XXErrors", counters.errors_5xx),
            ):
                point = Datapoint.of(started, [value])
                series.append((series_key(SAGEMAKER, metric, dims), "None", point))
            if count:
                per_instance = Datapoint.of(started, [counters.invocations / count])
                series.append(
                    (series_key(SAGEMAKER, "InvocationsPerInstance", dims), "None", per_instance)
                )
            if counters.invocations:
                for metric, latency in (
                    ("ModelLatency", counters.model),
                    ("OverheadLatency", counters.overhead),
                ):
                    series.append(
                        (
                            series_key(SAGEMAKER, metric, dims),
                            "Microseconds",
                            latency.datapoint(started),
                        )
                    )
        for key, samples in usage.items():
            if not samples:
                continue
            dims = variant_dimensions(*key)
            for metric, values in (
                ("CPUUtilization", [cpu for cpu, _ in samples]),
                ("MemoryUtilization", [memory for _, memory in samples]),
            ):
                point = Datapoint.of(started, values)
                series.append((series_key(INSTANCES, metric, dims), "Percent", point))
        await self.moto.run(self.moto.put_metric_data, self._record(series))
        self.last_flush = started + period_seconds()

    def _record(
        self, series: list[tuple[SeriesKey, str, Datapoint]]
    ) -> dict[str, list[dict[str, object]]]:
        """Add the datapoints to the history; PutMetricData's MetricData, by namespace."""
        by_namespace: dict[str, list[dict[str, object]]] = {}
        for key, unit, point in series:
            namespace, metric, dims = key
            self.history.setdefault(key, deque(maxlen=HISTORY_PERIODS)).append(point)
            by_namespace.setdefault(namespace, []).append(
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in sorted(dims)],
                    "Timestamp": datetime.fromtimestamp(point.timestamp, UTC).replace(tzinfo=None),
                    "StatisticValues": {
                        "SampleCount": point.sample_count,
                        "Sum": point.sum,
                        "Minimum": point.minimum,
                        "Maximum": point.maximum,
                    },
                    "Unit": unit,
                }
            )
        return by_namespace

    def windows(self, key: SeriesKey, count: int, window_seconds: float) -> list[Datapoint | None]:
        """The last ``count`` windows of ``window_seconds`` real seconds, newest first, ending at
        the last flush; each the combined datapoints inside it, or None where there are none."""
        return self.windows_of(reversed(self.history.get(key, ())), count, window_seconds)

    async def series_windows(
        self, key: SeriesKey, count: int, window_seconds: float, unit: str | None = None
    ) -> tuple[list[Datapoint | None], bool]:
        """``windows`` of any series, for alarms and target tracking alike: one the local cloud
        emits from its history (whatever ``unit``), any other from the datapoints clients put
        with PutMetricData (only those of ``unit``, if given), read from moto on its thread;
        and whether there were datapoints to read (False for a client series with none in
        reach, or before the first flush)."""
        if key in self.history:
            return self.windows(key, count, window_seconds), True
        if self.last_flush is None:
            return [None] * count, False
        namespace, metric, dims = key
        since = self.last_flush - count * window_seconds - 1.0
        put = await self.moto.run(
            self.moto.client_datapoints, namespace, metric, dict(dims), since, unit
        )
        return self.windows_of((Datapoint(*p) for p in put), count, window_seconds), bool(put)

    def windows_of(
        self, newest_first: Iterable[Datapoint], count: int, window_seconds: float
    ) -> list[Datapoint | None]:
        """``windows`` over any datapoints (newest first), such as those a client put."""
        if self.last_flush is None:
            return [None] * count
        oldest = self.last_flush - count * window_seconds - EPSILON
        recent: list[Datapoint] = []
        for point in newest_first:
            if point.timestamp < oldest:
                break
            recent.append(point)
        out: list[Datapoint | None] = []
        for i in range(count):
            end = self.last_flush - i * window_seconds - EPSILON
            start = end - window_seconds
            inside = (p for p in recent if start <= p.timestamp < end)
            out.append(Datapoint.combine(start + EPSILON, inside))
        return out

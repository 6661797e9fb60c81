"""Endpoint metrics: counting, periods, windows and what lands in moto's CloudWatch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdlab.localcloud.cloudwatch.metrics import SAGEMAKER, Metrics, period_seconds, series_key
from cdlab.localcloud.moto.state import MotoState


def test_one_period_becomes_statistic_sets_in_cloudwatch(
    monkeypatch: pytest.MonkeyPatch, moto: MotoState, moto_client: Callable[[str], Any]
) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    metrics = Metrics(moto)
    for status in (200, 200, 200, 404, 503):
        metrics.record("unit-ep", "A", status, model_seconds=0.002, total_seconds=0.0025)
    started = time.time() - period_seconds()
    usage = {("unit-ep", "A"): [(150.0, 2.0)]}
    asyncio.run(metrics.flush(started, {("unit-ep", "A"): 2, ("unit-ep", "idle"): 1}, usage))
    cloudwatch = moto_client("cloudwatch")
    now = datetime.now(UTC)

    def stat(metric: str, statistic: str, variant: str = "A", namespace: str = SAGEMAKER) -> float:
        dims = [
            {"Name": "EndpointName", "Value": "unit-ep"},
            {"Name": "VariantName", "Value": variant},
        ]
        [point] = cloudwatch.get_metric_statistics(
            Namespace=namespace, MetricName=metric, Dimensions=dims,
            StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1), Period=60,
            Statistics=[statistic],
        )["Datapoints"]  # fmt: skip
        return float(point[statistic])

    assert stat("Invocations", "Sum") == 5
    assert stat("InvocationsPerInstance", "Sum") == 2.5
    assert stat("Invocation4XXErrors", "Sum") == 1 and stat("Invocation5XXErrors", "Sum") == 1
    assert stat("ModelLatency", "Average") == pytest.approx(2000)
    assert stat("OverheadLatency", "SampleCount") == 5
    assert stat("OverheadLatency", "Average") == pytest.approx(500)
    assert stat("CPUUtilization", "Maximum", namespace="/aws/sagemaker/Endpoints") == 150
    assert stat("Invocations", "Sum", variant="idle") == 0  # quiet, not missing


def test_windows_combine_datapoints_newest_first(
    monkeypatch: pytest.MonkeyPatch, moto: MotoState
) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    metrics = Metrics(moto)
    start = time.time() - 4

    async def four_periods() -> None:
        for second, calls in enumerate((1, 2, 3, 4)):
            for _ in range(calls):
                metrics.record("win", "A", 200, 0.001, 0.001)
            await metrics.flush(start + second, {("win", "A"): 1}, {})

    asyncio.run(four_periods())
    key = series_key(SAGEMAKER, "Invocations", {"EndpointName": "win", "VariantName": "A"})
    assert [p.sum for p in metrics.windows(key, 4, 1.0)] == [4, 3, 2, 1]
    assert [p.sum for p in metrics.windows(key, 2, 2.0)] == [7, 3]
    assert metrics.windows(key, 5, 1.0)[4] is None

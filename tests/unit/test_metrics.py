"""Endpoint metrics: counting, periods, windows and what lands in moto's CloudWatch."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from moto.cloudwatch.models import cloudwatch_backends

from cdlab import config
from cdlab.localcloud.cloudwatch.metrics import SAGEMAKER, Metrics, period_seconds, series_key


def test_one_period_becomes_statistic_sets_in_cloudwatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    metrics = Metrics()
    for status in (200, 200, 200, 404, 503):
        metrics.record("unit-ep", "A", status, model_seconds=0.002, total_seconds=0.0025)
    started = time.time() - period_seconds()
    metrics.flush(
        started, {("unit-ep", "A"): 2, ("unit-ep", "idle"): 1}, {("unit-ep", "A"): [(150.0, 2.0)]}
    )
    backend = cloudwatch_backends[config.ACCOUNT_ID][config.region()]

    now = datetime.now(UTC).replace(tzinfo=None)  # moto keeps naive UTC datetimes

    def stat(metric: str, statistic: str, variant: str = "A", namespace: str = SAGEMAKER) -> float:
        dims = [
            {"Name": "EndpointName", "Value": "unit-ep"},
            {"Name": "VariantName", "Value": variant},
        ]
        [point] = backend.get_metric_statistics(
            namespace, metric, now - timedelta(minutes=5), now + timedelta(minutes=1), 60,
            [statistic], dims,
        )  # fmt: skip
        return float(point.get_statistics_for_type(statistic))

    assert stat("Invocations", "Sum") == 5
    assert stat("InvocationsPerInstance", "Sum") == 2.5
    assert stat("Invocation4XXErrors", "Sum") == 1 and stat("Invocation5XXErrors", "Sum") == 1
    assert stat("ModelLatency", "Average") == pytest.approx(2000)
    assert stat("OverheadLatency", "SampleCount") == 5
    assert stat("OverheadLatency", "Average") == pytest.approx(500)
    assert stat("CPUUtilization", "Maximum", namespace="/aws/sagemaker/Endpoints") == 150
    assert stat("Invocations", "Sum", variant="idle") == 0  # quiet, not missing


def test_windows_combine_datapoints_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    metrics = Metrics()
    start = time.time() - 4
    for second, calls in enumerate((1, 2, 3, 4)):
        for _ in range(calls):
            metrics.record("win", "A", 200, 0.001, 0.001)
        metrics.flush(start + second, {("win", "A"): 1}, {})
    key = series_key(SAGEMAKER, "Invocations", {"EndpointName": "win", "VariantName": "A"})
    assert [p.sum for p in metrics.windows(key, 4, 1.0)] == [4, 3, 2, 1]
    assert [p.sum for p in metrics.windows(key, 2, 2.0)] == [7, 3]
    assert metrics.windows(key, 5, 1.0)[4] is None

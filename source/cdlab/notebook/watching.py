"""Watching an endpoint change: how fast time passes on the target, and a poll of
DescribeEndpoint (and an alarm) until a condition holds."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pandas as pd

from cdlab import config, target


def time_scale() -> float:
    """How many times faster than real time CloudWatch minutes, cooldowns and bake times pass on
    the target: 1 on AWS; on the local cloud the ``CDLAB_TIME_SCALE`` it was started with, as its
    health check reports it, else this kernel's own (``make lab`` sets both the same)."""
    if target.current() == "aws":
        return 1.0
    url = f"{os.environ['AWS_ENDPOINT_URL']}/_cdlab/health"
    with (
        contextlib.suppress(OSError, ValueError, KeyError),
        urllib.request.urlopen(url, timeout=2) as response,
    ):
        return float(json.load(response)["time_scale"])
    return config.time_scale()


def watch_endpoint(
    endpoint: str,
    since: float,
    until: Callable[[dict[str, Any]], bool],
    timeout: float,
    every: float = 0.2,
    alarm: str | None = None,
) -> pd.DataFrame:
    """Poll DescribeEndpoint (and ``alarm``'s state) until ``until(description)`` or ``timeout``
    seconds; one row per poll: seconds since ``since`` (a ``time.monotonic()``), status, config,
    instances of the first variant, alarm state, and the pending deployment's message."""
    sm, cloudwatch = boto3.client("sagemaker"), boto3.client("cloudwatch")
    rows = []
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=endpoint)
        pending = described.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
        messages = [v["VariantStatus"][0].get("StatusMessage", "") for v in pending
                    if v.get("VariantStatus")]  # fmt: skip
        state = None
        if alarm is not None:
            alarms = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
            state = alarms[0]["StateValue"] if alarms else None
        rows.append(
            {
                "time": time.monotonic() - since,
                "status": described["EndpointStatus"],
                "config": described["EndpointConfigName"],
                "instances": described["ProductionVariants"][0].get("CurrentInstanceCount"),
                "alarm": state,
                "message": "; ".join(m for m in messages if m),
            }
        )
        if until(described) or time.monotonic() > deadline:
            return pd.DataFrame(rows)
        time.sleep(every)

"""Watching an endpoint change: a poll of DescribeEndpoint (and an alarm) until a condition
holds, at intervals that back off (:func:`clock.polls`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
import pandas as pd

from cdlab.notebook import clock


def watch_endpoint(
    endpoint: str,
    since: float,
    until: Callable[[dict[str, Any]], bool],
    timeout: float,
    alarm: str | None = None,
) -> pd.DataFrame:
    """Poll DescribeEndpoint (and ``alarm``'s state) until ``until(description)`` or ``timeout``
    real seconds; one row per poll: seconds since ``since`` (a ``time.monotonic()``), status,
    config, instances of the first variant, alarm state, and the pending deployment's first
    variant: its status, when that status began, and its message.

    A deployment's steps show in the pending variant's ``Status`` (Creating, Updating, Deleting,
    ActivatingTraffic, Baking), required, with a ``StartTime`` for each change; its
    ``StatusMessage`` is optional, and AWS may leave it out
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantStatus.html).
    """
    sm, cloudwatch = boto3.client("sagemaker"), boto3.client("cloudwatch")
    rows = []
    intervals = clock.polls()
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=endpoint)
        pending = described.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
        variant = next((v["VariantStatus"][0] for v in pending if v.get("VariantStatus")), {})
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
                "variant_status": variant.get("Status", ""),
                "since": variant.get("StartTime"),
                "message": variant.get("StatusMessage", ""),
            }
        )
        if until(described) or time.monotonic() > deadline:
            return pd.DataFrame(rows)
        time.sleep(min(next(intervals), max(0.0, deadline - time.monotonic())))

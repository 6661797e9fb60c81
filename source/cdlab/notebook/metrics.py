"""A variant's CloudWatch metric as a series over the cloud's minutes, for tables and plots."""

from __future__ import annotations

from datetime import datetime, timedelta

import boto3
import pandas as pd

SAGEMAKER = "AWS/SageMaker"
INSTANCES = "/aws/sagemaker/Endpoints"  # CPUUtilization, MemoryUtilization


def variant_metric(
    endpoint: str,
    variant: str,
    metric: str,
    statistic: str,
    began: datetime,
    minute: float,
    namespace: str = SAGEMAKER,
) -> pd.Series:
    """``statistic`` of ``metric`` for one variant, one value per CloudWatch minute, indexed by
    the cloud's minutes since ``began`` (``minute``: real seconds in one CloudWatch minute)."""
    margin = timedelta(seconds=2 * minute)
    points = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ],
        StartTime=began - margin,
        EndTime=datetime.now(began.tzinfo) + margin,
        Period=max(1, round(minute)),
        Statistics=[statistic],
    )["Datapoints"]
    minutes = {(p["Timestamp"] - began).total_seconds() / minute: p[statistic] for p in points}
    return pd.Series(minutes, name=metric, dtype=float).sort_index()

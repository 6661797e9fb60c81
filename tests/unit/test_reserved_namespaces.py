"""A client's PutMetricData into a namespace reserved for AWS's services (``AWS/...``) is refused
as CloudWatch refuses it (``metricrules``); the kit's own metrics, which are in ``AWS/SageMaker``
and reach moto's backend directly, are kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from cdlab.localcloud.moto.state import MotoState
from tests.aws_errors import refused


def test_a_clients_datapoints_in_an_aws_namespace_are_refused_the_kits_own_are_kept(
    moto: MotoState, moto_client: Callable[[str], Any]
) -> None:
    cloudwatch = moto_client("cloudwatch")
    metric = f"Invocations-{uuid.uuid4().hex[:8]}"
    datum = {"MetricName": metric, "Value": 1.0}
    for namespace in ("AWS/SageMaker", "AWS/", "AWS/AnyName"):
        assert refused(cloudwatch.put_metric_data, Namespace=namespace, MetricData=[datum]) == (
            "InvalidParameterValue",
            "The value AWS/ for parameter Namespace is invalid.",
            400,
        )
    assert cloudwatch.list_metrics(MetricName=metric)["Metrics"] == []

    moto.put_metric_data({"AWS/SageMaker": [datum]})  # as the kit's telemetry puts its own
    cloudwatch.put_metric_data(Namespace="CDLab/AWS/Tests", MetricData=[datum])  # not reserved
    listed = cloudwatch.list_metrics(MetricName=metric)["Metrics"]
    assert sorted(m["Namespace"] for m in listed) == ["AWS/SageMaker", "CDLab/AWS/Tests"]

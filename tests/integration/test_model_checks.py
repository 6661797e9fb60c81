"""Requests the local cloud hands to moto are held to their botocore model first, over each
protocol a botocore client speaks to the service (:mod:`cdlab.localcloud.protocols.modelcheck`):
CloudWatch over awsJson (what boto3 sends), the query protocol and RPC v2 CBOR; IAM over the
query protocol. Botocore checks neither a pattern nor a maximum before sending, and moto checks
few, so without this these requests were kept, where AWS refuses them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests import protocols
from tests.aws_errors import refused

PROTOCOLS = ["json", "query", "smithy-rpc-v2-cbor"]


@pytest.fixture(scope="module")
def speaking(tmp_path_factory: pytest.TempPathFactory, aws_env) -> Callable[..., Any]:
    """``speaking(protocol)``: a CloudWatch client of the local cloud that speaks ``protocol``."""
    root = tmp_path_factory.mktemp("models")
    return lambda protocol: protocols.speaking("cloudwatch", protocol, root / protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_metric_datum_against_cloudwatchs_model_is_refused_and_not_kept(
    speaking, protocol: str
) -> None:
    """The namespace must not start with a colon, the metric name is at most 255 characters
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html,
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html).
    CloudWatch has the awsQueryCompatible trait: the SDKs report ValidationError over each."""
    cloudwatch = speaking(protocol)
    metric = f"cdlab-model-{uuid.uuid4().hex[:8]}"
    datum = {"MetricName": metric, "Value": 1.0}
    assert refused(cloudwatch.put_metric_data, Namespace=":cdlab", MetricData=[datum]) == (
        "ValidationError",
        "1 validation error detected: Value ':cdlab' at 'namespace' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [^:].*",
        400,
    )
    long_name = metric + "x" * (256 - len(metric))
    datum = {"MetricName": long_name, "Value": 1.0}
    assert refused(cloudwatch.put_metric_data, Namespace="cdlab/model", MetricData=[datum]) == (
        "ValidationError",
        f"1 validation error detected: Value '{long_name}' at 'metricData.1.member.metricName' "
        "failed to satisfy constraint: Member must have length less than or equal to 255",
        400,
    )
    listed = cloudwatch.list_metrics(Namespace="cdlab/model")["Metrics"]
    assert [m for m in listed if m["MetricName"].startswith(metric)] == []
    cloudwatch.put_metric_data(
        Namespace="cdlab/model", MetricData=[{**datum, "MetricName": metric}]
    )  # within the model: kept
    listed = cloudwatch.list_metrics(Namespace="cdlab/model", MetricName=metric)["Metrics"]
    assert [m["MetricName"] for m in listed] == [metric]


def test_an_iam_request_against_the_model_is_refused_in_the_query_protocols_words(client) -> None:
    """A role's name is at most 64 characters
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html)."""
    iam = client("iam")
    name = "cdlab-" + "r" * 59
    trust = '{"Version": "2012-10-17", "Statement": []}'
    assert refused(iam.create_role, RoleName=name, AssumeRolePolicyDocument=trust) == (
        "ValidationError",
        f"1 validation error detected: Value '{name}' at 'roleName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64",
        400,
    )
    assert name not in {role["RoleName"] for role in iam.list_roles()["Roles"]}

"""A service with the awsQueryCompatible trait (CloudWatch) answers its JSON and CBOR errors with
the query protocol's code in ``x-amzn-query-error``, and boto3 reports that code: an IAM user
CloudWatch does not allow is refused ``AccessDenied`` over the protocol boto3 speaks to it
(awsJson 1.0), as over the query protocol before, and a wrong signature ``SignatureDoesNotMatch``.

AWS: SQS, the other query-compatible service, answers an IAM denial over JSON with
``x-amzn-query-error: AccessDenied;Sender`` beside the body's ``AccessDeniedException`` (measured,
R1 of https://github.com/mariotoffia/floci/blob/5405928453502e154b60c50a6f8e23de9f96a8a7/docs/design/resource-policy-enforcement.md);
the header's form is the trait's
(https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#aws-protocols-awsquerycompatible-trait).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.integration.test_iam_enforcement import not_allowed
from tests.integration.test_principals import NO_RETRIES
from tests.protocols import speaking

ACCOUNT = "123456789012"
NAMESPACE = "CDLab/QueryErrors"


def failure(call: Callable[..., Any], **kwargs: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The parsed error and the response headers (lower-cased names) of ``call``, which must
    fail."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["Error"], response["ResponseMetadata"]["HTTPHeaders"]


@pytest.fixture(scope="module")
def stranger(client) -> Iterator[dict[str, str]]:
    """An IAM user with an access key and no policy: CloudWatch allows it nothing."""
    iam = client("iam")
    name = f"cdlab-query-errors-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    try:
        yield {"name": name, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=name)


def as_stranger(aws_env: dict[str, str], stranger: dict[str, str], service: str):
    session = boto3.Session(
        aws_access_key_id=stranger["key"],
        aws_secret_access_key=stranger["secret"],
        region_name=aws_env["AWS_DEFAULT_REGION"],
    )
    return session.client(service, config=NO_RETRIES)


def test_an_iam_denial_of_cloudwatch_is_access_denied_over_json(aws_env, stranger) -> None:
    cloudwatch = as_stranger(aws_env, stranger, "cloudwatch")
    assert cloudwatch.meta.service_model.resolved_protocol == "json"  # boto3's default
    user = f"arn:aws:iam::{ACCOUNT}:user/{stranger['name']}"
    data = [{"MetricName": "Latency", "Value": 1.0}]
    for call, kwargs, action in [
        (cloudwatch.list_metrics, {}, "cloudwatch:ListMetrics"),
        (cloudwatch.put_metric_data, {"Namespace": NAMESPACE, "MetricData": data},
         "cloudwatch:PutMetricData"),
    ]:  # fmt: skip
        error, headers = failure(call, **kwargs)
        assert headers["x-amzn-query-error"] == "AccessDenied;Sender"
        assert (error["Code"], error["QueryErrorCode"], error["Type"]) == (
            "AccessDenied",
            "AccessDeniedException",
            "Sender",
        )
        assert error["Message"] == not_allowed(user, action)


def test_an_iam_denial_of_cloudwatch_is_access_denied_over_cbor(
    aws_env, stranger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", stranger["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", stranger["secret"])
    cloudwatch = speaking(
        "cloudwatch", "smithy-rpc-v2-cbor", tmp_path, retries={"total_max_attempts": 1}
    )
    error, headers = failure(cloudwatch.list_metrics)
    assert headers["x-amzn-query-error"] == "AccessDenied;Sender"
    assert (error["Code"], error["QueryErrorCode"]) == ("AccessDenied", "AccessDeniedException")


def test_a_wrong_signature_to_cloudwatch_is_the_query_protocols_code(aws_env) -> None:
    session = boto3.Session(
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key="not-the-secret",
        region_name=aws_env["AWS_DEFAULT_REGION"],
    )
    error, headers = failure(session.client("cloudwatch", config=NO_RETRIES).list_metrics)
    assert headers["x-amzn-query-error"] == "SignatureDoesNotMatch;Sender"
    assert (error["Code"], error["QueryErrorCode"]) == (
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
    )


def test_a_service_without_the_trait_names_no_query_code(aws_env, stranger) -> None:
    error, headers = failure(as_stranger(aws_env, stranger, "logs").describe_log_groups)
    assert "x-amzn-query-error" not in headers
    assert error["Code"] == "AccessDeniedException"

"""Request bodies a client gzipped (``Content-Encoding: gzip``), against a running local cloud.

botocore gzips the body of an operation its model marks ``requestcompression`` once the body is
10240 bytes or more (CloudWatch's PutMetricData), by default, and signs the body it sends
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-compression.html); CloudWatch takes it:
"You can send a payload compressed by gzip"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
The local cloud's web server inflated such a body before the guard hashed it, and every one was
refused with InvalidSignatureException (:mod:`cdlab.localcloud.protocols.compression`).
"""

from __future__ import annotations

import gzip
import json
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import boto3
import cbor2
import pytest

from cdlab.localcloud.protocols.auth import MAX_SIGNED_BODY_BYTES
from tests import protocols
from tests.aws_errors import refused
from tests.signing import signed_headers

PROTOCOLS = ["json", "query", "smithy-rpc-v2-cbor"]
NAMESPACE = "CDLab/Compressed"
TARGET = "GraniteServiceVersion20100801"
CBOR_PATH = f"/service/{TARGET}/operation/PutMetricData"
QUERY_NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"


@pytest.fixture(scope="module")
def speaking(tmp_path_factory: pytest.TempPathFactory, aws_env) -> Callable[..., Any]:
    """``speaking(protocol)``: a CloudWatch client of the local cloud that speaks ``protocol``,
    with botocore's default request compression."""
    root = tmp_path_factory.mktemp("models")
    return lambda protocol: protocols.speaking("cloudwatch", protocol, root / protocol)


def sent_bodies(client: Any) -> list[tuple[str | None, int]]:
    """The (Content-Encoding, body size) of each PutMetricData ``client`` sends from now on."""
    sent: list[tuple[str | None, int]] = []

    def record(request: Any, **_: Any) -> None:
        encoding = request.headers.get("Content-Encoding")  # bytes, once prepared
        encoding = encoding.decode() if isinstance(encoding, bytes) else encoding
        sent.append((encoding, len(request.body)))

    client.meta.events.register("before-send.cloudwatch.PutMetricData", record)
    return sent


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_put_metric_data_over_10_kb_is_gzipped_and_kept(speaking, protocol: str) -> None:
    """Over 10 KB, botocore gzips PutMetricData in every protocol it speaks to CloudWatch; the
    local cloud checks the signature over the gzipped bytes and keeps every datapoint."""
    cloudwatch = speaking(protocol)
    sent = sent_bodies(cloudwatch)
    metric = f"cdlab-gzip-{uuid.uuid4().hex[:8]}"
    at = datetime.now(UTC).replace(second=30, microsecond=0)
    data = [
        {"MetricName": metric, "Value": float(i), "Unit": "Count", "Timestamp": at}
        for i in range(300)
    ]
    cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)
    [(encoding, size)] = sent
    assert encoding == "gzip" and size < 10240  # compressed, from over 10240
    stats = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        StartTime=at - timedelta(minutes=1),
        EndTime=at + timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount", "Sum"],
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in stats) == 300
    assert sum(p["Sum"] for p in stats) == sum(range(300))


def raw_post(
    url: str, body: bytes, headers: dict[str, str], service: str
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a POST of ``body`` signed as sent (gzipped or not)."""
    signed = signed_headers("POST", url, body, headers, service)
    request = urllib.request.Request(url, data=body, headers=signed, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def put_metric_data(endpoint: str, protocol: str, body: bytes) -> tuple[int, str, str]:
    """(status, error code, message) of a PutMetricData whose gzipped body is ``body``, in
    ``protocol``; ("", "") for a success."""
    headers = {"Content-Encoding": "gzip"}
    if protocol == "json":
        headers |= {"X-Amz-Target": f"{TARGET}.PutMetricData"}
        headers |= {"Content-Type": "application/x-amz-json-1.0"}
        status, _, answer = raw_post(endpoint, body, headers, "monitoring")
        found = json.loads(answer or b"{}")
        return status, found.get("__type", ""), found.get("message", "")
    if protocol == "smithy-rpc-v2-cbor":
        headers |= {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
        headers |= {"Accept": "application/cbor"}
        status, _, answer = raw_post(endpoint + CBOR_PATH, body, headers, "monitoring")
        found = cbor2.loads(answer) if answer else {}
        return status, found.get("__type", ""), found.get("message", "")
    headers |= {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    status, _, answer = raw_post(endpoint, body, headers, "monitoring")
    if status == 200:
        return status, "", ""
    error = ElementTree.fromstring(answer).find("Error")
    assert error is not None
    return status, error.findtext("Code", ""), error.findtext("Message", "")


def plain_body(protocol: str, metric: str) -> bytes:
    """A PutMetricData body of one datapoint of ``metric``, in ``protocol``."""
    if protocol == "json":
        doc = {"Namespace": NAMESPACE, "MetricData": [{"MetricName": metric, "Value": 1.0}]}
        return json.dumps(doc).encode()
    if protocol == "smithy-rpc-v2-cbor":
        datum = {"MetricName": metric, "Value": 1.0}
        return cbor2.dumps({"Namespace": NAMESPACE, "MetricData": [datum]})
    pairs = {
        "Action": "PutMetricData",
        "Version": "2010-08-01",
        "Namespace": NAMESPACE,
        "MetricData.member.1.MetricName": metric,
        "MetricData.member.1.Value": "1.0",
    }
    return urlencode(pairs).encode()


MALFORMED = {
    "json": (400, "SerializationException"),
    "smithy-rpc-v2-cbor": (400, "SerializationException"),
    "query": (400, "ValidationError"),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_body_that_is_not_gzip_is_refused_in_the_protocols_envelope(
    aws_env, speaking, protocol: str
) -> None:
    """``Content-Encoding: gzip`` over a body that is not gzip (sent plain, cut short) is the
    caller's error, in the request's protocol, naming the encoding; nothing is kept."""
    endpoint = aws_env["AWS_ENDPOINT_URL"]
    metric = f"cdlab-gzip-{uuid.uuid4().hex[:8]}"
    plain = plain_body(protocol, metric)
    for body in (plain, gzip.compress(plain)[:-4], b""):
        status, code, message = put_metric_data(endpoint, protocol, body)
        assert (status, code) == MALFORMED[protocol], (body[:20], message)
        assert "Content-Encoding: gzip" in message
    listed = speaking(protocol).list_metrics(Namespace=NAMESPACE, MetricName=metric)
    assert listed["Metrics"] == []
    status, code, _ = put_metric_data(endpoint, protocol, gzip.compress(plain))
    assert (status, code) == (200, "")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_body_that_inflates_past_the_limit_is_refused(aws_env, protocol: str) -> None:
    """A gzip bomb: a small body that inflates past the 32 MiB the local cloud reads of any
    signed body is refused (413) once that much is inflated, in the request's protocol; the
    cloud then serves the next request."""
    endpoint = aws_env["AWS_ENDPOINT_URL"]
    metric = f"cdlab-gzip-{uuid.uuid4().hex[:8]}"
    bomb = gzip.compress(b"\0" * (MAX_SIGNED_BODY_BYTES + 1), compresslevel=9)
    assert len(bomb) < 64 * 1024
    status, code, message = put_metric_data(endpoint, protocol, bomb)
    assert (status, code) == (413, "RequestEntityTooLarge"), message
    assert "inflated" in message
    fits = gzip.compress(plain_body(protocol, metric))
    assert put_metric_data(endpoint, protocol, fits)[:2] == (200, "")


def test_a_kit_services_json_request_may_be_gzipped_too(aws_env) -> None:
    """Not CloudWatch's only: a gzipped body of any JSON or query service but S3's (the kit's
    own SageMaker control plane here) is checked as sent and served inflated."""
    body = gzip.compress(json.dumps({"MaxResults": 5}).encode())
    headers = {
        "Content-Encoding": "gzip",
        "X-Amz-Target": "SageMaker.ListEndpoints",
        "Content-Type": "application/x-amz-json-1.1",
    }
    status, _, answer = raw_post(aws_env["AWS_ENDPOINT_URL"], body, headers, "sagemaker")
    assert status == 200 and "Endpoints" in json.loads(answer)


def test_an_s3_object_stored_gzipped_is_kept_as_sent(s3) -> None:
    """S3 keeps an object's bytes as uploaded, its Content-Encoding being the object's own
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html#API_PutObject_RequestSyntax):
    the web server inflated them on the way to moto."""
    bucket = f"cdlab-gzip-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    body = gzip.compress(b"hello, gzip\n" * 100)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=body, ContentEncoding="gzip")
    got = s3.get_object(Bucket=bucket, Key="a.txt")
    assert got["ContentEncoding"] == "gzip"
    assert got["Body"].read() == body
    s3.delete_object(Bucket=bucket, Key="a.txt")
    s3.delete_bucket(Bucket=bucket)


def test_iam_evaluates_the_inflated_body(client) -> None:
    """IAM's check reads the operation's parameters (PutMetricData's ``cloudwatch:namespace``,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html)
    from the inflated body: an IAM user allowed one namespace puts gzipped datapoints there
    and is refused another."""
    iam = client("iam")
    user = f"cdlab-gzip-{uuid.uuid4().hex[:8]}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
            }
        ],
    }
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="metrics", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    try:
        cloudwatch = boto3.client(
            "cloudwatch",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        sent = sent_bodies(cloudwatch)
        data = [{"MetricName": user, "Value": float(i)} for i in range(300)]
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)
        code, _, status = refused(
            cloudwatch.put_metric_data, Namespace="CDLab/Elsewhere", MetricData=data
        )
        assert (code, status) == ("AccessDenied", 400)  # CloudWatch's x-amzn-query-error code
        assert [encoding for encoding, _ in sent] == ["gzip", "gzip"]
    finally:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=user, PolicyName="metrics")
        iam.delete_user(UserName=user)

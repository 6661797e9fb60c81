"""CodePipeline and CodeBuild over the wire boto3 and the AWS CLI use (Smithy RPC v2 CBOR) and
over awsJson 1.1: an operation the local cloud does not provide is refused in words naming what
it provides; a role session without the permission is refused naming the action and the ARN;
CloudWatch's CBOR requests still reach moto."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import cbor2
import pytest

from tests.integration.test_iam_enforcement import Session, not_allowed, role_session
from tests.integration.test_principals import aws_cli
from tests.protocols import speaking
from tests.signing import signed_headers

ACCOUNT = "123456789012"
SUFFIX = uuid.uuid4().hex[:8]
PIPELINE = f"cdlab-cbor-{SUFFIX}"
VIEWER = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["codepipeline:GetPipeline", "codebuild:BatchGetBuilds"],
         "Resource": [f"arn:aws:codepipeline:*:{ACCOUNT}:{PIPELINE}",
                      f"arn:aws:codebuild:*:{ACCOUNT}:project/{PIPELINE}"]},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def viewer(client, aws_env) -> Iterator[Session]:
    with role_session(client, aws_env, f"cdlab-cbor-viewer-{SUFFIX}", VIEWER) as session:
        yield session


def error_of(call, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(Exception) as info:
        call(**kwargs)
    response = info.value.response  # type: ignore[attr-defined]
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def raw_post(
    url: str, body: bytes, headers: dict[str, str], service: str, env
) -> tuple[int, bytes]:
    """A signed POST's status and body."""
    signed = signed_headers("POST", url, body, headers, service, env)
    request = urllib.request.Request(url, data=body, headers=signed, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def missing(pipeline: str) -> str:
    return f"Account '{ACCOUNT}' does not have a pipeline with name '{pipeline}'"


def test_an_operation_not_provided_yet_is_refused_naming_what_the_cloud_provides(client) -> None:
    codepipeline = client("codepipeline")
    assert codepipeline.meta.service_model.protocol == "smithy-rpc-v2-cbor"
    code, message, status = error_of(codepipeline.list_webhooks)
    assert (code, status) == ("UnknownOperationException", 400)
    assert message.startswith("The local cloud does not provide CodePipeline ListWebhooks")
    assert "PutApprovalResult" in message  # what it provides instead
    code, message, _ = error_of(client("codebuild").list_report_groups)
    assert code == "UnknownOperationException" and "CodeBuild ListReportGroups" in message
    assert "BatchGetBuilds" in message  # what it provides instead


def test_the_awsjson_form_is_served_too(aws_env) -> None:
    headers = {
        "X-Amz-Target": "CodePipeline_20150709.GetPipeline",
        "Content-Type": "application/x-amz-json-1.1",
    }
    body = json.dumps({"name": PIPELINE}).encode()
    url = f"{aws_env['AWS_ENDPOINT_URL']}/"
    status, answer = raw_post(url, body, headers, "codepipeline", aws_env)
    assert (status, json.loads(answer)) == (
        400,
        {"__type": "PipelineNotFoundException", "message": missing(PIPELINE)},
    )


def test_a_cbor_service_the_cloud_does_not_serve_is_a_clear_cbor_error(aws_env) -> None:
    url = f"{aws_env['AWS_ENDPOINT_URL']}/service/Nowhere_20200101/operation/Go"
    status, answer = raw_post(url, b"", {"smithy-protocol": "rpc-v2-cbor"}, "nowhere", aws_env)
    error = cbor2.loads(answer)
    assert (status, error["__type"]) == (400, "UnknownOperationException")
    assert error["message"].startswith(
        "The local cloud serves no RPC v2 CBOR service Nowhere_20200101 (signed for nowhere)"
    )


def test_a_role_session_without_the_permission_is_refused_naming_action_and_arn(
    viewer, aws_env
) -> None:
    region = aws_env["AWS_DEFAULT_REGION"]
    other = f"arn:aws:codepipeline:{region}:{ACCOUNT}:someone-else"
    assert error_of(viewer.client("codepipeline").get_pipeline, name="someone-else") == (
        "AccessDeniedException",
        not_allowed(viewer.arn, "codepipeline:GetPipeline", other),
        400,
    )
    project = f"arn:aws:codebuild:{region}:{ACCOUNT}:project/other"
    assert error_of(viewer.client("codebuild").batch_get_builds, ids=["other:1"]) == (
        "AccessDeniedException",
        not_allowed(viewer.arn, "codebuild:BatchGetBuilds", project),
        400,
    )
    # allowed by IAM: the request reaches the operation, which finds no such pipeline
    code, _, _ = error_of(viewer.client("codepipeline").get_pipeline, name=PIPELINE)
    assert code == "PipelineNotFoundException"


def test_the_aws_cli_gets_a_parsed_answer_and_refusal(viewer, aws_env) -> None:
    credentials = viewer.credentials
    token = credentials["SessionToken"]
    result = aws_cli(aws_env, credentials, token, "codepipeline", "list-pipelines")
    assert result.returncode != 0
    assert "(AccessDeniedException)" in result.stderr
    assert not_allowed(viewer.arn, "codepipeline:ListPipelines") in result.stderr
    admin = {"AccessKeyId": aws_env["AWS_ACCESS_KEY_ID"],
             "SecretAccessKey": aws_env["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip
    result = aws_cli(aws_env, admin, "", "codepipeline", "get-pipeline", "--name", PIPELINE)
    assert result.returncode != 0
    assert "(PipelineNotFoundException)" in result.stderr
    assert missing(PIPELINE) in result.stderr


def test_cloudwatch_cbor_requests_still_reach_moto(aws_env, tmp_path) -> None:
    cloudwatch = speaking("cloudwatch", "smithy-rpc-v2-cbor", tmp_path)  # signed as monitoring
    sent: list[str] = []
    cloudwatch.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    namespace = f"cdlab/cbor-{SUFFIX}"
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert [m["MetricName"] for m in cloudwatch.list_metrics(Namespace=namespace)["Metrics"]] == [
        "m"
    ]
    assert [url.partition("/service/")[2] for url in sent] == [
        "GraniteServiceVersion20100801/operation/PutMetricData",
        "GraniteServiceVersion20100801/operation/ListMetrics",
    ]

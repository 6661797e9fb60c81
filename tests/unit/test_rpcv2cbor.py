"""Smithy RPC v2 CBOR with botocore as the oracle: what botocore's serializer sends decodes to
the members it was given, and what the kit encodes botocore's parser reads back, timestamps and
blobs included; errors are the protocol's; requests are named for IAM as boto3 sends them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.parsers import JSONParser, RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer

from cdlab.localcloud.iam.requests import authorization
from cdlab.localcloud.iam.wire import wire_call
from cdlab.localcloud.protocols import awsjson, rpcv2cbor
from cdlab.localcloud.protocols.envelopes import cbor_error
from cdlab.localcloud.protocols.errors import SerializationException, ValidationException, error

CODEBUILD = awsjson.service_model("codebuild")
CODEPIPELINE = awsjson.service_model("codepipeline")
WHEN = datetime(2026, 12, 5, 12, 30, 15, 250000, tzinfo=UTC)


def sent(service, operation: str, params: dict) -> dict:
    """The request botocore's own serializer makes of ``params``."""
    return RpcV2CBORSerializer().serialize_to_request(params, service.operation_model(operation))


def parsed(service, operation: str, body: bytes, status: int = 200) -> dict:
    """What botocore's own parser reads from an answer."""
    op = service.operation_model(operation)
    response = {"body": body, "headers": {}, "status_code": status}
    return RpcV2CBORParser().parse(response, op.output_shape)


def test_a_request_botocore_sends_decodes_to_its_members() -> None:
    params = {
        "projectName": "cdlab-build",
        "sourceVersion": "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        "environmentVariablesOverride": [{"name": "STAGE", "value": "qa", "type": "PLAINTEXT"}],
        "timeoutInMinutesOverride": 30,
        "privilegedModeOverride": False,
    }
    request = sent(CODEBUILD, "StartBuild", params)
    assert request["url_path"] == "/service/CodeBuild_20161006/operation/StartBuild"
    assert request["headers"]["smithy-protocol"] == "rpc-v2-cbor"
    op = CODEBUILD.operation_model("StartBuild")
    assert rpcv2cbor.cbor_params(request["body"], op.input_shape) == params


def test_timestamps_arrive_as_tag_1_and_an_empty_body_is_no_members() -> None:
    params = {
        "pipelineName": "cdlab-lab3",
        "stageName": "Source",
        "actionName": "Source",
        "actionRevision": {"revisionId": "v1", "revisionChangeId": "c1", "created": WHEN},
    }
    body = sent(CODEPIPELINE, "PutActionRevision", params)["body"]
    assert b"\xc1" in body  # tag 1
    op = CODEPIPELINE.operation_model("PutActionRevision")
    assert rpcv2cbor.cbor_params(body, op.input_shape) == params
    empty = CODEPIPELINE.operation_model("ListPipelines").input_shape
    assert rpcv2cbor.cbor_params(b"", empty) == {}


def test_a_result_botocore_parses_back_with_its_timestamps() -> None:
    result = {
        "builds": [
            {
                "id": "cdlab-build:6b3c",
                "buildNumber": 7,
                "startTime": WHEN,
                "endTime": WHEN.timestamp() + 60,
                "buildComplete": True,
                "buildStatus": "SUCCEEDED",
                "exportedEnvironmentVariables": [{"name": "COMMIT", "value": "abc"}],
                "currentPhase": None,
            }
        ],
        "buildsNotFound": [],
    }
    answer = parsed(CODEBUILD, "BatchGetBuilds", rpcv2cbor.cbor_result(result, None))
    # without the shape only the datetime is a timestamp; with it, epoch seconds are one too
    assert answer["builds"][0]["startTime"] == WHEN
    shape = CODEBUILD.operation_model("BatchGetBuilds").output_shape
    build = parsed(CODEBUILD, "BatchGetBuilds", rpcv2cbor.cbor_result(result, shape))["builds"][0]
    assert build["startTime"] == WHEN
    assert build["endTime"] == datetime.fromtimestamp(WHEN.timestamp() + 60, UTC)
    assert (build["buildNumber"], build["buildComplete"]) == (7, True)
    assert "currentPhase" not in build


def test_a_blob_is_a_byte_string_botocore_reads_back() -> None:
    cloudwatch = awsjson.service_model("cloudwatch")  # RPC v2 CBOR too, with a blob output
    image = {"MetricWidgetImage": b"\x89PNG\x00\xff"}
    shape = cloudwatch.operation_model("GetMetricWidgetImage").output_shape
    answer = parsed(cloudwatch, "GetMetricWidgetImage", rpcv2cbor.cbor_result(image, shape))
    assert answer["MetricWidgetImage"] == image["MetricWidgetImage"]
    as_text = rpcv2cbor.cbor_result({"MetricWidgetImage": "PNG"}, shape)
    assert parsed(cloudwatch, "GetMetricWidgetImage", as_text)["MetricWidgetImage"] == b"PNG"


def test_wrong_types_and_model_violations_are_refused_in_awss_words() -> None:
    op = CODEBUILD.operation_model("StartBuild")
    with pytest.raises(SerializationException, match="must be of type string"):
        rpcv2cbor.cbor_params(rpcv2cbor.cbor_result({"projectName": 5}, None), op.input_shape)
    with pytest.raises(ValidationException, match="Value null at 'projectName'"):
        rpcv2cbor.cbor_params(rpcv2cbor.cbor_result({}, None), op.input_shape)
    with pytest.raises(SerializationException, match="not valid CBOR"):
        rpcv2cbor.decode(b"\xff\x00")
    with pytest.raises(SerializationException, match="must be a CBOR map"):
        rpcv2cbor.decode(rpcv2cbor.cbor_result({"a": 1}, None)[1:])


def test_an_error_envelope_is_what_botocore_reads_as_the_code_and_message() -> None:
    response = cbor_error(error("PipelineNotFoundException")("The pipeline p was not found."))
    assert response.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert response.content_type == "application/cbor"
    op = CODEPIPELINE.operation_model("GetPipeline")
    raw = {"body": response.body, "headers": {}, "status_code": response.status}
    answer = RpcV2CBORParser().parse(raw, op.output_shape)
    assert answer["Error"] == {"Code": "PipelineNotFoundException",
                               "Message": "The pipeline p was not found."}  # fmt: skip


@pytest.mark.parametrize(
    ("service", "operation", "params", "resources"),
    [
        (CODEPIPELINE, "GetPipeline", {"name": "cdlab-lab3"},
         ["arn:aws:codepipeline:eu-west-1:123456789012:cdlab-lab3"]),
        (CODEPIPELINE, "ListPipelines", {}, ["*"]),
        (CODEPIPELINE, "PutApprovalResult",
         {"pipelineName": "p", "stageName": "Approval", "actionName": "Approve",
          "result": {"summary": "ok", "status": "Approved"},
          "token": "11111111-2222-3333-4444-555555555555"},
         ["arn:aws:codepipeline:eu-west-1:123456789012:p/Approval/Approve"]),
        (CODEBUILD, "StartBuild", {"projectName": "cdlab-build"},
         ["arn:aws:codebuild:eu-west-1:123456789012:project/cdlab-build"]),
        (CODEBUILD, "BatchGetBuilds", {"ids": ["cdlab-build:6b3c", "cdlab-test:9e1f"]},
         ["arn:aws:codebuild:eu-west-1:123456789012:project/cdlab-build",
          "arn:aws:codebuild:eu-west-1:123456789012:project/cdlab-test"]),
        (CODEBUILD, "BatchGetProjects", {"names": ["a"]},
         ["arn:aws:codebuild:eu-west-1:123456789012:project/a"]),
        (CODEBUILD, "StopBuild", {"id": "cdlab-build:6b3c"},
         ["arn:aws:codebuild:eu-west-1:123456789012:project/cdlab-build"]),
    ],
)  # fmt: skip
def test_iam_names_a_cbor_request_as_its_action_on_its_resource(
    service, operation: str, params: dict, resources: list[str]
) -> None:
    request = sent(service, operation, params)
    headers = {
        **request["headers"],
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261205/eu-west-1/"
        f"{service.signing_name}/aws4_request, SignedHeaders=host, Signature=00",
    }
    call = wire_call("POST", request["url_path"], headers, request["body"])
    assert call is not None and (call.service, call.operation) == (service.signing_name, operation)
    check = authorization(call.service, operation, call.params, "eu-west-1", "123456789012")
    assert check.action == f"{service.signing_name}:{operation}"
    assert list(check.resources) == resources


def test_the_awsjson_form_writes_the_same_result_as_botocores_json_parser_reads_it() -> None:
    shape = CODEPIPELINE.operation_model("GetPipeline").output_shape
    result = {"pipeline": {"name": "p", "roleArn": "arn:aws:iam::1:role/r", "stages": []},
              "metadata": {"pipelineArn": "arn:aws:codepipeline:r:1:p", "created": WHEN,
                           "updated": WHEN.timestamp()}}  # fmt: skip
    raw = {"body": awsjson.json_result(result, shape), "headers": {}, "status_code": 200}
    metadata = JSONParser().parse(raw, shape)["metadata"]
    assert metadata["created"] == metadata["updated"] == WHEN

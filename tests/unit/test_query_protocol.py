"""The query protocol reads what botocore writes and writes what botocore reads."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer

from cdlab.localcloud.protocols import awsjson, query
from cdlab.localcloud.protocols.errors import ValidationError

CLOUDFORMATION = awsjson.service_model("cloudformation")


def wire(operation: str, params: dict) -> list[tuple[str, str]]:
    """The form pairs botocore sends for ``params``."""
    request = QuerySerializer().serialize_to_request(
        params, CLOUDFORMATION.operation_model(operation)
    )
    return parse_qsl(urlencode(request["body"]), keep_blank_values=True)


def parsed(operation: str, params: dict) -> dict:
    return query.parse_request(wire(operation, params), CLOUDFORMATION.operation_model(operation))


def test_lists_of_structures_booleans_and_integers_come_back_typed() -> None:
    params = {
        "StackName": "s",
        "TemplateBody": "Resources: {}",
        "Parameters": [
            {"ParameterKey": "A", "ParameterValue": "1"},
            {"ParameterKey": "B", "UsePreviousValue": True},
        ],
        "Capabilities": ["CAPABILITY_IAM"],
        "DisableRollback": False,
        "TimeoutInMinutes": 5,
        "Tags": [{"Key": "k", "Value": "v"}],
    }
    assert parsed("CreateStack", params) == params


def test_empty_lists_are_sent_and_read_as_empty() -> None:
    assert (
        parsed("CreateChangeSet", {"StackName": "s", "ChangeSetName": "c", "Capabilities": []})[
            "Capabilities"
        ]
        == []
    )


def test_bad_values_are_validation_errors_in_aws_words() -> None:
    pairs = [("Action", "CreateStack"), ("TimeoutInMinutes", "soon")]
    with pytest.raises(ValidationError, match="at 'TimeoutInMinutes'"):
        query.parse_request(pairs, CLOUDFORMATION.operation_model("CreateStack"))
    with pytest.raises(ValidationError, match="Value null at 'stackName'"):
        query.parse_request(
            [("Action", "CreateStack")], CLOUDFORMATION.operation_model("CreateStack")
        )


def test_botocore_reads_the_xml_answer() -> None:
    operation = CLOUDFORMATION.operation_model("DescribeStacks")
    result = {
        "Stacks": [
            {
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
                "StackName": "s",
                "CreationTime": 1_700_000_000.5,
                "StackStatus": "CREATE_COMPLETE",
                "DisableRollback": False,
                "Outputs": [{"OutputKey": "EndpointName", "OutputValue": "prod-<x>&"}],
                "Capabilities": [],
            }
        ]
    }
    body = query.response_xml(operation, result, "req-1")
    answer = QueryParser().parse(
        {"body": body, "headers": {}, "status_code": 200}, operation.output_shape
    )
    [stack] = answer["Stacks"]
    assert stack["Outputs"] == result["Stacks"][0]["Outputs"]
    assert stack["CreationTime"].timestamp() == 1_700_000_000.5
    assert stack["DisableRollback"] is False
    assert answer["ResponseMetadata"]["RequestId"] == "req-1"


def test_the_signing_service_comes_from_the_credential_scope() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/cloudformation/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    assert query.signing_service({"Authorization": header}) == "cloudformation"
    assert query.signing_service({}) is None


def test_template_values_are_coerced_to_api_types_and_unknown_keys_refused() -> None:
    shape = awsjson.service_model("sagemaker").operation_model("CreateEndpointConfig").input_shape
    typed = query.coerce(
        {
            "EndpointConfigName": "c",
            "ProductionVariants": [
                {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": "2",
                 "InstanceType": "ml.m5.large", "InitialVariantWeight": 1}
            ],
        },
        shape,
    )  # fmt: skip
    variant = typed["ProductionVariants"][0]
    assert variant["InitialInstanceCount"] == 2 and variant["InitialVariantWeight"] == 1.0
    model = awsjson.service_model("sagemaker").operation_model("CreateModel").input_shape
    with pytest.raises(ValidationError) as info:
        query.coerce({"ModelName": "m", "PrimaryContainer": {"ModelDataURL": "s3://b/k"}}, model)
    assert info.value.message.startswith(
        "#/PrimaryContainer: extraneous key [ModelDataURL] is not permitted"
    )

"""Requests are checked against botocore's own models (SageMaker's, mostly), with AWS's wording."""

from __future__ import annotations

import json

import pytest
from botocore.model import ServiceModel

from cdlab.localcloud.protocols import awsjson, modelcheck
from cdlab.localcloud.protocols.errors import (
    SerializationException,
    UnknownOperationException,
    ValidationException,
)

SAGEMAKER = awsjson.service_model("sagemaker")
EVENTS = awsjson.service_model("events")


def check(operation: str, params: dict) -> None:
    awsjson.validate(params, awsjson.operation(SAGEMAKER, operation).input_shape)


def test_a_valid_request_passes_whole_and_each_required_member_is_needed() -> None:
    request = {
        "EndpointConfigName": "model1-config",
        "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "model1", "InitialInstanceCount": 2,
             "InstanceType": "ml.m4.xlarge", "InitialVariantWeight": 1}
        ],
    }  # fmt: skip
    shape = awsjson.operation(SAGEMAKER, "CreateEndpointConfig").input_shape
    assert awsjson.json_params(json.dumps(request).encode(), shape) == request
    for member, path in (("EndpointConfigName", "endpointConfigName"),
                         ("ProductionVariants", "productionVariants")):  # fmt: skip
        with pytest.raises(ValidationException) as info:
            check("CreateEndpointConfig", {k: v for k, v in request.items() if k != member})
        assert info.value.message == (
            f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: "
            "Member must not be null"
        )


def test_missing_members_are_named_in_aws_words() -> None:
    with pytest.raises(ValidationException) as info:
        check("CreateEndpoint", {})
    assert info.value.message == (
        "2 validation errors detected: "
        "Value null at 'endpointName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'endpointConfigName' failed to satisfy constraint: Member must not be null"
    )


def test_nested_constraints_carry_their_path() -> None:
    with pytest.raises(ValidationException) as info:
        check(
            "CreateEndpointConfig",
            {"EndpointConfigName": "c", "ProductionVariants": [
                {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 0}]},
        )  # fmt: skip
    assert (
        "Value '0' at 'productionVariants.1.member.initialInstanceCount' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1" in info.value.message
    )


def test_patterns_lengths_and_enums_are_enforced() -> None:
    with pytest.raises(ValidationException, match="regular expression pattern"):
        check("DescribeEndpoint", {"EndpointName": "no spaces"})
    with pytest.raises(ValidationException, match="length less than or equal to 63"):
        check("DescribeEndpoint", {"EndpointName": "a" * 64})
    with pytest.raises(ValidationException, match=r"enum value set: \[Name, CreationTime"):
        check("ListEndpoints", {"SortBy": "Size"})


def refusal(service: ServiceModel, operation: str, params: dict) -> str:
    """The message ``params`` are refused with."""
    with pytest.raises((ValidationException, SerializationException)) as info:
        awsjson.validate(params, awsjson.operation(service, operation).input_shape)
    return info.value.message


def api_key(params: object) -> dict:
    """EventBridge CreateConnection's input, with ``params`` as its ApiKeyAuthParameters."""
    auth = {"ApiKeyAuthParameters": params}
    return {"Name": "c", "AuthorizationType": "API_KEY", "AuthParameters": auth}


def test_a_container_over_its_limit_is_shown_unless_it_holds_a_sensitive_value() -> None:
    """A header's value is sensitive, so a list of headers is not shown either: the value
    shown would hold the secrets."""
    headers = [{"Key": f"h{i}", "Value": "TOPSECRET"} for i in range(101)]
    http = {"InvocationHttpParameters": {"HeaderParameters": headers}}
    params = {"Name": "c", "AuthorizationType": "API_KEY", "AuthParameters": http}
    assert refusal(EVENTS, "CreateConnection", params) == (
        "1 validation error detected: Value at 'authParameters.invocationHttpParameters."
        "headerParameters' failed to satisfy constraint: Member must have length less than or "
        "equal to 100"
    )
    variants = [{"VariantName": f"v{i}", "ModelName": "m"} for i in range(11)]
    params = {"EndpointConfigName": "c", "ProductionVariants": variants}
    message = refusal(SAGEMAKER, "CreateEndpointConfig", params)
    assert message.startswith('1 validation error detected: Value \'[{"VariantName": "v0", ')
    assert message.endswith(
        "at 'productionVariants' failed to satisfy constraint: Member must have length less "
        "than or equal to 10"
    )


def test_a_recursive_shape_is_looked_through_for_sensitive_values() -> None:
    """DynamoDB's AttributeValue holds lists and maps of itself (and nothing sensitive)."""
    assert refusal(awsjson.service_model("dynamodb"), "BatchWriteItem", {"RequestItems": {}}) == (
        "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_a_wrong_type_is_shown_unless_it_is_or_holds_a_sensitive_value() -> None:
    def wrong(api_key_parameters: object) -> str:
        return refusal(EVENTS, "CreateConnection", api_key(api_key_parameters))

    where = "at 'authParameters.apiKeyAuthParameters"
    secret = ["TOPSECRET"]
    assert wrong({"ApiKeyName": "n", "ApiKeyValue": secret}) == (
        f"Value {where}.apiKeyValue' must be of type string."
    )
    assert wrong(secret) == f"Value {where}' must be of type object."
    assert wrong({"ApiKeyName": ["n"], "ApiKeyValue": "k"}) == (
        f'Value ["n"] {where}.apiKeyName\' must be of type string.'
    )
    params = {"EndpointConfigName": "c", "ProductionVariants": {"VariantName": "v"}}
    assert refusal(SAGEMAKER, "CreateEndpointConfig", params) == (
        'Value {"VariantName": "v"} at \'productionVariants\' must be of type array.'
    )


def test_wrong_types_are_serialization_errors() -> None:
    with pytest.raises(SerializationException, match="'endpointName' must be of type string"):
        check("DescribeEndpoint", {"EndpointName": 5})
    with pytest.raises(SerializationException, match="must be of type integer"):
        check("ListEndpoints", {"MaxResults": True})


def test_bodies_and_operations_are_checked() -> None:
    assert awsjson.parse_json_body(b"") == {}
    with pytest.raises(SerializationException, match="not valid JSON"):
        awsjson.parse_json_body(b"{")
    with pytest.raises(SerializationException, match="must be a JSON object"):
        awsjson.parse_json_body(b"[1]")
    with pytest.raises(UnknownOperationException, match="NoSuchThing"):
        awsjson.operation(SAGEMAKER, "NoSuchThing")


def test_a_null_member_counts_as_not_sent() -> None:
    create_model = awsjson.operation(SAGEMAKER, "CreateModel").input_shape
    params = awsjson.json_params(
        b'{"ModelName": "m", "PrimaryContainer": null, "Containers": [{"Image": "i", '
        b'"ModelDataUrl": null}]}',
        create_model,
    )
    assert params == {"ModelName": "m", "Containers": [{"Image": "i"}]}
    with pytest.raises(ValidationException, match="Value null at 'modelName'"):
        awsjson.json_params(b'{"ModelName": null}', create_model)


def _refused(signing_name: str, target: str, body: bytes) -> tuple[int, str, str] | None:
    """A JSON request's refusal by its model: status, error type, message; None if none."""
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    response = modelcheck.model_refusal(signing_name, "/", headers, body)
    if response is None:
        return None
    assert isinstance(response.body, bytes)
    answer = json.loads(response.body)
    return response.status, answer["__type"], answer["message"]


def test_json_requests_for_other_services_are_checked_when_botocore_knows_them() -> None:
    assert _refused("logs", "Logs_20140328.CreateLogGroup", b'{"logGroupName": 5}') == (
        400, "SerializationException", "Value 5 at 'logGroupName' must be of type string."
    )  # fmt: skip
    assert _refused("logs", "Logs_20140328.NoSuchThing", b"{}") == (
        400, "UnknownOperationException", "The operation NoSuchThing is not a logs operation."
    )  # fmt: skip
    assert _refused("logs", "Logs_20140328.CreateLogGroup", b'{"logGroupName": "g"}') is None
    assert _refused("nosuchservice", "Whatever.Op", b"not even json") is None  # left to moto
    assert _refused("logs", "NotLogs.CreateLogGroup", b"not even json") is None

"""Bad input gets a clear AWS-style error, and the local cloud keeps serving."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.integration.test_endpoints import BODY, error_of, invoke, score
from tests.signing import signed_headers


@pytest.fixture(scope="module")
def serving(deploy) -> str:
    return deploy("bad", {"AllTraffic": (1, 1, 1)})


def raw_post(
    url: str, body: bytes, headers: dict[str, str], service: str = "sagemaker"
) -> tuple[int, dict]:
    headers = signed_headers("POST", url, body, headers, service)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_malformed_json_body_is_a_serialization_error(aws_env, serving, runtime) -> None:
    status, body = raw_post(
        aws_env["AWS_ENDPOINT_URL"],
        b'{"EndpointName": ',
        {
            "X-Amz-Target": "SageMaker.DescribeEndpoint",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert status == 400 and body["__type"] == "SerializationException"
    assert "not valid JSON" in body["message"]
    assert invoke(runtime, serving) == ("AllTraffic", score(1))


def test_wrong_types_and_bad_names_are_validation_errors(aws_env, sm) -> None:
    status, body = raw_post(
        aws_env["AWS_ENDPOINT_URL"],
        json.dumps({"EndpointName": ["x"], "EndpointConfigName": "c"}).encode(),
        {"X-Amz-Target": "SageMaker.CreateEndpoint", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert status == 400 and body["__type"] == "SerializationException"
    assert "'endpointName' must be of type string" in body["message"]
    code, message = error_of(sm.create_endpoint, EndpointName="-bad-", EndpointConfigName="c")
    assert code == "ValidationException"
    assert "Value '-bad-' at 'endpointName' failed to satisfy constraint" in message


def test_unknown_endpoint_is_a_validation_error(runtime) -> None:
    code, message = error_of(
        runtime.invoke_endpoint, EndpointName="nowhere", Body=b"{}", ContentType="application/json"
    )
    assert code == "ValidationError"
    assert message == "Endpoint nowhere of account 123456789012 not found."


def test_duplicate_names_are_refused(sm, serving) -> None:
    config = sm.describe_endpoint(EndpointName=serving)["EndpointConfigName"]
    code, message = error_of(sm.create_endpoint, EndpointName=serving, EndpointConfigName=config)
    assert code == "ValidationException"
    assert message.startswith("Cannot create already existing endpoint")
    code, message = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=config,
        ProductionVariants=[{"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    assert message.startswith("Cannot create already existing endpoint configuration")


def test_config_naming_a_missing_model_is_refused(sm) -> None:
    code, message = error_of(
        sm.create_endpoint_config,
        EndpointConfigName="needs-missing-model",
        ProductionVariants=[{"VariantName": "v", "ModelName": "no-such-model",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    assert code == "ValidationException"
    assert message == (
        'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/no-such-model".'
    )


def test_model_data_must_exist(sm, fm_image, bucket) -> None:
    code, message = error_of(
        sm.create_model,
        ModelName="no-data",
        PrimaryContainer={"Image": fm_image, "ModelDataUrl": f"s3://{bucket}/absent.tar.gz"},
    )
    assert code == "ValidationException"
    assert message == f"Could not find model data at s3://{bucket}/absent.tar.gz."


def test_an_image_of_another_region_is_refused_as_sagemaker_refuses_it(sm, bucket) -> None:
    """SageMaker pulls no image across regions: a model of this cloud's region (us-east-1) with
    us-west-2's Factorization Machines image is refused at once, not when an endpoint starts."""
    image = fm_image_uri("us-west-2")
    code, message = error_of(
        sm.create_model,
        ModelName="elsewhere",
        PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{bucket}/absent.tar.gz"},
    )
    assert code == "ValidationException"
    assert message == (
        f'Region of "{image}" does not match expected region of us-east-1. Cross region ECR '
        "image pulls are not allowed."
    )


def test_oversize_payload_is_refused_before_it_is_read(runtime, serving) -> None:
    _, message = error_of(
        runtime.invoke_endpoint,
        EndpointName=serving,
        Body=b"x" * (6_291_456 + 1),
        ContentType="application/json",
    )
    assert message == "HTTP content length exceeded 6291456 bytes."
    assert invoke(runtime, serving) == ("AllTraffic", score(1))


def test_bad_request_to_the_model_is_a_model_error(runtime, serving) -> None:
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName=serving, Body=b'{"instances": [{"features": [1, 2]}]}',
            ContentType="application/json",
        )  # fmt: skip
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "20" in error["OriginalMessage"]
    assert invoke(runtime, serving) == ("AllTraffic", score(1))


def test_unknown_target_variant_is_a_validation_error(runtime, serving) -> None:
    code, message = error_of(
        runtime.invoke_endpoint, EndpointName=serving, Body=b"{}",
        ContentType="application/json", TargetVariant="nope",
    )  # fmt: skip
    assert code == "ValidationError" and "nope" in message and "AllTraffic" in message


def test_invocation_members_are_held_to_the_model(runtime, serving) -> None:
    """botocore checks none of these lengths and patterns before sending; SageMaker does."""
    prefix = "1 validation error detected: Value"
    code, message = error_of(
        runtime.invoke_endpoint, EndpointName="bad_name", Body=b"{}", ContentType="application/json"
    )
    assert (code, message) == (
        "ValidationError",
        f"{prefix} 'bad_name' at 'endpointName' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*",
    )
    code, message = error_of(invoke, runtime=runtime, endpoint=serving, TargetVariant="All_Traffic")
    assert message == (
        f"{prefix} 'All_Traffic' at 'targetVariant' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
    )
    code, message = error_of(invoke, runtime=runtime, endpoint=serving, CustomAttributes="a" * 1025)
    assert (code, message) == (
        "ValidationError",
        f"{prefix} at 'customAttributes' failed to satisfy constraint: Member must have length "
        "less than or equal to 1024",
    )  # CustomAttributes is sensitive: AWS leaves its value out
    assert invoke(runtime, serving, CustomAttributes="a" * 1024) == ("AllTraffic", score(1))


def test_aiohttps_path_holds_invocations_to_the_model_too(aws_env, serving) -> None:
    """urllib says Connection: close, which the runtime's fast path leaves to aiohttp."""
    url = f"{aws_env['AWS_ENDPOINT_URL']}/endpoints/{serving}/invocations"
    headers = {"Content-Type": "application/json", "X-Amzn-SageMaker-Inference-Id": "i" * 65}
    status, body = raw_post(url, BODY.encode(), headers)
    assert (status, body["message"]) == (
        400,
        "1 validation error detected: Value 'iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii"
        "iiiiiiiiiii' at 'inferenceId' failed to satisfy constraint: Member must have length less "
        "than or equal to 64",
    )
    status, body = raw_post(
        url, BODY.encode(), {**headers, "X-Amzn-SageMaker-Inference-Id": "i" * 64}
    )
    assert status == 200 and body["predictions"][0]["score"] == score(1)


def test_client_side_validation_still_applies(sm) -> None:
    with pytest.raises(ParamValidationError):
        sm.update_endpoint_weights_and_capacities(
            EndpointName="x", DesiredWeightsAndCapacities=[{"VariantName": "a", "Desiredweight": 5}]
        )


def test_head_object_states_the_object_size(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="sized", Body=b"x" * 1234)
    assert s3.head_object(Bucket=bucket, Key="sized")["ContentLength"] == 1234
    assert s3.get_object(Bucket=bucket, Key="sized")["Body"].read() == b"x" * 1234


def test_json_requests_for_moto_are_checked_against_botocores_model(aws_env, client) -> None:
    """Moto would keep (and journal) some malformed input; the gateway refuses it first."""
    url, glue = aws_env["AWS_ENDPOINT_URL"], client("glue")
    create = {
        "X-Amz-Target": "AWSGlue.CreateDatabase",
        "Content-Type": "application/x-amz-json-1.1",
    }
    wrong_type = b'{"DatabaseInput": {"Name": "bad_db", "Parameters": [1]}}'
    status, body = raw_post(url, wrong_type, create, "glue")
    assert status == 400 and body["__type"] == "SerializationException"
    assert "'databaseInput.parameters' must be of type object" in body["message"]
    status, body = raw_post(url, b'{"DatabaseInput": {}}', create, "glue")
    assert status == 400 and body["__type"] == "ValidationException"
    assert "Value null at 'databaseInput.name'" in body["message"]
    with pytest.raises(ClientError):
        glue.get_database(Name="bad_db")
    status, _ = raw_post(url, b'{"DatabaseInput": {"Name": "good_db"}}', create, "glue")
    assert status == 200 and glue.get_database(Name="good_db")["Database"]["Name"] == "good_db"


def test_a_sensitive_member_is_refused_without_its_value(aws_env, client) -> None:
    """EventBridge's API key value is sensitive and its name is not, under one constraint (a
    header's pattern: no ':'); both broken, the refusal quotes the name and leaves the key out,
    as AWS does. botocore checks no pattern before sending, so a client reaches the gateway."""
    url, events = aws_env["AWS_ENDPOINT_URL"], client("events")
    secret = "sk:live-7f3a9c2e51"
    api_key = {"ApiKeyName": "X-Api:Key", "ApiKeyValue": secret}
    params = {
        "Name": "refused-key",
        "AuthorizationType": "API_KEY",
        "AuthParameters": {"ApiKeyAuthParameters": api_key},
    }
    where = (
        "at 'authParameters.apiKeyAuthParameters.{}' failed to satisfy constraint: Member must "
        r"satisfy regular expression pattern: ^[ \t]*[^\x00-\x1F:\x7F]+([ \t]+[^\x00-\x1F:\x7F]+)*"
        r"[ \t]*$"
    )
    expected = (
        f"2 validation errors detected: Value 'X-Api:Key' {where.format('apiKeyName')}; "
        f"Value {where.format('apiKeyValue')}"
    )
    assert error_of(events.create_connection, **params) == ("ValidationException", expected)
    create = {
        "X-Amz-Target": "AWSEvents.CreateConnection",
        "Content-Type": "application/x-amz-json-1.1",
    }
    status, body = raw_post(url, json.dumps(params).encode(), create, "events")
    assert (status, body) == (400, {"__type": "ValidationException", "message": expected})
    assert "7f3a9c2e51" not in json.dumps(body)
    code, _ = error_of(events.describe_connection, Name="refused-key")
    assert code == "ResourceNotFoundException"  # refused before moto kept it (and its secret)

"""Each protocol family's error envelope carries AWS's status, code and message, and botocore's
own parser for that protocol reads them back."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from botocore.parsers import create_parser

from cdlab.localcloud.protocols import auth, envelopes
from cdlab.localcloud.protocols.errors import (
    InternalFailure,
    ModelError,
    PayloadTooLarge,
    ValidationError,
    ValidationException,
    error,
    in_family,
)


def parsed(protocol: str, response: web.Response) -> dict:
    """What botocore's parser for ``protocol`` makes of an error response."""
    wire = {
        "body": response.body,
        "headers": dict(response.headers),
        "status_code": response.status,
    }
    return create_parser(protocol).parse(wire, None)


def test_the_json_envelope() -> None:
    response = envelopes.json_error(ValidationException("Could not find endpoint."))
    assert response.status == 400
    assert response.content_type == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(response.body) == {
        "__type": "ValidationException",
        "message": "Could not find endpoint.",
    }
    answer = parsed("json", response)["Error"]
    assert (answer["Code"], answer["Message"]) == (
        "ValidationException",
        "Could not find endpoint.",
    )


def test_the_runtime_envelope_is_rest_json_with_the_errors_own_fields() -> None:
    err = ModelError("Received client error (400)", OriginalStatusCode=400, OriginalMessage="no")
    response = envelopes.json_error(err, envelopes.REST_JSON)
    assert response.status == 424
    assert response.content_type == "application/json"
    assert response.headers["x-amzn-ErrorType"] == "ModelError"
    assert json.loads(response.body) == {
        "__type": "ModelError",
        "message": "Received client error (400)",
        "OriginalStatusCode": 400,
        "OriginalMessage": "no",
    }
    answer = parsed("rest-json", response)["Error"]
    assert (answer["Code"], answer["Message"]) == ("ModelError", "Received client error (400)")


def test_the_query_envelope() -> None:
    err = ValidationError("Stack with id x does not exist")
    response = envelopes.query_error(err, "req-2", "http://cloudformation.amazonaws.com/doc/")
    assert response.status == 400
    assert response.content_type == "text/xml"
    assert response.headers["x-amzn-RequestId"] == "req-2"
    answer = parsed("query", response)
    assert answer["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "Stack with id x does not exist",
    }
    assert answer["ResponseMetadata"]["RequestId"] == "req-2"


def test_a_server_fault_is_the_receivers_in_the_query_envelope() -> None:
    response = envelopes.query_error(InternalFailure("The local cloud failed"), "req-3")
    assert response.status == 500
    assert parsed("query", response)["Error"]["Type"] == "Receiver"


def test_the_s3_envelope() -> None:
    response = envelopes.s3_error(error("AccessDenied", 403)("Request has expired"))
    assert response.status == 403
    assert response.content_type == "application/xml"
    root = ElementTree.fromstring(response.body)
    assert root.tag == "Error"
    assert root.findtext("RequestId") == response.headers["x-amzn-RequestId"]
    answer = parsed("rest-xml", response)["Error"]
    assert (answer["Code"], answer["Message"]) == ("AccessDenied", "Request has expired")


@pytest.mark.parametrize(
    ("family", "content_type"),
    [("json", "application/x-amz-json-1.1"), ("query", "text/xml"), ("s3", "application/xml")],
)
def test_error_response_picks_the_familys_envelope(family: str, content_type: str) -> None:
    response = envelopes.error_response(InternalFailure("not saved"), family, service="sts")
    assert (response.status, response.content_type) == (500, content_type)


DENIED = {
    "json": error("AccessDeniedException", 400),
    "query": error("AccessDenied", 403),
    "s3": error("AccessDenied", 403),
}


@pytest.mark.parametrize(("family", "protocol"), [("json", "json"), ("cbor", "smithy-rpc-v2-cbor")])
def test_a_query_compatible_service_names_the_query_code_in_its_json_and_cbor_errors(
    family: str, protocol: str
) -> None:
    """CloudWatch's JSON and CBOR errors carry ``x-amzn-query-error: Code;Sender``, and botocore
    reports that code, keeping the body's as QueryErrorCode."""
    err = in_family(DENIED, family, "User: u is not authorized to perform: cloudwatch:ListMetrics")
    response = envelopes.error_response(err, family, service="monitoring")
    assert response.headers["x-amzn-query-error"] == "AccessDenied;Sender"
    answer = parsed(protocol, response)["Error"]
    assert (answer["Code"], answer["QueryErrorCode"], answer["Type"]) == (
        "AccessDenied",
        "AccessDeniedException",
        "Sender",
    )
    failed = envelopes.error_response(InternalFailure("not saved"), family, service="monitoring")
    assert failed.headers["x-amzn-query-error"] == "InternalFailure;Receiver"


@pytest.mark.parametrize(
    ("family", "service"),
    [("json", "sagemaker"), ("json", None), ("json", "execute-api"), ("query", "monitoring"),
     ("s3", "s3")],
)  # fmt: skip
def test_no_other_error_names_a_query_code(family: str, service: str | None) -> None:
    err = in_family(DENIED, family, "denied")
    response = envelopes.error_response(err, family, service=service)
    assert "x-amzn-query-error" not in response.headers


def test_the_query_compatible_services_are_those_botocore_marks_so() -> None:
    assert envelopes.query_compatible("monitoring") and envelopes.query_compatible("cloudwatch")
    assert envelopes.query_compatible("sqs")
    assert not any(
        envelopes.query_compatible(s)
        for s in ("sagemaker", "logs", "codebuild", "codepipeline", "application-autoscaling",
                  "events", "glue", "iam", "sts", "cloudformation", "s3")
    )  # fmt: skip


def test_an_error_of_a_family_carries_the_query_familys_code() -> None:
    cbor = in_family(DENIED, "cbor", "denied")  # RPC v2 CBOR answers with JSON's codes
    assert (cbor.code, cbor.status, cbor.query_code) == (
        "AccessDeniedException",
        400,
        "AccessDenied",
    )
    assert in_family({"json": ValidationException}, "query", "x").query_code is None
    for kind, query_code in [("missing", "MissingAuthenticationToken"),
                             ("key", "InvalidClientTokenId"), ("token", "InvalidClientTokenId"),
                             ("token-expired", "ExpiredToken"),
                             ("signature", "SignatureDoesNotMatch"), ("expired", "AccessDenied"),
                             ("host", "AccessDenied")]:  # fmt: skip
        refused = auth.refusal(kind, "json", "m")
        assert refused.query_code == query_code
        response = envelopes.error_response(refused, "json", service="monitoring")
        assert response.headers["x-amzn-query-error"] == f"{query_code};Sender"


@pytest.mark.parametrize(
    ("method", "path", "headers", "service", "family"),
    [
        ("POST", "/", {"X-Amz-Target": "SageMaker.ListEndpoints"}, "sagemaker", "json"),
        ("POST", "/endpoints/e/invocations", {}, "sagemaker", "json"),
        ("PUT", "/bucket/key", {}, "s3", "s3"),
        ("GET", "/bucket/key", {}, None, "s3"),
        ("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, "sts", "query"),
        ("GET", "/?Action=GetCallerIdentity", {}, "sts", "query"),
        ("POST", "/", {}, "logs", "json"),
    ],
)
def test_the_family_of_a_request(method, path, headers, service, family) -> None:
    request = make_mocked_request(method, path, headers=headers)
    assert envelopes.family(request, service) == family


def test_an_error_class_is_named_for_what_it_is_and_answers_with_aws_code() -> None:
    assert PayloadTooLarge.__name__ == "PayloadTooLarge"
    assert (PayloadTooLarge.code, PayloadTooLarge.status) == ("ValidationError", 413)
    response = envelopes.json_error(PayloadTooLarge("too big"), envelopes.REST_JSON)
    assert (response.status, response.headers["x-amzn-ErrorType"]) == (413, "ValidationError")
    assert (ValidationError.__name__, ValidationError.code) == (
        "ValidationError",
        "ValidationError",
    )

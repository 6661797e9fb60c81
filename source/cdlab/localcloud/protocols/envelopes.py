"""Each protocol family's content type and error envelope: an AWSError as AWS would answer it.

Four families (docs/aws-compatibility.md, "Error shapes"): JSON (awsJson 1.0/1.1, and the
runtime's rest-json), CBOR (Smithy RPC v2 CBOR: JSON's error codes in a CBOR map), query
(form-encoded requests, XML answers) and S3 (rest-xml). Every error the gateway answers, a
refusal of the auth guard included, goes through one of these.

A service with the awsQueryCompatible trait in its botocore model (CloudWatch, SQS) answers
every JSON and CBOR error with the query protocol's code and fault in the header
``x-amzn-query-error: Code;Sender`` (``Receiver`` for a 5xx), and the SDKs report that code
(https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#aws-protocols-awsquerycompatible-trait;
SQS's example, ``x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender``:
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html).
:func:`with_query_code` adds it, the one place that does; :func:`error_response` (the auth
guard, IAM's check, the gateway), :mod:`.modelcheck`'s refusals and :mod:`.codecs` (the kit's own
operations) go through it.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Literal
from xml.etree import ElementTree

import cbor2
from aiohttp import web

from cdlab.localcloud.protocols import awsjson, rpcv2cbor
from cdlab.localcloud.protocols.errors import AWSError

Family = Literal["json", "cbor", "query", "s3"]

JSON_11 = "application/x-amz-json-1.1"
REST_JSON = "application/json"
QUERY_XML = "text/xml"
S3_XML = "application/xml"


INVOCATIONS = "/endpoints/"  # the SageMaker runtime's paths: /endpoints/{name}/invocations


def is_invocation(path: str) -> bool:
    """Whether ``path`` is an InvokeEndpoint request's (the runtime's fast path in
    ``sagemaker/runtime.py`` matches its own request line)."""
    return path.startswith(INVOCATIONS)


def family(request: web.Request, service: str | None) -> Family:
    """The protocol family of a request signed for ``service`` (None when unsigned)."""
    if rpcv2cbor.is_cbor(request.headers):
        return "cbor"
    if "X-Amz-Target" in request.headers or is_invocation(request.path):
        return "json"
    if service == "s3":
        return "s3"
    if request.content_type == "application/x-www-form-urlencoded" or "Action" in request.query:
        return "query"
    return "s3" if service is None else "json"


def json_error(err: AWSError, content_type: str = JSON_11) -> web.Response:
    """The JSON envelope: ``__type`` and ``message`` plus the error's own fields, and the code in
    ``x-amzn-ErrorType``; ``content_type`` is the protocol's (awsJson 1.1, or the runtime's
    rest-json)."""
    status, headers, body = json_error_parts(err, content_type)
    del headers["Content-Type"]
    return web.Response(status=status, body=body, content_type=content_type, headers=headers)


def json_error_parts(
    err: AWSError, content_type: str = JSON_11
) -> tuple[int, dict[str, str], bytes]:
    """:func:`json_error`'s status, headers (Content-Type among them) and body, for a path
    that writes its own answer (InvokeEndpoint's, served by aiohttp or the runtime's fast
    path)."""
    body = {"__type": err.code, "message": err.message, **err.fields}
    headers = {"Content-Type": content_type, "x-amzn-ErrorType": err.code}
    return err.status, headers, json.dumps(body).encode()


def cbor_error(err: AWSError) -> web.Response:
    """The RPC v2 CBOR envelope: a map of ``__type``, ``message`` and the error's own fields,
    with the protocol's header."""
    body = {"__type": err.code, "message": err.message, **err.fields}
    return web.Response(
        status=err.status,
        body=cbor2.dumps(body),
        content_type=rpcv2cbor.CBOR,
        headers={
            rpcv2cbor.PROTOCOL_HEADER: rpcv2cbor.PROTOCOL,
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )


@functools.cache
def query_compatible(service: str | None) -> bool:
    """Whether the botocore model of ``service`` (the name a request is signed for,
    ``monitoring``, or a model's own, ``cloudwatch``) has the awsQueryCompatible trait; False
    for an unsigned request (None) or a service botocore does not model."""
    if not service:
        return False
    name = awsjson.model_name(service)
    return name in awsjson.botocore_services() and awsjson.service_model(name).is_query_compatible


def with_query_code(response: web.Response, err: AWSError, service: str | None) -> web.Response:
    """A JSON or CBOR error ``response`` as ``service`` answers it: with ``err``'s
    query-protocol code (its ``query_code``, else its code) and fault in
    ``x-amzn-query-error: Code;Sender`` when the service has the awsQueryCompatible trait
    (:func:`query_compatible`). botocore reads that header's code as the error's code, keeping
    the body's as ``QueryErrorCode`` (``_do_query_compatible_error_parse`` in botocore's
    ``parsers.py``); an IAM denial is ``AccessDenied;Sender`` with the body's
    ``AccessDeniedException``, as the AWS SDK for Go's awsQueryCompatible test expects
    (https://github.com/aws/aws-sdk-go/blob/main/private/model/api/codegentest/service/awsquerycompatible/awsquerycompatible_test.go)."""
    if query_compatible(service):
        response.headers["x-amzn-query-error"] = f"{err.query_code or err.code};{_fault(err)}"
    return response


def _fault(err: AWSError) -> str:
    """Whose fault ``err`` is, as the query protocol says it: the caller's for a 4xx."""
    return "Sender" if err.status < 500 else "Receiver"


def query_error(err: AWSError, request_id: str, namespace: str = "") -> web.Response:
    """The query envelope: ``<ErrorResponse><Error><Type/><Code/><Message/></Error>
    <RequestId/></ErrorResponse>``, Type ``Sender`` for a 4xx and ``Receiver`` for a 5xx."""
    root = ElementTree.Element("ErrorResponse", xmlns=namespace)
    body = ElementTree.SubElement(root, "Error")
    ElementTree.SubElement(body, "Type").text = _fault(err)
    ElementTree.SubElement(body, "Code").text = err.code
    ElementTree.SubElement(body, "Message").text = err.message
    ElementTree.SubElement(root, "RequestId").text = request_id
    return _xml(err.status, root, QUERY_XML, request_id)


def s3_error(err: AWSError) -> web.Response:
    """S3's envelope: ``<Error><Code/><Message/><RequestId/></Error>``."""
    request_id = str(uuid.uuid4())
    root = ElementTree.Element("Error")
    for tag, text in (("Code", err.code), ("Message", err.message), ("RequestId", request_id)):
        ElementTree.SubElement(root, tag).text = text
    return _xml(err.status, root, S3_XML, request_id)


def error_response(err: AWSError, protocol_family: Family, *, service: str | None) -> web.Response:
    """``err`` in the envelope of ``protocol_family``, for a path that serves every family (the
    auth guard, IAM's check, the journal), as ``service`` (the name the request is signed for;
    None when unsigned) answers it: a JSON or CBOR error of a service with the
    awsQueryCompatible trait with ``x-amzn-query-error`` (:func:`with_query_code`). A query
    error here has no service namespace."""
    if protocol_family == "query":
        return query_error(err, str(uuid.uuid4()))
    if protocol_family == "s3":
        return s3_error(err)
    response = cbor_error(err) if protocol_family == "cbor" else json_error(err)
    return with_query_code(response, err, service)


def _xml(
    status: int, root: ElementTree.Element, content_type: str, request_id: str
) -> web.Response:
    return web.Response(
        status=status,
        body=ElementTree.tostring(root, encoding="utf-8", xml_declaration=True),
        content_type=content_type,
        headers={"x-amzn-RequestId": request_id},
    )

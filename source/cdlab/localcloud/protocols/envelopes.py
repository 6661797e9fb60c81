"""Each protocol family's content type and error envelope: an AWSError as AWS would answer it.

Four families (docs/aws-compatibility.md, "Error shapes"): JSON (awsJson 1.0/1.1, and the
runtime's rest-json), CBOR (Smithy RPC v2 CBOR: JSON's error codes in a CBOR map), query
(form-encoded requests, XML answers) and S3 (rest-xml). Every error the gateway answers, a
refusal of the auth guard included, goes through one of these.
"""

from __future__ import annotations

import json
import uuid
from typing import Literal
from xml.etree import ElementTree

import cbor2
from aiohttp import web

from cdlab.localcloud.protocols import rpcv2cbor
from cdlab.localcloud.protocols.errors import AWSError

Family = Literal["json", "cbor", "query", "s3"]

JSON_11 = "application/x-amz-json-1.1"
REST_JSON = "application/json"
QUERY_XML = "text/xml"
S3_XML = "application/xml"


def family(request: web.Request, service: str | None) -> Family:
    """The protocol family of a request signed for ``service`` (None when unsigned)."""
    if rpcv2cbor.is_cbor(request.headers):
        return "cbor"
    if "X-Amz-Target" in request.headers or request.path.startswith("/endpoints/"):
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


def with_query_code(response: web.Response, err: AWSError) -> web.Response:
    """A JSON or CBOR refusal as a service with the awsQueryCompatible trait (CloudWatch)
    answers it: with the error's query-protocol code and fault in ``x-amzn-query-error``
    (``CODE;Sender``), which the SDKs report as the error's code
    (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#aws-protocols-awsquerycompatible-trait)."""
    response.headers["x-amzn-query-error"] = f"{err.code};{_fault(err)}"
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


def error_response(err: AWSError, protocol_family: Family) -> web.Response:
    """``err`` in the envelope of ``protocol_family``, for a path that serves every family (the
    auth guard, the journal); a query error there has no service namespace."""
    if protocol_family == "json":
        return json_error(err)
    if protocol_family == "cbor":
        return cbor_error(err)
    if protocol_family == "query":
        return query_error(err, str(uuid.uuid4()))
    return s3_error(err)


def _xml(
    status: int, root: ElementTree.Element, content_type: str, request_id: str
) -> web.Response:
    return web.Response(
        status=status,
        body=ElementTree.tostring(root, encoding="utf-8", xml_declaration=True),
        content_type=content_type,
        headers={"x-amzn-RequestId": request_id},
    )

"""Requests on their way to moto, held to their operation's botocore model first, as the kit's
own services' requests are: a JSON (``X-Amz-Target``), RPC v2 CBOR or query request the model
refuses (a missing member, a value out of range or not matching its pattern, a JSON operation
the service does not have ...) is answered here, before moto keeps any of it, in the request's
protocol and AWS's words. Moto checks few of these (CloudWatch's, IAM's: hardly any).

A service with the awsQueryCompatible trait (CloudWatch) answers a JSON or CBOR refusal with the
query protocol's code as well, in ``x-amzn-query-error``, a validation failure's being
ValidationError, as its query protocol's own parser answers; the SDKs report that code
(https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#aws-protocols-awsquerycompatible-trait).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Literal
from urllib.parse import parse_qsl

from aiohttp import web
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel

from cdlab.localcloud.protocols import awsjson, envelopes, query, rpcv2cbor
from cdlab.localcloud.protocols.errors import AWSError, ValidationError, ValidationException

Protocol = Literal["json", "cbor", "query"]


def json_type(model: ServiceModel) -> str:
    """The Content-Type of ``model``'s awsJson protocol (1.0 or 1.1)."""
    return f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"


def refusal(protocol: Protocol, model: ServiceModel, err: AWSError) -> web.Response:
    """``err`` in the request's protocol, as ``model``'s service answers it."""
    if protocol == "query":
        namespace = model.metadata.get("xmlNamespace", "")
        return envelopes.query_error(err, str(uuid.uuid4()), namespace)
    if model.is_query_compatible and isinstance(err, ValidationException):
        err = ValidationError(err.message)
    if protocol == "cbor":
        response = envelopes.cbor_error(err)
    else:
        response = envelopes.json_error(err, json_type(model))
    return envelopes.with_query_code(response, err, model.service_name)


def query_pairs(raw_path: str, body: bytes) -> list[tuple[str, str]]:
    """A query-protocol request's pairs: its query string's, then its form body's."""
    pairs = parse_qsl(raw_path.partition("?")[2], keep_blank_values=True)
    return pairs + parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


QueryRequest = tuple[OperationModel, list[tuple[str, str]]]


def query_request(signing_name: str, raw_path: str, body: bytes) -> QueryRequest | None:
    """The operation a query-protocol request's Action names, and its pairs; None unless
    botocore models a query protocol of the service it is signed for (read first: an S3 upload
    is never parsed as a form) and that operation (an unknown Action is moto's to refuse)."""
    name = awsjson.model_name(signing_name)
    if name not in awsjson.botocore_services():
        return None
    model = awsjson.service_model(name)
    if "query" not in model.metadata.get("protocols", [model.protocol]):
        return None
    pairs = query_pairs(raw_path, body)
    try:
        return model.operation_model(dict(pairs).get("Action", "")), pairs
    except OperationNotFoundError:
        return None


def model_refusal(
    signing_name: str | None, raw_path: str, headers: Mapping[str, str], body: bytes
) -> web.Response | None:
    """The refusal of a request its botocore model refuses; None for a request it accepts, or
    one of a protocol or service botocore does not name (moto's to answer)."""
    signed = signing_name or ""
    route = rpcv2cbor.route(raw_path.partition("?")[0], headers)
    target = headers.get("X-Amz-Target", "")
    try:
        if route is not None:
            if not rpcv2cbor.botocore_speaks(signed, route[0]):
                return None
            protocol: Protocol = "cbor"
            model = awsjson.service_model(awsjson.model_name(signed))
            rpcv2cbor.cbor_params(body, awsjson.operation(model, route[1]).input_shape)
        elif target:
            prefix, _, name = target.rpartition(".")
            found = awsjson.json_service(signed, prefix)
            if found is None:
                return None
            protocol, model = "json", found
            awsjson.json_params(body, awsjson.operation(model, name).input_shape)
        else:
            called = query_request(signed, raw_path, body)
            if called is None:
                return None
            operation, pairs = called
            protocol, model = "query", operation.service_model
            query.parse_request(pairs, operation)
    except AWSError as err:
        return refusal(protocol, model, err)
    return None

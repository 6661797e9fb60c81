"""A request off the wire as the call it makes: the service, the operation and its members, by
the same rules the gateway routes on (docs/aws-compatibility.md, "Routing one loopback URL").

- ``POST /endpoints/{EndpointName}/invocations`` (and the runtime's other invocation paths): the
  SageMaker runtime, which signs as ``sagemaker``; the path decides.
- ``X-Amz-Target: Prefix.Operation``: a JSON-protocol service, named by the signature's credential
  scope, with the body's members ([AWS JSON 1.1 protocol](https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html)).
- ``POST /service/Prefix/operation/Operation`` with ``smithy-protocol: rpc-v2-cbor``: the same, its
  members a CBOR map ([Smithy RPC v2 CBOR](https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html)).
- signed for ``s3``: S3's REST protocol, path-style (``/bucket/key``); the operation is the one
  whose HTTP binding in botocore's S3 model matches the method, the path, the query's
  sub-resources (``?uploads``, ``?list-type=2``) and required headers (``x-amz-copy-source``
  makes a PUT a CopyObject), as S3's API reference binds them
  (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html).
  DeleteObjects' keys come from its XML body.
- a form with ``Action=``: the query protocol, its members read by botocore's shapes
  ([AWS query protocol](https://smithy.io/2.0/aws/protocols/aws-query-protocol.html)).
- anything else signed for a REST service botocore knows: matched as S3 is.

The service is named as the request is signed for it (``monitoring`` for CloudWatch);
:func:`cdlab.localcloud.iam.requests.iam_prefix` turns it into the IAM prefix.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote
from xml.etree import ElementTree

from botocore.exceptions import UnknownServiceError
from botocore.model import OperationModel, OperationNotFoundError

from cdlab.localcloud.protocols import awsjson, query, rpcv2cbor
from cdlab.localcloud.protocols.errors import AWSError

RUNTIME = re.compile(
    r"^/endpoints/[^/]+/(invocations|async-invocations|invocations-response-stream)$"
)
URI_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Call:
    """The call a request makes: ``operation`` of ``service`` (the name it is signed for) with
    ``params`` named as botocore's input members name them."""

    service: str
    operation: str
    params: dict[str, Any]


@dataclass(frozen=True)
class _Route:
    """One operation's HTTP binding in a REST model."""

    operation: OperationModel
    method: str
    path: re.Pattern[str]
    labels: tuple[str, ...]
    literals: tuple[tuple[str, str], ...]  # query keys the URI fixes ("uploads", "list-type=2")
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]

    def fits(self, method: str, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        return (
            method == self.method
            and all(k in query and (not v or v in query[k]) for k, v in self.literals)
            and all(k in query for k in self.required_query)
            and all(h in headers for h in self.required_headers)
        )

    @property
    def weight(self) -> tuple[int, bool]:
        """The most specific binding wins; between equals, the one not deprecated."""
        specific = len(self.literals) + len(self.required_query) + len(self.required_headers)
        return specific, not self.operation.deprecated


def _route(operation: OperationModel) -> _Route:
    uri_path, _, uri_query = operation.http["requestUri"].partition("?")
    pattern, labels, position = "", [], 0
    for label in URI_LABEL.finditer(uri_path):
        pattern += re.escape(uri_path[position : label.start()])
        pattern += "(.+)" if label[2] else "([^/]+)"
        labels.append(label[1])
        position = label.end()
    pattern += re.escape(uri_path[position:])
    required: dict[str, list[str]] = {"querystring": [], "header": []}
    shape = operation.input_shape
    for name in shape.required_members if shape is not None else ():
        member = shape.members[name].serialization
        location = member.get("location")
        if location in required:
            wire_name = member.get("name", name)
            required[location].append(wire_name.lower() if location == "header" else wire_name)
    return _Route(
        operation,
        operation.http["method"],
        re.compile(f"^{pattern}$"),
        tuple(labels),
        tuple(parse_qsl(uri_query, keep_blank_values=True)),
        tuple(required["querystring"]),
        tuple(required["header"]),
    )


@functools.cache
def _routes(model_name: str) -> tuple[_Route, ...]:
    """The HTTP bindings of a REST service's operations (none for the other protocols)."""
    model = awsjson.service_model(model_name)
    if model.protocol not in ("rest-json", "rest-xml"):
        return ()
    return tuple(_route(model.operation_model(name)) for name in model.operation_names)


def _rest_params(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
) -> dict[str, Any]:
    """The members the URI, the query string and the headers carry, as text (lists as lists)."""
    params: dict[str, Any] = {}
    shape = operation.input_shape
    for name, member in shape.members.items() if shape is not None else ():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in labels:
            params[name] = labels[wire_name]
        elif location == "querystring" and member.type_name != "map" and wire_name in query:
            values = query[wire_name]
            params[name] = values if member.type_name == "list" else values[0]
        elif location == "header" and wire_name.lower() in headers:
            params[name] = headers[wire_name.lower()]
    return params


def rest_call(
    model_name: str,
    service: str,
    method: str,
    path: str,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
) -> Call | None:
    """The operation of a REST service whose binding fits the request, if any. ``path`` is the
    raw (percent-encoded) path; ``headers`` have lowercase names."""
    try:
        routes = _routes(model_name)
    except UnknownServiceError:
        return None
    fitting = []
    for route in routes:
        match = route.path.match(path)
        if match and route.fits(method, query, headers):
            fitting.append((route, match))
    if not fitting:
        return None
    route, match = max(fitting, key=lambda pair: pair[0].weight)  # max keeps the first of equals
    labels = {
        label: unquote(value) for label, value in zip(route.labels, match.groups(), strict=True)
    }
    return Call(
        service, route.operation.name, _rest_params(route.operation, labels, query, headers)
    )


def _deleted_objects(body: bytes) -> dict[str, Any]:
    """DeleteObjects' ``<Delete><Object><Key/><VersionId/></Object>...</Delete>`` body."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return {}
    objects = []
    for element in root:
        if element.tag.rpartition("}")[2] == "Object":
            fields = {child.tag.rpartition("}")[2]: child.text or "" for child in element}
            objects.append({k: v for k, v in fields.items() if k in ("Key", "VersionId")})
    return {"Objects": objects}


def s3_call(
    method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
) -> Call | None:
    """An S3 request, path-style: ``/`` (the buckets), ``/bucket`` or ``/bucket/key``."""
    if re.fullmatch(r"/[^/]+/", path):
        path = path[:-1]
    call = rest_call("s3", "s3", method, path, query, headers)
    if call is not None and call.operation == "DeleteObjects":
        call.params["Delete"] = _deleted_objects(body)
    return call


def json_call(service: str, target: str, body: bytes) -> Call:
    """A JSON-protocol request: the operation after the target's last dot, the body's members."""
    try:
        params = json.loads(body) if body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        params = {}
    return Call(service, target.rpartition(".")[2], params if isinstance(params, dict) else {})


def cbor_call(service: str, operation: str, body: bytes) -> Call:
    """An RPC v2 CBOR request: its operation, the body's members (none when unreadable)."""
    try:
        params = rpcv2cbor.decode(body)
    except AWSError:
        params = {}
    return Call(service, operation, params)


def query_call(service: str, pairs: list[tuple[str, str]]) -> Call | None:
    """A query-protocol request: its Action, and its members read by the service's botocore
    shapes (the flat form's pairs when the model cannot read them)."""
    form = dict(pairs)
    action = form.get("Action")
    if not action:
        return None
    try:
        operation = awsjson.service_model(awsjson.model_name(service)).operation_model(action)
        params = query.parse_request(pairs, operation)
    except (UnknownServiceError, OperationNotFoundError, AWSError):
        params = {k: v for k, v in form.items() if k not in ("Action", "Version")}
    return Call(service, action, params)


def signed_service(headers: Mapping[str, str], query_pairs: Mapping[str, list[str]]) -> str | None:
    """The service a request is signed for: its SigV4 credential scope, in the Authorization
    header or a presigned URL's X-Amz-Credential; a SigV2 presigned URL is S3's."""
    service = query.signing_service({"Authorization": headers.get("authorization", "")})
    if service:
        return service
    scope = (query_pairs.get("X-Amz-Credential") or [""])[0].split("/")
    if len(scope) == 5:
        return scope[3]
    return "s3" if "AWSAccessKeyId" in query_pairs and "Signature" in query_pairs else None


def wire_call(method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> Call | None:
    """The call a request makes, from its method, raw path with query string, headers and body
    (the body is read only for JSON and query requests and S3's DeleteObjects); None when no
    service the request names has such an operation."""
    lower = {name.lower(): value for name, value in headers.items()}
    raw_path, _, raw_query = path.partition("?")
    query_pairs: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query_pairs.setdefault(key, []).append(value)
    if method == "POST" and RUNTIME.match(raw_path):
        return rest_call("sagemaker-runtime", "sagemaker", method, raw_path, query_pairs, lower)
    service = signed_service(lower, query_pairs)
    cbor = rpcv2cbor.route(raw_path, lower)
    if cbor is not None:
        return cbor_call(service or "", cbor[1], body)
    target = lower.get("x-amz-target")
    if target:
        return json_call(service or "", target, body)
    if service == "s3":
        return s3_call(method, raw_path, query_pairs, lower, body)
    form = (
        parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        if lower.get("content-type", "").startswith(FORM)
        else parse_qsl(raw_query, keep_blank_values=True)
    )
    if any(key == "Action" for key, _ in form):
        return query_call(service or "", form)
    if service is None:
        return None
    return rest_call(awsjson.model_name(service), service, method, raw_path, query_pairs, lower)

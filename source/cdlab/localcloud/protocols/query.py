"""The AWS query protocol (form-encoded requests, XML responses), driven by botocore's shapes.

CloudFormation, IAM and STS speak it: ``Action=CreateStack&Version=2010-05-15&...`` with lists
flattened as ``Name.member.N`` and maps as ``Name.entry.N.key`` / ``.value``; answers are
``<ActionResponse><ActionResult>...</ActionResult><ResponseMetadata/></ActionResponse>``, errors
the query envelope of :mod:`envelopes`. :func:`respond` answers a request with a provider's method
named after the action (CloudFormation's); :func:`signing_service` names the service a request
was signed for, which is how the gateway tells the query services apart. :func:`coerce` types a
CloudFormation template's property values by the same shapes.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from aiohttp import web
from botocore.model import OperationModel, OperationNotFoundError, Shape

from cdlab.localcloud.context import Handler, RequestContext
from cdlab.localcloud.protocols import awsjson
from cdlab.localcloud.protocols.envelopes import QUERY_XML, query_error
from cdlab.localcloud.protocols.errors import (
    AWSError,
    InternalFailure,
    SerializationException,
    ValidationError,
    ValidationException,
    error,
)

log = logging.getLogger("cdlab.query")

InvalidAction = error("InvalidAction")
MissingAction = error("MissingAction")

CREDENTIAL_SCOPE = re.compile(
    r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/(?P<service>[^/,\s]+)/aws4_request"
)


def signing_service(headers: Mapping[str, str]) -> str | None:
    """The service a SigV4-signed request was signed for (its credential scope), if any."""
    match = CREDENTIAL_SCOPE.search(headers.get("Authorization", ""))
    return match["service"] if match else None


# ---- shape-driven conversion -----------------------------------------------------------------


def _scalar(value: Any, shape: Shape, path: str) -> Any:
    """A wire or template scalar as the shape's type (query values and template values are
    strings, numbers and booleans in any mix; botocore's shapes say what each member is)."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            number = float(value)
            if isinstance(value, bool) or not number.is_integer():
                raise ValueError
            return int(number)
        if kind in ("float", "double"):
            if isinstance(value, bool) or not math.isfinite(float(value)):
                raise ValueError
            return float(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError
        if kind == "timestamp":
            if isinstance(value, (int, float)):
                return float(value)
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
            f"constraint: Member must be of type {kind}"
        ) from None
    if isinstance(value, (dict, list)):
        raise ValidationError(f"Value at '{path}' must be a {kind}, not a JSON {_kind(value)}.")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _kind(value: Any) -> str:
    return "object" if isinstance(value, dict) else "array"


def coerce(value: Any, shape: Shape, path: str = "") -> Any:
    """``value`` converted to ``shape``: scalars to the member types, unknown keys refused."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ValidationError(f"Value at '{path or '#'}' must be an object.")
        unknown = sorted(set(value) - set(shape.members))
        if unknown:
            where = f"#/{path}" if path else "#"
            raise ValidationError(
                f"{where}: extraneous key [{unknown[0]}] is not permitted"
                + (
                    f" (the known keys are {', '.join(shape.members)})"
                    if len(shape.members) < 30
                    else ""
                )
            )
        return {
            name: coerce(item, shape.members[name], f"{path}/{name}" if path else name)
            for name, item in value.items()
        }
    if kind == "list":
        if not isinstance(value, list):
            raise ValidationError(f"Value at '{path}' must be an array.")
        return [coerce(item, shape.member, f"{path}/{i}") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise ValidationError(f"Value at '{path}' must be an object.")
        return {str(k): coerce(v, shape.value, f"{path}/{k}") for k, v in value.items()}
    return _scalar(value, shape, path)


# ---- requests ----------------------------------------------------------------------------------


class _Form:
    """A flat query form with the set of every key prefix, to find nested members quickly."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.values = dict(pairs)
        self.prefixes = set()
        for key in self.values:
            parts = key.split(".")
            for i in range(1, len(parts)):
                self.prefixes.add(".".join(parts[:i]))

    def has(self, key: str) -> bool:
        return key in self.values or key in self.prefixes


def _parse(form: _Form, shape: Shape, key: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        result = {}
        for name, member in shape.members.items():
            member_key = member.serialization.get("name", name)
            child = f"{key}.{member_key}" if key else member_key
            if form.has(child):
                result[name] = _parse(form, member, child)
        return result
    if kind == "list":
        if form.values.get(key) == "":
            return []
        prefix = (
            key
            if shape.serialization.get("flattened")
            else (f"{key}.{shape.member.serialization.get('name', 'member')}")
        )
        items, i = [], 1
        while form.has(f"{prefix}.{i}"):
            items.append(_parse(form, shape.member, f"{prefix}.{i}"))
            i += 1
        return items
    if kind == "map":
        prefix = key if shape.serialization.get("flattened") else f"{key}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        result, i = {}, 1
        while form.has(f"{prefix}.{i}"):
            entry = f"{prefix}.{i}"
            result[form.values.get(f"{entry}.{key_name}", "")] = _parse(
                form, shape.value, f"{entry}.{value_name}"
            )
            i += 1
        return result
    return _scalar(form.values[key], shape, key)


def parse_request(pairs: list[tuple[str, str]], operation: OperationModel) -> dict[str, Any]:
    """The operation's input from query pairs, typed and validated against its input shape."""
    if operation.input_shape is None:
        return {}
    params = _parse(_Form(pairs), operation.input_shape, "")
    try:
        awsjson.validate(params, operation.input_shape)
    except (ValidationException, SerializationException) as e:
        raise ValidationError(e.message) from None
    return params


# ---- responses ---------------------------------------------------------------------------------


def _timestamp(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _fill(element: ElementTree.Element, value: Any, shape: Shape) -> None:
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members.items():
            if value.get(name) is None:
                continue
            tag = member.serialization.get("name", name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                for item in value[name]:
                    _fill(ElementTree.SubElement(element, tag), item, member.member)
            else:
                _fill(ElementTree.SubElement(element, tag), value[name], member)
    elif kind == "list":
        tag = shape.member.serialization.get("name", "member")
        for item in value:
            _fill(ElementTree.SubElement(element, tag), item, shape.member)
    elif kind == "map":
        for key, item in value.items():
            entry = ElementTree.SubElement(element, "entry")
            ElementTree.SubElement(entry, shape.key.serialization.get("name", "key")).text = key
            _fill(ElementTree.SubElement(entry, shape.value.serialization.get("name", "value")),
                  item, shape.value)  # fmt: skip
    elif kind == "boolean":
        element.text = "true" if value else "false"
    elif kind == "timestamp":
        element.text = _timestamp(value) if isinstance(value, (int, float)) else str(value)
    else:
        element.text = str(value)


def xml_response(
    operation: OperationModel, result: dict[str, Any], request_id: str
) -> web.Response:
    """``result`` answered in the query protocol."""
    payload = response_xml(operation, result, request_id)
    return web.Response(
        body=payload, content_type=QUERY_XML, headers={"x-amzn-RequestId": request_id}
    )


def response_xml(operation: OperationModel, result: dict[str, Any], request_id: str) -> bytes:
    namespace = operation.service_model.metadata.get("xmlNamespace", "")
    root = ElementTree.Element(f"{operation.name}Response", xmlns=namespace)
    output = operation.output_shape
    if output is not None:
        wrapper = output.serialization.get("resultWrapper", f"{operation.name}Result")
        _fill(ElementTree.SubElement(root, wrapper), result, output)
    metadata = ElementTree.SubElement(root, "ResponseMetadata")
    ElementTree.SubElement(metadata, "RequestId").text = request_id
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


# ---- the HTTP side -----------------------------------------------------------------------------


async def respond(
    request: web.Request, ctx: RequestContext, handlers: Mapping[str, Handler], service_name: str
) -> web.Response:
    """Answer one query-protocol request with the handler of its action."""
    service = awsjson.service_model(service_name)
    namespace = service.metadata.get("xmlNamespace", "")
    request_id = ctx.request_id
    action = "?"
    try:
        body = (await request.read()).decode("utf-8", "replace")
        pairs = parse_qsl(request.query_string, keep_blank_values=True)
        pairs += parse_qsl(body, keep_blank_values=True)
        action = dict(pairs).get("Action", "")
        if not action:
            raise MissingAction("The request must contain the parameter Action.")
        try:
            operation = service.operation_model(action)
        except OperationNotFoundError:
            raise InvalidAction(
                f"Could not find operation {action} for version {service.api_version}"
            ) from None
        handler = handlers.get(action)
        if handler is None:
            raise InvalidAction(f"The local cloud does not provide {service.service_id} {action}.")
        result = handler(ctx, parse_request(pairs, operation))
        if inspect.isawaitable(result):
            result = await result
        return xml_response(operation, result or {}, request_id)
    except AWSError as err:
        return query_error(err, request_id, namespace)
    except Exception as e:
        log.exception("%s %s failed", service_name, action)
        err = InternalFailure(f"The local cloud failed on {action}: {e}")
        return query_error(err, request_id, namespace)

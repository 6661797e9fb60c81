"""The JSON protocols, driven by botocore's own service models.

A request is checked against the operation's input shape (required members, types, lengths,
ranges, enums, patterns, a map's keys as well as its values) and answered with AWS's validation
wording, so the local cloud needs no hand-written schema: botocore ships the schema.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import botocore.loaders
import botocore.session
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel, Shape

from cdlab.localcloud.protocols.errors import (
    SerializationException,
    UnknownOperationException,
    ValidationException,
)

JSON_TYPES = {
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float),  # epoch seconds, unless the shape's timestampFormat says text
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
}


# signing names whose botocore model is named otherwise
MODELS = {"monitoring": "cloudwatch"}

# Limits AWS documents and enforces that botocore's models leave out, by service: a shape's (on
# every member of that shape) or, as "Structure.Member", one member's. The local cloud refuses a
# request past one as AWS does, in the same validation wording.
DOCUMENTED_LIMITS: dict[str, dict[str, dict[str, Any]]] = {
    "cloudformation": {
        # "Template body size in a request": CloudFormation quotas,
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
        "TemplateBody": {"max": 51_200},
        # a new stack's name: letters, digits and hyphens, a letter first, at most 128
        # characters (other operations take a stack's ARN too, in the same shape),
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-console-create-stack.html
        "CreateStackInput.StackName": {"max": 128, "pattern": "[a-zA-Z][-a-zA-Z0-9]*"},
    },
    "application-autoscaling": {
        # "This value can be between 1 and 50. The default value is 50.",
        # https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalableTargets.html
        # https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalingActivities.html
        "DescribeScalableTargetsRequest.MaxResults": {"min": 1, "max": 50},
        "DescribeScalingActivitiesRequest.MaxResults": {"min": 1, "max": 50},
        # "This value can be between 1 and 10. The default value is 10."
        # https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalingPolicies.html
        "DescribeScalingPoliciesRequest.MaxResults": {"min": 1, "max": 10},
    },
    "sts": {
        # PolicyArns of AssumeRole (and of AssumeRoleWithSAML, AssumeRoleWithWebIdentity,
        # GetFederationToken): "You can provide up to 10 managed policy ARNs.",
        # https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
        "policyDescriptorListType": {"max": 10},
    },
    "cloudwatch": {
        # "A single GetMetricData call can include as many as 500 MetricDataQuery structures",
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
        "GetMetricDataInput.MetricDataQueries": {"max": 500},
    },
}


@functools.cache
def _published_models() -> botocore.loaders.Loader:
    """A data loader no client shares: a botocore client changes the models its loader hands it
    (an S3 client strips ``/{Bucket}`` from an operation's path when it first calls it), and the
    local cloud reads each model as published."""
    return botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))


@functools.cache
def service_model(name: str) -> ServiceModel:
    """botocore's model of service ``name``, with the :data:`DOCUMENTED_LIMITS` it lacks."""
    data = _published_models().load_service_model(name, "service-2")
    limits = DOCUMENTED_LIMITS.get(name)
    if limits:
        data = {**data, "shapes": _limited(data["shapes"], limits)}
    return ServiceModel(data, service_name=name)


def _limited(shapes: dict[str, Any], limits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``shapes`` (copied, not changed) with ``limits`` laid over them; a member's limit goes on
    a shape of its own, named for it, so the member's siblings elsewhere keep the model's."""
    shapes = dict(shapes)
    for target, limit in limits.items():
        structure, _, member = target.rpartition(".")
        if not structure:
            shapes[target] = {**shapes[target], **limit}
            continue
        members = shapes[structure]["members"]
        shapes[target] = {**shapes[members[member]["shape"]], **limit}
        member_shape = {**members[member], "shape": target}
        shapes[structure] = {**shapes[structure], "members": {**members, member: member_shape}}
    return shapes


@functools.cache
def botocore_services() -> frozenset[str]:
    """The services botocore has a model of (listing its data takes milliseconds: once)."""
    return frozenset(botocore.session.get_session().get_available_services())


def model_name(signing_name: str) -> str:
    """The botocore model of the service a request signed for ``signing_name`` calls
    (CloudWatch signs as ``monitoring``)."""
    return MODELS.get(signing_name, signing_name)


def operation(service: ServiceModel, name: str) -> OperationModel:
    try:
        return service.operation_model(name)
    except OperationNotFoundError:
        raise UnknownOperationException(
            f"The operation {name} is not a {service.service_name} operation."
        ) from None


def parse_json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SerializationException(f"The request body is not valid JSON: {e}") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object.")
    return params


@functools.cache
def compiled(pattern: str) -> re.Pattern[str] | None:
    """A model's pattern as a regular expression; None for one Python cannot read (a Java-only
    construct such as ``\\p{ASCII}``): that constraint is left to AWS."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


def camel(name: str) -> str:
    """A member's name as AWS's validation messages give it: ``EndpointName``, ``endpointName``."""
    return name[:1].lower() + name[1:]


Types = Mapping[str, tuple[type, ...]]


@functools.cache
def holds_sensitive(shape: Shape) -> bool:
    """Whether a value of ``shape`` is, or may hold, a value the model marks sensitive (a
    list of headers whose values are): AWS's messages leave such a value out."""
    return _holds_sensitive(shape, set())


def _holds_sensitive(shape: Shape, seen: set[str]) -> bool:
    if shape.metadata.get("sensitive"):  # the shape's trait or its member's (botocore merges them)
        return True
    if shape.name in seen:  # a recursive shape (DynamoDB's AttributeValue): looked at already
        return False
    seen.add(shape.name)
    kind = shape.type_name
    if kind == "structure":
        inner = list(shape.members.values())
    elif kind == "list":
        inner = [shape.member]
    elif kind == "map":
        inner = [shape.key, shape.value]
    else:
        inner = []
    return any(_holds_sensitive(member, seen) for member in inner)


def _violations(value: Any, shape: Shape, path: str, types: Types) -> Iterator[str]:
    kind = shape.type_name
    if kind not in types:  # a free-form document: any JSON
        return
    expected_types = types[kind]
    if (
        types is JSON_TYPES
        and kind == "timestamp"
        and shape.serialization.get("timestampFormat") in ("iso8601", "rfc822")
    ):
        expected_types = (str,)
    if not isinstance(value, expected_types) or (kind != "boolean" and isinstance(value, bool)):
        expected = {"structure": "object", "map": "object", "list": "array"}.get(kind, kind)
        shown = "" if holds_sensitive(shape) else f" {json.dumps(value, default=str)}"
        raise SerializationException(f"Value{shown} at '{path}' must be of type {expected}.")

    def where() -> str:
        """The start of a violation's message; made only for a violation (a container's value is
        dumped in it), without a value that is or holds a secret, which AWS does not echo."""
        shown = "" if holds_sensitive(shape) else f" {_shown(value)}"
        return f"Value{shown} at '{path}' failed to satisfy constraint:"

    for broken in _constraints(value, shape):
        yield f"{where()} Member must {broken}"
    if kind == "structure":
        yield from _structure_violations(value, shape, path, types)
    elif kind == "list":
        for i, item in enumerate(value, start=1):
            yield from _violations(item, shape.member, f"{path}.{i}.member", types)
    elif kind == "map":
        keys = [key for key in value if isinstance(key, str)]
        broken_keys = dict.fromkeys(b for key in keys for b in _constraints(key, shape.key))
        if broken_keys:
            listed = ", ".join(f"Member must {b}" for b in broken_keys)
            yield f"{where()} Map keys must satisfy constraint: [{listed}]"
        for key, item in value.items():
            yield from _violations(item, shape.value, f"{path}.{key}", types)


def _constraints(value: Any, shape: Shape) -> Iterator[str]:
    """The constraints of ``shape`` itself (length, range, enum, pattern) that ``value`` breaks,
    each as AWS words it after "Member must". A map's keys are held to its key shape's too: AWS
    lists those its keys break in one violation of the map ("Map keys must satisfy constraint:
    [Member must ...]", as Lambda refused an environment variable named ``a`` in
    https://github.com/trek10inc/serverless-secrets/issues/39)."""
    kind, meta = shape.type_name, shape.metadata
    if kind in ("string", "list", "map", "blob"):
        if "min" in meta and len(value) < meta["min"]:
            yield f"have length greater than or equal to {meta['min']}"
        if "max" in meta and len(value) > meta["max"]:
            yield f"have length less than or equal to {meta['max']}"
    elif kind in ("integer", "long", "float", "double"):
        if "min" in meta and value < meta["min"]:
            yield f"have value greater than or equal to {meta['min']}"
        if "max" in meta and value > meta["max"]:
            yield f"have value less than or equal to {meta['max']}"
    if kind == "string":
        if shape.enum and value not in shape.enum:
            yield f"satisfy enum value set: [{', '.join(shape.enum)}]"
        pattern = compiled(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            yield f"satisfy regular expression pattern: {meta['pattern']}"


def _structure_violations(
    value: dict[str, Any], shape: Shape, path: str, types: Types
) -> Iterator[str]:
    prefix = f"{path}." if path else ""
    for name in shape.required_members:
        if value.get(name) is None:
            yield (
                f"Value null at '{prefix}{camel(name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for name, member in shape.members.items():
        if value.get(name) is not None:
            yield from _violations(value[name], member, f"{prefix}{camel(name)}", types)


def _shown(value: Any) -> str:
    """A value as a violation's message shows it: quoted, whatever its type (SSM, a JSON
    service: ``Value '100' at 'maxResults'`` in https://github.com/flanksource/config-db/pull/35;
    CloudWatch over the query protocol: ``Value '101' at 'maxRecords'``); a list or a map as
    JSON, cut at 200 characters (AWS shows its own rendering of it, quoted as well)."""
    if isinstance(value, str):
        return f"'{value}'"
    return f"'{json.dumps(value, default=str)[:200]}'"


def validate(params: dict[str, Any], shape: Shape | None, types: Types = JSON_TYPES) -> None:
    """Raise AWS's ValidationException (or SerializationException for wrong types); ``types``
    are the Python types the protocol's decoder gives each shape type."""
    if shape is None:
        return
    problems = list(_structure_violations(params, shape, "", types))
    if problems:
        raise ValidationException(detected(problems))


def member_violations(value: str, shape: Shape, path: str) -> list[str]:
    """What ``shape`` refuses of a member sent as text (a URI label, a header), worded as AWS
    words it; ``path`` is the member's name as the message gives it (``customAttributes``)."""
    return list(_violations(value, shape, path, JSON_TYPES))


def detected(problems: list[str]) -> str:
    """AWS's validation message for ``problems`` (one or more)."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def json_params(body: bytes, shape: Shape | None) -> dict[str, Any]:
    """A JSON-protocol request's parameters, checked against ``shape``. A member sent as
    ``null`` counts as not sent, as in AWS's JSON protocols (a required one is an error)."""
    params = parse_json_body(body)
    validate(params, shape)
    return without_nulls(params)


def wire_value(
    value: Any,
    shape: Shape | None,
    timestamp: Callable[[datetime | int | float], Any],
    blob: Callable[[bytes], Any],
) -> Any:
    """A result's members as a protocol writes them: timestamps (a ``datetime`` in UTC, or
    epoch seconds) through ``timestamp``, blobs (bytes) through ``blob``, by the output shape;
    members the shape does not name pass as they are; None is left out."""
    kind = shape.type_name if shape is not None else None
    if isinstance(value, dict):
        members = shape.members if kind == "structure" else {}
        inner = shape.value if kind == "map" else None
        return {
            k: wire_value(v, members.get(k, inner), timestamp, blob)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        item = shape.member if kind == "list" else None
        return [wire_value(v, item, timestamp, blob) for v in value]
    if isinstance(value, datetime) or (kind == "timestamp" and isinstance(value, (int, float))):
        return timestamp(value)
    if isinstance(value, bytes) or (kind == "blob" and isinstance(value, str)):
        return blob(value if isinstance(value, bytes) else value.encode())
    return value


def _epoch(value: datetime | int | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else value


def json_result(result: dict[str, Any], shape: Shape | None) -> bytes:
    """A result as awsJson writes it: timestamps as epoch seconds, blobs in base64."""
    encoded = wire_value(result, shape, _epoch, lambda data: base64.b64encode(data).decode())
    return json.dumps(encoded).encode()


@functools.cache
def json_service(signing_name: str, target_prefix: str) -> ServiceModel | None:
    """The JSON-protocol service a request signed for ``signing_name`` with an X-Amz-Target
    of ``target_prefix`` calls, if botocore names a service so (CloudWatch signs as
    ``monitoring``: :func:`model_name`)."""
    name = model_name(signing_name)
    if name not in botocore_services():
        return None
    service = service_model(name)
    json_protocol = service.protocol == "json" or "json" in service.metadata.get("protocols", [])
    if not json_protocol or service.metadata.get("targetPrefix") != target_prefix:
        return None
    return service

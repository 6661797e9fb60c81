"""Smithy RPC v2 CBOR, the protocol botocore's models list first for CodePipeline, CodeBuild and
CloudWatch (boto3 1.44 still sends them awsJson; a client that picks CBOR is answered in CBOR).

A request is ``POST /service/<TargetPrefix>/operation/<Operation>`` with the header
``smithy-protocol: rpc-v2-cbor`` and a CBOR map of the input's members (an empty body is no
members); timestamps are tag 1 (epoch seconds), blobs byte strings. The answer is a CBOR map of
the output's members, or an error map with ``__type`` and ``message``, each with the same
``smithy-protocol`` header (https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html).
The members are checked against botocore's model as :mod:`.awsjson` checks JSON ones.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import cbor2
from botocore.model import Shape

from cdlab.localcloud.protocols import awsjson
from cdlab.localcloud.protocols.errors import SerializationException

CBOR = "application/cbor"
PROTOCOL_HEADER = "smithy-protocol"
PROTOCOL = "rpc-v2-cbor"
PATH = re.compile(r"^/service/(?P<prefix>[^/]+)/operation/(?P<operation>[^/]+)$")

# what cbor2 gives each shape type: a tag 1 timestamp is a datetime
CBOR_TYPES = {
    **awsjson.JSON_TYPES,
    "blob": (bytes,),
    "timestamp": (datetime, int, float),
}


def is_cbor(headers: Mapping[str, str]) -> bool:
    """Whether a request says it speaks RPC v2 CBOR (its ``smithy-protocol`` header)."""
    return any(
        name.lower() == PROTOCOL_HEADER and value == PROTOCOL for name, value in headers.items()
    )


def route(path: str, headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The (target prefix, operation) an RPC v2 CBOR request calls, or None for any other."""
    match = PATH.match(path)
    if match is None or not is_cbor(headers):
        return None
    return match["prefix"], match["operation"]


@functools.cache
def botocore_speaks(signing_name: str, prefix: str) -> bool:
    """Whether botocore sends RPC v2 CBOR with target prefix ``prefix`` to the service signed
    for as ``signing_name`` (CloudWatch's ``GraniteServiceVersion20100801``, say)."""
    name = awsjson.model_name(signing_name)
    if name not in awsjson.botocore_services():
        return False
    metadata = awsjson.service_model(name).metadata
    return metadata.get("targetPrefix") == prefix and PROTOCOL in str(metadata.get("protocols"))


def decode(body: bytes) -> dict[str, Any]:
    """The request's members; an empty body is none."""
    if not body:
        return {}
    try:
        params = cbor2.loads(body)
    except (cbor2.CBORDecodeError, ValueError) as e:
        raise SerializationException(f"The request body is not valid CBOR: {e}") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a CBOR map.")
    return params


def cbor_params(body: bytes, shape: Shape | None) -> dict[str, Any]:
    """A request's members, checked against ``shape``; a null member counts as not sent."""
    params = decode(body)
    awsjson.validate(params, shape, CBOR_TYPES)
    return awsjson.without_nulls(params)


def _timestamp(value: datetime | int | float) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)


def cbor_result(result: dict[str, Any], shape: Shape | None) -> bytes:
    """A result as RPC v2 CBOR writes it: timestamps as tag 1 epoch seconds, blobs as bytes."""
    encoded = awsjson.wire_value(result, shape, _timestamp, lambda data: data)
    return cbor2.dumps(encoded, datetime_as_timestamp=True)

"""The two protocols the kit's own operations are served in, each as a codec: the request's
members in, the result and an error out (awsJson 1.1 and Smithy RPC v2 CBOR)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from botocore.model import Shape

from cdlab.localcloud.protocols import awsjson, envelopes, rpcv2cbor
from cdlab.localcloud.protocols.errors import AWSError


@dataclass(frozen=True)
class Codec:
    params: Callable[[bytes, Shape | None], dict[str, Any]]
    response: Callable[[dict[str, Any], Shape | None], web.Response]
    error: Callable[[AWSError], web.Response]


def _json_response(result: dict[str, Any], shape: Shape | None) -> web.Response:
    return web.Response(body=awsjson.json_result(result, shape), content_type=envelopes.JSON_11)


def _cbor_response(result: dict[str, Any], shape: Shape | None) -> web.Response:
    return web.Response(
        body=rpcv2cbor.cbor_result(result, shape),
        content_type=rpcv2cbor.CBOR,
        headers={rpcv2cbor.PROTOCOL_HEADER: rpcv2cbor.PROTOCOL},
    )


JSON_CODEC = Codec(awsjson.json_params, _json_response, envelopes.json_error)
CBOR_CODEC = Codec(rpcv2cbor.cbor_params, _cbor_response, envelopes.cbor_error)

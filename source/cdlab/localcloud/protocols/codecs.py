"""The two protocols the kit's own operations are served in, each as a codec: the request's
members in, the result and an error out (awsJson 1.1 and Smithy RPC v2 CBOR); and the serving
of one such operation."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from botocore.model import Shape

from cdlab.localcloud.context import Handler, RequestContext
from cdlab.localcloud.protocols import awsjson, envelopes, rpcv2cbor
from cdlab.localcloud.protocols.errors import AWSError, InternalFailure, UnknownOperationException

log = logging.getLogger("cdlab.gateway")


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


async def serve(
    codec: Codec,
    ctx: RequestContext,
    body: bytes,
    service_name: str,
    operation_name: str,
    handler: Handler | None,
    provides: str,
) -> web.Response:
    """One operation the kit serves itself, validated against botocore's model, in the
    request's protocol; a missing ``handler`` is refused naming what the cloud ``provides``."""
    try:
        model = awsjson.service_model(service_name)
        if handler is None:
            raise UnknownOperationException(
                f"The local cloud does not provide {model.service_id} {operation_name}; it "
                f"provides {provides}."
            )
        op = awsjson.operation(model, operation_name)
        result = handler(ctx, codec.params(body, op.input_shape))
        if inspect.isawaitable(result):
            result = await result
        return codec.response(result, op.output_shape)
    except AWSError as err:
        return _refusal(codec, err, service_name)
    except Exception as e:
        log.exception("%s %s failed", service_name, operation_name)
        failed = InternalFailure(f"The local cloud failed on {operation_name}: {e}")
        return _refusal(codec, failed, service_name)


def _refusal(codec: Codec, err: AWSError, service_name: str) -> web.Response:
    """``err`` in the codec's envelope, as ``service_name`` answers it (with
    ``x-amzn-query-error`` if it has the awsQueryCompatible trait: none the kit serves itself
    has it today)."""
    return envelopes.with_query_code(codec.error(err), err, service_name)

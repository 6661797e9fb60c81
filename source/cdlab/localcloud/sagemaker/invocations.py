"""InvokeEndpoint's answer, for aiohttp's handler and the runtime's fast path alike.

A request that passed the guard's checks is held to botocore's model of InvokeEndpoint
(:mod:`.invocation_checks`), then goes to the router (:mod:`.router`); the instance's answer
becomes the runtime's: its body, its Content-Type and custom attributes, and the variant
that served it; an instance's error status a ModelError (as SageMaker wraps a container's
error: docs/aws-compatibility.md), and any refusal its JSON error envelope. Once answered, the
invocation is captured if its variant captures data (:mod:`.datacapture`): one check when not.
Driven by callbacks, so that the fast path needs no task per request; aiohttp's handler awaits
:func:`answer`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.protocols import envelopes
from cdlab.localcloud.protocols.errors import AWSError, ModelError, PayloadTooLarge
from cdlab.localcloud.protocols.signatures import Headers
from cdlab.localcloud.sagemaker.invocation_checks import refusal
from cdlab.localcloud.sagemaker.router import (
    CUSTOM_ATTRIBUTES,
    INVOKED_VARIANT,
    MAX_PAYLOAD_BYTES,
    Router,
    VariantRoute,
)
from cdlab.localcloud.sagemaker.upstream import UpstreamResponse, completing

Answer = tuple[int, dict[str, str], bytes]  # status, headers, body
Reply = Callable[[Answer | BaseException], None]  # an exception: a failure of the gateway's own
Context = Callable[[], RequestContext]  # the request's context, made only if an error needs it


def invoke(
    router: Router,
    name: str,
    body: bytes,
    headers: Headers,
    context: Context,
    reply: Reply,
) -> None:
    """Serve one invocation; ``reply`` gets the answer (or a failure of the gateway's own)."""
    if len(body) > MAX_PAYLOAD_BYTES:
        err = PayloadTooLarge(f"HTTP content length exceeded {MAX_PAYLOAD_BYTES} bytes.")
        reply(envelopes.json_error_parts(err, envelopes.REST_JSON))
        return
    refused = refusal(name, headers)
    if refused is not None:
        reply(envelopes.json_error_parts(refused, envelopes.REST_JSON))
        return

    def answered(result: tuple[VariantRoute, UpstreamResponse] | BaseException) -> None:
        try:
            answer = _answer(name, result, context)
            reply(answer)
        except Exception as e:
            reply(e)
            return
        if not isinstance(result, BaseException) and result[0].capture is not None:
            router.capture.record(result[0].capture, body, headers, answer)

    router.send(name, body, headers, answered)


async def answer(
    router: Router, name: str, body: bytes, headers: Headers, context: Context
) -> Answer:
    """``invoke``, awaited."""
    answered: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
    invoke(router, name, body, headers, context, completing(answered))
    return await answered


def _answer(
    name: str, result: tuple[VariantRoute, UpstreamResponse] | BaseException, context: Context
) -> Answer:
    try:
        if isinstance(result, BaseException):
            raise result
        variant, response = result[0].name, result[1]
        if response.status >= 300:
            message = response.body.decode("utf-8", "replace")
            side = "client" if response.status < 500 else "server"
            raise ModelError(
                f"Received {side} error ({response.status}) from primary with message "
                f'"{message}". See the instance log stream {variant} in '
                f"/aws/sagemaker/Endpoints/{name} for more information.",
                OriginalStatusCode=response.status,
                OriginalMessage=message,
                LogStreamArn=context().arn("logs", f"log-group:/aws/sagemaker/Endpoints/{name}"),
            )
    except AWSError as err:
        return envelopes.json_error_parts(err, envelopes.REST_JSON)
    content_type = response.headers.get("content-type", "application/json").split(";")[0]
    headers = {"Content-Type": content_type, INVOKED_VARIANT: variant}
    custom = response.headers.get(CUSTOM_ATTRIBUTES.lower())
    if custom is not None:
        headers[CUSTOM_ATTRIBUTES] = custom
    return 200, headers, response.body

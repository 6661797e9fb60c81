"""What every resource handler is made of: the Handler interface, the resource it returns, the
context it runs in, and the checks and failure wording the handlers share.

Properties are checked against the botocore shape of the API call each one becomes, so a
misspelt property fails the resource with CloudFormation's "extraneous key" wording.
"""

from __future__ import annotations

import inspect
import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from cdlab.localcloud.context import Handler as ApiHandler
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols import awsjson
from cdlab.localcloud.protocols.errors import AWSError
from cdlab.localcloud.protocols.query import coerce
from cdlab.localcloud.sagemaker.controlplane import SageMaker

if TYPE_CHECKING:
    from cdlab.localcloud.state.journal import Journal

NAME_ALPHABET = string.ascii_letters + string.digits


# the kit's own API handlers (the gateway's operations table): service -> operation -> handler
Services = dict[str, dict[str, ApiHandler]]


class ResourceFailed(Exception):
    """A resource operation failed; the message is the event's ResourceStatusReason."""


@dataclass
class Resource:
    physical_id: str
    attributes: dict[str, Any]


@dataclass
class Context:
    """What a handler runs with: ``request``'s principal is whom the stack acts as (its service
    role's session, or the caller that started the operation), ``roles`` decides its calls,
    ``services`` serves the calls of the types the kit provides itself (CodeBuild, CodePipeline)
    through their own API handlers, ``journal`` keeps the changes made in moto's backends;
    ``s3_sync`` saves a bucket's disk copy after the handler changed the bucket (None: nothing
    to save); ``put_back_from`` is, for a resource put back after a restart, when its stack last
    changed it (epoch seconds)."""

    stack_name: str
    logical_id: str
    sagemaker: SageMaker
    request: RequestContext
    moto: MotoState
    roles: ServiceRoles
    services: Services
    journal: Journal
    s3_sync: Callable[[str], Awaitable[None]] | None = None
    put_back_from: float | None = None


Started = Callable[[Resource], None]


def generated_name(ctx: Context, limit: int, with_stack: bool = False) -> str:
    """A name as CloudFormation makes one when the template gives none."""
    suffix = "".join(secrets.choice(NAME_ALPHABET) for _ in range(12))
    prefix = f"{ctx.stack_name}-{ctx.logical_id}" if with_stack else ctx.logical_id
    return f"{prefix[: limit - len(suffix) - 1]}-{suffix}"


def api_params(ctx: Context, service: str, operation: str, params: dict[str, Any]) -> Any:
    """Properties as the input of ``service``'s ``operation``, typed and validated by its shape."""
    shape = awsjson.operation(awsjson.service_model(service), operation).input_shape
    try:
        typed = coerce(params, shape)
        awsjson.validate(typed, shape)
    except AWSError as e:
        raise ResourceFailed(
            f"Properties validation failed for resource {ctx.logical_id} with message: {e.message}"
        ) from None
    return typed


async def authorized_params(
    ctx: Context, service: str, operation: str, params: dict[str, Any]
) -> Any:
    """:func:`api_params`, once the principal the stack acts as may make the call: with a
    service role, CloudFormation makes every call of the operation as that role, otherwise with
    the caller's credentials
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html);
    and a role the call hands a service (a model's ExecutionRoleArn) must trust that service."""
    typed = api_params(ctx, service, operation, params)
    call = Call(service, operation, typed)
    denial = await ctx.roles.denial_as(ctx.request.principal, call, ctx.request.region)
    if denial is not None:
        raise ResourceFailed(
            f'Resource handler returned message: "{denial.message()}" (HandlerErrorCode: '
            "AccessDenied)"
        )
    untrusted = await ctx.roles.untrusted_role(call, ctx.request.account)
    if untrusted is not None:
        raise handler_failure(untrusted)
    return typed


async def kit_call(ctx: Context, service: str, operation: str, params: dict[str, Any]) -> Any:
    """An operation of a service the kit serves itself (``ctx.services``), authorized and
    validated as the stack's principal; its API error as CloudFormation's handler failure."""
    typed = await authorized_params(ctx, service, operation, params)
    try:
        result = ctx.services[service][operation](ctx.request, typed)
        return await result if inspect.isawaitable(result) else result
    except AWSError as e:
        raise handler_failure(e) from None


def handler_failure(err: Exception) -> ResourceFailed:
    """An API error as CloudFormation's resource handlers report it."""
    message = getattr(err, "message", None) or str(err)
    code = "InvalidRequest"
    if "already exist" in message:
        code = "AlreadyExists"
    elif "Could not find" in message or "not found" in message:
        code = "NotFound"
    return ResourceFailed(
        f'Resource handler returned message: "{message}" (HandlerErrorCode: {code})'
    )


class Handler:
    type: ClassVar[str]
    journaled: ClassVar[bool] = False  # its changes in moto are journaled (see moto_calls)
    name_property: ClassVar[str | None] = None
    create_only: ClassVar[frozenset[str]] = frozenset()
    attributes: ClassVar[frozenset[str]] = frozenset()

    def predict(self, props: dict[str, Any]) -> Resource | None:
        """The Ref and attributes, when the properties alone settle them (a given name)."""
        return None

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        raise NotImplementedError

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        raise NotImplementedError

    async def delete(self, ctx: Context, current: Resource) -> None:
        raise NotImplementedError

    async def reapply(self, ctx: Context, current: Resource, props: dict[str, Any]) -> None:
        """Put an existing resource back as it was, with its properties and physical id, after
        a restart lost it (for the IN_MEMORY types only)."""
        raise NotImplementedError

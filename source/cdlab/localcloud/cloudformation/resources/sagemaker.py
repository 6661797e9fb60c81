"""SageMaker resource handlers: models, endpoint configs and endpoints, in the local SageMaker
control plane. An endpoint is complete once it is InService, as on AWS.

A SageMaker resource's Ref is its ARN and its name is an attribute, as CloudFormation documents.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, ClassVar

from cdlab.localcloud import latency
from cdlab.localcloud.cloudformation.resources.base import (
    Context,
    Handler,
    Resource,
    ResourceFailed,
    Started,
    authorized_params,
    generated_name,
    handler_failure,
)
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.protocols.errors import AWSError
from cdlab.localcloud.sagemaker.controlplane import SageMaker
from cdlab.localcloud.sagemaker.documents import CHANGING, IN_PROGRESS, arn

POLL_SECONDS = 0.05  # an in-process look, as the endpoint lifecycle's own polls (PING_INTERVAL)
DELETED_WAIT = 30 * 60
"""Cloud seconds an Endpoint's deletion waits for the endpoint to be gone once DeleteEndpoint has
accepted it: as long as the ``endpoint_deleted`` waiter (60 checks 30 s apart,
https://docs.aws.amazon.com/cli/latest/reference/sagemaker/wait/endpoint-deleted.html). An
endpoint still Deleting then (its deletion failed) fails the resource, and the stack's deletion
with it, rather than hold the stack DELETE_IN_PROGRESS for good; deleting the stack again calls
DeleteEndpoint again, which starts a failed deletion again."""

Operation = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]


class _SageMakerNamed(Handler):
    """A model or endpoint config: created by one call, changed only by replacement."""

    kind: ClassVar[str]
    operation: ClassVar[str]
    arn_attribute: ClassVar[str]

    @staticmethod
    def operations(sagemaker: SageMaker) -> tuple[Operation, Operation]:
        """The kind's create and delete operations."""
        raise NotImplementedError

    def predict(self, props: dict[str, Any]) -> Resource | None:
        name = props.get(self.name_property or "")
        if not isinstance(name, str):
            return None
        resource_arn = arn(self.kind, name)
        return Resource(resource_arn, {self.name_property: name, self.arn_attribute: resource_arn})  # type: ignore[dict-item]

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        assert self.name_property is not None
        name = props.get(self.name_property) or generated_name(ctx, 63)
        params = await authorized_params(
            ctx, "sagemaker", f"Create{self.operation}", {**props, self.name_property: name}
        )
        try:
            created = self.operations(ctx.sagemaker)[0](ctx.request, params)
            if inspect.isawaitable(created):  # CreateModel reads the artifact off the loop
                await created
        except AWSError as e:
            raise handler_failure(e) from None
        resource = self.predict({self.name_property: name})
        assert resource is not None
        return resource

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        return current  # only Tags change in place, and the local cloud does not keep tags

    async def delete(self, ctx: Context, current: Resource) -> None:
        assert self.name_property is not None
        _, delete = self.operations(ctx.sagemaker)
        try:  # a model or an endpoint config (an Endpoint waits for its endpoint first)
            deleted = delete(
                ctx.request, {self.name_property: current.attributes[self.name_property]}
            )
            if inspect.isawaitable(deleted):  # as in create: an operation may be a coroutine
                await deleted
        except AWSError as e:
            if "Could not find" not in e.message:
                raise handler_failure(e) from None


class Model(_SageMakerNamed):
    type = "AWS::SageMaker::Model"
    kind, operation, name_property, arn_attribute = "model", "Model", "ModelName", "ModelArn"
    attributes = frozenset({"ModelName", "ModelArn"})
    create_only = frozenset(
        {
            "ExecutionRoleArn",
            "EnableNetworkIsolation",
            "InferenceExecutionConfig",
            "PrimaryContainer",
            "ModelName",
            "VpcConfig",
            "Containers",
        }
    )

    @staticmethod
    def operations(sagemaker: SageMaker) -> tuple[Operation, Operation]:
        return sagemaker.models.create_model, sagemaker.models.delete_model


class EndpointConfig(_SageMakerNamed):
    type = "AWS::SageMaker::EndpointConfig"
    kind, operation = "endpoint-config", "EndpointConfig"
    name_property, arn_attribute = "EndpointConfigName", "EndpointConfigArn"
    attributes = frozenset({"EndpointConfigName", "EndpointConfigArn"})
    create_only = frozenset(
        {
            "KmsKeyId",
            "AsyncInferenceConfig",
            "ExecutionRoleArn",
            "ShadowProductionVariants",
            "EnableNetworkIsolation",
            "ProductionVariants",
            "DataCaptureConfig",
            "ExplainerConfig",
            "MetricsConfig",
            "EndpointConfigName",
            "VpcConfig",
        }
    )

    @staticmethod
    def operations(sagemaker: SageMaker) -> tuple[Operation, Operation]:
        configs = sagemaker.endpoint_configs
        return configs.create_endpoint_config, configs.delete_endpoint_config


UPDATE_ONLY = (
    "RetainAllVariantProperties",
    "ExcludeRetainedVariantProperties",
    "RetainDeploymentConfig",
)


class Endpoint(_SageMakerNamed):
    """Complete when InService; a new EndpointConfigName is an in-place blue/green update."""

    type = "AWS::SageMaker::Endpoint"
    kind, operation, name_property, arn_attribute = (
        "endpoint",
        "Endpoint",
        "EndpointName",
        "EndpointArn",
    )
    attributes = frozenset({"EndpointName", "EndpointArn"})
    create_only = frozenset({"EndpointName"})

    @staticmethod
    def operations(sagemaker: SageMaker) -> tuple[Operation, Operation]:
        return sagemaker.endpoints.create_endpoint, sagemaker.endpoints.delete_endpoint

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        name = props.get("EndpointName") or generated_name(ctx, 63)
        create = {k: v for k, v in props.items() if k not in UPDATE_ONLY}
        params = await authorized_params(
            ctx, "sagemaker", "CreateEndpoint", {**create, "EndpointName": name}
        )
        try:
            await ctx.sagemaker.endpoints.create_endpoint(ctx.request, params)
        except AWSError as e:
            raise handler_failure(e) from None
        resource = self.predict({"EndpointName": name})
        assert resource is not None
        started(resource)
        described = await self._settled(ctx, name)
        if described["EndpointStatus"] != "InService":
            reason = described.get("FailureReason", "no reason given")
            raise ResourceFailed(
                f'Resource handler returned message: "Endpoint {name} is in '
                f'{described["EndpointStatus"]} status: {reason}" (HandlerErrorCode: NotStabilized)'
            )
        return resource

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        name = current.attributes["EndpointName"]
        try:
            described = ctx.sagemaker.endpoints.describe_endpoint(
                ctx.request, {"EndpointName": name}
            )
        except AWSError as e:
            raise handler_failure(e) from None
        if described["EndpointConfigName"] == new["EndpointConfigName"]:
            return current  # nothing to deploy (a tag or a deployment config for next time)
        params = {k: v for k, v in new.items() if k not in ("Tags",)}
        params = await authorized_params(
            ctx, "sagemaker", "UpdateEndpoint", {**params, "EndpointName": name}
        )
        try:
            await ctx.sagemaker.endpoints.update_endpoint(ctx.request, params)
        except AWSError as e:
            raise handler_failure(e) from None
        described = await self._settled(ctx, name)
        if described["EndpointConfigName"] != new["EndpointConfigName"]:
            reason = described.get("FailureReason", f"status {described['EndpointStatus']}")
            raise ResourceFailed(
                f'Resource handler returned message: "Endpoint {name} was not updated to '
                f'{new["EndpointConfigName"]}: {reason}" (HandlerErrorCode: NotStabilized)'
            )
        return current

    async def delete(self, ctx: Context, current: Resource) -> None:
        """Delete the endpoint once it has left Creating, Updating, SystemUpdating or
        RollingBack, then wait until it is gone. DeleteEndpoint refuses it in those statuses
        (``Cannot update in-progress endpoint``), so a stack rolled back or deleted while its
        endpoint is still being created (the stack's timeout, the local cloud restarted during
        the create) or changed (an autoscaler's resize) waits for it rather than fail, as a
        client of SageMaker must; a refusal because a change started between the look and the
        call waits again. One already gone counts as deleted; one still there
        ``DELETED_WAIT`` after DeleteEndpoint fails the resource. AWS's own handler for this
        type is not public: the waits are the kit's reading of what it has to do."""
        endpoints = ctx.sagemaker.endpoints
        request = {"EndpointName": current.attributes["EndpointName"]}
        try:
            while True:
                if endpoints.describe_endpoint(ctx.request, request)["EndpointStatus"] in CHANGING:
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                try:
                    await endpoints.delete_endpoint(ctx.request, request)
                    break
                except AWSError:
                    status = endpoints.describe_endpoint(ctx.request, request)["EndpointStatus"]
                    if status not in CHANGING:
                        raise
            deadline = time.monotonic() + latency.real_seconds(DELETED_WAIT)
            while True:
                status = endpoints.describe_endpoint(ctx.request, request)["EndpointStatus"]
                if time.monotonic() > deadline:
                    raise ResourceFailed(
                        f'Resource handler returned message: "Endpoint {request["EndpointName"]} '
                        f"is still {status} {DELETED_WAIT // 60} minutes after DeleteEndpoint; "
                        'delete the stack again to ask for its deletion again" '
                        "(HandlerErrorCode: NotStabilized)"
                    )
                await asyncio.sleep(POLL_SECONDS)
        except AWSError as e:
            if "Could not find" not in e.message:
                raise handler_failure(e) from None

    @staticmethod
    async def _settled(ctx: Context, name: str) -> dict[str, Any]:
        while True:
            try:
                described = ctx.sagemaker.endpoints.describe_endpoint(
                    ctx.request, {"EndpointName": name}
                )
            except AWSError as e:
                raise handler_failure(e) from None
            if described["EndpointStatus"] not in IN_PROGRESS:
                return described
            await asyncio.sleep(POLL_SECONDS)

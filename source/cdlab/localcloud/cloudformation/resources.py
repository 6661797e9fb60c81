"""Resource handlers: what CloudFormation does to create, update and delete each resource type.

SageMaker models, endpoint configs and endpoints go to the local SageMaker control plane (an
endpoint is complete once it is InService, as on AWS); scalable targets, scaling policies and
alarms go to moto's in-process backends (on moto's thread, through its owner), where the
autoscaler and the metrics read them; moto keeps those in memory only, so the engine reapplies
them from the stacks at each start.
Properties are checked against the botocore shape of the API call each one becomes, so a
misspelt property fails the resource with CloudFormation's "extraneous key" wording.

Physical ids, Ref and Fn::GetAtt follow CloudFormation's documentation: a SageMaker resource's
Ref is its ARN and its name is an attribute; an alarm's Ref is its name; a scalable target's Ref
is ``ResourceId|ScalableDimension|ServiceNamespace``; a scaling policy's Ref is its ARN.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from cdlab import config
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols import awsjson
from cdlab.localcloud.protocols.errors import AWSError
from cdlab.localcloud.protocols.query import coerce
from cdlab.localcloud.sagemaker.controlplane import SageMaker
from cdlab.localcloud.sagemaker.documents import IN_PROGRESS, arn

POLL_SECONDS = 0.25
NAME_ALPHABET = string.ascii_letters + string.digits


class ResourceFailed(Exception):
    """A resource operation failed; the message is the event's ResourceStatusReason."""


@dataclass
class Resource:
    physical_id: str
    attributes: dict[str, Any]


@dataclass
class Context:
    stack_name: str
    logical_id: str
    sagemaker: SageMaker
    request: RequestContext
    moto: MotoState


Started = Callable[[Resource], None]
Operation = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]


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


def _refuse(ctx: Context, props: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in props:
            raise ResourceFailed(
                f"Property {name} of resource {ctx.logical_id} is not provided by the local cloud."
            )


class Handler:
    type: ClassVar[str]
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


# ---- SageMaker ---------------------------------------------------------------------------------


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
        params = api_params(
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
        try:
            delete(ctx.request, {self.name_property: current.attributes[self.name_property]})
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
        params = api_params(ctx, "sagemaker", "CreateEndpoint", {**create, "EndpointName": name})
        try:
            ctx.sagemaker.endpoints.create_endpoint(ctx.request, params)
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
        params = api_params(ctx, "sagemaker", "UpdateEndpoint", {**params, "EndpointName": name})
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
        await super().delete(ctx, current)
        try:
            while True:
                ctx.sagemaker.endpoints.describe_endpoint(
                    ctx.request, {"EndpointName": current.attributes["EndpointName"]}
                )
                await asyncio.sleep(POLL_SECONDS)
        except AWSError:
            return

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


# ---- moto-backed: application auto scaling and CloudWatch --------------------------------------


async def _moto(ctx: Context, method: Callable[..., Any], **params: Any) -> Any:
    """A :class:`MotoState` method's result, run on moto's thread; a failure is the handler's."""
    try:
        return await ctx.moto.run(method, **params)
    except Exception as e:  # moto raises its own RESTError types, with .message
        raise handler_failure(e) from None


def _tag_map(tags: list[dict[str, str]] | None) -> dict[str, str] | None:
    return {t["Key"]: t["Value"] for t in tags} if tags else None


class ScalableTarget(Handler):
    type = "AWS::ApplicationAutoScaling::ScalableTarget"
    attributes = frozenset({"Id"})
    create_only = frozenset({"ResourceId", "ScalableDimension", "ServiceNamespace"})

    def predict(self, props: dict[str, Any]) -> Resource | None:
        parts = [props.get(k) for k in ("ResourceId", "ScalableDimension", "ServiceNamespace")]
        if not all(isinstance(p, str) for p in parts):
            return None
        ident = "|".join(parts)  # type: ignore[arg-type]
        return Resource(ident, {"Id": ident})

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        await self._register(ctx, props)
        resource = self.predict(props)
        assert resource is not None
        return resource

    async def _register(self, ctx: Context, props: dict[str, Any]) -> None:
        _refuse(ctx, props, ("ScheduledActions",))
        p = api_params(
            ctx,
            "application-autoscaling",
            "RegisterScalableTarget",
            {**props, "Tags": _tag_map(props.get("Tags"))} if props.get("Tags") else props,
        )
        for required in ("MinCapacity", "MaxCapacity"):
            if required not in p:
                raise ResourceFailed(
                    f"Properties validation failed for resource {ctx.logical_id} with message: "
                    f"#: required key [{required}] not found"
                )
        await _moto(
            ctx,
            ctx.moto.register_scalable_target,
            namespace=p["ServiceNamespace"],
            resource_id=p["ResourceId"],
            dimension=p["ScalableDimension"],
            min_capacity=p["MinCapacity"],
            max_capacity=p["MaxCapacity"],
            role_arn=p.get("RoleARN"),
            suspended_state=p.get("SuspendedState"),
        )

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        await self._register(ctx, new)
        return current

    async def reapply(self, ctx: Context, current: Resource, props: dict[str, Any]) -> None:
        await self._register(ctx, props)

    async def delete(self, ctx: Context, current: Resource) -> None:
        resource_id, dimension, namespace = current.physical_id.split("|")
        try:
            await ctx.moto.run(
                ctx.moto.deregister_scalable_target, namespace, resource_id, dimension
            )
        except Exception as e:  # already gone is fine when deleting
            if "No scalable target found" not in str(getattr(e, "message", e)):
                raise handler_failure(e) from None


class ScalingPolicy(Handler):
    type = "AWS::ApplicationAutoScaling::ScalingPolicy"
    attributes = frozenset({"Arn"})
    create_only = frozenset(
        {"PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension", "ScalingTargetId"}
    )

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        return await self._put(ctx, props)

    async def _put(self, ctx: Context, props: dict[str, Any], arn: str | None = None) -> Resource:
        """Put the policy; with ``arn``, it keeps that ARN rather than the new one moto makes."""
        props = dict(props)
        target = props.pop("ScalingTargetId", None)
        if target is not None:
            parts = str(target).split("|")
            if len(parts) != 3:
                raise ResourceFailed(
                    f"ScalingTargetId of {ctx.logical_id} must be the Ref of a scalable target "
                    f"(ResourceId|ScalableDimension|ServiceNamespace), got {target}"
                )
            props.update(
                zip(("ResourceId", "ScalableDimension", "ServiceNamespace"), parts, strict=True)
            )
        p = api_params(ctx, "application-autoscaling", "PutScalingPolicy", props)
        body = p.get("TargetTrackingScalingPolicyConfiguration") or p.get(
            "StepScalingPolicyConfiguration"
        )
        policy_arn = await _moto(
            ctx,
            ctx.moto.put_scaling_policy,
            arn=arn,
            policy_name=p["PolicyName"],
            service_namespace=p["ServiceNamespace"],
            resource_id=p["ResourceId"],
            scalable_dimension=p["ScalableDimension"],
            policy_body=body,
            policy_type=p.get("PolicyType"),
        )
        return Resource(
            policy_arn,
            {
                "Arn": policy_arn,
                "_Key": [
                    p["PolicyName"],
                    p["ServiceNamespace"],
                    p["ResourceId"],
                    p["ScalableDimension"],
                ],
            },
        )

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        return await self._put(ctx, new)  # moto gives the re-put policy a new ARN

    async def reapply(self, ctx: Context, current: Resource, props: dict[str, Any]) -> None:
        await self._put(ctx, props, arn=current.physical_id)  # outputs may hold the ARN

    async def delete(self, ctx: Context, current: Resource) -> None:
        name, namespace, resource_id, dimension = current.attributes["_Key"]
        try:
            await ctx.moto.run(
                ctx.moto.delete_scaling_policy, name, namespace, resource_id, dimension
            )
        except Exception as e:
            if "No scaling policy found" not in str(getattr(e, "message", e)):
                raise handler_failure(e) from None


class Alarm(Handler):
    type = "AWS::CloudWatch::Alarm"
    name_property = "AlarmName"
    attributes = frozenset({"Arn"})
    create_only = frozenset({"AlarmName"})

    def predict(self, props: dict[str, Any]) -> Resource | None:
        name = props.get("AlarmName")
        if not isinstance(name, str):
            return None
        region, account = config.region(), config.ACCOUNT_ID
        return Resource(name, {"Arn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"})

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        name = props.get("AlarmName") or generated_name(ctx, 255, with_stack=True)
        await self._put(ctx, {**props, "AlarmName": name})
        resource = self.predict({"AlarmName": name})
        assert resource is not None
        return resource

    async def _put(self, ctx: Context, props: dict[str, Any]) -> None:
        _refuse(
            ctx,
            props,
            (
                "Metrics",
                "EvaluationCriteria",
                "EvaluationInterval",
                "EvaluationWindow",
                "WarmUpConfiguration",
                "ActionConfiguration",
            ),
        )
        p = api_params(ctx, "cloudwatch", "PutMetricAlarm", props)
        await _moto(
            ctx,
            ctx.moto.put_metric_alarm,
            name=p["AlarmName"],
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p.get("ComparisonOperator"),
            evaluation_periods=p.get("EvaluationPeriods"),
            period=p.get("Period"),
            threshold=p.get("Threshold"),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"),
            actions_enabled=p.get("ActionsEnabled", True),
            treat_missing_data=p.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=p.get("ThresholdMetricId"),
            tags=p.get("Tags"),
        )

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        await self._put(ctx, {**new, "AlarmName": current.physical_id})
        return current

    async def reapply(self, ctx: Context, current: Resource, props: dict[str, Any]) -> None:
        await self._put(ctx, {**props, "AlarmName": current.physical_id})  # a generated name too

    async def delete(self, ctx: Context, current: Resource) -> None:
        await ctx.moto.run(ctx.moto.delete_alarms, [current.physical_id])


HANDLERS: dict[str, Handler] = {
    h.type: h
    for h in (Model(), EndpointConfig(), Endpoint(), ScalableTarget(), ScalingPolicy(), Alarm())
}


PROVIDED: dict[str, frozenset[str]] = {t: h.attributes for t, h in HANDLERS.items()}

# The types moto keeps in memory only, so a restart loses them; in the order they are put back
# (a scaling policy after its scalable target, which may be in another stack).
IN_MEMORY: tuple[str, ...] = (ScalableTarget.type, ScalingPolicy.type, Alarm.type)

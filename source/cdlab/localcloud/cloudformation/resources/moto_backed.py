"""Handlers of the resources moto keeps: application auto scaling's scalable targets and scaling
policies, and CloudWatch alarms, in moto's in-process backends (on moto's thread, through its
owner), where the autoscaler and the metrics read them. Moto keeps those in memory only: each
change is journaled (see :mod:`moto_calls`), and ``reapply`` puts back those of a stack recorded
before its changes were journaled.

As CloudFormation documents: an alarm's Ref is its name; a scalable target's Ref is
``ResourceId|ScalableDimension|ServiceNamespace``; a scaling policy's Ref is its ARN.
"""

from __future__ import annotations

from typing import Any

from cdlab import config
from cdlab.localcloud.autoscaling import service_role
from cdlab.localcloud.cloudformation.resources.base import (
    Context,
    Handler,
    Resource,
    ResourceFailed,
    Started,
    authorized_params,
    generated_name,
)
from cdlab.localcloud.cloudformation.resources.moto_calls import journaled, refuse
from cdlab.localcloud.moto.state import MotoState


def _tag_map(tags: list[dict[str, str]] | None) -> dict[str, str] | None:
    return {t["Key"]: t["Value"] for t in tags} if tags else None


class ScalableTarget(Handler):
    type = "AWS::ApplicationAutoScaling::ScalableTarget"
    attributes = frozenset({"Id"})
    create_only = frozenset({"ResourceId", "ScalableDimension", "ServiceNamespace"})
    journaled = True

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
        refuse(ctx, props, ("ScheduledActions",))
        p = await authorized_params(
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
        await journaled(
            ctx,
            MotoState.register_scalable_target,
            namespace=p["ServiceNamespace"],
            resource_id=p["ResourceId"],
            dimension=p["ScalableDimension"],
            min_capacity=p["MinCapacity"],
            max_capacity=p["MaxCapacity"],
            role_arn=p.get("RoleARN"),
            suspended_state=p.get("SuspendedState"),
        )
        await ctx.moto.run(service_role.ensure, ctx.moto)

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
            await journaled(
                ctx, MotoState.deregister_scalable_target, namespace, resource_id, dimension
            )
        except ResourceFailed as e:  # already gone is fine when deleting
            if "No scalable target found" not in str(e):
                raise


class ScalingPolicy(Handler):
    type = "AWS::ApplicationAutoScaling::ScalingPolicy"
    attributes = frozenset({"Arn"})
    create_only = frozenset(
        {"PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension", "ScalingTargetId"}
    )
    journaled = True

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
        p = await authorized_params(ctx, "application-autoscaling", "PutScalingPolicy", props)
        body = p.get("TargetTrackingScalingPolicyConfiguration") or p.get(
            "StepScalingPolicyConfiguration"
        )
        policy_arn = await journaled(
            ctx,
            MotoState.put_scaling_policy,
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
            await journaled(
                ctx, MotoState.delete_scaling_policy, name, namespace, resource_id, dimension
            )
        except ResourceFailed as e:  # already gone is fine when deleting
            if "No scaling policy found" not in str(e):
                raise


class Alarm(Handler):
    type = "AWS::CloudWatch::Alarm"
    name_property = "AlarmName"
    attributes = frozenset({"Arn"})
    create_only = frozenset({"AlarmName"})
    journaled = True

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
        refuse(
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
        p = await authorized_params(ctx, "cloudwatch", "PutMetricAlarm", props)
        await journaled(
            ctx,
            MotoState.put_metric_alarm,
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
        await journaled(ctx, MotoState.delete_alarms, [current.physical_id])

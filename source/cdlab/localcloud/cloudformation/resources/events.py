"""AWS::Events::Rule: an EventBridge rule of moto's Events with its targets
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-events-rule.html).

Ref is the rule's name (``bus|name`` on a bus other than the default one), GetAtt Arn its ARN.
PutRule, PutTargets, RemoveTargets and DeleteRule are authorized as the stack's principal, then
journaled and made in moto's backend (see :mod:`moto_calls`). Moto keeps EventBridge in memory,
so the rule is an IN_MEMORY type: ``reapply`` puts it back, for a stack recorded before its
changes were journaled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cdlab.localcloud.cloudformation.resources.base import (
    Context,
    Handler,
    Resource,
    Started,
    authorized_params,
    generated_name,
)
from cdlab.localcloud.cloudformation.resources.moto_calls import journaled, refuse_others
from cdlab.localcloud.moto.replayable import replayable
from cdlab.localcloud.moto.state import MotoState

PROVIDED = (
    "Name", "Description", "EventPattern", "ScheduleExpression", "State", "Targets",
    "EventBusName", "RoleArn",
)  # fmt: skip
DEFAULT_BUS = "default"


@replayable
def _put_rule(moto: MotoState, rule: dict[str, Any]) -> str:
    """On moto's thread: PutRule; the rule's ARN."""
    made = moto.events_backend().put_rule(
        rule["Name"],
        description=rule.get("Description"),
        event_bus_arn=rule.get("EventBusName"),
        event_pattern=rule.get("EventPattern"),
        role_arn=rule.get("RoleArn"),
        scheduled_expression=rule.get("ScheduleExpression"),
        state=rule.get("State"),
    )
    return made.arn


@replayable
def _put_targets(moto: MotoState, targets: dict[str, Any]) -> None:
    """On moto's thread: PutTargets."""
    moto.events_backend().put_targets(
        targets["Rule"], targets.get("EventBusName"), targets["Targets"]
    )


@replayable
def _remove(moto: MotoState, name: str, bus: str | None, ids: list[str], rule: bool) -> None:
    """On moto's thread: remove targets ``ids`` of rule ``name``, then the rule if ``rule``."""
    events = moto.events_backend()
    try:
        events.describe_rule(name, bus)
    except Exception:  # moto's ResourceNotFoundException: already gone
        return
    if ids:
        events.remove_targets(name, bus, ids)
    if rule:
        events.delete_rule(name, bus)


def _target_ids(moto: MotoState, name: str, bus: str | None) -> list[str]:
    events = moto.events_backend()
    try:
        return [t["Id"] for t in events.describe_rule(name, bus).targets]
    except Exception:  # moto's ResourceNotFoundException: already gone
        return []


def _split(physical_id: str) -> tuple[str | None, str]:
    bus, _, name = physical_id.rpartition("|")
    return bus or None, name


class Rule(Handler):
    type = "AWS::Events::Rule"
    name_property = "Name"
    attributes = frozenset({"Arn"})
    create_only = frozenset({"Name", "EventBusName"})
    journaled = True

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        name = props.get("Name") or generated_name(ctx, 64, with_stack=True)
        bus = props.get("EventBusName")
        physical_id = name if bus in (None, DEFAULT_BUS) else f"{bus}|{name}"

        def made(arn: str) -> None:  # refused targets now roll the rule back
            started(Resource(physical_id, {"Arn": arn}))

        return Resource(physical_id, {"Arn": await self._put(ctx, name, props, made)})

    async def _put(
        self,
        ctx: Context,
        name: str,
        props: dict[str, Any],
        made: Callable[[str], None] | None = None,
    ) -> str:
        """PutRule, then PutTargets if any (both authorized first); the rule's ARN, also given
        to ``made`` once the rule is there."""
        refuse_others(ctx, props, PROVIDED)
        rule = {k: props[k] for k in PROVIDED if k in props and k != "Targets"}
        rule["Name"] = name
        if isinstance(rule.get("EventPattern"), dict):
            rule["EventPattern"] = json.dumps(rule["EventPattern"])
        typed_rule = await authorized_params(ctx, "events", "PutRule", rule)
        targets = None
        if props.get("Targets"):
            bus = {"EventBusName": rule["EventBusName"]} if "EventBusName" in rule else {}
            targets = await authorized_params(
                ctx, "events", "PutTargets", {"Rule": name, **bus, "Targets": props["Targets"]}
            )
        arn = await journaled(ctx, _put_rule, typed_rule)
        if made is not None:
            made(arn)
        if targets is not None:
            await journaled(ctx, _put_targets, targets)
        return arn

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        name = _split(current.physical_id)[1]
        kept = {t["Id"] for t in new.get("Targets", [])}
        gone = [t["Id"] for t in old.get("Targets", []) if t["Id"] not in kept]
        if gone:
            await self._remove(ctx, current, gone, rule=False)
        return Resource(current.physical_id, {"Arn": await self._put(ctx, name, new)})

    async def reapply(self, ctx: Context, current: Resource, props: dict[str, Any]) -> None:
        await self._put(ctx, _split(current.physical_id)[1], props)

    async def delete(self, ctx: Context, current: Resource) -> None:
        bus, name = _split(current.physical_id)
        ids = await ctx.moto.run(_target_ids, ctx.moto, name, bus)
        await self._remove(ctx, current, ids, rule=True)

    @staticmethod
    async def _remove(ctx: Context, current: Resource, ids: list[str], rule: bool) -> None:
        bus, name = _split(current.physical_id)
        on_bus = {"EventBusName": bus} if bus else {}
        if ids:
            params = {"Rule": name, **on_bus, "Ids": ids}
            await authorized_params(ctx, "events", "RemoveTargets", params)
        if rule:
            await authorized_params(ctx, "events", "DeleteRule", {"Name": name, **on_bus})
        await journaled(ctx, _remove, name, bus, ids, rule)

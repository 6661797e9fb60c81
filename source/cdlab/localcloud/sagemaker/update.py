"""One UpdateEndpoint, start to finish: a blue/green deployment that starts the new (green)
fleet, shifts the traffic to it step by step while it bakes, switches, and drains the old (blue)
fleet; or rolls back to the old fleet, which served throughout.

``DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration`` becomes a list of shares
of the endpoint's traffic sent to the new fleet: ALL_AT_ONCE ``[1.0]``; CANARY the canary's share
of the new fleet's capacity, then ``1.0``; LINEAR one more step each time. After each step the
new fleet bakes for WaitIntervalInSeconds (scaled by ``CDLAB_TIME_SCALE``) while the
AutoRollbackConfiguration alarms are watched; one in ALARM rolls the traffic back. No policy
means blue/green, all at once, with no baking.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Mapping
from typing import Any, Protocol

from cdlab import config
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker.documents import (
    Documents,
    Snapshot,
    endpoint_region,
    variant_summaries,
)
from cdlab.localcloud.sagemaker.fleet import Fleet, all_instances, endpoint_route
from cdlab.localcloud.sagemaker.images import UnknownImage
from cdlab.localcloud.sagemaker.instances import Instance, InstanceFailed
from cdlab.localcloud.sagemaker.router import EndpointRoute

log = logging.getLogger("cdlab.sagemaker")

BAKE_POLL_SECONDS = 0.05


def _size(capacity: dict[str, Any], count: int) -> int:
    """A CapacitySize as a number of the new fleet's instances (at least one)."""
    if capacity["Type"] == "INSTANCE_COUNT":
        return int(capacity["Value"])
    return max(1, math.ceil(count * float(capacity["Value"]) / 100))


def _percent(capacity: dict[str, Any], count: int | None) -> float | None:
    """A CapacitySize as a share of the new fleet; None for an INSTANCE_COUNT with no fleet
    (``count`` None) to measure it against."""
    if capacity["Type"] != "INSTANCE_COUNT":
        return float(capacity["Value"])
    return None if count is None else 100.0 * int(capacity["Value"]) / count


def routing(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment.get("BlueGreenUpdatePolicy", {}).get("TrafficRoutingConfiguration") or {
        "Type": "ALL_AT_ONCE",
        "WaitIntervalInSeconds": 0,
    }


def validate(deployment: dict[str, Any], count: int | None, alarms: Mapping[str, str]) -> None:
    """What the local cloud refuses in a DeploymentConfig: RollingUpdatePolicy (it deploys
    blue/green only), a rollback alarm that does not exist (``alarms``: the state of each
    existing alarm, by name; one it cannot watch), and SageMaker's limits on the traffic steps.

    ``count`` is the new variants' total instance count; None where the config deploys no fleet
    yet (CreateEndpoint's, kept for a later update), which leaves a size given as INSTANCE_COUNT
    to be checked by the update that deploys it."""
    if "RollingUpdatePolicy" in deployment:
        raise ValidationException(
            "The local cloud deploys with BlueGreenUpdatePolicy; RollingUpdatePolicy is not "
            "available locally."
        )
    for name in alarm_names(deployment):
        if name not in alarms:
            raise ValidationException(
                f"The CloudWatch alarm {name} in AutoRollbackConfiguration does not exist; "
                "create it with put-metric-alarm first."
            )
    _validate_sizes(routing(deployment), count)


def _validate_sizes(traffic: dict[str, Any], count: int | None) -> None:
    """SageMaker's limits on the new fleet's share per step: CanarySize at most 50%,
    LinearStepSize 10-50%."""
    kind = traffic["Type"]
    if kind == "CANARY":
        size = traffic.get("CanarySize")
        if size is None:
            raise ValidationException("CanarySize must be specified for CANARY traffic routing.")
        percent = _percent(size, count)
        if percent is not None and percent > 50:
            raise ValidationException(
                f"CanarySize {size['Value']} ({size['Type']}) must be at most 50% of "
                f"{_fleet(count)}."
            )
    elif kind == "LINEAR":
        size = traffic.get("LinearStepSize")
        if size is None:
            raise ValidationException(
                "LinearStepSize must be specified for LINEAR traffic routing."
            )
        percent = _percent(size, count)
        if percent is not None and not 10 <= percent <= 50:
            raise ValidationException(
                f"LinearStepSize {size['Value']} ({size['Type']}) must be between 10% and 50% "
                f"of {_fleet(count)}."
            )
    elif "CanarySize" in traffic or "LinearStepSize" in traffic:
        raise ValidationException(
            "CanarySize and LinearStepSize apply only to CANARY and LINEAR traffic routing."
        )


def _fleet(count: int | None) -> str:
    total = "the variants' total instance count"
    return total if count is None else f"{total} ({count})"


def traffic_steps(deployment: dict[str, Any], count: int) -> list[float]:
    """The new fleet's share of traffic at each step, ending at 1.0."""
    traffic = routing(deployment)
    if traffic["Type"] == "CANARY":
        return [min(1.0, _size(traffic["CanarySize"], count) / count), 1.0]
    if traffic["Type"] == "LINEAR":
        step = _size(traffic["LinearStepSize"], count)
        return [min(1.0, n * step / count) for n in range(1, math.ceil(count / step) + 1)]
    return [1.0]


def bake_seconds(deployment: dict[str, Any]) -> float:
    return float(routing(deployment).get("WaitIntervalInSeconds", 0)) / config.time_scale()


def termination_wait(deployment: dict[str, Any]) -> float:
    """How long the old fleet keeps serving after the switch (TerminationWaitInSeconds)."""
    wait = deployment.get("BlueGreenUpdatePolicy", {}).get("TerminationWaitInSeconds", 0)
    return float(wait) / config.time_scale()


def deadline(deployment: dict[str, Any]) -> float:
    """The monotonic time the whole deployment must finish by (MaximumExecutionTimeout)."""
    limit = deployment.get("BlueGreenUpdatePolicy", {}).get("MaximumExecutionTimeoutInSeconds")
    return math.inf if limit is None else time.monotonic() + float(limit) / config.time_scale()


def alarm_names(deployment: dict[str, Any]) -> list[str]:
    """The rollback alarms' names. botocore's model leaves an Alarm's AlarmName optional, so the
    shape check lets ``{}`` through; an alarm with no name is refused as a missing member."""
    alarms = deployment.get("AutoRollbackConfiguration", {}).get("Alarms", [])
    for number, alarm in enumerate(alarms, start=1):
        if not alarm.get("AlarmName"):
            raise ValidationException(
                "1 validation error detected: Value null at 'deploymentConfig."
                f"autoRollbackConfiguration.alarms.{number}.member.alarmName' failed to satisfy "
                "constraint: Member must not be null"
            )
    return [alarm["AlarmName"] for alarm in alarms]


async def bake(moto: MotoState, seconds: float, names: list[str], until: float) -> str | None:
    """Wait ``seconds`` while watching the alarms; the reason to roll back, or None."""
    end = time.monotonic() + seconds
    while True:
        states = await moto.run(moto.alarm_states, names) if names else {}
        alarm = next((n for n in names if states.get(n) == "ALARM"), None)
        if alarm is not None:
            return f"the alarm {alarm} went into ALARM state"
        if time.monotonic() >= until:
            return "the deployment exceeded MaximumExecutionTimeoutInSeconds"
        if time.monotonic() >= end:
            return None
        await asyncio.sleep(min(BAKE_POLL_SECONDS, max(0.0, end - time.monotonic())))


class Fleets(Protocol):
    """What an update needs from the endpoint lifecycle."""

    def current(self, name: str) -> Fleet:
        """The endpoint's fleet in service (empty if none)."""
        ...

    async def start(self, name: str, snapshot: Snapshot) -> Fleet:
        """Every variant's instances, started healthy, all or none."""
        ...

    async def unwatchable(self, name: str, snapshot: Snapshot, alarms: list[str]) -> str | None:
        """Why the new variants' execution roles may not read the rollback alarms, or None."""
        ...

    async def stop(self, instances: list[Instance], drain_seconds: float = 60.0) -> None: ...

    def route(self, route: EndpointRoute) -> None:
        """Send the endpoint's traffic as ``route`` says, without changing its fleet in service."""
        ...

    def serve(self, name: str, snapshot: Snapshot, fleet: Fleet) -> None:
        """Put ``fleet`` in service and route all the endpoint's traffic to it."""
        ...


class EndpointUpdate:
    """One UpdateEndpoint: ``begin`` as the request is served, ``run`` in the background."""

    def __init__(
        self,
        docs: Documents,
        fleets: Fleets,
        moto: MotoState,
        name: str,
        deployment: dict[str, Any] | None,
    ) -> None:
        self.docs = docs
        self.fleets = fleets
        self.moto = moto
        self.name = name
        self.deployment = deployment  # as given, kept as the endpoint's LastDeploymentConfig
        self.policy = deployment or {}

    def begin(
        self,
        doc: dict[str, Any],
        config_name: str,
        snapshot: Snapshot,
        alarms: Mapping[str, str],
    ) -> None:
        """Check the DeploymentConfig against the new variants and the existing ``alarms``, then
        mark the endpoint Updating with the deployment pending."""
        validate(self.policy, sum(s["Count"] for s in snapshot), alarms)
        now = time.time()
        self.docs.save_endpoint(
            doc,
            EndpointStatus="Updating",
            FailureReason=None,
            _Pending=snapshot,
            _PendingConfigName=config_name,
            PendingDeploymentSummary={
                "EndpointConfigName": config_name,
                "ProductionVariants": [
                    {
                        "VariantName": s["VariantName"],
                        "DesiredWeight": s["Weight"],
                        "DesiredInstanceCount": s["Count"],
                        "VariantStatus": [{"Status": "Creating", "StartTime": now}],
                    }
                    for s in snapshot
                ],
                "StartTime": now,
            },
            LastDeploymentConfig=self.deployment,
        )

    async def run(self) -> None:
        """Start the new fleet, shift the traffic to it, switch, then drain the old fleet after
        the termination wait. A failed start, an alarm or the deadline rolls back."""
        doc = self.docs.endpoint(self.name)
        assert doc is not None
        snapshot = doc["_Pending"]
        until = deadline(self.policy)
        refused = await self.fleets.unwatchable(self.name, snapshot, alarm_names(self.policy))
        if refused is not None:
            self._roll_back(doc, refused)
            return
        try:
            green = await self.fleets.start(self.name, snapshot)
        except (InstanceFailed, UnknownImage) as e:
            self._roll_back(doc, str(e))
            return
        blue = self.fleets.current(self.name)
        green_route = endpoint_route(self.name, snapshot, green, endpoint_region(doc))
        new_instances = all_instances(green)
        try:
            reason = await self._shift_traffic(doc, green_route, until)
            if reason is not None:
                await self._abandon(doc, new_instances, reason)
                return
        except BaseException as e:
            if not isinstance(e, asyncio.CancelledError):  # cancelled: deleted, so not routed
                self.fleets.route(self._blue_route(doc))
            await self.fleets.stop(new_instances, drain_seconds=0)
            raise
        self._switch(doc, snapshot, green)
        await asyncio.sleep(termination_wait(self.policy))
        await self.fleets.stop(all_instances(blue))

    def _blue_route(self, doc: dict[str, Any]) -> EndpointRoute:
        """The route to the fleet in service, as it is now: an instance of it that died during
        the deployment has been replaced (Lifecycle._replace_instance)."""
        fleet = self.fleets.current(self.name)
        return endpoint_route(self.name, doc["_Deployed"], fleet, endpoint_region(doc))

    async def _shift_traffic(
        self, doc: dict[str, Any], green_route: EndpointRoute, until: float
    ) -> str | None:
        """Each traffic step in turn, baking under the alarms' watch; the reason to roll back,
        or None once the new fleet takes all the traffic."""
        names = alarm_names(self.policy)
        instance_count = sum(len(v.instances) for v in green_route.variants)
        for share in traffic_steps(self.policy, instance_count):
            self._variant_status(doc, "Baking", f"{share:.0%} of the traffic is on the new fleet")
            split = dataclasses.replace(self._blue_route(doc), green=green_route, green_share=share)
            self.fleets.route(split)
            reason = await bake(self.moto, bake_seconds(self.policy), names, until)
            if reason is not None:
                return reason
        return None

    def _variant_status(self, doc: dict[str, Any], status: str, message: str) -> None:
        """Show a deployment step in DescribeEndpoint's PendingDeploymentSummary."""
        summary = doc["PendingDeploymentSummary"]
        for variant in summary["ProductionVariants"]:
            variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"]
            variant["VariantStatus"] = [
                {"Status": status, "StatusMessage": message, "StartTime": time.time()}
            ]
        self.docs.save_endpoint(doc, PendingDeploymentSummary=summary)

    async def _abandon(
        self, doc: dict[str, Any], new_instances: list[Instance], reason: str
    ) -> None:
        """Send all the traffic back to the old fleet, stop the new one and roll back."""
        self.fleets.route(self._blue_route(doc))
        self.docs.save_endpoint(doc, EndpointStatus="RollingBack")
        log.warning("update of endpoint %s rolling back: %s", self.name, reason)
        await self.fleets.stop(new_instances)
        self._roll_back(doc, reason)

    def _roll_back(self, doc: dict[str, Any], reason: str) -> None:
        self.docs.back_in_service(
            doc, f"The update failed and the endpoint was rolled back: {reason}"
        )
        log.warning("update of endpoint %s rolled back: %s", self.name, reason)

    def _switch(self, doc: dict[str, Any], snapshot: Snapshot, green: Fleet) -> None:
        """Put the new fleet in service with all the traffic; the deployment is done."""
        self.fleets.serve(self.name, snapshot, green)
        self.docs.save_endpoint(
            doc,
            EndpointStatus="InService",
            EndpointConfigName=doc["_PendingConfigName"],
            ProductionVariants=variant_summaries(snapshot, time.time()),
            PendingDeploymentSummary=None,
            _Deployed=snapshot,
            _Pending=None,
            _PendingConfigName=None,
        )
        self.docs.forget_unused_artifacts()
        log.info("endpoint %s switched to %s", self.name, doc["EndpointConfigName"])

"""Target tracking for SageMaker variants: what Application Auto Scaling does, run locally.

Moto stores scalable targets and policies (RegisterScalableTarget, PutScalingPolicy) but never
scales. After each metrics flush this reads them from moto in-process (on moto's thread, through
its owner) and, for every ``sagemaker:variant:DesiredInstanceCount`` target with a
TargetTrackingScaling policy, makes the two CloudWatch alarms target tracking makes
(``TargetTracking-<resource>-AlarmHigh-<uuid>``: the last 3 one-minute datapoints above the
target; ``...-AlarmLow-<uuid>``: the last 15 below 90% of it), which :mod:`alarms` evaluates with
every other alarm, and acts on their state. A policy put through the gateway has them at once,
and PutScalingPolicy's answer lists them, as on AWS (:meth:`Autoscaler.policy_alarms`). They
are the policy's in moto and journaled, so after a restart it has the same ones; a replaced or
deleted policy's are deleted (:mod:`cdlab.localcloud.moto.policyalarms`). The
desired capacity is ``ceil(current * metric / target)`` (the newest period's datapoint), clamped
to [MinCapacity, MaxCapacity] and never below one instance (:data:`FEWEST_INSTANCES`); the
metric is the predefined one or a customized one, which may be a series a client puts with
PutMetricData (:mod:`tracked`). A scale-out waits ScaleOutCooldown
after the previous scale-out; a scale-in waits ScaleInCooldown after any scaling activity
(scale-in is the cautious side) and never happens with DisableScaleIn, nor while the target's
SuspendedState suspends that side (AWS's advice around an UpdateEndpoint). Several policies on
one target combine as on AWS (:func:`decide`): out if any asks, in only if all that may scale in
ask. Minutes and cooldowns pass ``CDLAB_TIME_SCALE`` times faster.

Each change goes through the SageMaker provider as UpdateEndpointWeightsAndCapacities would
(instances start before they take traffic; removed ones drain) and is recorded as a scaling
activity, served by ``describe_scaling_activities`` since moto has none. A triggered alarm that
changes nothing (the target at its bound, or already at the capacity computed) is recorded as a
not scaled activity (:mod:`notscaled`), listed only with IncludeNotScaledActivities, as on AWS.
Activities are kept in the state store, so the story survives a restart; one a restart cut short
ends Failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cdlab import config
from cdlab.localcloud.autoscaling import notscaled
from cdlab.localcloud.autoscaling.tracked import alarm_specs, caveat, policy_metric
from cdlab.localcloud.cloudwatch.metrics import Metrics, period_seconds
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.moto.records import ScalableTarget, ScalingPolicy
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols import paging
from cdlab.localcloud.protocols.errors import (
    AUTOSCALING_INVALID_TOKEN,
    AWSError,
    InvalidNextTokenException,
)
from cdlab.localcloud.sagemaker.capacity import Capacity
from cdlab.localcloud.state.journal import Journal
from cdlab.localcloud.state.store import Store

log = logging.getLogger("cdlab.autoscaler")

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
DEFAULT_COOLDOWN_SECONDS = 300  # Application Auto Scaling's default for SageMaker variants
MAX_ACTIVITIES = 1000
ACTIVITIES_PAGE = 50  # DescribeScalingActivities' MaxResults unless given
ACTIVITY = "scaling-activity"
# A variant's MinCapacity may be 0 (RegisterScalableTarget lists "SageMaker endpoint variants"
# among the resources whose minimum may be 0), but "An endpoint can scale to and from zero
# instances only if it hosts inference components"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html),
# which the local cloud does not host, and the guide says of a variant's --min-capacity "This
# value must be set to at least 1"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-policy.html).
# So scale-in stops at one instance; AWS does not say what it does with a variant's target at
# MinCapacity 0 (a triggered low alarm at one instance is AlreadyAtDesiredCapacity: the kit's).
FEWEST_INSTANCES = 1
OUT, IN, HOLD = "out", "in", "hold"
SUSPENDED = {OUT: "DynamicScalingOutSuspended", IN: "DynamicScalingInSuspended"}


@dataclass
class _TargetState:
    last_scale_out: float = -math.inf  # monotonic seconds
    last_activity: float = -math.inf
    busy: bool = False

    def cooling(self, side: str, cooldown: float, now: float) -> bool:
        """Whether ``side`` still waits ``cooldown`` real seconds: a scale-out since the last
        scale-out, a scale-in since the last activity."""
        since = self.last_scale_out if side == OUT else self.last_activity
        return now < since + cooldown


@dataclass(frozen=True)
class Vote:
    """One target tracking policy's wish for its target: OUT, IN or HOLD, and to how many."""

    policy: ScalingPolicy
    side: str
    desired: int
    alarm: str = ""
    metric: str = ""
    value: float = 0.0
    asked: str = HOLD  # a HOLD's triggered alarm's side, if it has a not scaled reason
    not_scaled: dict[str, Any] | None = None  # why that alarm changes nothing: a NotScaledReason

    def cooldown(self, votes: list[Vote]) -> float:
        """Seconds to wait since the last change: this policy's ScaleOutCooldown for a scale-out;
        for a scale-in, which all policies agreed on, the longest of their ScaleInCooldowns."""
        if self.side == OUT:
            return _cooldown(self.policy, OUT)
        return max(_cooldown(v.policy, IN) for v in votes)


def _cooldown(policy: ScalingPolicy, side: str) -> float:
    """A policy's cooldown in seconds for ``side``, its ScaleOutCooldown or ScaleInCooldown."""
    key = "ScaleOutCooldown" if side == OUT else "ScaleInCooldown"
    return float(policy.configuration.get(key, DEFAULT_COOLDOWN_SECONDS))


def decide(votes: list[Vote], suspended: tuple[str, ...] = ()) -> Vote | None:
    """Several target tracking policies on one target, as Application Auto Scaling combines
    them: scale out if any policy asks to (to the largest count asked), scale in only if every
    policy that may scale in asks to (to the largest count they ask: the most cautious); nothing
    on a side the target's SuspendedState suspends."""
    outs = [v for v in votes if v.side == OUT]
    voting = [v for v in votes if not v.policy.configuration.get("DisableScaleIn")]
    if outs:
        chosen = max(outs, key=lambda v: v.desired)
    elif voting and all(v.side == IN for v in voting):
        chosen = max(voting, key=lambda v: v.desired)
    else:
        return None
    return None if SUSPENDED[chosen.side] in suspended else chosen


class Autoscaler:
    def __init__(self, metrics: Metrics, capacity: Capacity, store: Store, moto: MotoState) -> None:
        self.metrics = metrics
        self.capacity = capacity
        self.store = store
        self.moto = moto
        self.journal = Journal(store)  # the policies' alarms, kept across a restart
        self.states: dict[str, _TargetState] = {}
        self.activities: list[dict[str, Any]] = self.store.all(ACTIVITY)[::-1][:MAX_ACTIVITIES]
        for activity in self.activities:
            if activity["StatusCode"] == "InProgress":
                activity["StatusCode"] = "Failed"
                activity["StatusMessage"] = (
                    "The local cloud stopped before the change was fulfilled."
                )
                activity["EndTime"] = time.time()
                self._save(activity)
        self.recorded = notscaled.Recorded(self.activities)
        self.tasks: set[asyncio.Task[None]] = set()

    def _save(self, activity: dict[str, Any]) -> None:
        """Keep the activity; if the state dir is full it stays in memory only (and says so)."""
        try:
            self.store.put(ACTIVITY, activity["ActivityId"], activity)
        except AWSError as e:
            log.error("scaling activity %s not saved: %s", activity["ActivityId"], e.message)

    async def evaluate(self) -> None:
        targets, policies = await self.moto.run(self.moto.target_tracking, DIMENSION)
        for target in targets:
            if target.service_namespace != "sagemaker":
                continue
            mine = [p for p in policies if p.resource_id == target.resource_id]
            if mine:
                await self._track(target, mine)
        stale = await self.moto.run(self.moto.stale_policy_alarms)
        if stale:  # a replaced or deleted policy's, which target tracking deletes with it
            await self.journal.change(self.moto, MotoState.delete_alarms, stale)

    async def policy_alarms(self, policy_arn: str) -> list[dict[str, str]]:
        """The alarms of a policy just put, as PutScalingPolicy answers them (AlarmName,
        AlarmARN). A target tracking policy on a variant has its two made now: on AWS the call
        makes them and lists them in its answer
        (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PutScalingPolicy.html);
        any other policy's are those moto made, if any."""
        targets, policies = await self.moto.run(self.moto.target_tracking, DIMENSION)
        policy = next((p for p in policies if p.policy_arn == policy_arn), None)
        tracked = {t.resource_id for t in targets if t.service_namespace == "sagemaker"}
        if policy is not None and policy.resource_id in tracked:
            await self._alarms(policy)
            note = caveat(policy.configuration, policy.resource_id)
            if note is not None:
                log.warning("%s: policy %s %s", policy.resource_id, policy.policy_name, note)
        return await self.moto.run(self.moto.policy_alarms, policy_arn)

    async def _alarms(self, policy: ScalingPolicy) -> tuple[str, str] | None:
        """The policy's high and low alarms: those it has, else made now in CloudWatch as target
        tracking makes them (so DescribeAlarms and DescribeScalingPolicies show them) and
        evaluated with the rest. Journaled, so a restart brings back the same ones and they stay
        the policy's until it is replaced or deleted, as on AWS (:mod:`policyalarms`). None if
        the policy was deleted since it was read, tracks no positive target or metric math, or
        its alarms cannot be journaled now (a full state dir: the next pass tries again)."""
        if policy.alarms:
            high, low = policy.alarms
            return high, low
        goal = float(policy.configuration.get("TargetValue", 0))
        if goal <= 0:
            return None
        specs = alarm_specs(policy, goal)
        if not specs:
            return None
        try:
            names = await self.journal.change(
                self.moto, MotoState.put_policy_alarms, policy.policy_arn, specs
            )
        except AWSError as e:
            name = policy.policy_name
            log.error("%s: alarms of policy %s not made: %s", policy.resource_id, name, e.message)
            return None
        if names is None:
            return None
        high, low = names
        return high, low

    async def _vote(self, policy: ScalingPolicy, current: int, target: ScalableTarget) -> Vote:
        """What one policy asks for now: out or in when its high or low alarm is in ALARM and
        its metric's newest datapoint calls for more or fewer instances, else hold; a hold on
        a triggered alarm says why (a NotScaledReason): the bound on that side, which needs no
        datapoint, or a capacity computed that is the current one."""
        conf = policy.configuration
        goal = float(conf.get("TargetValue", 0))
        made = await self._alarms(policy) if goal > 0 else None
        if made is None:
            return Vote(policy, HOLD, current)
        states = await self.moto.run(self.moto.alarm_states, made)
        sides = zip((OUT, IN), made, strict=True)
        triggered = [(side, alarm) for side, alarm in sides if states.get(alarm) == "ALARM"]
        if not triggered:
            return Vote(policy, HOLD, current)
        [(side, alarm), *_] = triggered  # both only if a client set them so: out comes first
        blocked = notscaled.bound_reason(side == OUT, current, target)
        if blocked is not None:
            return Vote(policy, HOLD, current, alarm, asked=side, not_scaled=blocked)
        metric = policy_metric(conf, target.resource_id)
        assert metric is not None  # its alarms were made: it tracks a metric
        [point], _ = await self.metrics.series_windows(metric.key, 1, period_seconds(), metric.unit)
        if point is None:
            return Vote(policy, HOLD, current)
        latest = point.statistic(metric.statistic)
        desired = math.ceil(current * latest / goal)
        desired = max(FEWEST_INSTANCES, target.min_capacity, min(target.max_capacity, desired))
        if desired > current if side == OUT else desired < current:
            return Vote(policy, side, desired, alarm, metric.label, latest)
        reason = notscaled.desired_reason(current)
        return Vote(policy, HOLD, current, alarm, metric.label, latest, side, reason)

    async def _track(self, target: ScalableTarget, policies: list[ScalingPolicy]) -> None:
        state = self.states.setdefault(target.resource_id, _TargetState())
        if state.busy:
            return
        _, endpoint, _, variant = target.resource_id.split("/", 3)
        current = self.capacity.variant_capacity(endpoint, variant)
        if current is None:
            return
        votes = [await self._vote(policy, current, target) for policy in policies]
        chosen = decide(votes, target.suspended)
        if chosen is None:
            self._not_scaled(target, votes, state)
            return
        now = time.monotonic()
        if state.cooling(chosen.side, chosen.cooldown(votes) / config.time_scale(), now):
            return
        if chosen.side == OUT:
            state.last_scale_out = now
        cause = notscaled.alarm_cause(chosen.alarm, chosen.policy.policy_name)
        state.last_activity = now
        state.busy = True
        log.info(
            "%s: %s %s=%g, %d -> %d instances",
            target.resource_id,
            cause,
            chosen.metric,
            chosen.value,
            current,
            chosen.desired,
        )
        self._start_activity(target, endpoint, variant, current, chosen.desired, cause, state)

    def _not_scaled(self, target: ScalableTarget, votes: list[Vote], state: _TargetState) -> None:
        """Record the not scaled activity of each triggered alarm that changes nothing, unless
        its side is suspended, disabled (DisableScaleIn) or cooling down, or the policy already
        has one for that reason since the target last scaled."""
        now = time.monotonic()
        for vote in votes:
            reason, side, policy = vote.not_scaled, vote.asked, vote.policy
            if reason is None or SUSPENDED[side] in target.suspended:
                continue
            if side == IN and policy.configuration.get("DisableScaleIn"):
                continue
            if state.cooling(side, _cooldown(policy, side) / config.time_scale(), now):
                continue
            if self.recorded.first(target.resource_id, policy.policy_name, reason["Code"]):
                cause = notscaled.alarm_cause(vote.alarm, policy.policy_name)
                log.info("%s: %s; not scaled: %s", target.resource_id, cause, reason)
                self._record(notscaled.activity(target.resource_id, DIMENSION, cause, reason))

    def _record(self, activity: dict[str, Any]) -> None:
        """Keep a new activity, newest first, dropping the oldest beyond MAX_ACTIVITIES."""
        self.activities.insert(0, activity)
        self._save(activity)
        for dropped in self.activities[MAX_ACTIVITIES:]:
            with contextlib.suppress(AWSError):  # if kept, a start reads only the newest anyway
                self.store.delete(ACTIVITY, dropped["ActivityId"])
        del self.activities[MAX_ACTIVITIES:]

    def _start_activity(
        self,
        target: ScalableTarget,
        endpoint: str,
        variant: str,
        current: int,
        desired: int,
        cause: str,
        state: _TargetState,
    ) -> None:
        activity = {
            "ActivityId": str(uuid.uuid4()),
            "ServiceNamespace": "sagemaker",
            "ResourceId": target.resource_id,
            "ScalableDimension": DIMENSION,
            "Description": f"Setting desired instance count to {desired}.",
            "Cause": f"{cause}; current instance count {current}",
            "StartTime": time.time(),
            "StatusCode": "InProgress",
        }
        self._record(activity)
        self.recorded.scaled(target.resource_id)
        task = asyncio.create_task(self._apply(activity, endpoint, variant, desired, state))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _apply(
        self,
        activity: dict[str, Any],
        endpoint: str,
        variant: str,
        desired: int,
        state: _TargetState,
    ) -> None:
        try:
            await self.capacity.set_capacity(endpoint, variant, desired)
            reached = self.capacity.variant_capacity(endpoint, variant)
            if reached == desired:
                activity["StatusCode"] = "Successful"
                activity["StatusMessage"] = (
                    f"Successfully set desired instance count to {desired}. "
                    "Change successfully fulfilled by sagemaker."
                )
            else:
                activity["StatusCode"] = "Failed"
                activity["StatusMessage"] = (
                    f"Failed to set desired instance count to {desired}: the variant has "
                    f"{reached} instances. {self.capacity.failure_reason(endpoint)}"
                )
        except AWSError as e:  # refused, the endpoint unchanged: in progress, over a quota
            activity["StatusCode"] = "Failed"
            activity["StatusMessage"] = (
                f"Failed to set desired instance count to {desired}. Reason: {e}"
            )
        finally:
            activity["EndTime"] = time.time()
            state.busy = False
            state.last_activity = time.monotonic()
            self._save(activity)

    def describe_scaling_activities(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeScalingActivities, newest first, with its filters and paging: ``MaxResults``
        from 1 to 50, 50 unless given; not scaled activities only with IncludeNotScaledActivities
        (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalingActivities.html)."""
        size = p.get("MaxResults", ACTIVITIES_PAGE)  # 1 to 50: awsjson.DOCUMENTED_LIMITS
        items = [a for a in self.activities if a["ServiceNamespace"] == p.get("ServiceNamespace")]
        if not p.get("IncludeNotScaledActivities"):
            items = [a for a in items if "NotScaledReasons" not in a]
        if p.get("ResourceId"):
            items = [a for a in items if a["ResourceId"] == p["ResourceId"]]
        if p.get("ScalableDimension"):
            items = [a for a in items if a["ScalableDimension"] == p["ScalableDimension"]]
        shown, token = paging.page(
            items, lambda a: [a["StartTime"], a["ActivityId"]], p.get("NextToken"),
            listing="scaling-activities", size=size,
            refuse=lambda _: InvalidNextTokenException(AUTOSCALING_INVALID_TOKEN),
            descending=True,
        )  # fmt: skip
        page: dict[str, Any] = {"ScalingActivities": shown}
        return {**page, "NextToken": token} if token else page

    async def shutdown(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

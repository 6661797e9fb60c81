"""Moto's in-process state, owned: the only module that reaches into moto's backends.

The kit reads and writes a few things in moto directly, not over the wire: S3 objects (model
artifacts, training channels, templates, the disk mirror), log events, metric datapoints and
alarm states, scalable targets and scaling policies, and reads IAM users' access keys and the
sessions STS issued (to accept requests they sign). Each is a method of :class:`MotoState`
that runs on moto's thread (see :mod:`thread`): blocking from a worker thread, awaited from the
event loop as ``await moto.run(moto.s3_get, bucket, key)``. What a method returns is plain data
or a copy, never one of moto's objects, so nothing of moto's is read on another thread later.
The changes a stack's resources make here, and the alarms the autoscaler puts for a target
tracking policy, are :func:`replayable`: the journal keeps them.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from moto.events.models import EventsBackend, events_backends
from moto.glue.models import GlueBackend, glue_backends
from moto.iam.models import IAMBackend, iam_backends
from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import LogsBackend, logs_backends
from moto.s3.exceptions import MissingBucket
from moto.s3.models import S3Backend, s3_backends
from moto.sts.models import STSBackend, sts_backends

from cdlab.localcloud.moto import (
    corrections,
    evaluable,
    metricdata,
    policyalarms,
    s3events,
    s3settings,
    s3versions,
    stsrules,
)
from cdlab.localcloud.moto.records import (
    MetricAlarm,
    RoleSession,
    S3Bucket,
    S3Object,
    ScalableTarget,
    ScalingPolicy,
    Signature,
    UserAccessKey,
)
from cdlab.localcloud.moto.replayable import replayable
from cdlab.localcloud.moto.thread import MotoThread, on_moto_thread

if TYPE_CHECKING:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend


def account_iam(account: str, partition: str) -> IAMBackend:
    """An account's IAM, for a correction running on moto's thread (:mod:`.stsrules`)."""
    return iam_backends[account][partition]


class MotoState(MotoThread):
    """Moto's backends for one account: S3 (global) and the regional ones of ``region``; the
    ``*_backend`` accessors are for code running on moto's thread (:meth:`run`) only."""

    def __init__(self, account: str, region: str) -> None:
        super().__init__()
        self.account = account
        self.region = region
        self.unevaluable: set[str] = set()  # the alarms metric_alarms logged it leaves out
        corrections.install()

    def s3_backend(self) -> S3Backend:
        return s3_backends[self.account]["aws"]

    def logs_backend(self) -> LogsBackend:
        return logs_backends[self.account][self.region]

    def cloudwatch_backend(self) -> CloudWatchBackend:
        return cloudwatch_backends[self.account][self.region]

    def autoscaling_backend(self) -> ApplicationAutoscalingBackend:
        # imported here: it pulls in moto's EC2 and ECS (a second), which the kit's clients that
        # read templates (the notebooks, the CLI) never need
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        return applicationautoscaling_backends[self.account][self.region]

    def iam_backend(self) -> IAMBackend:
        return iam_backends[self.account]["aws"]

    def sts_backend(self) -> STSBackend:
        return sts_backends[self.account]["aws"]

    def glue_backend(self) -> GlueBackend:
        return glue_backends[self.account][self.region]

    def events_backend(self, region: str | None = None) -> EventsBackend:
        return events_backends[self.account][region or self.region]

    # ---- S3 ------------------------------------------------------------------------------

    @on_moto_thread
    def s3_get(self, bucket: str, key: str) -> bytes | None:
        """An object's bytes; None if it or its bucket does not exist."""
        try:
            found = self.s3_backend().get_object(bucket, key)
        except MissingBucket:
            return None
        return found.value if found is not None else None

    @on_moto_thread
    def s3_keys(self, bucket: str, prefix: str) -> list[str] | None:
        """The keys under ``prefix``, sorted; None if the bucket does not exist."""
        s3 = self.s3_backend()
        try:
            keys, _, _, _ = s3.list_objects(s3.get_bucket(bucket), prefix, None, None, None)
        except MissingBucket:
            return None
        return [k.name for k in keys]

    @on_moto_thread
    def s3_bucket_region(self, bucket: str) -> str | None:
        """The region bucket ``bucket`` is in; None if it does not exist."""
        try:
            return str(self.s3_backend().get_bucket(bucket).region_name)
        except MissingBucket:
            return None

    @on_moto_thread
    def s3_put(self, bucket: str, key: str, data: bytes) -> bool:
        """Put ``data`` at ``key``; False, and nothing put, if the bucket does not exist."""
        try:
            self.s3_backend().put_object(bucket, key, data)
        except MissingBucket:
            return False
        return True

    @on_moto_thread
    def s3_bucket(self, name: str, known: Mapping[tuple[str, str], Signature]) -> S3Bucket | None:
        """A bucket, its settings and every version of each object (:mod:`s3versions`,
        :mod:`s3settings`), or None if there is no such bucket. A version whose signature is in
        ``known`` (by key and version id) comes without its bytes."""
        s3 = self.s3_backend()
        try:
            bucket = s3.get_bucket(name)
        except MissingBucket:
            return None
        objects = s3versions.versions(bucket, known)
        return S3Bucket(name, bucket.region_name, objects, s3settings.read(s3, bucket))

    @on_moto_thread
    def s3_create_bucket(
        self, name: str, region: str, settings: Mapping[str, Any] | None = None
    ) -> None:
        """Make bucket ``name``, with ``settings`` as :meth:`s3_bucket` gave them, if given."""
        s3 = self.s3_backend()
        s3settings.put_back(s3, s3.create_bucket(name, region), settings or {})

    @on_moto_thread
    def s3_restore(self, bucket: str, key: str, versions: Sequence[S3Object]) -> list[Signature]:
        """Put an object's versions (:meth:`s3_bucket`'s, with their bytes) back as they were;
        their new signatures."""
        return s3versions.put_back(self.s3_backend(), bucket, key, versions)

    # ---- IAM and STS ---------------------------------------------------------------------

    @on_moto_thread
    def user_access_key(self, access_key_id: str) -> UserAccessKey | None:
        """The IAM user's access key ``access_key_id``; None if no user of the account has it."""
        user = self.iam_backend().get_user_from_access_key_id(access_key_id)
        if user is None:
            return None
        key = user.get_access_key_by_id(access_key_id)
        return UserAccessKey(
            key.access_key_id, key.secret_access_key, key.status == "Active", user.name, user.arn
        )

    @on_moto_thread
    def role_session(self, access_key_id: str) -> RoleSession | None:
        """The role session whose temporary access key is ``access_key_id``; None if STS issued
        no such session in the account."""
        session = self.sts_backend().get_assumed_role_from_access_key(access_key_id)
        if session is None:
            return None
        return RoleSession(
            session.access_key_id,
            session.secret_access_key,
            session.session_token,
            session.expiration.replace(tzinfo=UTC),  # moto keeps naive UTC times
            session.arn,
            session.role_arn,
            session.policy or None,
            getattr(session, stsrules.POLICY_ARNS, ()),
        )

    @on_moto_thread
    def identity_policies(self, entity_arn: str) -> list[str] | None:
        """The documents (JSON text) of the identity-based policies of an IAM user (its inline
        and attached managed policies, and those of its groups) or role (its inline and
        attached managed policies), a managed policy's default version; None if the account has
        no such user or role
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_identity-vs-resource.html)."""
        iam = self.iam_backend()
        _, _, resource = entity_arn.rpartition(":")
        kind, _, name = resource.partition("/")
        name = name.rpartition("/")[2]  # past the path
        owners: list[Any]
        if kind == "user":
            user = iam.users.get(name)
            if user is None or user.arn != entity_arn:
                return None
            owners = [user, *iam.get_groups_for_user(name)]
        elif kind == "role":
            role = next((r for r in iam.roles.values() if r.arn == entity_arn), None)
            if role is None:
                return None
            owners = [role]
        else:
            return None
        documents = []
        for owner in owners:
            documents += owner.policies.values()
            for policy in owner.managed_policies.values():
                default = next(v for v in policy.versions if v.is_default)
                documents.append(default.document)
        return documents

    @on_moto_thread
    def managed_policy(self, policy_arn: str) -> str | None:
        """The document (JSON text) of the managed policy's default version; None if there is no
        such policy."""
        policy = self.iam_backend().managed_policies.get(policy_arn)
        if policy is None:
            return None
        default = next((v for v in policy.versions if v.is_default), None)
        return policy.document if default is None else default.document

    @on_moto_thread
    def role_trust_policy(self, role_arn: str) -> str | None:
        """The trust policy (JSON text) of the role ``role_arn``; None if there is no such role."""
        role = next((r for r in self.iam_backend().roles.values() if r.arn == role_arn), None)
        return None if role is None else role.assume_role_policy_document

    @on_moto_thread
    def bucket_policy(self, bucket: str) -> str | None:
        """The bucket's policy (JSON text); None if it has none or there is no such bucket."""
        try:
            policy = self.s3_backend().get_bucket(bucket).policy
        except MissingBucket:
            return None
        return policy.decode() if policy else None

    @on_moto_thread
    def bucket_sends_to_eventbridge(self, bucket: str) -> bool:
        """Whether the bucket's notification configuration sends its events to EventBridge."""
        try:
            return s3events.sends(self.s3_backend().get_bucket(bucket))
        except MissingBucket:
            return False

    # ---- CloudWatch Logs -----------------------------------------------------------------

    @on_moto_thread
    def put_log_events(self, group: str, stream: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Create the group and stream if missing and put the events.

        Through the group's own put, not the backend's: the backend's silently drops events
        older than 14 days (which an archive holds after two weeks) and refuses a batch out of
        chronological order (which a wall clock stepping back would make of a live batch).
        """
        logs = self.logs_backend()
        if group not in logs.groups:
            with contextlib.suppress(ResourceAlreadyExistsException):
                logs.create_log_group(group, {})
        if stream not in logs.groups[group].streams:
            with contextlib.suppress(ResourceAlreadyExistsException):
                logs.create_log_stream(group, stream)
        if events:
            logs.groups[group].put_log_events(stream, list(events))

    @on_moto_thread
    def log_stream_names(self, group: str, prefix: str) -> list[str] | None:
        """The names of the group's streams that start with ``prefix``, sorted; None if there is
        no such group."""
        found = self.logs_backend().groups.get(group)
        if found is None:
            return None
        return sorted(name for name in found.streams if name.startswith(prefix))

    # ---- CloudWatch metrics and alarms ---------------------------------------------------

    @on_moto_thread
    def put_metric_data(self, by_namespace: Mapping[str, list[dict[str, Any]]]) -> None:
        """PutMetricData's MetricData (in moto's form), for each namespace."""
        cloudwatch = self.cloudwatch_backend()
        for namespace, data in by_namespace.items():
            cloudwatch.put_metric_data(namespace, data)

    @on_moto_thread
    def client_datapoints(
        self,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, str],
        since: float,
        unit: str | None = None,
    ) -> list[metricdata.Point]:
        """What clients put (PutMetricData) on one series since epoch second ``since``, only
        in ``unit`` if given."""
        args = (namespace, metric, dimensions, since, unit)
        return metricdata.client_datapoints(self.cloudwatch_backend(), *args)

    @on_moto_thread
    def metric_alarms(self) -> list[MetricAlarm]:
        """The alarms on one metric's statistic (not metric math, composite or percentiles)
        that can be evaluated (see :mod:`evaluable`)."""
        return evaluable.metric_alarms(self.cloudwatch_backend(), self.unevaluable)

    @on_moto_thread
    def alarm_states(self, names: Iterable[str]) -> dict[str, str]:
        """The state (OK, ALARM, INSUFFICIENT_DATA) of each of ``names`` that is an alarm."""
        alarms = self.cloudwatch_backend().alarms
        return {name: alarms[name].state_value for name in names if name in alarms}

    @replayable
    @on_moto_thread
    def set_alarm_state(
        self, name: str, reason: str, reason_data: str, state: str, at: float | None = None
    ) -> None:
        """SetAlarmState; an alarm deleted since it was read stays deleted. ``at`` (epoch
        seconds), when given, is the StateUpdatedTimestamp: a replay keeps the change's time."""
        cloudwatch = self.cloudwatch_backend()
        if name in cloudwatch.alarms:
            cloudwatch.set_alarm_state(name, reason, reason_data, state)
            if at is not None:  # moto's timestamps are naive UTC
                updated = datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
                cloudwatch.alarms[name].state_updated_timestamp = updated

    @replayable
    @on_moto_thread
    def put_metric_alarm(self, **alarm: Any) -> None:
        """PutMetricAlarm, with the parameter names of moto's backend."""
        self.cloudwatch_backend().put_metric_alarm(**alarm)

    @replayable
    @on_moto_thread
    def delete_alarms(self, names: list[str]) -> None:
        self.cloudwatch_backend().delete_alarms(names)

    # ---- Application Auto Scaling --------------------------------------------------------

    @on_moto_thread
    def target_tracking(self, dimension: str) -> tuple[list[ScalableTarget], list[ScalingPolicy]]:
        """The scalable targets of ``dimension`` and its target tracking policies."""
        backend = self.autoscaling_backend()
        targets = [
            ScalableTarget(
                t.service_namespace,
                t.resource_id,
                int(t.min_capacity or 0),
                int(t.max_capacity or 0),
                tuple(sorted(k for k, v in (t.suspended_state or {}).items() if v)),
            )
            for t in backend.targets.get(dimension, {}).values()
        ]
        policies = [
            ScalingPolicy(
                p.policy_arn,
                p.policy_name,
                p.resource_id,
                copy.deepcopy(p.target_tracking_scaling_policy_configuration or {}),
                tuple(alarm.name for alarm in p.alarms),
            )
            for p in backend.policies.values()
            if p.scalable_dimension == dimension and p.policy_type == "TargetTrackingScaling"
        ]
        return targets, policies

    @replayable
    @on_moto_thread
    def put_policy_alarms(self, policy_arn: str, alarms: list[dict[str, Any]]) -> list[str] | None:
        """Put ``alarms`` (PutMetricAlarm parameters, as :meth:`put_metric_alarm` takes them) as
        the scaling policy's own, so DescribeScalingPolicies lists them, unless it has its alarms
        already; their names, or None (and nothing put) if the policy is gone."""
        return policyalarms.put(
            self.autoscaling_backend(), self.cloudwatch_backend(), policy_arn, alarms
        )

    @on_moto_thread
    def stale_policy_alarms(self) -> list[str]:
        """The alarms target tracking made that no scaling policy has now (see
        :func:`policyalarms.stale`)."""
        return policyalarms.stale(self.autoscaling_backend(), self.cloudwatch_backend())

    @on_moto_thread
    def policy_alarms(self, policy_arn: str) -> list[dict[str, str]]:
        """A scaling policy's alarms as PutScalingPolicy and DescribeScalingPolicies list them."""
        policy = policyalarms.find(self.autoscaling_backend(), policy_arn)
        alarms = [] if policy is None else policy.alarms
        return [{"AlarmName": alarm.name, "AlarmARN": alarm.alarm_arn} for alarm in alarms]

    @replayable
    @on_moto_thread
    def register_scalable_target(
        self,
        namespace: str,
        resource_id: str,
        dimension: str,
        *,
        min_capacity: int | None,
        max_capacity: int | None,
        role_arn: str | None,
        suspended_state: dict[str, Any] | None,
    ) -> None:
        self.autoscaling_backend().register_scalable_target(
            namespace,
            resource_id,
            dimension,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            role_arn=role_arn,
            suspended_state=suspended_state,
        )

    @replayable
    @on_moto_thread
    def deregister_scalable_target(self, namespace: str, resource_id: str, dimension: str) -> None:
        self.autoscaling_backend().deregister_scalable_target(namespace, resource_id, dimension)

    @replayable
    @on_moto_thread
    def put_scaling_policy(self, arn: str | None = None, **policy: Any) -> str:
        """PutScalingPolicy (moto's parameter names); the policy's ARN: ``arn`` if given (a
        policy put back after a restart keeps the ARN it had), else the one moto made."""
        made = self.autoscaling_backend().put_scaling_policy(**policy)
        if arn is not None:
            made.policy_arn = arn
        return made.policy_arn

    @replayable
    @on_moto_thread
    def delete_scaling_policy(
        self, name: str, namespace: str, resource_id: str, dimension: str
    ) -> None:
        self.autoscaling_backend().delete_scaling_policy(name, namespace, resource_id, dimension)

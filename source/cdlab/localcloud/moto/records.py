"""What :class:`~cdlab.localcloud.moto.state.MotoState` hands out of moto's state: plain,
frozen records, never one of moto's own objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Signature = tuple[int, str, int]  # id of moto's key object, last modified, size


@dataclass(frozen=True)
class S3Object:
    """One version of an object (an unversioned bucket's objects have one, ``"null"``), or a
    delete marker (``deleted``: no bytes or metadata); ``data`` is None if the caller knew this
    version already (its ``signature``) or it is a delete marker."""

    key: str
    signature: Signature
    metadata: dict[str, str]
    modified: datetime
    data: bytes | None
    version_id: str = "null"
    deleted: bool = False


@dataclass(frozen=True)
class S3Bucket:
    """A bucket: every version of each object, each key's oldest first, and its settings (plain
    JSON, see :mod:`cdlab.localcloud.moto.s3settings`)."""

    name: str
    region: str
    objects: list[S3Object]
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricAlarm:
    """An alarm on one metric's statistic, as the local evaluation needs it."""

    name: str
    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    statistic: str
    comparison_operator: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int | None
    threshold: float
    treat_missing_data: str | None
    state: str
    unit: str | None = None


@dataclass(frozen=True)
class ScalableTarget:
    service_namespace: str
    resource_id: str
    min_capacity: int
    max_capacity: int
    suspended: tuple[str, ...] = ()  # SuspendedState's flags set true


@dataclass(frozen=True)
class ScalingPolicy:
    """A target tracking policy, its TargetTrackingScalingPolicyConfiguration and the names of
    its alarms (its high and low ones once target tracking made them)."""

    policy_arn: str
    policy_name: str
    resource_id: str
    configuration: dict[str, Any]
    alarms: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserAccessKey:
    """An IAM user's access key (CreateAccessKey), and the user it belongs to."""

    access_key_id: str
    secret_access_key: str
    active: bool
    user_name: str
    user_arn: str


@dataclass(frozen=True)
class RoleSession:
    """The temporary credentials of an AssumeRole: the assumed-role ARN names the role and the
    session (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``), ``role_arn`` the role; its
    session policies: the inline one (``Policy``, JSON text) and the managed ones' ARNs
    (``PolicyArns``)."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime  # UTC
    arn: str
    role_arn: str
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()

"""What S3's EventBridge notifications need of moto's state, read on moto's thread: whether a
bucket sends its events to EventBridge, the object version an upload made, and the targets of
the default event bus's rules whose pattern matches an event (moto's own pattern matching).

Moto's S3 sends no event to a target it does not know (a pipeline); the kit's trigger
(:mod:`cdlab.localcloud.codepipeline.trigger`) builds the event and starts the pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moto.s3.exceptions import MissingBucket

from cdlab.localcloud.moto import s3events
from cdlab.localcloud.moto.state import MotoState


@dataclass(frozen=True)
class CreatedObject:
    bucket: str
    region: str
    key: str
    size: int
    etag: str
    version_id: str


@dataclass(frozen=True)
class RuleTarget:
    rule_arn: str
    arn: str
    role_arn: str


def bucket_exists(moto: MotoState, name: str) -> bool:
    """Whether the bucket exists. On moto's thread."""
    try:
        moto.s3_backend().get_bucket(name)
    except MissingBucket:
        return False
    return True


def created_object(moto: MotoState, bucket: str, key: str) -> CreatedObject | None:
    """The object's latest version, if S3 sends ``bucket``'s events to EventBridge by now
    (:mod:`s3events`); else None. On moto's thread."""
    try:
        found = moto.s3_backend().get_bucket(bucket)
    except MissingBucket:
        return None
    if not s3events.in_effect(found):
        return None
    fake = found.keys.get(key)
    if fake is None:
        return None
    return CreatedObject(
        bucket,
        found.region_name,
        key,
        fake.size,
        fake.etag.strip('"'),
        str(fake.version_id or "null"),
    )


def matching_targets(moto: MotoState, region: str, event: dict[str, Any]) -> list[RuleTarget]:
    """The targets of the enabled rules of the default bus whose pattern matches ``event``.
    On moto's thread."""
    bus = moto.events_backend(region).event_buses.get("default")
    if bus is None:
        return []
    return [
        RuleTarget(rule.arn, target["Arn"], target.get("RoleArn", ""))
        for rule in bus.rules.values()
        if rule.state == "ENABLED" and rule.event_pattern.matches_event(event)
        for target in rule.targets
    ]

"""A bucket's settings, read out of moto's bucket as plain JSON and put back into it, for the
disk mirror (:mod:`cdlab.localcloud.state.s3mirror`); run on moto's thread, given the backend and
bucket by :class:`~cdlab.localcloud.moto.state.MotoState`.

Kept: versioning (PutBucketVersioning), the bucket policy (PutBucketPolicy), tags
(PutBucketTagging), the notification configuration (PutBucketNotificationConfiguration: topics,
queues, functions with their ids, events and filters, and EventBridge) with the time the bucket
began sending to EventBridge (:mod:`s3events`), default encryption (PutBucketEncryption) and the
public access block (PutPublicAccessBlock). Not kept: lifecycle rules, CORS, website, logging,
ACLs, ownership controls, object lock, replication and the rest, which a stack's own buckets get
back from their stack where it sets them (lifecycle rules).

Why the mirror and not the journal, which keeps the other services' requests: a bucket's
settings are then part of the one file that holds the bucket, replaced atomically with its
objects after the write that changed them, so what comes back is the bucket as it was when its
last write was acknowledged. Journaled requests would be replayed onto whatever bucket has the
name at start (the settings of a bucket deleted and made again would come back on the new one
unless every CreateBucket and DeleteBucket were journaled and replayed against the mirror's
buckets too), the journal would grow with every change of a setting, and a replayed
notification configuration would turn EventBridge on at the restart, not when it was.

A setting is put back as moto keeps it, not through the API call that set it: a notification
configuration put back sends no test event to its queue or topic, and is not checked against
targets the journal brings back after the mirror (a queue, a topic).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from moto.s3.models import NotificationConfiguration, S3Backend

from cdlab.localcloud.moto import s3events

TARGETS = (("topic", "Topic"), ("queue", "Queue"), ("cloud_function", "CloudFunction"))
ACCESS_BLOCK = (
    ("block_public_acls", "BlockPublicAcls"),
    ("ignore_public_acls", "IgnorePublicAcls"),
    ("block_public_policy", "BlockPublicPolicy"),
    ("restrict_public_buckets", "RestrictPublicBuckets"),
)


def read(s3: S3Backend, bucket: Any) -> dict[str, Any]:
    """Moto's ``bucket``'s settings, only those it has (an unconfigured bucket's: ``{}``)."""
    found: dict[str, Any] = {}
    if bucket.versioning_status:
        found["versioning"] = bucket.versioning_status
    if bucket.policy:
        found["policy"] = bucket.policy.decode()
    tags = s3.tagger.list_tags_for_resource(bucket.arn)["Tags"]
    if tags:
        found["tags"] = [{"Key": t["Key"], "Value": t["Value"]} for t in tags]
    if bucket.notification_configuration is not None:
        found["notification"] = _notification(bucket.notification_configuration)
        since = getattr(bucket, s3events.SINCE, None)
        if since is not None:
            found["eventbridge_since"] = since
    if bucket.encryption:
        found["encryption"] = bucket.encryption
    if bucket.public_access_block is not None:
        block = bucket.public_access_block
        found["public_access_block"] = {api: getattr(block, attr) for attr, api in ACCESS_BLOCK}
    return copy.deepcopy(found)  # none of moto's own dicts


def put_back(s3: S3Backend, bucket: Any, settings: Mapping[str, Any]) -> None:
    """Give moto's ``bucket`` the ``settings`` :func:`read` read (a part missing: none)."""
    if "versioning" in settings:
        s3.put_bucket_versioning(bucket.name, settings["versioning"])
    if "policy" in settings:
        bucket.policy = settings["policy"].encode()
    if "tags" in settings:
        s3.put_bucket_tagging(bucket.name, {t["Key"]: t["Value"] for t in settings["tags"]})
    if "notification" in settings:
        given = settings["notification"]
        bucket.notification_configuration = NotificationConfiguration(
            topic=given.get("TopicConfiguration"),
            queue=given.get("QueueConfiguration"),
            cloud_function=given.get("CloudFunctionConfiguration"),
            event_bridge=given.get("EventBridgeConfiguration"),
        )
        if "eventbridge_since" in settings:
            s3events.began_sending(bucket, settings["eventbridge_since"])
    if "encryption" in settings:
        s3.put_bucket_encryption(bucket.name, settings["encryption"])
    if "public_access_block" in settings:
        given = {k: str(v).lower() for k, v in settings["public_access_block"].items()}
        s3.put_public_access_block(bucket.name, given)


def _notification(found: Any) -> dict[str, Any]:
    """Moto's NotificationConfiguration as the dict it is made from (the request's, parsed)."""
    given: dict[str, Any] = {}
    for attr, name in TARGETS:
        targets = [
            {
                "Id": n.id,
                name: n.arn,
                "Event": list(n.events),
                **({"Filter": n.filters} if n.filters else {}),
            }
            for n in getattr(found, attr)
        ]
        if targets:
            given[f"{name}Configuration"] = targets
    if found.event_bridge is not None:
        given["EventBridgeConfiguration"] = found.event_bridge
    return given

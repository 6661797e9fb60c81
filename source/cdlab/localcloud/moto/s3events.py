"""Which of S3's events moto sends, and from when, as S3 sends them.

From when: S3 starts sending a bucket's events to EventBridge some time after it is turned on:
"After you enable EventBridge, it takes around five minutes for the changes to take effect"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-event-notifications-eventbridge.html).
A bucket keeps the time it began sending (as an attribute of moto's bucket, so it goes with the
bucket), set when its notification configuration turns EventBridge on, by the API or by a
stack; the disk mirror keeps it with the bucket's other settings (:mod:`s3settings`), and a
stack's bucket an older kit mirrored without them, put back after a restart, gets the time its
stack last changed it. An
object written before the setting is in effect (``latency``'s ``eventbridge_enabling``: none in
the fast profile) sends no event, to moto's own targets (a log group, a queue ...) or to the
kit's pipelines (:mod:`cdlab.localcloud.codepipeline.trigger`).

Which: moto sends an "Object Tags Added" event after every PutObject and CopyObject, tags or
none, where S3 maps PutObjectTagging to it
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-mapping-troubleshooting.html). Here
putting no tags on an object that has none sends nothing; tags given keep moto's event (whether
S3 sends one for tags given with an upload, the guide does not say).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from moto.s3 import notifications
from moto.s3.models import S3Backend

from cdlab.localcloud import latency
from cdlab.localcloud.moto.wrapping import wrap_once

log = logging.getLogger("cdlab.s3")

SINCE = "cdlab_eventbridge_since"  # on moto's FakeBucket: when it began sending (epoch seconds)


def install() -> None:
    wrap_once(S3Backend, "put_bucket_notification_configuration", _noting_when_enabled)
    wrap_once(notifications, "_send_event_bridge_message", _once_in_effect)
    wrap_once(S3Backend, "put_object_tagging", _no_event_for_no_tags)


def sends(bucket: Any) -> bool:
    """Whether moto's ``bucket`` has EventBridge turned on."""
    found = bucket.notification_configuration
    return found is not None and found.event_bridge is not None


def in_effect(bucket: Any) -> bool:
    """Whether S3 sends ``bucket``'s events to EventBridge by now (it has it turned on)."""
    since = getattr(bucket, SINCE, None)
    delay = latency.real_seconds(latency.current().eventbridge_enabling)
    return sends(bucket) and (since is None or time.time() >= since + delay)


def began_sending(bucket: Any, at: float) -> None:
    """Record that ``bucket`` began sending at ``at`` (a stack's bucket put back)."""
    setattr(bucket, SINCE, at)


def _noting_when_enabled(original: Callable[..., None]) -> Callable[..., None]:
    def put(self: S3Backend, bucket_name: str, notification_config: dict[str, Any]) -> None:
        bucket = self.get_bucket(bucket_name)
        before = sends(bucket)
        original(self, bucket_name, notification_config)
        if sends(bucket) and not before:
            began_sending(bucket, time.time())

    return put


def _no_event_for_no_tags(original: Callable[..., Any]) -> Callable[..., Any]:
    def put(self: S3Backend, key: Any, tags: dict[str, str] | None) -> Any:
        if not tags and not self.tagger.list_tags_for_resource(key.arn)["Tags"]:
            return key  # nothing to put and nothing to take away: no change, no event
        return original(self, key, tags)

    return put


def _once_in_effect(original: Callable[..., None]) -> Callable[..., None]:
    def send(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        if in_effect(bucket):
            original(account_id, bucket, event_name, key)
            return
        log.info(
            "S3 sent no %s event for s3://%s/%s to EventBridge: the bucket's EventBridge setting "
            "takes effect %.0f s after it was turned on (CDLAB_LATENCY=%s), and it has not yet",
            event_name, bucket.name, key.name,
            latency.current().eventbridge_enabling, latency.profile(),
        )  # fmt: skip

    return send

"""GetBucketNotificationConfiguration shows a bucket's EventBridge setting, as AWS does; moto
keeps it but leaves it out of its answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def s3(moto_client: Callable[[str], Any]) -> Any:
    return moto_client("s3")


def bucket(s3: Any) -> str:
    name = f"notify-{uuid.uuid4().hex[:12]}"  # moto's backends outlive a test
    s3.create_bucket(Bucket=name)
    return name


def test_a_bucket_that_sends_to_eventbridge_says_so(s3: Any) -> None:
    sending = bucket(s3)
    s3.put_bucket_notification_configuration(
        Bucket=sending, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    answer = s3.get_bucket_notification_configuration(Bucket=sending)
    assert answer["EventBridgeConfiguration"] == {}
    topic = f"arn:aws:sns:us-east-1:123456789012:{sending}"
    s3.put_bucket_notification_configuration(
        Bucket=sending,
        NotificationConfiguration={
            "EventBridgeConfiguration": {},
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}],
        },
        SkipDestinationValidation=True,
    )
    both = s3.get_bucket_notification_configuration(Bucket=sending)
    assert both["EventBridgeConfiguration"] == {}
    assert [t["TopicArn"] for t in both["TopicConfigurations"]] == [topic]


def test_a_bucket_that_does_not_says_nothing_of_it(s3: Any) -> None:
    quiet = bucket(s3)
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=quiet)
    s3.put_bucket_notification_configuration(Bucket=quiet, NotificationConfiguration={})
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=quiet)

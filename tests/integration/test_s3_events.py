"""Which S3 events reach EventBridge: an upload is "Object Created" alone, as S3 maps its
operations to EventBridge's events
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-mapping-troubleshooting.html); moto
also sent "Object Tags Added" for every upload, tags or none."""

from __future__ import annotations

import json

from tests.integration.test_cloudformation_pipeline_stack import watch_uploads
from tests.polling import poll


def detail_types(client, group: str) -> list[tuple[str, str]]:
    found = client("logs").filter_log_events(logGroupName=group)["events"]
    return sorted(
        (json.loads(e["message"])["detail-type"], json.loads(e["message"])["detail"]["reason"])
        for e in found
    )


def test_an_upload_is_object_created_alone_and_tags_put_are_object_tags_added(client) -> None:
    group = watch_uploads(client, "s3ev")
    s3 = client("s3")
    s3.create_bucket(Bucket="s3ev-events")
    s3.put_bucket_notification_configuration(
        Bucket="s3ev-events", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    s3.put_object(Bucket="s3ev-events", Key="a.zip", Body=b"a")
    s3.copy_object(
        Bucket="s3ev-events", Key="b.zip", CopySource={"Bucket": "s3ev-events", "Key": "a.zip"}
    )
    created = [("Object Created", "ObjectCreated")] * 2
    poll(lambda: detail_types(client, group), until=lambda t: len(t) >= 2, what="two events")
    assert detail_types(client, group) == created

    s3.put_object_tagging(
        Bucket="s3ev-events", Key="a.zip", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    s3.put_object(Bucket="s3ev-events", Key="c.zip", Body=b"c", Tagging="k=v")
    tagged = [("Object Tags Added", "ObjectTagging")] * 2
    assert detail_types(client, group) == sorted(
        [*created, ("Object Created", "ObjectCreated"), *tagged]
    )

"""S3 sends a bucket's events to EventBridge about five minutes after EventBridge is turned on
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-event-notifications-eventbridge.html):
on a local cloud that takes AWS's time (``CDLAB_LATENCY=aws``, at ``CDLAB_TIME_SCALE=60``) an
upload that comes sooner reaches neither a rule's log group nor a pipeline, the pipeline's
upload is copied once the setting is in effect, and a restart keeps when it was turned on."""

from __future__ import annotations

import io
import json
import time

import pytest

from cdlab.localcloud.latency import AWS
from cdlab.pipeline import execution, source_events
from cdlab.pipeline.source_events import SourceObject
from tests.integration.codepipelines import SOURCE_KEY, declaration, make_parts
from tests.integration.private_cloud import PrivateCloud
from tests.integration.scaled import TIME_SCALE
from tests.integration.test_cloudformation_pipeline_stack import watch_uploads

pytestmark = pytest.mark.slow

TEMPLATE = {
    "Resources": {
        "SourceBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": "{stack}-source",
                "VersioningConfiguration": {"Status": "Enabled"},
                "NotificationConfiguration": {
                    "EventBridgeConfiguration": {"EventBridgeEnabled": True}
                },
            },
        }
    }
}


def up_taking_awss_time(private: PrivateCloud) -> None:
    private.patch.setenv("CDLAB_LATENCY", "aws")
    private.patch.setenv("CDLAB_TIME_SCALE", TIME_SCALE)
    private.up()


def source_stack(private: PrivateCloud, stack: str) -> str:
    """Stack ``stack`` of one versioned bucket that sends to EventBridge; the bucket's name."""
    body = json.dumps(TEMPLATE).replace("{stack}", stack)
    cfn = private.client("cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=body)
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    return f"{stack}-source"


def seen_versions(private: PrivateCloud, group: str) -> list[str]:
    """The object versions whose Object Created events reached the watching rule's log group."""
    found = private.client("logs").filter_log_events(logGroupName=group)["events"]
    return [json.loads(e["message"])["detail"]["object"]["version-id"] for e in found]


def put(private: PrivateCloud, bucket: str) -> str:
    return private.client("s3").put_object(Bucket=bucket, Key=SOURCE_KEY, Body=b"zip")["VersionId"]


def test_an_upload_before_the_setting_takes_effect_is_copied_once_it_has(
    private: PrivateCloud,
) -> None:
    up_taking_awss_time(private)
    group = watch_uploads(private.client, "early")
    bucket = source_stack(private, "early")
    pipe = make_parts(private.client, "early", source_made=True)
    private.client("codepipeline").create_pipeline(pipeline=declaration(pipe))
    execution.first_run_over(pipe.name)
    early = put(private, bucket)
    assert early not in seen_versions(private, group)  # moto's own delivery, to a log group

    out = io.StringIO()
    source = SourceObject("early", bucket, SOURCE_KEY)
    found, version = source_events.started(pipe.name, source, early, out)

    assert version != early and "copying the archive onto itself" in out.getvalue()
    assert execution.started_within(pipe.name, early, 0) is None  # the early one started none
    assert time.time() >= source_events.sending_from("early") - 1
    runs = private.client("codepipeline").list_pipeline_executions(pipelineName=pipe.name)
    revisions = {
        s["pipelineExecutionId"]: [r["revisionId"] for r in s.get("sourceRevisions", [])]
        for s in runs["pipelineExecutionSummaries"]
    }
    assert revisions[found] == [version]
    assert version in seen_versions(private, group)
    late = put(private, bucket)  # in effect now: delivered at once
    assert execution.started_within(pipe.name, late, 5) is not None
    assert late in seen_versions(private, group)


def test_a_restart_keeps_when_the_stack_turned_eventbridge_on(private: PrivateCloud) -> None:
    up_taking_awss_time(private)
    group = watch_uploads(private.client, "kept")
    bucket = source_stack(private, "kept")
    assert put(private, bucket) not in seen_versions(private, group)
    time.sleep(AWS.eventbridge_enabling / float(TIME_SCALE) + 0.5)

    private.kill()
    private.up()

    assert put(private, bucket) in seen_versions(private, group)  # not five minutes again


def test_a_restart_keeps_when_the_api_turned_eventbridge_on(private: PrivateCloud) -> None:
    """The disk mirror keeps a bucket's notification configuration and when it turned
    EventBridge on, for a bucket no stack puts back."""
    up_taking_awss_time(private)
    group = watch_uploads(private.client, "byhand")
    s3, bucket = private.client("s3"), "byhand-source"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    assert put(private, bucket) not in seen_versions(private, group)
    time.sleep(AWS.eventbridge_enabling / float(TIME_SCALE) + 0.5)

    private.kill()
    private.up()

    assert put(private, bucket) in seen_versions(private, group)  # not five minutes again

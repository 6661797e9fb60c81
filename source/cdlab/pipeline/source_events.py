"""The execution an upload of the source archive starts, even right after the stack was made.

S3 begins to send a bucket's events to EventBridge some time after EventBridge is turned on:
"After you enable EventBridge, it takes around five minutes for the changes to take effect"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-event-notifications-eventbridge.html).
The pipeline stack turns it on when it makes the source bucket, so an upload in its first
minutes may start no execution. Such an upload's execution is awaited until the setting must be
in effect (the bucket's last change in the stack, plus those minutes and half as much again);
if none started by then, the archive is copied onto itself (a new version: a new Object Created
event), and that version's execution is the one. An upload made later is awaited as it is.
The local cloud's ``CDLAB_LATENCY=aws`` profile drops the events of those minutes too.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TextIO

import boto3

from cdlab import cloud_clock
from cdlab.localcloud.latency import AWS
from cdlab.pipeline import execution

SOURCE_BUCKET = "SourceBucket"  # its logical id in pipeline.yml
SETTLING = 1.5 * AWS.eventbridge_enabling  # cloud seconds: "around" five minutes, with margin
DELIVERY = 60.0  # cloud seconds an event of a bucket that sends may take to start an execution


@dataclass(frozen=True)
class SourceObject:
    stack: str
    bucket: str
    key: str


def sending_from(stack: str) -> float:
    """When S3 sends the source bucket's events to EventBridge for sure (epoch seconds)."""
    detail = boto3.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId=SOURCE_BUCKET
    )["StackResourceDetail"]
    return detail["LastUpdatedTimestamp"].timestamp() + SETTLING / cloud_clock.time_scale()


def started(pipeline: str, source: SourceObject, version: str, out: TextIO) -> tuple[str, str]:
    """The execution the upload of ``version`` started, and the version it runs: ``version``,
    or the copy made once the bucket's events surely flow. Every time is AWS's: the upload's
    is S3's LastModified, now is the Date of S3's answer, so that they and CloudFormation's are
    read on one clock, not this machine's."""
    head = boto3.client("s3").head_object(Bucket=source.bucket, Key=source.key, VersionId=version)
    uploaded_at = head["LastModified"].timestamp()
    now = parsedate_to_datetime(head["ResponseMetadata"]["HTTPHeaders"]["date"]).timestamp()
    sending = sending_from(source.stack)
    if uploaded_at >= sending:
        return execution.started_by(pipeline, version), version
    waited = max(sending - now, DELIVERY / cloud_clock.time_scale())
    found = execution.started_within(pipeline, version, waited)
    if found is not None:
        return found, version
    out.write(
        f"      no execution started from version {version}: S3 sends a new bucket's events to "
        "EventBridge about five minutes after they are turned on, and the upload came sooner; "
        "copying the archive onto itself for a new Object Created event\n"
    )
    again = _copy_onto_itself(source)
    out.write(f"      version {again}\n")
    return execution.started_by(pipeline, again), again


def _copy_onto_itself(source: SourceObject) -> str:
    """A new version of the source object, equal to the current one; its version id. Its
    metadata is given again (REPLACE): S3 refuses a copy onto itself that changes nothing."""
    s3 = boto3.client("s3")
    current = s3.head_object(Bucket=source.bucket, Key=source.key)
    copied = s3.copy_object(
        Bucket=source.bucket,
        Key=source.key,
        CopySource={"Bucket": source.bucket, "Key": source.key},
        MetadataDirective="REPLACE",
        Metadata=current.get("Metadata", {}),
        ContentType=current.get("ContentType", "binary/octet-stream"),
    )
    return str(copied["VersionId"])

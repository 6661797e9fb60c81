"""A bucket made through the S3 API comes back after a restart, a stop and start or a SIGKILL,
as it was: its versioning, policy, tags and notification configuration, every version of its
objects with its version id, in order, and its delete markers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdlab import config
from cdlab.localcloud import control
from tests.integration.private_cloud import PrivateCloud

pytestmark = pytest.mark.slow

BUCKET = "kept-versions"
PLAIN = "kept-plain"
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{
        "Sid": "LabReads", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{config.ACCOUNT_ID}:root"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }]}
)  # fmt: skip
TAGS = [{"Key": "team", "Value": "lab"}, {"Key": "stage", "Value": "dev"}]


def made_through_the_api(s3: Any) -> None:
    """A versioned bucket with a policy, tags and EventBridge on, several versions of ``model``
    (one hidden by a delete marker in between) and ``data`` deleted (a marker its latest); an
    unversioned bucket with one object."""
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_policy(Bucket=BUCKET, Policy=POLICY)
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": TAGS})
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    s3.put_object(Bucket=BUCKET, Key="model", Body=b"v1", ContentType="text/plain")
    s3.put_object(Bucket=BUCKET, Key="model", Body=b"v2", Metadata={"run": "2"})
    s3.delete_object(Bucket=BUCKET, Key="model")
    s3.put_object(Bucket=BUCKET, Key="model", Body=b"v3")
    s3.put_object(Bucket=BUCKET, Key="data", Body=b"d1")
    s3.delete_object(Bucket=BUCKET, Key="data")
    s3.create_bucket(Bucket=PLAIN)
    s3.put_object(Bucket=PLAIN, Key="plain", Body=b"p")


def unless_missing(read: Callable[[], Any]) -> Any:
    """``read()``, or the error code S3 answers (NoSuchBucketPolicy, NoSuchTagSet ...)."""
    try:
        return read()
    except ClientError as e:
        return e.response["Error"]["Code"]


def as_it_is(s3: Any) -> dict[str, Any]:
    """What the S3 API shows of the two buckets."""
    found = s3.list_object_versions(Bucket=BUCKET)
    versions = [
        {k: v[k] for k in ("Key", "VersionId", "IsLatest", "LastModified", "ETag", "Size")}
        for v in found["Versions"]
    ]
    markers = [
        {k: m[k] for k in ("Key", "VersionId", "IsLatest", "LastModified")}
        for m in found.get("DeleteMarkers", [])
    ]
    by_id = {}
    for v in found["Versions"]:
        got = s3.get_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])
        by_id[v["VersionId"]] = (got["Body"].read(), got["ContentType"], got["Metadata"])
    notification = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    notification.pop("ResponseMetadata")
    plain = s3.list_object_versions(Bucket=PLAIN)["Versions"]
    return {
        "versioning": s3.get_bucket_versioning(Bucket=BUCKET).get("Status"),
        "policy": unless_missing(lambda: s3.get_bucket_policy(Bucket=BUCKET)["Policy"]),
        "tags": unless_missing(lambda: s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]),
        "notification": notification,
        "versions": versions,
        "markers": markers,
        "by_id": by_id,
        "latest": s3.head_object(Bucket=BUCKET, Key="model").get("VersionId"),
        "plain": [(v["Key"], v["VersionId"]) for v in plain],
        "plain_bytes": s3.get_object(Bucket=PLAIN, Key="plain")["Body"].read(),
    }


def test_an_api_made_bucket_comes_back_as_it_was_after_a_stop_and_a_crash(
    private: PrivateCloud,
) -> None:
    private.up()
    made_through_the_api(private.client("s3"))
    before = as_it_is(private.client("s3"))
    assert before["versioning"] == "Enabled"
    assert before["notification"] == {"EventBridgeConfiguration": {}}
    assert [v["Key"] for v in before["versions"]] == ["data", "model", "model", "model"]
    assert len(before["markers"]) == 2 and before["plain"] == [("plain", "null")]

    assert control.down(private.home)
    private.up()
    assert as_it_is(private.client("s3")) == before

    private.kill()
    private.up()
    assert as_it_is(private.client("s3")) == before

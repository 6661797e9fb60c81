"""A bucket whose versioning is suspended keeps its objects' earlier versions: PutObject adds or
replaces the null version alone
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html),
and DeleteObject without a version id puts a null delete marker in the null version's place
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectsfromVersioningSuspendedBuckets.html).
Moto dropped every earlier version, and failed with a 500 deleting by version id among markers."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


def versions(s3, bucket: str, key: str) -> set[tuple[str, str, bool]]:
    """(kind, version id, latest) of ``key``'s versions and delete markers."""
    found = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return {
        (kind, v["VersionId"], v["IsLatest"])
        for kind, field in (("object", "Versions"), ("marker", "DeleteMarkers"))
        for v in found.get(field, [])
        if v["Key"] == key
    }


def test_suspended_versioning_keeps_earlier_versions(s3) -> None:
    bucket, key = f"s3susp-{uuid.uuid4().hex[:12]}", "model.tar.gz"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key=key, Body=b"one")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key=key)
    assert marker["DeleteMarker"] and marker["VersionId"] not in ("null", v1)
    first_marker = marker["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})

    assert s3.put_object(Bucket=bucket, Key=key, Body=b"two").get("VersionId", "null") == "null"
    assert versions(s3, bucket, key) == {
        ("object", "null", True), ("marker", first_marker, False), ("object", v1, False),
    }  # fmt: skip
    s3.put_object(Bucket=bucket, Key=key, Body=b"three")  # replaces the null version alone
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"three"
    assert versions(s3, bucket, key) == {
        ("object", "null", True), ("marker", first_marker, False), ("object", v1, False),
    }  # fmt: skip

    deleted = s3.delete_object(Bucket=bucket, Key=key)
    assert deleted["DeleteMarker"] and deleted["VersionId"] == "null"
    assert versions(s3, bucket, key) == {
        ("marker", "null", True), ("marker", first_marker, False), ("object", v1, False),
    }  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=v1)["Body"].read() == b"one"
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key=key)  # the latest is a delete marker

    for version_id in ("null", first_marker, v1):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
        assert version_id not in [v[1] for v in versions(s3, bucket, key)]
    assert versions(s3, bucket, key) == set()

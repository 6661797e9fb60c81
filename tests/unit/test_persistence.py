"""The S3 mirror: moto's buckets written to disk and put back, every version of each object and
the bucket's settings, only changed objects rewritten."""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cdlab.localcloud.moto import s3events
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.s3mirror import S3Mirror, written_bucket


@pytest.fixture
def s3(moto_client: Callable[[str], Any]) -> Any:
    return moto_client("s3")


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"mirror-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    with contextlib.suppress(s3.exceptions.NoSuchBucket):
        for found in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=found["Key"])
        s3.delete_bucket(Bucket=name)


def test_a_synced_bucket_comes_back_with_its_objects_and_metadata(
    tmp_path: Path, moto: MotoState, s3: Any, bucket: str
) -> None:
    s3.put_object(
        Bucket=bucket, Key="a/b.csv", Body=b"1,2\n", ContentType="text/csv",
        Metadata={"owner": "lab"},
    )  # fmt: skip
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    S3Mirror(tmp_path, moto).sync(bucket)
    s3.delete_object(Bucket=bucket, Key="gone")
    S3Mirror(tmp_path, moto).sync(bucket)  # a fresh mirror (as after a restart) syncs a delete too

    s3.delete_object(Bucket=bucket, Key="a/b.csv")
    s3.delete_bucket(Bucket=bucket)
    assert S3Mirror(tmp_path, moto).restore() == 1
    restored = s3.get_object(Bucket=bucket, Key="a/b.csv")
    assert restored["Body"].read() == b"1,2\n"
    assert restored["ContentType"] == "text/csv"
    assert restored["Metadata"] == {"owner": "lab"}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a/b.csv"]


def test_only_changed_objects_are_written_and_unused_blobs_removed(
    tmp_path: Path, moto: MotoState, s3: Any, bucket: str
) -> None:
    mirror = S3Mirror(tmp_path, moto)
    s3.put_object(Bucket=bucket, Key="big", Body=b"b" * 100_000)
    mirror.sync(bucket)
    [blob] = (tmp_path / "blobs").iterdir()
    written_at = blob.stat().st_mtime_ns
    s3.put_object(Bucket=bucket, Key="small", Body=b"s")
    mirror.sync(bucket)
    assert blob.stat().st_mtime_ns == written_at
    s3.put_object(Bucket=bucket, Key="big", Body=b"c" * 10)
    mirror.sync(bucket)
    assert not blob.exists()
    assert len(list((tmp_path / "blobs").iterdir())) == 2


def test_a_deleted_bucket_leaves_nothing_on_disk(
    tmp_path: Path, moto: MotoState, s3: Any, bucket: str
) -> None:
    mirror = S3Mirror(tmp_path, moto)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    mirror.sync(bucket)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    mirror.sync(bucket)
    assert list((tmp_path / "buckets").iterdir()) == []
    assert list((tmp_path / "blobs").iterdir()) == []
    assert moto.s3_bucket(bucket, {}) is None


def test_writes_are_told_from_reads() -> None:
    assert written_bucket("PUT", "/b/k", 200) == "b"
    assert written_bucket("POST", "/b", 200) == "b"
    assert written_bucket("DELETE", "/b", 204) == "b"
    assert written_bucket("GET", "/b/k", 200) is None
    assert written_bucket("PUT", "/b/k", 404) is None
    assert written_bucket("PUT", "/", 200) is None


def wipe(s3: Any, bucket: str) -> None:
    """Delete every version and delete marker of ``bucket``, then the bucket."""
    found = s3.list_object_versions(Bucket=bucket)
    for version in found.get("Versions", []) + found.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=bucket)


def as_it_is(s3: Any, bucket: str) -> dict[str, Any]:
    """What S3's API shows of ``bucket``: settings, versions, and each version's bytes."""
    versions = s3.list_object_versions(Bucket=bucket)
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    notification.pop("ResponseMetadata")
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "policy": s3.get_bucket_policy(Bucket=bucket)["Policy"],
        "tags": s3.get_bucket_tagging(Bucket=bucket)["TagSet"],
        "notification": notification,
        "versions": versions.get("Versions"),
        "markers": versions.get("DeleteMarkers"),
        "bytes": [
            s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
            for v in versions["Versions"]
        ],
        "latest": s3.head_object(Bucket=bucket, Key="model")["VersionId"],
    }


def began_sending(moto: MotoState, bucket: str) -> float | None:
    return moto.call(lambda: getattr(moto.s3_backend().get_bucket(bucket), s3events.SINCE, None))


def test_a_versioned_bucket_comes_back_with_every_version_and_its_settings(
    tmp_path: Path, moto: MotoState, s3: Any
) -> None:
    bucket = f"mirror-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
              "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "lab"}]})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    mirror = S3Mirror(tmp_path, moto)
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="model", Body=body, ContentType="text/plain")
        mirror.sync(bucket)
    s3.delete_object(Bucket=bucket, Key="model")  # a delete marker
    s3.put_object(Bucket=bucket, Key="model", Body=b"one", Metadata={"owner": "lab"})
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="gone")
    mirror.sync(bucket)
    before, since = as_it_is(s3, bucket), began_sending(moto, bucket)
    assert len(before["versions"]) == 4 and len(before["markers"]) == 2
    assert len(list((tmp_path / "blobs").iterdir())) == 3  # "one" once, shared

    wipe(s3, bucket)
    assert S3Mirror(tmp_path, moto).restore() == 4
    try:
        assert as_it_is(s3, bucket) == before
        assert since is not None and began_sending(moto, bucket) == since
    finally:
        wipe(s3, bucket)


def test_only_new_versions_are_read_and_written(
    tmp_path: Path, moto: MotoState, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"mirror-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    mirror = S3Mirror(tmp_path, moto)
    try:
        s3.put_object(Bucket=bucket, Key="k", Body=b"first")
        mirror.sync(bucket)
        [blob] = (tmp_path / "blobs").iterdir()
        written_at = blob.stat().st_mtime_ns
        read: list[bytes | None] = []
        original = MotoState.s3_bucket

        def reading(self: MotoState, name: str, known: Any) -> Any:
            found = original(self, name, known)
            read.extend(o.data for o in found.objects)
            return found

        monkeypatch.setattr(MotoState, "s3_bucket", reading)
        s3.put_object(Bucket=bucket, Key="k", Body=b"second")
        mirror.sync(bucket)
        assert read == [None, b"second"]  # the first version's bytes are not read again
        assert blob.stat().st_mtime_ns == written_at
        assert len(list((tmp_path / "blobs").iterdir())) == 2
    finally:
        wipe(s3, bucket)


def test_a_bucket_file_an_older_kit_wrote_still_loads(
    tmp_path: Path, moto: MotoState, s3: Any
) -> None:
    bucket = f"mirror-{uuid.uuid4().hex[:12]}"
    (tmp_path / "blobs").mkdir()
    (tmp_path / "buckets").mkdir()
    digest = hashlib.sha256(b"old").hexdigest()
    (tmp_path / "blobs" / digest).write_bytes(b"old")
    entry = {"digest": digest, "metadata": {"Content-Type": "text/csv"},
             "modified": "2024-05-01T10:00:00.123456"}  # fmt: skip
    old = {"name": bucket, "region": "us-east-1", "objects": {"a.csv": entry}}
    name = hashlib.sha256(bucket.encode()).hexdigest()
    (tmp_path / "buckets" / f"{name}.json").write_text(json.dumps(old))

    mirror = S3Mirror(tmp_path, moto)
    assert mirror.restore() == 1
    try:
        found = s3.list_object_versions(Bucket=bucket)["Versions"]
        assert [(v["Key"], v["VersionId"]) for v in found] == [("a.csv", "null")]
        assert s3.get_object(Bucket=bucket, Key="a.csv")["ContentType"] == "text/csv"
        assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None
        s3.put_object(Bucket=bucket, Key="b", Body=b"new")
        mirror.sync(bucket)
        rewritten = json.loads((tmp_path / "buckets" / f"{name}.json").read_text())
        assert [v["digest"] for v in rewritten["versions"]["a.csv"]] == [digest]
        assert (tmp_path / "blobs" / digest).exists()
    finally:
        wipe(s3, bucket)

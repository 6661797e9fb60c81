"""The S3 mirror: moto's buckets written to disk and put back, only changed objects rewritten."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.s3.exceptions import MissingBucket

from cdlab.localcloud.state.s3mirror import S3Mirror, backend, written_bucket


@pytest.fixture
def bucket() -> Iterator[str]:
    name = f"mirror-{uuid.uuid4().hex[:12]}"
    backend().create_bucket(name, "us-east-1")
    yield name
    s3 = backend()
    if name in s3.buckets:
        for key in list(s3.get_bucket(name).keys):
            s3.delete_object(name, key)
        s3.delete_bucket(name)


def test_a_synced_bucket_comes_back_with_its_objects_and_metadata(
    tmp_path: Path, bucket: str
) -> None:
    s3 = backend()
    s3.put_object(bucket, "a/b.csv", b"1,2\n").set_metadata(
        {"Content-Type": "text/csv", "x-amz-meta-owner": "lab"}
    )
    s3.put_object(bucket, "gone", b"x")
    S3Mirror(tmp_path).sync(bucket)
    s3.delete_object(bucket, "gone")
    S3Mirror(tmp_path).sync(bucket)  # a fresh mirror (as after a restart) syncs a delete too

    s3.delete_object(bucket, "a/b.csv")
    s3.delete_bucket(bucket)
    assert S3Mirror(tmp_path).restore() == 1
    restored = s3.get_object(bucket, "a/b.csv")
    assert restored.value == b"1,2\n"
    assert restored.metadata["Content-Type"] == "text/csv"
    assert restored.metadata["x-amz-meta-owner"] == "lab"
    assert s3.get_object(bucket, "gone") is None


def test_only_changed_objects_are_written_and_unused_blobs_removed(
    tmp_path: Path, bucket: str
) -> None:
    s3, mirror = backend(), S3Mirror(tmp_path)
    s3.put_object(bucket, "big", b"b" * 100_000)
    mirror.sync(bucket)
    [blob] = (tmp_path / "blobs").iterdir()
    written_at = blob.stat().st_mtime_ns
    s3.put_object(bucket, "small", b"s")
    mirror.sync(bucket)
    assert blob.stat().st_mtime_ns == written_at
    s3.put_object(bucket, "big", b"c" * 10)
    mirror.sync(bucket)
    assert not blob.exists()
    assert len(list((tmp_path / "blobs").iterdir())) == 2


def test_a_deleted_bucket_leaves_nothing_on_disk(tmp_path: Path, bucket: str) -> None:
    s3, mirror = backend(), S3Mirror(tmp_path)
    s3.put_object(bucket, "k", b"v")
    mirror.sync(bucket)
    s3.delete_object(bucket, "k")
    s3.delete_bucket(bucket)
    mirror.sync(bucket)
    assert list((tmp_path / "buckets").iterdir()) == []
    assert list((tmp_path / "blobs").iterdir()) == []
    with pytest.raises(MissingBucket):
        s3.get_bucket(bucket)


def test_writes_are_told_from_reads() -> None:
    assert written_bucket("PUT", "/b/k", 200) == "b"
    assert written_bucket("POST", "/b", 200) == "b"
    assert written_bucket("DELETE", "/b", 204) == "b"
    assert written_bucket("GET", "/b/k", 200) is None
    assert written_bucket("PUT", "/b/k", 404) is None
    assert written_bucket("PUT", "/", 200) is None

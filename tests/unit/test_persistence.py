"""The S3 mirror: moto's buckets written to disk and put back, only changed objects rewritten."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

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

"""PutObject and DeleteObject in a bucket whose versioning is suspended, as S3 has them.

A bucket that had versioning enabled keeps its objects' versions when versioning is suspended:
a PutObject "adds the object with version ID null", overwriting only a null version already
there: "Amazon S3 attaches a version ID of null to the object being added and stores it in the
bucket. Version 111111 is not overwritten", and "If a null version already exists in a bucket,
the null version is overwritten"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html).
A DeleteObject without a version id "Can only remove an object whose version ID is null" and
"Inserts a delete marker into the bucket": "a simple DELETE removes a null version and Amazon
S3 inserts a delete marker in its place instead with a null version ID"; one with a version id
still deletes that version alone: "Even in a versioning-suspended bucket, the bucket owner can
permanently delete a specified version"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectsfromVersioningSuspendedBuckets.html).

Moto treats a suspended bucket as an unversioned one: its PutObject makes the new object the
key's only version, and its DeleteObject, with a version id or without, drops every version
(failing with an AttributeError, an HTTP 500, where a delete marker is among them). Here, in a
suspended bucket only (:func:`suspended`), PutObject keeps the key's versions and markers but a
null one, the new object last (the latest); DeleteObject without a version id does the same with
a null delete marker (linked, as moto links its markers, to the version it hides); DeleteObject
with one runs moto's own deletion of a versioned bucket's version. Moto's answers are kept: the
new ``FakeKey``, and ``(deleted, response headers)``, the marker's ``version-id`` ``"null"`` and
``delete-marker`` ``"true"``. A key with no versions at all is left to moto (no marker made, as
moto makes none in a versioned bucket either), as are the events moto sends or does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend

from cdlab.localcloud.moto.wrapping import wrap_once

NULL = "null"  # the version id of what a suspended (or never versioned) bucket stores


def install() -> None:
    wrap_once(S3Backend, "put_object", _keeping_versions_on_put)
    wrap_once(S3Backend, "delete_object", _keeping_versions_on_delete)


def suspended(bucket: Any) -> bool:
    """Whether moto's ``bucket`` has versioning suspended (it was enabled once)."""
    return bucket.versioning_status == "Suspended"


def _not_null(versions: list[Any]) -> list[Any]:
    return [version for version in versions if str(version.version_id) != NULL]


def _keeping_versions_on_put(original: Callable[..., FakeKey]) -> Callable[..., FakeKey]:
    def put_object(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kw: Any) -> Any:
        bucket = self.get_bucket(bucket_name)
        if not suspended(bucket):
            return original(self, bucket_name, key_name, *args, **kw)
        keys = bucket.keys
        earlier = list(keys.getlist(key_name, []))
        # moto's put makes the new object the only version and disposes of the others (closes
        # their bytes): it is shown none, and given them back after, but for a null one
        dict.pop(keys, key_name, None)
        try:
            new_key = original(self, bucket_name, key_name, *args, **kw)
        except BaseException:
            if earlier:
                dict.__setitem__(keys, key_name, earlier)
            raise
        dict.__setitem__(keys, key_name, earlier)  # setlist disposes the null one it drops
        keys.setlist(key_name, [*_not_null(earlier), new_key])
        return new_key

    return put_object


def _keeping_versions_on_delete(
    original: Callable[..., tuple[bool, dict[str, Any]]],
) -> Callable[..., tuple[bool, dict[str, Any]]]:
    def delete_object(
        self: S3Backend,
        bucket_name: str,
        key_name: str,
        version_id: str | None = None,
        bypass: bool = False,
    ) -> tuple[bool, dict[str, Any]]:
        bucket = self.get_bucket(bucket_name)
        if not suspended(bucket) or not bucket.keys.getlist(key_name, []):
            return original(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        if version_id is None:
            return _null_marker(bucket, key_name)
        bucket.versioning_status = "Enabled"  # moto's deletion of one version of many
        try:
            return original(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        finally:
            bucket.versioning_status = "Suspended"

    return delete_object


def _null_marker(bucket: Any, key_name: str) -> tuple[bool, dict[str, Any]]:
    """Put a delete marker with version id null on ``key_name`` (its null version removed)."""
    keys = bucket.keys
    marker = FakeDeleteMarker(key=keys[key_name])  # linked to the latest, as moto links them
    marker._version_id = NULL
    keys.setlist(key_name, [*_not_null(keys.getlist(key_name)), marker])
    return True, {"version-id": NULL, "delete-marker": "true"}

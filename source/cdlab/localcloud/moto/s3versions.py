"""Every version of a bucket's objects, read out of moto's bucket and put back into it, for the
disk mirror (:mod:`cdlab.localcloud.state.s3mirror`); run on moto's thread, given the backend and
bucket by :class:`~cdlab.localcloud.moto.state.MotoState`.

Moto keeps each key's versions in a list, oldest first, delete markers among them: a versioned
bucket's object has one entry per PutObject (its version id a uuid) and per DeleteObject (a
marker); an unversioned (or suspended) bucket's has one, version id ``"null"``. The versions are
put back as moto's own objects with the version id, metadata and last-modified time they had, in
the same order, without notifications, so ListObjectVersions (which orders a key's versions by
last-modified time), GetObject and HeadObject with a VersionId, and the latest version's id are
what they were. A delete marker's link to the version it hid (moto reads it only to tell a
marker of a marker) is the version before it in the list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend

from cdlab.localcloud.moto.records import S3Object, Signature

Known = Mapping[tuple[str, str], Signature]  # (key, version id) -> signature


def signature(version: Any) -> Signature:
    """What tells one of moto's versions from another: the object, its time and size."""
    size = version.contentsize if isinstance(version, FakeKey) else -1
    return (id(version), version.last_modified.isoformat(), size)


def versions(bucket: Any, known: Known) -> list[S3Object]:
    """Every version of moto's ``bucket``'s objects, each key's oldest first; one whose
    signature is in ``known`` (by key and version id) comes without its bytes."""
    found = []
    for key, kept in dict.items(bucket.keys):  # the lists of versions, not the latest
        for version in kept:
            mark = signature(version)
            if not isinstance(version, FakeKey):
                found.append(S3Object(key, mark, {}, version.last_modified, None,
                                      version.version_id, deleted=True))  # fmt: skip
                continue
            data = None if known.get((key, version.version_id)) == mark else version.value
            metadata = dict(version.metadata)
            found.append(
                S3Object(key, mark, metadata, version.last_modified, data, version.version_id)
            )
    return found


def put_back(s3: S3Backend, bucket: str, key: str, kept: Sequence[S3Object]) -> list[Signature]:
    """Make ``kept`` (each with its bytes, but delete markers) the versions of ``key``, oldest
    first, as they were; their new signatures. Nothing is put for an empty ``kept``."""
    made: list[Any] = []
    for version in kept:
        if version.deleted:
            hidden = made[-1] if made else SimpleNamespace(name=key)
            marker = FakeDeleteMarker(hidden)
            marker._version_id = version.version_id
            marker.last_modified = version.modified
            made.append(marker)
            continue
        assert version.data is not None
        fake = FakeKey(
            name=key,
            value=version.data,
            account_id=s3.account_id,
            region_name=s3.region_name,
            bucket_name=bucket,
            is_versioned=version.version_id != "null",  # as moto's PutObject has it
            version_id=version.version_id,
        )
        fake.set_metadata(dict(version.metadata))
        fake.last_modified = version.modified
        made.append(fake)
    if made:
        s3.get_bucket(bucket).keys.setlist(key, made)
    return [signature(version) for version in made]

"""S3 on disk: moto keeps buckets in memory, so the local cloud mirrors them under the state dir.

After every successful S3 write (through the gateway or the kit's own S3 helpers) the bucket it
touched is synced to disk before the write is answered, so an acknowledged object survives a
SIGKILL; at start the buckets are put back into moto. Layout under ``<home>/s3``:
``buckets/<sha256 of name>.json`` (name, region, and each key's blob digest, metadata such as
Content-Type and ``x-amz-meta-*``, and last-modified time) and ``blobs/<sha256 of bytes>``
(object bytes, shared by equal objects). Only changed objects are written, and every file is
replaced atomically.

Kept: buckets, the latest version of each object and its metadata. Not kept:
older versions, in-progress multipart uploads, ACLs, policies, tags and bucket configuration.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeKey, S3Backend, s3_backends

from cdlab import config

log = logging.getLogger("cdlab.s3")

Signature = tuple[int, str, int]  # id of moto's key object, last modified, size


def backend() -> S3Backend:
    return s3_backends[config.ACCOUNT_ID]["aws"]


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.{threading.get_ident()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class S3Mirror:
    """Keeps ``root`` equal to moto's S3, one bucket at a time; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.buckets_dir = root / "buckets"
        self.blobs_dir = root / "blobs"
        self.buckets_dir.mkdir(parents=True, exist_ok=True)
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.manifests: dict[str, dict[str, Any]] = {}
        self.seen: dict[str, dict[str, Signature]] = {}

    def _manifest_path(self, bucket: str) -> Path:
        return self.buckets_dir / f"{hashlib.sha256(bucket.encode()).hexdigest()}.json"

    def restore(self) -> int:
        """Put every mirrored bucket and object back into moto; returns the object count."""
        s3, count = backend(), 0
        with self.lock:
            for path in sorted(self.buckets_dir.glob("*.json")):
                manifest = json.loads(path.read_text())
                name = manifest["name"]
                s3.create_bucket(name, manifest["region"])
                seen: dict[str, Signature] = {}
                for key, entry in manifest["objects"].items():
                    try:
                        data = (self.blobs_dir / entry["digest"]).read_bytes()
                    except OSError as e:
                        log.error("S3 object s3://%s/%s cannot be restored: %s", name, key, e)
                        continue
                    fake = s3.put_object(name, key, data, disable_notification=True)
                    fake.set_metadata(dict(entry["metadata"]))
                    fake.last_modified = datetime.datetime.fromisoformat(entry["modified"])
                    seen[key] = _signature(fake)
                    count += 1
                self.manifests[name] = manifest
                self.seen[name] = seen
        return count

    def sync(self, bucket: str) -> None:
        """Make the disk copy of ``bucket`` equal to moto's (removing it if the bucket is gone)."""
        with self.lock:
            try:
                fake_bucket = backend().get_bucket(bucket)
            except MissingBucket:
                fake_bucket = None
            if fake_bucket is None:
                if self.manifests.pop(bucket, None) is not None:
                    self._manifest_path(bucket).unlink(missing_ok=True)
                    self.seen.pop(bucket, None)
                    self._collect_garbage()
                return
            old = self.manifests.get(bucket, {}).get("objects", {})
            seen = self.seen.get(bucket, {})
            objects: dict[str, dict[str, Any]] = {}
            new_seen: dict[str, Signature] = {}
            for key, versions in _latest(fake_bucket.keys):
                if not isinstance(versions, FakeKey):
                    continue  # a delete marker: the object is gone
                signature = _signature(versions)
                if key in old and seen.get(key) == signature:
                    digest = old[key]["digest"]
                else:
                    digest = self._keep(versions.value)
                objects[key] = {
                    "digest": digest,
                    "metadata": dict(versions.metadata),
                    "modified": versions.last_modified.isoformat(),
                }
                new_seen[key] = signature
            manifest = {"name": bucket, "region": fake_bucket.region_name, "objects": objects}
            if manifest != self.manifests.get(bucket):
                _write_atomically(self._manifest_path(bucket), json.dumps(manifest).encode())
                self.manifests[bucket] = manifest
                self._collect_garbage()
            self.seen[bucket] = new_seen

    def _keep(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.blobs_dir / digest
        if not target.exists():
            _write_atomically(target, data)
        return digest

    def _collect_garbage(self) -> None:
        in_use = {
            entry["digest"]
            for manifest in self.manifests.values()
            for entry in manifest["objects"].values()
        }
        for path in self.blobs_dir.iterdir():
            if path.name not in in_use and not path.name.startswith("."):
                path.unlink(missing_ok=True)


def _latest(keys: Any) -> list[tuple[str, Any]]:
    """(key, latest version) pairs, copied while moto's worker threads may be writing."""
    while True:
        try:
            return [(key, versions[-1]) for key, versions in dict.items(keys) if versions]
        except RuntimeError:  # the dict changed size while being copied: copy again
            continue


def _signature(fake: FakeKey) -> Signature:
    return (id(fake), fake.last_modified.isoformat(), fake.contentsize)


def written_bucket(method: str, path: str, status: int) -> str | None:
    """The bucket a successful path-style S3 request may have changed, if it was a write."""
    if method in ("GET", "HEAD", "OPTIONS") or status >= 300:
        return None
    bucket = path.lstrip("/").split("/", 1)[0]
    return bucket or None

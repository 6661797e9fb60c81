"""S3 on disk: moto keeps buckets in memory, so the local cloud mirrors them under the state dir.

After every successful S3 write (through the gateway or the kit's own S3 helpers) the bucket it
touched is synced to disk before the write is answered, so an acknowledged object survives a
SIGKILL; at start the buckets are put back into moto. Layout under ``<home>/s3``:
``buckets/<sha256 of name>.json`` (name, region, and each key's blob digest, metadata such as
Content-Type and ``x-amz-meta-*``, and last-modified time) and ``blobs/<sha256 of bytes>``
(object bytes, shared by equal objects). Only changed objects are written, and every file is
replaced atomically. Moto's buckets are read and written through its owner (:mod:`moto.state`),
on moto's thread; the disk work runs in the caller's (a worker) thread.

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

from cdlab.localcloud.moto.records import Signature
from cdlab.localcloud.moto.state import MotoState

log = logging.getLogger("cdlab.s3")


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.{threading.get_ident()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class S3Mirror:
    """Keeps ``root`` equal to moto's S3, one bucket at a time. Thread-safe and blocking: call it
    from a worker thread, never moto's own (it holds its lock while it waits for moto's thread)."""

    def __init__(self, root: Path, moto: MotoState) -> None:
        self.moto = moto
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
        count = 0
        with self.lock:
            for path in sorted(self.buckets_dir.glob("*.json")):
                manifest = json.loads(path.read_text())
                name = manifest["name"]
                self.moto.s3_create_bucket(name, manifest["region"])
                seen: dict[str, Signature] = {}
                for key, entry in manifest["objects"].items():
                    try:
                        data = (self.blobs_dir / entry["digest"]).read_bytes()
                    except OSError as e:
                        log.error("S3 object s3://%s/%s cannot be restored: %s", name, key, e)
                        continue
                    modified = datetime.datetime.fromisoformat(entry["modified"])
                    seen[key] = self.moto.s3_restore(name, key, data, entry["metadata"], modified)
                    count += 1
                self.manifests[name] = manifest
                self.seen[name] = seen
        return count

    def sync(self, bucket: str) -> None:
        """Make the disk copy of ``bucket`` equal to moto's (removing it if the bucket is gone)."""
        with self.lock:
            old = self.manifests.get(bucket, {}).get("objects", {})
            known = {k: s for k, s in self.seen.get(bucket, {}).items() if k in old}
            found = self.moto.s3_bucket(bucket, known)
            if found is None:
                if self.manifests.pop(bucket, None) is not None:
                    self._manifest_path(bucket).unlink(missing_ok=True)
                    self.seen.pop(bucket, None)
                    self._collect_garbage()
                return
            objects: dict[str, dict[str, Any]] = {}
            new_seen: dict[str, Signature] = {}
            for item in found.objects:
                # no data: unchanged since the last sync, so already kept
                digest = old[item.key]["digest"] if item.data is None else self._keep(item.data)
                objects[item.key] = {
                    "digest": digest,
                    "metadata": item.metadata,
                    "modified": item.modified.isoformat(),
                }
                new_seen[item.key] = item.signature
            manifest = {"name": bucket, "region": found.region, "objects": objects}
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


def written_bucket(method: str, path: str, status: int) -> str | None:
    """The bucket a successful path-style S3 request may have changed, if it was a write."""
    if method in ("GET", "HEAD", "OPTIONS") or status >= 300:
        return None
    bucket = path.lstrip("/").split("/", 1)[0]
    return bucket or None

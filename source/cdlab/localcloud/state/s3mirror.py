"""S3 on disk: moto keeps buckets in memory, so the local cloud mirrors them under the state dir.

After every successful S3 write (through the gateway, the kit's own S3 helpers, or a stack's
bucket handler) the bucket it touched is synced to disk before the write is answered, so an
acknowledged object or setting survives a SIGKILL; at start, before the journal's replay, the
buckets are put back into moto. Layout under ``<home>/s3``: ``buckets/<sha256 of name>.json``
(name, region, the bucket's settings, and each key's versions, oldest first: its version id, blob
digest, metadata such as Content-Type and ``x-amz-meta-*``, and last-modified time, or a delete
marker's version id and time) and ``blobs/<sha256 of bytes>`` (object bytes, shared by equal
objects and versions). Only new versions' bytes are read out of moto and written, and every
file is replaced atomically. Moto's buckets are read and written through its owner
(:mod:`moto.state`, with :mod:`moto.s3versions` and :mod:`moto.s3settings`), on moto's thread;
the disk work runs in the caller's (a worker) thread.

Kept: buckets; every version of every object, with its version id, metadata and last-modified
time, and delete markers, in order (an unversioned bucket's objects have one version,
``"null"``); the bucket settings :mod:`moto.s3settings` lists (versioning, policy, tags,
notifications and when EventBridge was turned on, encryption, public access block), kept here
rather than journaled (it says why). Not kept: in-progress multipart uploads, object tags, ACLs,
a multipart object's ETag (it comes back as the MD5 of its bytes), storage class and
server-side encryption of an object, and the bucket settings :mod:`moto.s3settings` leaves out.
A bucket file an older kit wrote (``objects``: the latest version of each key, no settings) is
read as one ``"null"`` version of each object and no settings, as that kit put them back.
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

from cdlab.localcloud.moto.records import S3Object, Signature
from cdlab.localcloud.moto.state import MotoState

log = logging.getLogger("cdlab.s3")

NO_SIGNATURE: Signature = (0, "", 0)  # a version read from disk, not yet moto's


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
        self.seen: dict[str, dict[tuple[str, str], Signature]] = {}

    def _manifest_path(self, bucket: str) -> Path:
        return self.buckets_dir / f"{hashlib.sha256(bucket.encode()).hexdigest()}.json"

    def restore(self) -> int:
        """Put every mirrored bucket, its settings and object versions back into moto; returns
        the count of object versions (delete markers aside)."""
        count = 0
        with self.lock:
            for path in sorted(self.buckets_dir.glob("*.json")):
                count += self._restore(_current(json.loads(path.read_text())))
        return count

    def _restore(self, manifest: dict[str, Any]) -> int:
        name = manifest["name"]
        self.moto.s3_create_bucket(name, manifest["region"], manifest["settings"])
        seen: dict[tuple[str, str], Signature] = {}
        count = 0
        for key, entries in manifest["versions"].items():
            versions = [v for v in (self._version(name, key, e) for e in entries) if v]
            signatures = self.moto.s3_restore(name, key, versions)
            seen.update(((key, v.version_id), s) for v, s in zip(versions, signatures, strict=True))
            count += sum(not v.deleted for v in versions)
        self.manifests[name] = manifest
        self.seen[name] = seen
        return count

    def _version(self, bucket: str, key: str, entry: dict[str, Any]) -> S3Object | None:
        """A version as the manifest keeps it, its bytes read; None if they cannot be."""
        modified = datetime.datetime.fromisoformat(entry["modified"])
        if entry.get("deleted"):
            return S3Object(key, NO_SIGNATURE, {}, modified, None, entry["version"], True)
        try:
            data = (self.blobs_dir / entry["digest"]).read_bytes()
        except OSError as e:
            log.error("S3 object s3://%s/%s cannot be restored: %s", bucket, key, e)
            return None
        return S3Object(key, NO_SIGNATURE, entry["metadata"], modified, data, entry["version"])

    def sync(self, bucket: str) -> None:
        """Make the disk copy of ``bucket`` equal to moto's (removing it if the bucket is gone)."""
        with self.lock:
            digests = _digests(self.manifests.get(bucket))
            known = {k: s for k, s in self.seen.get(bucket, {}).items() if k in digests}
            found = self.moto.s3_bucket(bucket, known)
            if found is None:
                if self.manifests.pop(bucket, None) is not None:
                    self._manifest_path(bucket).unlink(missing_ok=True)
                    self.seen.pop(bucket, None)
                    self._collect_garbage()
                return
            versions: dict[str, list[dict[str, Any]]] = {}
            new_seen: dict[tuple[str, str], Signature] = {}
            for item in found.objects:
                versions.setdefault(item.key, []).append(self._entry(item, digests))
                new_seen[(item.key, item.version_id)] = item.signature
            manifest = {
                "name": bucket,
                "region": found.region,
                "settings": found.settings,
                "versions": versions,
            }
            if manifest != self.manifests.get(bucket):
                _write_atomically(self._manifest_path(bucket), json.dumps(manifest).encode())
                self.manifests[bucket] = manifest
                self._collect_garbage()
            self.seen[bucket] = new_seen

    def _entry(self, item: S3Object, digests: dict[tuple[str, str], str]) -> dict[str, Any]:
        """A version as the manifest keeps it, its bytes kept if new."""
        modified = item.modified.isoformat()
        if item.deleted:
            return {"version": item.version_id, "deleted": True, "modified": modified}
        # no data: unchanged since the last sync, so already kept
        data, known = item.data, (item.key, item.version_id)
        digest = digests[known] if data is None else self._keep(data)
        return {
            "version": item.version_id,
            "digest": digest,
            "metadata": item.metadata,
            "modified": modified,
        }

    def _keep(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.blobs_dir / digest
        if not target.exists():
            _write_atomically(target, data)
        return digest

    def _collect_garbage(self) -> None:
        in_use = {
            digest for manifest in self.manifests.values() for digest in _digests(manifest).values()
        }
        for path in self.blobs_dir.iterdir():
            if path.name not in in_use and not path.name.startswith("."):
                path.unlink(missing_ok=True)


def _current(manifest: dict[str, Any]) -> dict[str, Any]:
    """A bucket file in this kit's form: an older kit's (``objects``, the latest version of each
    key, no settings) as one ``"null"`` version of each object and no settings."""
    if "versions" in manifest:
        return manifest
    versions = {key: [{"version": "null", **entry}] for key, entry in manifest["objects"].items()}
    return {"name": manifest["name"], "region": manifest["region"], "settings": {},
            "versions": versions}  # fmt: skip


def _digests(manifest: dict[str, Any] | None) -> dict[tuple[str, str], str]:
    """The blob digest of each (key, version id) a manifest keeps; delete markers have none."""
    if manifest is None:
        return {}
    return {
        (key, entry["version"]): entry["digest"]
        for key, entries in manifest["versions"].items()
        for entry in entries
        if not entry.get("deleted")
    }


def written_bucket(method: str, path: str, status: int) -> str | None:
    """The bucket a successful path-style S3 request may have changed, if it was a write."""
    if method in ("GET", "HEAD", "OPTIONS") or status >= 300:
        return None
    bucket = path.lstrip("/").split("/", 1)[0]
    return bucket or None

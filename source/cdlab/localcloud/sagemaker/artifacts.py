"""Model artifacts: fetched from S3 when a model is created, kept, and unpacked safely.

The control plane keeps its own copy of every artifact a model references (content-addressed by
SHA-256 under the state dir), so an endpoint comes back after a restart even though S3 lives in
memory, and a later overwrite of the S3 object does not change a deployed model.
The S3 helpers read and write moto's S3 backend in-process (training jobs copy their channels and
put their model with them).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from moto.s3.exceptions import MissingBucket
from moto.s3.models import S3Backend, s3_backends

from cdlab import config

MAX_MEMBER_BYTES = 2 * 1024**3
MAX_MEMBERS = 10_000
# Called with the bucket after each write_s3_object (the local cloud mirrors S3 to disk).
S3_WRITE_LISTENERS: list[Callable[[str], None]] = []


class ArtifactError(ValueError):
    """The artifact cannot be used; the message says why."""


def split_s3_url(url: str, key_required: bool = True) -> tuple[str, str]:
    """``s3://bucket/key`` as (bucket, key); the key may be empty if not ``key_required``."""
    parsed = urlparse(url)
    key = parsed.path.lstrip("/")
    if parsed.scheme != "s3" or not parsed.netloc or (key_required and not key.strip("/")):
        what = "s3://bucket/key" if key_required else "s3://bucket/prefix"
        raise ArtifactError(f"{url} is not an {what} URL.")
    return parsed.netloc, key


def _s3() -> S3Backend:
    return s3_backends[config.ACCOUNT_ID]["aws"]


def read_s3_object(url: str) -> bytes | None:
    """The bytes of an ``s3://bucket/key`` object in the local cloud's S3, or None if absent."""
    bucket, key = split_s3_url(url)
    try:
        found = _s3().get_object(bucket, key)
    except MissingBucket:
        return None
    return found.value if found is not None else None


def list_s3_keys(url: str) -> list[str] | None:
    """The keys under an ``s3://bucket/prefix`` URL, sorted; None if the bucket is absent."""
    bucket, prefix = split_s3_url(url, key_required=False)
    backend = _s3()
    try:
        keys, _, _, _ = backend.list_objects(backend.get_bucket(bucket), prefix, None, None, None)
    except MissingBucket:
        return None
    return [k.name for k in keys]


def write_s3_object(url: str, data: bytes) -> None:
    """Put ``data`` at ``s3://bucket/key`` in the local cloud's S3; the bucket must exist."""
    bucket, key = split_s3_url(url)
    try:
        _s3().put_object(bucket, key, data)
    except MissingBucket:
        raise ArtifactError(f"The bucket {bucket} of {url} does not exist.") from None
    for listener in S3_WRITE_LISTENERS:
        listener(bucket)


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / f"{digest}.tar.gz"

    def keep(self, data: bytes) -> str:
        """Store ``data`` and return its digest; written atomically, so never half a file."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            try:
                tmp.write_bytes(data)
                os.replace(tmp, target)
            except OSError:
                tmp.unlink(missing_ok=True)  # a full disk leaves no half-written artifact
                raise
        return digest

    def forget_unused(self, in_use: set[str]) -> None:
        for path in self.root.glob("*.tar.gz"):
            if path.name.removesuffix(".tar.gz") not in in_use:
                path.unlink(missing_ok=True)


def unpack(archive: Path, model_dir: Path) -> None:
    """Unpack a model.tar.gz, refusing absolute paths, ``..``, links, devices and huge members."""
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            if len(members) > MAX_MEMBERS:
                raise ArtifactError(f"model artifact has more than {MAX_MEMBERS} members")
            for member in members:
                _check_member(member)
            tar.extractall(model_dir, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ArtifactError(f"model artifact is not a readable tar.gz archive: {e}") from e


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    if name.startswith("/") or ".." in Path(name).parts:
        raise ArtifactError(f"model artifact member {name!r} points outside the model directory")
    if not (member.isfile() or member.isdir()):
        raise ArtifactError(f"model artifact member {name!r} is a link or device; refused")
    if member.size > MAX_MEMBER_BYTES:
        raise ArtifactError(f"model artifact member {name!r} is too large ({member.size} bytes)")

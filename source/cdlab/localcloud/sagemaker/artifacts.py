"""Model artifacts: fetched from S3 when a model is created, kept, and unpacked safely.

The control plane keeps its own copy of every artifact a model references (content-addressed by
SHA-256 under the state dir), so an endpoint comes back after a restart even though S3 lives in
memory, and a later overwrite of the S3 object does not change a deployed model.
:class:`S3Objects` reads and writes moto's S3 in-process, by ``s3://`` URL (training jobs copy
their channels and put their model with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tarfile
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlparse

from cdlab.localcloud.moto.state import MotoState

MAX_MEMBER_BYTES = 2 * 1024**3
MAX_MEMBERS = 10_000
# tarfile's extraction filters came with Python 3.11.4; Debian 12's Python 3.11.2 has none, so
# the checks below make every member what the "data" filter would, and the filter is added
# where Python has it (https://docs.python.org/3/library/tarfile.html#extraction-filters)
DATA_FILTER: dict[str, str] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


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


class S3Objects:
    """The local cloud's S3 objects by ``s3://`` URL, read and written through moto's owner.

    Blocking: call from a worker thread. A write is handed to ``written`` (the S3 mirror's sync)
    with its bucket before it returns, so what the kit puts in S3 is on disk once it is done.
    """

    def __init__(self, moto: MotoState, written: Callable[[str], None]) -> None:
        self.moto = moto
        self.written = written

    def read(self, url: str) -> bytes | None:
        """The bytes of an ``s3://bucket/key`` object, or None if absent."""
        return self.moto.s3_get(*split_s3_url(url))

    def keys(self, url: str) -> list[str] | None:
        """The keys under an ``s3://bucket/prefix`` URL, sorted; None if the bucket is absent."""
        return self.moto.s3_keys(*split_s3_url(url, key_required=False))

    def write(self, url: str, data: bytes) -> None:
        """Put ``data`` at ``s3://bucket/key``; the bucket must exist."""
        bucket, key = split_s3_url(url)
        if not self.moto.s3_put(bucket, key, data):
            raise ArtifactError(f"The bucket {bucket} of {url} does not exist.")
        self.written(bucket)


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.pinned: Counter[str] = Counter()  # digests of models being created

    def path(self, digest: str) -> Path:
        return self.root / f"{digest}.tar.gz"

    @contextlib.asynccontextmanager
    async def kept(self, data: bytes) -> AsyncIterator[str]:
        """Keep ``data`` (hashed and written in worker threads, off the event loop) and yield
        its digest. Until the block ends, :meth:`forget_unused` leaves it alone: the model that
        references it is stored in the block, and a delete meanwhile must not take its file."""
        digest = await asyncio.to_thread(_sha256, data)
        self.pinned[digest] += 1
        try:
            await asyncio.to_thread(self._write, digest, data)
            yield digest
        finally:
            self.pinned[digest] -= 1
            if not self.pinned[digest]:
                del self.pinned[digest]

    def _write(self, digest: str, data: bytes) -> None:
        """Written atomically, so never half a file."""
        target = self.path(digest)
        if not target.exists():
            tmp = target.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
            try:
                tmp.write_bytes(data)
                os.replace(tmp, target)
            except OSError:
                tmp.unlink(missing_ok=True)  # a full disk leaves no half-written artifact
                raise

    def forget_unused(self, in_use: set[str]) -> None:
        for path in self.root.glob("*.tar.gz"):
            digest = path.name.removesuffix(".tar.gz")
            if digest not in in_use and digest not in self.pinned:
                path.unlink(missing_ok=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unpack(archive: Path, model_dir: Path) -> None:
    """Unpack a model.tar.gz, refusing absolute paths, ``..``, links, devices and huge members;
    files get no setuid, setgid or sticky bit, no write for group or others, and the owner's
    read and write; everything belongs to the unpacking user."""
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            if len(members) > MAX_MEMBERS:
                raise ArtifactError(f"model artifact has more than {MAX_MEMBERS} members")
            for member in members:
                _check_member(member)
                _own_and_plain_mode(member)
            tar.extractall(model_dir, members=members, **DATA_FILTER)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ArtifactError(f"model artifact is not a readable tar.gz archive: {e}") from e


def _own_and_plain_mode(member: tarfile.TarInfo) -> None:
    """The "data" filter's rules for a file or directory's owner and mode."""
    member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
    member.mode = member.mode & 0o755 | (0o600 if member.isfile() else 0o700)


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    if name.startswith("/") or ".." in Path(name).parts:
        raise ArtifactError(f"model artifact member {name!r} points outside the model directory")
    if not (member.isfile() or member.isdir()):
        raise ArtifactError(f"model artifact member {name!r} is a link or device; refused")
    if member.size > MAX_MEMBER_BYTES:
        raise ArtifactError(f"model artifact member {name!r} is too large ({member.size} bytes)")

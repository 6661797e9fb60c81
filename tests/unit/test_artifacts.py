"""Model artifacts are unpacked only when every member is a plain file inside the model dir."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
from pathlib import Path

import pytest

from cdlab.localcloud.sagemaker import artifacts


def archive(path: Path, *members: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return path


def file_member(name: str, size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def link_member(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, "/etc/passwd"
    return info


def test_plain_files_are_unpacked(tmp_path: Path) -> None:
    path = archive(tmp_path / "ok.tar.gz", file_member("fm_model.npz"), file_member("sub/meta"))
    artifacts.unpack(path, tmp_path / "model")
    assert (tmp_path / "model" / "sub" / "meta").read_bytes() == b"x"


def test_unpacked_files_are_the_users_with_plain_modes(tmp_path: Path) -> None:
    """What tarfile's "data" filter makes of a member, on a Python with or without it."""
    member = file_member("run.sh")
    member.mode, member.uid, member.gid, member.uname = 0o6777, 4321, 4321, "someone"
    path = archive(tmp_path / "modes.tar.gz", member)
    artifacts.unpack(path, tmp_path / "model")
    unpacked = (tmp_path / "model" / "run.sh").stat()
    assert oct(unpacked.st_mode & 0o7777) == oct(0o755)
    assert (unpacked.st_uid, unpacked.st_gid) == (os.getuid(), os.getgid())


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (file_member("/etc/evil"), "outside the model directory"),
        (file_member("../evil"), "outside the model directory"),
        (link_member("link", tarfile.SYMTYPE), "link or device"),
        (link_member("hard", tarfile.LNKTYPE), "link or device"),
    ],
)
def test_unsafe_members_are_refused(tmp_path: Path, member: tarfile.TarInfo, reason: str) -> None:
    path = archive(tmp_path / "bad.tar.gz", member)
    with pytest.raises(artifacts.ArtifactError, match=reason):
        artifacts.unpack(path, tmp_path / "model")
    assert not (tmp_path / "evil").exists()


def test_huge_members_are_refused_without_reading_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(artifacts, "MAX_MEMBER_BYTES", 10)
    path = archive(tmp_path / "big.tar.gz", file_member("big", size=11))
    with pytest.raises(artifacts.ArtifactError, match="too large"):
        artifacts.unpack(path, tmp_path / "model")


def test_a_file_that_is_not_a_tarball_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar.gz"
    path.write_bytes(b"not a tar archive")
    with pytest.raises(artifacts.ArtifactError, match=r"not a readable tar\.gz"):
        artifacts.unpack(path, tmp_path / "model")


def test_kept_artifacts_are_content_addressed(tmp_path: Path) -> None:
    store = artifacts.ArtifactStore(tmp_path)

    async def keep_twice() -> tuple[str, str]:
        async with store.kept(b"abc") as first:
            store.forget_unused(set())  # a model being created keeps its artifact
            async with store.kept(b"abc") as second:
                return first, second

    first, second = asyncio.run(keep_twice())
    assert first == second and store.path(first).read_bytes() == b"abc"
    store.forget_unused(set())
    assert not store.path(first).exists()

"""The artifact store's zip archives and keys, as CodePipeline makes them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cdlab.pipeline import artifacts


def test_an_artifact_unpacks_to_the_files_it_was_packed_from_modes_kept(tmp_path: Path) -> None:
    packed = tmp_path / "packed"
    (packed / "source").mkdir(parents=True)
    (packed / "source" / "predata.py").write_text("print('hi')\n")
    (packed / "run.sh").write_text("#!/bin/sh\n")
    (packed / "run.sh").chmod(0o755)
    unpacked = artifacts.unpack(artifacts.pack(packed), tmp_path / "unpacked")
    assert sorted(p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*")) == [
        "run.sh",
        "source",
        "source/predata.py",
    ]
    assert (unpacked / "source" / "predata.py").read_text() == "print('hi')\n"
    assert (unpacked / "run.sh").stat().st_mode & 0o777 == 0o755


def test_an_artifact_is_never_unpacked_over_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "there").mkdir()
    with pytest.raises(FileExistsError):
        artifacts.unpack(artifacts.pack(tmp_path), tmp_path / "there")


def test_keys_have_codepipelines_form() -> None:
    key = artifacts.new_key("a-pipeline-name-longer-than-twenty", "BuildOutput")
    assert re.fullmatch(r"a-pipeline-name-long/BuildOutpu/[A-Za-z0-9]{7}", key)
    assert key != artifacts.new_key("a-pipeline-name-longer-than-twenty", "BuildOutput")

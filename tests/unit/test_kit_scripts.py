"""Where ``local env`` and the hints find the kit's ``cdlab`` and ``aws``: the directory that holds
them, not the interpreter's (``/usr/bin`` for a ``pip install --user``, whose scripts are in
``~/.local/bin``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cdlab import config


def _layout(root: Path) -> tuple[Path, Path]:
    """A system's ``bin`` with python only, and a user's ``bin`` with the kit's scripts."""
    system, user = root / "usr" / "bin", root / "home" / ".local" / "bin"
    for directory, names in ((system, ["python3"]), (user, ["cdlab", "aws"])):
        directory.mkdir(parents=True)
        for name in names:
            (directory / name).write_text("#!/bin/sh\n")
    return system, user


def test_the_directory_that_holds_cdlab_is_the_kits(tmp_path: Path) -> None:
    system, user = _layout(tmp_path)
    assert config.scripts([system, user]) == user
    assert config.cdlab_command([system, user]) == str(user / "cdlab")
    path = os.pathsep.join(["/usr/bin", str(user), "/bin"])
    assert config.path_with_scripts(path, [system, user]) == os.pathsep.join(
        [str(user), "/usr/bin", "/bin"]
    )


def test_no_cdlab_found_is_plain_cdlab_and_the_path_as_it_is(tmp_path: Path) -> None:
    system, _ = _layout(tmp_path)
    assert config.scripts([system]) is None
    assert config.cdlab_command([system]) == "cdlab"
    assert config.path_with_scripts("/usr/bin:/bin", [system]) == "/usr/bin:/bin"


def test_the_command_is_relative_to_the_working_directory_below_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system, user = _layout(tmp_path)
    monkeypatch.chdir(tmp_path / "home")
    assert config.cdlab_command([system, user]) == ".local/bin/cdlab"

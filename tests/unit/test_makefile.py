"""The Makefile's own help: ``make help``, and a plain ``make``, list the targets with what each
does, and install nothing (their .venv is a temporary path that must stay absent)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LISTED = ("run", "test", "test-fast", "lab", "notebooks", "clean")


def make(*args: str, venv: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args, f"VENV={venv}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_make_help_lists_each_target_with_what_it_does(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    shown = make("help", venv=venv)
    assert shown.returncode == 0, shown.stderr
    described = dict(re.findall(r"^  make (\S+) +(\S.*)$", shown.stdout, re.MULTILINE))
    assert set(LISTED) <= set(described), shown.stdout
    assert not venv.exists()  # nothing was set up for it


def test_a_plain_make_is_make_help(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    plain = make("-n", venv=venv)  # -n: what it would run, run by nothing
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == make("-n", "help", venv=venv).stdout
    assert "pip" not in plain.stdout and "venv" not in plain.stdout

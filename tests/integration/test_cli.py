"""The ``cdlab local`` commands, run as a participant runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdlab import cli
from tests.conftest import free_port

CDLAB = str(Path(sys.executable).parent / "cdlab")


def cdlab(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDLAB_HOME": str(home)}
    return subprocess.run([CDLAB, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_local_up_status_env_logs_down_reset(tmp_path: Path) -> None:
    home, port = tmp_path / "home", str(free_port())
    try:
        up = cdlab("local", "up", "--port", port, home=home)
        assert up.returncode == 0, up.stderr
        assert f"http://127.0.0.1:{port}" in up.stdout
        again = cdlab("local", "up", "--port", port, home=home)
        assert again.stdout.startswith(f"local cloud already running at http://127.0.0.1:{port} ")

        status = cdlab("local", "status", home=home)
        assert (
            status.returncode == 0 and "up at" in status.stdout and "endpoints: 0" in status.stdout
        )

        env = cdlab("local", "env", home=home).stdout
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in env
        exports = dict(line.removeprefix("export ").split("=", 1) for line in env.splitlines())
        shell = {**os.environ, **exports}
        listed = subprocess.run(
            [str(Path(sys.executable).parent / "aws"), "sagemaker", "list-endpoints"],
            env=shell, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert listed.returncode == 0 and '"Endpoints": []' in listed.stdout
        aws = [str(Path(sys.executable).parent / "aws"), "s3api"]
        made = subprocess.run([*aws, "create-bucket", "--bucket", "until-reset"], env=shell,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert oct((home / "credentials.json").stat().st_mode & 0o777) == "0o600"

        assert "local cloud listening" in cdlab("local", "logs", home=home).stdout
    finally:
        down = cdlab("local", "down", home=home)
    assert down.stdout.strip() == "local cloud stopped"
    assert cdlab("local", "status", home=home).returncode == 3
    assert cdlab("local", "down", home=home).stdout.strip() == "no local cloud was running"
    key = (home / "credentials.json").read_text()
    reset = cdlab("local", "reset", home=home)
    assert reset.returncode == 0 and not (home / "state.db").exists()
    assert not (home / "s3").exists() and (home / "credentials.json").read_text() == key
    try:
        assert cdlab("local", "up", "--port", port, home=home).returncode == 0
        buckets = subprocess.run([*aws, "list-buckets"], env=shell, capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
        assert buckets.returncode == 0 and "until-reset" not in buckets.stdout  # S3 was reset too
    finally:
        cdlab("local", "down", home=home)


LOCAL_OPTIONS = {"-h", "--help", "--home", "--port"}
COMMANDS = {  # each command line's arguments, as cdlab/cli.py defines them
    (): {"-h", "--help", "{local,console,load,pipeline}"},
    ("local",): {"-h", "--help", "{up,down,status,logs,reset,env}"},
    **{("local", action): LOCAL_OPTIONS for action in ("up", "down", "status", "reset", "env")},
    ("local", "logs"): LOCAL_OPTIONS | {"-n", "--lines", "-f", "--follow"},
    ("console",): {"-h", "--help", "--home", "--no-browser"},
    ("load",): {"-h", "--help", "endpoint", "--rate", "--duration", "--steps", "--feature-dim"},
    ("pipeline",): {"-h", "--help", "{run,approve}"},
    ("pipeline", "run"): {"-h", "--help", "--stack-name", "--approve", "--keep-runs"},
    ("pipeline", "approve"): {"-h", "--help", "--stack-name", "--reject"},
}  # fmt: skip


def arguments(help_text: str) -> set[str]:
    """The argument names ``--help`` lists under "positional arguments" and "options": each
    line's first column, without metavars (``-n LINES, --lines LINES``: ``-n`` and ``--lines``)."""
    names: set[str] = set()
    section = None
    for line in help_text.splitlines():
        if line and not line.startswith(" "):
            section = line if line in ("positional arguments:", "options:") else None
        elif section and line.startswith("  ") and not line.startswith("   "):
            invocation = line.strip().split("  ")[0]
            names |= {form.split(" ")[0] for form in invocation.split(", ")}
    return names


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(("cdlab", *c)))
def test_help_lists_each_commands_real_arguments(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_status:
        cli.main([*command, "--help"])
    assert exit_status.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: {' '.join(('cdlab', *command))} ")
    assert arguments(shown) == COMMANDS[command]

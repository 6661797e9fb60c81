"""The local CodeBuild's shell, without a cloud: what a command leaves running in the background
neither holds the build up nor outlives it (or a StopBuild), and a command the shell cannot even
parse fails that command only, the build's directory and variables still there after it; and the
process that leads the shell's group (:mod:`reaper`) changes nothing the shell sees."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from cdlab.localcloud.codebuild.buildspec import Guard, run
from cdlab.localcloud.codebuild.shell import Shell
from cdlab.localcloud.codebuild.worker import Spec
from tests.polling import poll

ENV = {"PATH": "/usr/bin:/bin"}


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # not ours: the shell's child, reaped by no one here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return True


def test_a_background_process_neither_holds_up_the_build_nor_outlives_it(tmp_path: Path):
    """A server started in the background (``dockerd &``) lets the next command run; it is
    ended with the build."""
    commands = ["sleep 30 & echo $! > background.pid", "echo next ran"]
    spec = Spec("p", {"version": 0.2, "phases": {"build": {"commands": commands}}}, {})
    log = io.StringIO()
    started = time.monotonic()
    assert run(spec, tmp_path, ENV, log) is None
    assert time.monotonic() - started < 10 and "next ran" in log.getvalue()
    pid = int((tmp_path / "background.pid").read_text())
    poll(lambda: not _alive(pid), what=f"background process {pid} to end with the build")


def test_stop_build_ends_the_shell_and_what_it_left_running(tmp_path: Path):
    commands = ["sleep 300 & echo $! > background.pid", "sleep 300", "echo never"]
    spec = Spec("p", {"version": 0.2, "phases": {"build": {"commands": commands}}}, {})
    guard, log = Guard(), io.StringIO()
    stopper = threading.Timer(1.0, guard.stop, ("STOPPED",))
    stopper.start()
    failure = run(spec, tmp_path, ENV, log, guard)
    stopper.join()
    assert failure is not None and failure.command == "sleep 300" and guard.stopped == "STOPPED"
    assert (
        "Phase complete: BUILD State: STOPPED" in log.getvalue() and "never" not in log.getvalue()
    )
    pid = int((tmp_path / "background.pid").read_text())
    poll(lambda: not _alive(pid), what=f"background process {pid} to end with the build")


def test_a_command_the_shell_cannot_parse_fails_only_that_command(tmp_path: Path):
    phases = {
        "install": {
            "on-failure": "CONTINUE",
            "commands": ["mkdir -p sub && cd sub; X=kept", "if then fi"],
        },
        "build": {"commands": ['echo "in=$(basename "$PWD") x=$X"']},
    }
    log = io.StringIO()
    failure = run(Spec("p", {"version": 0.2, "phases": phases}, {}), tmp_path, ENV, log)
    assert "in=sub x=kept" in log.getvalue()
    assert failure is not None and failure.command == "if then fi" and failure.exit_code == 2


class _Watcher:
    stopped = None

    def started(self, process: object) -> None:
        pass


def test_the_reaper_leading_the_shell_changes_nothing_it_sees(tmp_path: Path):
    """Under :mod:`reaper` the shell gets the environment as given (no ``LC_CTYPE`` from
    Python's C-locale coercion), the ignored signals of a shell started without it (none of the
    reaper's own; a test runner's worker may ignore some itself), and its statuses, a signal's
    included."""
    direct = ["/bin/sh", "-c", "grep SigIgn /proc/$$/status"]
    ignored = subprocess.run(direct, capture_output=True, text=True, check=True).stdout.strip()
    log = io.StringIO()
    shell = Shell("/bin/sh", tmp_path, {**ENV, "GIVEN": "1"}, log, _Watcher())
    try:
        assert shell.run("env | sort") == 0
        assert shell.run("grep SigIgn /proc/$$/status") == 0
        assert shell.run("exit 3") == 3
        assert shell.run("kill 0") == -signal.SIGTERM  # the whole group: the shell takes it
        assert shell.run("echo after") == 0
    finally:
        shell.close()
    lines = log.getvalue().splitlines()
    assert lines[: lines.index(ignored)] == [
        "GIVEN=1", "PATH=/usr/bin:/bin", f"PWD={tmp_path}"
    ]  # fmt: skip
    assert lines[-1] == "after"

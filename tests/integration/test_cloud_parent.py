"""A cloud started ``with_parent`` stops when the process that started it is killed, as a test
session's is when its run is interrupted before the fixtures can stop it: no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from cdlab.localcloud import control
from tests.conftest import free_port
from tests.polling import poll

STARTER = """
import sys, time
from pathlib import Path
from cdlab.localcloud import control
cloud = control.up(Path(sys.argv[1]), int(sys.argv[2]), with_parent=True)
print(cloud.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie is not running: its parent is gone, init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_a_cloud_with_its_parent_stops_when_the_parent_is_killed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(home), str(free_port())],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pid = int(starter.stdout.readline())
        assert control.running(home).pid == pid
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()
        poll(lambda: not alive(pid), timeout=20, what=f"the cloud {pid} to stop")
        assert "parent process" in control.log_file(home).read_text()
        assert control.running(home) is None
    finally:
        starter.kill()
        starter.wait()
        control.down(home)

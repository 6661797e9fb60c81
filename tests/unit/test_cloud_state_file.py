"""``cloud.json`` when a cloud ``local up`` started fails: deleted if it names that cloud, kept
if another ``up`` of the same home (one at the same time) wrote its own cloud's there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdlab.localcloud import control
from tests.conftest import free_port


def _state(home: Path, pid: int) -> str:
    home.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"pid": pid, "port": 4599})
    control.state_file(home).write_text(text)
    return text


def test_a_cloud_that_exits_while_starting_keeps_the_state_file_of_another(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    process.wait()  # as a server that could not bind the port the other cloud holds
    other = _state(tmp_path, os.getpid())  # the other `up`'s cloud: a live process
    with pytest.raises(control.CloudError, match="exited with code 1"):
        control._started(tmp_path, free_port(), process, timeout=30)
    assert control.state_file(tmp_path).read_text() == other


def test_a_cloud_that_exits_while_starting_deletes_its_own_state_file(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    process.wait()
    _state(tmp_path, process.pid)
    with pytest.raises(control.CloudError, match="exited with code 1"):
        control._started(tmp_path, free_port(), process, timeout=30)
    assert not control.state_file(tmp_path).exists()


def test_a_cloud_that_does_not_answer_keeps_the_state_file_of_another(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        other = _state(tmp_path, os.getpid())
        with pytest.raises(control.CloudError, match="did not answer"):
            control._started(tmp_path, free_port(), process, timeout=0)  # stops it
        assert process.poll() is not None
        assert control.state_file(tmp_path).read_text() == other
    finally:
        process.kill()
        process.wait()

"""A build's processes die with the local cloud, even a SIGKILLed one: the shell, the command it
is running, that command's own children and what a command left in the background, for a 0.2
buildspec (one shell) and a 0.1 one (a shell for each command). The processes are found in
/proc by a variable of the build's environment, and waited for by their process groups."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from pathlib import Path

import pytest

from tests.integration.private_cloud import PrivateCloud
from tests.integration.test_codebuild import CODEBUILD, ENVIRONMENT, LOGS
from tests.polling import poll
from tests.roles import allowing, make_role, trusting

MARK = "CDLAB_TEST_REAP_MARK"
SPECS = {
    # a command in the background, then the long command itself
    "reap-shared": "version: 0.2\nphases:\n  build:\n    commands:\n"
    "      - sleep 300 &\n      - sleep 300\n",
    # the long command a child of a child of the build's shell
    "reap-separate": "version: 0.1\nphases:\n  build:\n    commands:\n"
    "      - sh -c 'sleep 300; exit 0'\n",
}
SLEEPS = {"reap-shared": 2, "reap-separate": 1}


def _stat(pid: int) -> tuple[str, int, int] | None:
    """The state, parent and process group of ``pid``; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[2])


def _parent(pid: int) -> int:
    stat = _stat(pid)
    assert stat is not None, f"process {pid} has ended"
    return stat[1]


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def marked(mark: str) -> dict[int, str]:
    """The live processes whose environment has ``MARK=mark``, by pid: their command names."""
    found = {}
    for pid in _pids():
        with contextlib.suppress(OSError):
            environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if f"{MARK}={mark}".encode() in environment:
                found[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
    return found


def in_groups(pgids: set[int]) -> list[int]:
    """The live (not zombie) processes of the process groups ``pgids``."""
    return [
        pid
        for pid in _pids()
        if (stat := _stat(pid)) is not None and stat[0] != "Z" and stat[2] in pgids
    ]


@pytest.mark.slow  # SIGKILLs a private local cloud during two builds
def test_a_sigkilled_cloud_takes_its_builds_processes_with_it(private: PrivateCloud):
    private.up()
    cb = private.client("codebuild")
    role = make_role(private.client("iam"), "reaped", trusting(CODEBUILD), allowing(LOGS))
    marks = {name: uuid.uuid4().hex for name in SPECS}
    for name, spec in SPECS.items():
        cb.create_project(
            name=name, source={"type": "NO_SOURCE", "buildspec": spec},
            artifacts={"type": "NO_ARTIFACTS"}, environment=ENVIRONMENT, serviceRole=role,
        )  # fmt: skip
        override = [{"name": MARK, "value": marks[name]}]
        cb.start_build(projectName=name, environmentVariablesOverride=override)
    pgids: set[int] = set()
    try:
        for name, mark in marks.items():
            found = poll(
                lambda mark=mark: marked(mark),
                until=lambda found, n=SLEEPS[name]: list(found.values()).count("sleep") == n,
                what=f"the sleeps of build {name}",
            )
            pgids |= {stat[2] for pid in found if (stat := _stat(pid)) is not None}
        separate = marked(marks["reap-separate"])
        [sleep] = [pid for pid, comm in separate.items() if comm == "sleep"]
        child = _parent(sleep)  # sh -c, a child of the build's shell
        assert child in separate and _parent(child) in separate and _parent(child) != private.pid
        assert len(pgids) == 2, pgids  # a group for each build
        private.kill()
        poll(lambda: in_groups(pgids), until=lambda left: not left, timeout=20,
             what=f"the builds' process groups {sorted(pgids)} to end with the cloud")  # fmt: skip
    finally:
        for pgid in pgids:
            if in_groups({pgid}):  # the group is still there: its pgid is not another's yet
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)

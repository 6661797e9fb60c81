"""Lab 3: a clone of the kit's checkout to commit to, and pipeline runs on it that print what they
do as they go, by the kit on the local cloud or by CodePipeline on AWS (:mod:`lab_aws`).

A run stops at the manual approval unless it is told to approve: ``approve`` then answers it and
the same run goes on to prod, as ``cdlab pipeline approve`` or ``put-approval-result`` do.
"""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cdlab import config, target
from cdlab.notebook import lab_aws
from cdlab.notebook.workspace import repository

MATCH_RATE = re.compile(r"Match Rate: ([0-9.]+)|match rate\s+([0-9.]+)")
RUN_NAME = re.compile(r"^CD Lab pipeline \S+: run (\S+) ")
LOG_WIDTH = 150
STARTED = "  ..  "  # an action's first line; its log follows it
STILL_UP = "The local cloud is still up"
SUCCEEDED, WAITING, FAILED = "succeeded", "waiting for approval", "failed"
PIPELINE_DONE = lab_aws.PIPELINE_DONE


@dataclass(frozen=True)
class PipelineRun:
    stack: str
    commit: str
    outcome: str  # succeeded, waiting for approval, failed
    match_rate: float | None
    output: str
    execution: str = ""  # CodePipeline's execution id on AWS

    @property
    def succeeded(self) -> bool:
        return self.outcome == SUCCEEDED

    @property
    def waiting(self) -> bool:
        return self.outcome == WAITING


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def lab_checkout(destination: Path) -> Path:
    """A fresh clone of the kit's checkout for the lab's commits, so the lab never commits to
    yours; an earlier run's clone is replaced."""
    shutil.rmtree(destination, ignore_errors=True)
    subprocess.run(
        ["git", "clone", "--quiet", str(repository()), str(destination)],
        check=True,
        capture_output=True,
    )
    _git(destination, "config", "user.name", "CD Lab participant")
    _git(destination, "config", "user.email", "participant@cdlab.invalid")
    return destination


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    """Write ``files`` (path -> text) into ``repo`` and commit them; returns the short commit."""
    for name, text in files.items():
        (repo / name).write_text(text)
        _git(repo, "add", name)
    _git(repo, "commit", "--quiet", "-m", message)
    short = _git(repo, "rev-parse", "--short=8", "HEAD")
    print(f"git commit {short} {message!r}: {', '.join(files)}")
    return short


def _follow(command: list[str], cwd: Path | None) -> tuple[int, str]:
    """Run ``command``, printing its lines and, every half second, the new lines of its run's
    action logs (the build's own output); the exit status and everything printed."""
    printed: list[str] = []
    offsets: dict[Path, int] = {}
    directory: Path | None = None
    shown = True
    acting = False  # no action has started yet: no log to follow
    lines: queue.Queue[str | None] = queue.Queue()
    began = time.time()

    def show(line: str) -> None:
        print(line, flush=True)
        printed.append(line)

    def tail_logs() -> None:
        assert directory is not None
        for log in sorted(directory.glob("*.log"), key=lambda p: p.stat().st_mtime):
            text = log.read_text(errors="replace")
            for line in text[offsets.get(log, 0) :].splitlines():
                show(f"      | {line[:LOG_WIDTH]}")
            offsets[log] = len(text)

    with subprocess.Popen(
        command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, bufsize=1,
    ) as process:  # fmt: skip
        reader = threading.Thread(target=_read, args=(process, lines))
        reader.start()
        while (line := _next(lines)) is not None:
            found = RUN_NAME.match(line)
            if found:
                directory = config.home() / "pipeline" / "runs" / found[1]
                offsets = {  # a resumed run's earlier logs: not again
                    log: len(log.read_text(errors="replace"))
                    for log in directory.glob("*.log")
                    if log.stat().st_mtime < began
                }
            if line.startswith(STILL_UP):
                shown = False  # the summary's terminal hints: not for a notebook
            started = line.startswith(STARTED)  # an action started: shown before its log
            if line and shown and started:
                show(line.rstrip("\n"))
            acting = acting or started
            if directory is not None and shown and acting:
                tail_logs()
            if line and shown and not started:
                show(line.rstrip("\n"))
        reader.join()
    return process.returncode, "\n".join(printed)


def _read(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    """Every line the process prints, then None."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put(None)


def _next(lines: queue.Queue[str | None]) -> str | None:
    """The next line, or "" when none came for half a second."""
    try:
        return lines.get(timeout=0.5)
    except queue.Empty:
        return ""


def _cdlab(*args: str) -> list[str]:
    return [sys.executable, "-m", "cdlab.cli", "pipeline", *args]


def _result(stack: str, commit: str, status: int, output: str, execution: str = "") -> PipelineRun:
    outcome = {0: SUCCEEDED, 3: WAITING}.get(status, FAILED)
    rates = [float(a or b) for a, b in MATCH_RATE.findall(output)]
    return PipelineRun(stack, commit, outcome, rates[-1] if rates else None, output, execution)


def run_pipeline(repo: Path, stack: str, approve: bool = False) -> PipelineRun:
    """Run the pipeline on ``repo``'s HEAD, printing each stage as it goes, until it ends or
    waits at the approval (``approve=False``).

    The target decides *who* runs it: on ``local`` the kit reads pipeline.yml and runs its
    stages (``cdlab pipeline run``); on ``aws`` CodePipeline does, started by uploading the
    commit's archive to the pipeline stack's source bucket.
    """
    head = _git(repo, "rev-parse", "--short=8", "HEAD")
    if target.current() == "aws":
        status, output, execution = lab_aws.run(repo, stack, approve)
        return _result(stack, head, status, output, execution)
    command = _cdlab("run", "--stack-name", stack, *(["--approve"] if approve else []))
    print("$", " ".join(["cdlab", *command[3:]]))
    return _result(stack, head, *_follow(command, repo))


def approve(waiting: PipelineRun) -> PipelineRun:
    """Approve the run that waits at the approval: the same build goes on to prod."""
    if not waiting.waiting:
        raise ValueError(f"the run of {waiting.commit} does not wait for approval")
    if target.current() == "aws":
        status, output = lab_aws.approve(waiting.stack, waiting.execution)
        return _result(waiting.stack, waiting.commit, status, output, waiting.execution)
    command = _cdlab("approve", "--stack-name", waiting.stack)
    print("$", " ".join(["cdlab", *command[3:]]))
    return _result(waiting.stack, waiting.commit, *_follow(command, None))

"""Lab 3: a clone of the kit's checkout to commit to, and the pipeline's executions followed
through the CodePipeline API, the same calls on the local cloud and on AWS.

The lab's own cells deploy the stack, upload the archive and answer the approval with the AWS
CLI; ``follow`` watches the execution an upload started (a line per action as
``get-pipeline-state`` shows it move), reads the build logs from CloudWatch Logs and stops at the
approval unless told to approve.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pandas as pd

from cdlab.notebook.workspace import repository, workdir
from cdlab.pipeline import approval, execution, source_events, stack
from cdlab.pipeline.execution import Approval, Followed
from cdlab.pipeline.source_events import SourceObject

SUCCEEDED, WAITING = "Succeeded", execution.WAITING


@dataclass(frozen=True)
class PipelineRun:
    stack: str
    commit: str
    execution: str
    outcome: str  # CodePipeline's status (Succeeded, Failed, ...) or "waiting for approval"
    match_rate: float | None
    approval: Approval | None = None  # the approval that waits, with its token
    logs: dict[str, tuple[str, str]] = field(default_factory=dict)  # stage -> (group, stream)
    error: str = ""  # the failed action's error details

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


def stack_outputs(name: str) -> dict[str, str]:
    """The pipeline stack's outputs (its buckets, the pipeline's name, the prod endpoint)."""
    return stack.outputs(boto3.client("cloudformation"), name)


def first_runs(name: str) -> pd.DataFrame:
    """The runs CodePipeline started by itself when it created the pipeline, once they ended
    (they fail at Source: nothing was uploaded yet)."""
    found = execution.first_run_over(stack_outputs(name)["PipelineName"])
    columns = ["pipelineExecutionId", "status", "statusSummary", "trigger"]
    return pd.DataFrame([{c: s.get(c, "") for c in columns} for s in found], columns=columns)


def follow(repo: Path, name: str, approve: bool = False, resume: str = "") -> PipelineRun:
    """Follow the execution that the newest upload of the source archive started (or the
    execution ``resume`` after its approval) until it ends, or waits at the approval when
    ``approve`` is False; a line per action as it starts and ends."""
    outputs = stack_outputs(name)
    pipeline = outputs["PipelineName"]
    found = resume
    if not found:
        uploaded = SourceObject(name, outputs["SourceBucket"], outputs["SourceObjectKey"])
        newest = boto3.client("s3").head_object(Bucket=uploaded.bucket, Key=uploaded.key)
        found, version = source_events.started(pipeline, uploaded, newest["VersionId"], sys.stdout)
        print(f"execution {found} started by source version {version}")
    directory = workdir() / "lab3-logs" / found
    directory.mkdir(parents=True, exist_ok=True)
    follower = execution.Follower(Followed(pipeline, found), directory, sys.stdout)
    if resume:
        follower.catch_up()

    def answer(waiting: Approval) -> bool:
        if approve:
            approval.answer(waiting, True, "approved by the Lab 3 notebook (approve=True)")
        return approve

    followed = follower.until_settled(answer)
    return _result(name, _git(repo, "rev-parse", "--short=8", "HEAD"), followed)


def _result(name: str, short: str, followed: Followed) -> PipelineRun:
    rate = followed.match_rate()
    failed = followed.failed_action() or {}
    error = failed.get("output", {}).get("executionResult", {}).get("errorDetails") or {}
    if error:
        print(f"{failed['stageName']}/{failed['actionName']} failed: {error.get('message')}")
    if rate is not None:
        print(f"match rate {rate[0]:.4f} (gate {rate[1]:.2f})")
    if followed.status == execution.BLOCKED and followed.approval is not None:
        print(
            f"execution {followed.execution} waits behind execution "
            f"{followed.approval.execution}, which waits at {followed.approval.stage}: approve "
            "or reject that one (put-approval-result with its token), and this one goes on"
        )
    return PipelineRun(
        stack=name,
        commit=short,
        execution=followed.execution,
        outcome=followed.status,
        match_rate=rate[0] if rate else None,
        approval=followed.approval,
        logs={label.split("/")[0]: where for label, where in followed.build_logs.items()},
        error=str(error.get("message", "")),
    )

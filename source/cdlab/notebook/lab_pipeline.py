"""Lab 3: a clone of the kit's checkout to commit to, and pipeline runs on it, by the kit on the
local cloud or by CodePipeline on AWS."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3

from cdlab import target
from cdlab.notebook.workspace import repository

MATCH_RATE = re.compile(r"Match Rate: ([0-9.]+)|match rate\s+([0-9.]+)")
PIPELINE_DONE = ("Succeeded", "Failed", "Stopped", "Superseded")


@dataclass(frozen=True)
class PipelineRun:
    commit: str
    succeeded: bool
    match_rate: float | None
    output: str


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
    return _git(repo, "rev-parse", "--short=8", "HEAD")


def run_pipeline(repo: Path, stack: str, approve: bool = True) -> PipelineRun:
    """Run the pipeline on ``repo``'s HEAD and wait for it to end.

    The one place where the target decides *who* runs the pipeline: on ``local`` the kit reads
    pipeline.yml and runs its stages (``cdlab pipeline run``); on ``aws`` CodePipeline does, started
    by uploading the commit's archive to the pipeline stack's source bucket.
    """
    head = _git(repo, "rev-parse", "--short=8", "HEAD")
    if target.current() == "aws":
        succeeded, output = _run_on_aws(repo, stack, approve)
    else:
        command = [sys.executable, "-m", "cdlab.cli", "pipeline", "run", "--stack-name", stack]
        result = subprocess.run(
            command + (["--approve"] if approve else []),
            cwd=repo,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        succeeded, output = result.returncode == 0, result.stdout + result.stderr
    rates = [float(a or b) for a, b in MATCH_RATE.findall(output)]
    return PipelineRun(head, succeeded, rates[-1] if rates else None, output)


def _run_on_aws(repo: Path, stack: str, approve: bool, timeout: float = 3600) -> tuple[bool, str]:
    stacks = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0]["Outputs"]}
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=zip", "HEAD"], capture_output=True, check=True
    ).stdout
    version = boto3.client("s3").put_object(
        Bucket=outputs["SourceBucket"], Key=outputs["SourceObjectKey"], Body=archive
    )["VersionId"]
    pipeline, codepipeline = outputs["PipelineName"], boto3.client("codepipeline")
    deadline = time.monotonic() + timeout
    execution = None
    while execution is None and time.monotonic() < deadline:
        for summary in codepipeline.list_pipeline_executions(pipelineName=pipeline)[
            "pipelineExecutionSummaries"
        ]:
            revisions = [r.get("revisionId") for r in summary.get("sourceRevisions", [])]
            if version in revisions:
                execution = summary["pipelineExecutionId"]
        time.sleep(5)
    status = "not started"
    while execution and time.monotonic() < deadline:
        status = codepipeline.get_pipeline_execution(
            pipelineName=pipeline, pipelineExecutionId=execution
        )["pipelineExecution"]["status"]
        if status in PIPELINE_DONE:
            break
        for stage in codepipeline.get_pipeline_state(name=pipeline)["stageStates"]:
            for action in stage.get("actionStates", []):
                latest = action.get("latestExecution", {})
                if approve and latest.get("status") == "InProgress" and "token" in latest:
                    codepipeline.put_approval_result(
                        pipelineName=pipeline,
                        stageName=stage["stageName"],
                        actionName=action["actionName"],
                        result={
                            "summary": "approved from the Lab 3 notebook",
                            "status": "Approved",
                        },
                        token=latest["token"],
                    )
        time.sleep(10)
    states = codepipeline.get_pipeline_state(name=pipeline)["stageStates"]
    lines = [f"{s['stageName']}: {s.get('latestExecution', {}).get('status', '-')}" for s in states]
    return (
        status == "Succeeded",
        f"pipeline {pipeline} execution {execution}: {status}\n" + "\n".join(lines),
    )

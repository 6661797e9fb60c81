"""Lab 3 on AWS: CodePipeline runs the pipeline stack; these start it with an upload, print each
stage's state as it changes and the test build's match rate, and answer its approval."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import boto3

PIPELINE_DONE = ("Succeeded", "Failed", "Stopped", "Superseded")
POLL_SECONDS = 10
TIMEOUT_SECONDS = 3600
EXIT = {"Succeeded": 0, "waiting": 3}  # anything else: 1, as ``cdlab pipeline run`` exits


def _outputs(stack: str) -> dict[str, str]:
    [described] = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


def _say(lines: list[str], text: str) -> None:
    print(text, flush=True)
    lines.append(text)


def run(repo: Path, stack: str, approve: bool) -> tuple[int, str, str]:
    """Upload HEAD's archive (``git archive`` writes the commit into source/commit.txt) and
    follow the execution it starts: the exit status, what was printed, the execution id."""
    outputs, lines = _outputs(stack), []
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=zip", "HEAD"], capture_output=True, check=True
    ).stdout
    version = boto3.client("s3").put_object(
        Bucket=outputs["SourceBucket"], Key=outputs["SourceObjectKey"], Body=archive
    )["VersionId"]
    _say(lines, f"uploaded s3://{outputs['SourceBucket']}/{outputs['SourceObjectKey']} {version}")
    pipeline, deadline = outputs["PipelineName"], time.monotonic() + TIMEOUT_SECONDS
    execution = _started_by(pipeline, version, deadline)
    _say(lines, f"EventBridge started execution {execution} of pipeline {pipeline}")
    status = _watch(pipeline, execution, approve, deadline, lines)
    return EXIT.get(status, 1), "\n".join(lines), execution


def _started_by(pipeline: str, version: str, deadline: float) -> str:
    codepipeline = boto3.client("codepipeline")
    while time.monotonic() < deadline:
        summaries = codepipeline.list_pipeline_executions(pipelineName=pipeline)
        for summary in summaries["pipelineExecutionSummaries"]:
            if version in [r.get("revisionId") for r in summary.get("sourceRevisions", [])]:
                return summary["pipelineExecutionId"]
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"no execution of {pipeline} picked up source version {version}")


def _approval_token(pipeline: str, execution: str) -> tuple[str, str, str] | None:
    """(stage, action, token) of the approval that waits in ``execution``, if one does."""
    for stage in boto3.client("codepipeline").get_pipeline_state(name=pipeline)["stageStates"]:
        if stage.get("latestExecution", {}).get("pipelineExecutionId") != execution:
            continue
        for action in stage.get("actionStates", []):
            latest = action.get("latestExecution", {})
            if latest.get("status") == "InProgress" and "token" in latest:
                return stage["stageName"], action["actionName"], latest["token"]
    return None


def _stage_states(pipeline: str, execution: str) -> dict[str, str]:
    states: list[dict[str, Any]] = boto3.client("codepipeline").get_pipeline_state(name=pipeline)[
        "stageStates"
    ]
    return {
        s["stageName"]: s["latestExecution"]["status"]
        for s in states
        if s.get("latestExecution", {}).get("pipelineExecutionId") == execution
    }


def _watch(pipeline: str, execution: str, approve: bool, deadline: float, lines: list[str]) -> str:
    """Print stage states as they change until the execution ends, or waits for approval."""
    seen: dict[str, str] = {}
    started, codepipeline = time.monotonic(), boto3.client("codepipeline")
    while time.monotonic() < deadline:
        for stage, state in _stage_states(pipeline, execution).items():
            if seen.get(stage) != state:
                _say(lines, f"  {stage:<11} {state:<11} {time.monotonic() - started:6.0f} s")
                seen[stage] = state
        waiting = _approval_token(pipeline, execution)
        if waiting is not None and not approve:
            _match_rate(pipeline, lines)
            return "waiting"
        if waiting is not None:
            _answer(pipeline, waiting)
        status = codepipeline.get_pipeline_execution(
            pipelineName=pipeline, pipelineExecutionId=execution
        )["pipelineExecution"]["status"]
        if status in PIPELINE_DONE:
            _match_rate(pipeline, lines)
            _say(lines, f"pipeline {pipeline} execution {execution}: {status}")
            return status
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"execution {execution} of {pipeline} did not end in time")


def _answer(pipeline: str, waiting: tuple[str, str, str]) -> None:
    stage, action, token = waiting
    boto3.client("codepipeline").put_approval_result(
        pipelineName=pipeline,
        stageName=stage,
        actionName=action,
        result={"summary": "approved from the Lab 3 notebook", "status": "Approved"},
        token=token,
    )


def _match_rate(pipeline: str, lines: list[str]) -> None:
    """The test build's match-rate line, from its CloudWatch Logs group (pipeline.yml's)."""
    events = boto3.client("logs").filter_log_events(
        logGroupName=f"/aws/codebuild/{pipeline}-test",
        filterPattern='"Match Rate"',
        startTime=int((time.time() - TIMEOUT_SECONDS) * 1000),
    )["events"]
    if events:
        _say(lines, f"  TestQA log: {events[-1]['message'].strip()}")


def approve(stack: str, execution: str) -> tuple[int, str]:
    """Approve the approval ``execution`` waits at, then follow it to its end."""
    pipeline, lines = _outputs(stack)["PipelineName"], []
    waiting = _approval_token(pipeline, execution)
    if waiting is None:
        raise ValueError(f"execution {execution} of {pipeline} does not wait for approval")
    _answer(pipeline, waiting)
    _say(lines, f"approved {waiting[0]}/{waiting[1]} of execution {execution}")
    status = _watch(pipeline, execution, True, time.monotonic() + TIMEOUT_SECONDS, lines)
    return EXIT.get(status, 1), "\n".join(lines)

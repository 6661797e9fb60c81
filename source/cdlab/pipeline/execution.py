"""A pipeline execution followed through the CodePipeline API, as a participant follows it in the
console: the execution an upload started (its source revision is the upload's S3 version), each
action's state as it moves (ListActionExecutions of that execution) and its log once it ends,
and from GetPipelineState the approval it waits at (with its token) or another execution's
approval it waits behind.

https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineState.html
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListActionExecutions.html
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3

from cdlab import cloud_clock
from cdlab.pipeline import actionlogs, progress
from cdlab.pipeline.definition import PipelineError

DONE = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")
ACTION_DONE = ("Succeeded", "Failed", "Abandoned")
MARKS = {"Succeeded": "ok", "Failed": "FAIL", "Abandoned": "STOP"}
WAITING = "waiting for approval"
BLOCKED = "blocked"  # waits to enter a stage where another execution waits for its approval
# seconds: quick while things move, slower while they wait, up to 2 s of the target's time (on
# the local cloud at CDLAB_TIME_SCALE=60, every FIRST_POLL: its stages end within seconds)
FIRST_POLL, LAST_POLL = 0.25, 2.0
START_SECONDS = 300  # EventBridge delivers the upload's event within this
TIMEOUT_SECONDS = 4 * 3600


@dataclass(frozen=True)
class Approval:
    """An approval action waiting in an execution, with the token PutApprovalResult needs."""

    pipeline: str
    execution: str
    stage: str
    action: str
    token: str


@dataclass
class Followed:
    """What following an execution saw: its outcome, each action's record and log."""

    pipeline: str
    execution: str
    status: str = "InProgress"  # CodePipeline's, WAITING or BLOCKED
    details: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Stage/Action" -> record
    logs: dict[str, Path] = field(default_factory=dict)  # "Stage/Action" -> its log
    build_logs: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (group, stream)
    approval: Approval | None = None  # its own waiting approval, or the one it waits behind

    def failed_action(self) -> dict[str, Any] | None:
        failed = [d for d in self.details.values() if d["status"] == "Failed"]
        return failed[-1] if failed else None

    def stage_seconds(self) -> dict[str, float]:
        """Seconds per stage, from the actions' own start and last update times."""
        seconds: dict[str, float] = {}
        for detail in self.details.values():
            spent = (detail["lastUpdateTime"] - detail["startTime"]).total_seconds()
            seconds[detail["stageName"]] = seconds.get(detail["stageName"], 0.0) + spent
        return seconds

    def match_rate(self) -> tuple[float, float] | None:
        rates = [actionlogs.match_rate(p.read_text(errors="replace")) for p in self.logs.values()]
        found = [rate for rate in rates if rate is not None]
        return found[-1] if found else None


def started_by(pipeline: str, version: str, timeout: float = START_SECONDS) -> str:
    """The execution whose source revision is the S3 object version ``version``."""
    found = started_within(pipeline, version, timeout)
    if found is not None:
        return found
    raise PipelineError(
        f"no execution of pipeline {pipeline} started from source version {version} within "
        f"{timeout:.0f} s: is the source bucket's EventBridge rule there (the pipeline stack)?"
    )


def started_within(pipeline: str, version: str, seconds: float) -> str | None:
    """The execution whose source revision is the S3 object version ``version``, if one starts
    within ``seconds``; else None."""
    codepipeline, deadline = boto3.client("codepipeline"), time.monotonic() + seconds
    while True:
        pages = codepipeline.get_paginator("list_pipeline_executions").paginate(
            pipelineName=pipeline, PaginationConfig={"MaxItems": 50}
        )
        for summary in (s for page in pages for s in page["pipelineExecutionSummaries"]):
            if version in [r.get("revisionId") for r in summary.get("sourceRevisions", [])]:
                return str(summary["pipelineExecutionId"])
        if time.monotonic() >= deadline:
            return None
        time.sleep(FIRST_POLL * 2)


def first_run_over(pipeline: str, timeout: float = START_SECONDS) -> list[dict[str, Any]]:
    """The executions CodePipeline started by itself when it created the pipeline (trigger
    CreatePipeline), once none is in progress. Nothing is uploaded then, so such a run fails at
    Source; an upload made while it still runs could be built by it too, so wait for it first.
    https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-about-starting.html"""
    codepipeline, deadline = boto3.client("codepipeline"), time.monotonic() + timeout
    while True:
        summaries = codepipeline.list_pipeline_executions(pipelineName=pipeline, maxResults=100)
        first = [
            s
            for s in summaries["pipelineExecutionSummaries"]
            if s.get("trigger", {}).get("triggerType") == "CreatePipeline"
        ]
        if all(s["status"] not in ("InProgress", "Stopping") for s in first):
            return first
        if time.monotonic() > deadline:
            raise PipelineError(f"the first run of pipeline {pipeline} did not end in time")
        time.sleep(FIRST_POLL)


def waiting_approval(pipeline: str, execution: str | None = None) -> Approval | None:
    """The approval that waits for an answer in ``execution`` (any execution when None)."""
    state = boto3.client("codepipeline").get_pipeline_state(name=pipeline)
    return _approval_in(state, pipeline, execution)


def _approval_in(state: dict[str, Any], pipeline: str, execution: str | None) -> Approval | None:
    """The approval waiting in GetPipelineState's ``state``, with its token."""
    for stage in state["stageStates"]:
        running = stage.get("latestExecution", {}).get("pipelineExecutionId")
        if running is None or execution not in (None, running):
            continue
        for action in stage.get("actionStates", []):
            latest = action.get("latestExecution", {})
            if latest.get("status") == "InProgress" and latest.get("token"):
                return Approval(
                    pipeline, running, stage["stageName"], action["actionName"], latest["token"]
                )
    return None


def _blocking(state: dict[str, Any], pipeline: str, execution: str) -> Approval | None:
    """The approval of another execution that ``execution`` waits behind: a stage holds one
    execution at a time, and an approval holds its stage until it is answered (newer executions
    wait at its inbound transition, as CodePipeline's SUPERSEDED mode has them)."""
    for stage in state["stageStates"]:
        if stage.get("inboundExecution", {}).get("pipelineExecutionId") == execution:
            running = stage.get("latestExecution", {}).get("pipelineExecutionId")
            return _approval_in({"stageStates": [stage]}, pipeline, running)
    return None


class Follower:
    """Prints a line per action of one execution as GetPipelineState shows it start and end,
    and keeps each ended action's log in ``directory``."""

    def __init__(self, followed: Followed, directory: Path, out: TextIO) -> None:
        self.followed, self.directory, self.out = followed, directory, out
        self.codepipeline = boto3.client("codepipeline")
        self.lines: dict[str, progress.Line] = {}
        self.answered: set[str] = set()  # approval tokens answered, until the engine moves on

    def until_settled(self, answer: Callable[[Approval], bool]) -> Followed:
        """Follow until the execution ends, or waits at an approval that ``answer`` leaves
        unanswered (it answers it and returns True, or returns False)."""
        interval, deadline = FIRST_POLL, time.monotonic() + TIMEOUT_SECONDS
        most = max(FIRST_POLL, LAST_POLL / cloud_clock.time_scale())
        pipeline, found = self.followed.pipeline, self.followed.execution
        while time.monotonic() < deadline:
            moved = self._poll()
            state = self.codepipeline.get_pipeline_state(name=pipeline)
            status = self.codepipeline.get_pipeline_execution(
                pipelineName=pipeline, pipelineExecutionId=found
            )["pipelineExecution"]["status"]
            if status in DONE:
                self._poll()
                self._close()
                self.followed.status = status
                return self.followed
            waiting = _approval_in(state, pipeline, found)
            if waiting is not None and waiting.token not in self.answered:
                if not answer(waiting):
                    self._poll()  # the actions that ended after this round's first look
                    self._wait(waiting)
                    return self.followed
                self.answered.add(waiting.token)
            ahead = _blocking(state, pipeline, found)
            if ahead is not None:
                self._poll()
                self.followed.status, self.followed.approval = BLOCKED, ahead
                self._close()
                return self.followed
            interval = FIRST_POLL if moved or waiting else min(interval * 1.25, most)
            time.sleep(interval)
        raise PipelineError(f"execution {self.followed.execution} did not end in time")

    def catch_up(self) -> None:
        """Record the actions that ended before following began, without a line each."""
        for detail in self._details():
            label = f"{detail['stageName']}/{detail['actionName']}"
            if detail["status"] in ACTION_DONE and label not in self.followed.details:
                self._keep(label, detail)

    def _wait(self, waiting: Approval) -> None:
        label = f"{waiting.stage}/{waiting.action}"
        line = self.lines.pop(label, None) or progress.start(label, self.out, spin=False)
        line.done("WAIT", "token ready")
        self.followed.status, self.followed.approval = WAITING, waiting

    def _poll(self) -> bool:
        """Start and end the lines of this execution's actions as they move, oldest first (its
        own action records: GetPipelineState shows a stage's newest execution only); whether
        any moved."""
        moved = False
        for detail in reversed(self._details()):
            label = f"{detail['stageName']}/{detail['actionName']}"
            if label in self.followed.details:
                continue
            if label not in self.lines:
                kind = detail.get("input", {}).get("actionTypeId", {}).get("category")
                self.lines[label] = progress.start(label, self.out, spin=kind != "Approval")
                moved = True
            if detail["status"] in ACTION_DONE:
                path = self._keep(label, detail)
                self.lines.pop(label).done(MARKS[detail["status"]], _detail(detail, path))
                moved = True
        return moved

    def _details(self) -> list[dict[str, Any]]:
        """This execution's action records, newest first."""
        pages = self.codepipeline.get_paginator("list_action_executions").paginate(
            pipelineName=self.followed.pipeline,
            filter={"pipelineExecutionId": self.followed.execution},
        )
        return [d for page in pages for d in page["actionExecutionDetails"]]

    def _keep(self, label: str, detail: dict[str, Any]) -> Path:
        """Record the ended action and write its log into the run's directory."""
        self.followed.details[label] = detail
        path = self.directory / f"{detail['stageName']}-{detail['actionName']}.log"
        path.write_text(self._log(label, detail))
        self.followed.logs[label] = path
        return path

    def _log(self, label: str, detail: dict[str, Any]) -> str:
        text = actionlogs.described(detail)
        provider = detail.get("input", {}).get("actionTypeId", {}).get("provider")
        external = detail.get("output", {}).get("executionResult", {}).get("externalExecutionId")
        if provider == "CodeBuild" and external:
            build, where = actionlogs.build_log(
                boto3.client("codebuild"), boto3.client("logs"), external
            )
            if where is not None:
                self.followed.build_logs[label] = where
            text += f"log: {' '.join(where)}\n{build}" if where else "log: none\n"
        stack = detail.get("input", {}).get("configuration", {}).get("StackName")
        if provider == "CloudFormation" and stack:
            cfn = boto3.client("cloudformation")
            text += actionlogs.stack_events(cfn, stack, detail["startTime"])
        return text

    def _close(self) -> None:
        """Lines of actions the execution left unfinished (stopped, superseded)."""
        for label, line in list(self.lines.items()):
            line.done("STOP")
            del self.lines[label]


def _detail(detail: dict[str, Any], log: Path) -> str:
    """What the action's line says at its end: its external id and summary, or its match rate."""
    result = detail.get("output", {}).get("executionResult", {})
    rate = actionlogs.match_rate(log.read_text(errors="replace"))
    words = [result.get("externalExecutionId", ""), result.get("externalExecutionSummary", "")]
    if rate is not None:
        words.append(f"match rate {rate[0]:.4f}")
    return " ".join(w for w in words if w)[:120]

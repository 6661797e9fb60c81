"""Executions rendered as CodePipeline's API answers them (the shapes of its botocore model),
times as UTC datetimes for the protocol layer to encode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cdlab.localcloud.codepipeline.records import Execution, stage_record


def when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def summary(execution: Execution) -> dict[str, Any]:
    found = {
        "pipelineExecutionId": execution["id"],
        "status": execution["status"],
        "startTime": when(execution["start"]),
        "lastUpdateTime": when(execution["updated"]),
        "sourceRevisions": execution["sourceRevisions"],
        "trigger": execution["trigger"],
        "executionMode": "SUPERSEDED",
        "executionType": "STANDARD",
    }
    if execution.get("statusSummary"):
        found["statusSummary"] = execution["statusSummary"]
    if execution.get("stopReason") is not None:
        found["stopTrigger"] = {"reason": execution["stopReason"]}
    return found


def execution(record: Execution) -> dict[str, Any]:
    found = {
        "pipelineName": record["pipeline"],
        "pipelineVersion": record["version"],
        "pipelineExecutionId": record["id"],
        "status": record["status"],
        "artifactRevisions": [
            {**r, "created": when(r["created"])} for r in record["artifactRevisions"]
        ],
        "trigger": record["trigger"],
        "executionMode": "SUPERSEDED",
        "executionType": "STANDARD",
    }
    if record.get("statusSummary"):
        found["statusSummary"] = record["statusSummary"]
    return found


def action_execution(action: dict[str, Any]) -> dict[str, Any]:
    """An action's latest execution, as GetPipelineState's ActionExecution."""
    found: dict[str, Any] = {
        "actionExecutionId": action["id"],
        "status": action["status"],
        "lastStatusChange": when(action["updated"]),
    }
    for key in ("summary", "token", "lastUpdatedBy", "externalExecutionId", "errorDetails"):
        if action.get(key):
            found[key] = action[key]
    return found


def stage_state(stage: dict[str, Any], executions: list[Execution]) -> dict[str, Any]:
    """One stage's state: the newest execution that entered it, and one waiting to enter."""
    name = stage["name"]
    state: dict[str, Any] = {
        "stageName": name,
        "inboundTransitionState": {"enabled": True},
        "actionStates": [{"actionName": a["name"]} for a in stage["actions"]],
    }
    waiting = [e for e in executions if e.get("waitingFor") == name]
    if waiting:
        state["inboundExecution"] = {
            "pipelineExecutionId": waiting[0]["id"],
            "status": "InProgress",
        }
    entered = [e for e in executions if stage_record(e, name)["status"] is not None]
    if not entered:
        return state
    latest = entered[0]
    record = stage_record(latest, name)
    state["latestExecution"] = {"pipelineExecutionId": latest["id"], "status": record["status"]}
    done = {a["name"]: a for a in record["actions"]}
    for action_state in state["actionStates"]:
        action = done.get(action_state["actionName"])
        if action is not None:
            action_state["latestExecution"] = action_execution(action)
            if action.get("revision"):
                action_state["currentRevision"] = {"revisionId": action["revision"]}
    return state


def pipeline_state(pipeline: dict[str, Any], executions: list[Execution]) -> dict[str, Any]:
    return {
        "pipelineName": pipeline["name"],
        "pipelineVersion": pipeline["version"],
        "stageStates": [stage_state(s, executions) for s in pipeline["stages"]],
        "created": when(pipeline["created"]),
        "updated": when(pipeline["updated"]),
    }


def action_details(record: Execution, region: str) -> list[dict[str, Any]]:
    """ListActionExecutions' details of one execution, newest first."""
    details = []
    for stage in record["stages"]:
        for action in stage["actions"]:
            declared = action["input"]
            detail: dict[str, Any] = {
                "pipelineExecutionId": record["id"],
                "actionExecutionId": action["id"],
                "pipelineVersion": record["version"],
                "stageName": stage["name"],
                "actionName": action["name"],
                "startTime": when(action["start"]),
                "lastUpdateTime": when(action["updated"]),
                "status": action["status"],
                "input": {
                    "actionTypeId": declared["actionTypeId"],
                    "configuration": declared.get("configuration", {}),
                    "resolvedConfiguration": declared.get("configuration", {}),
                    "region": region,
                    "inputArtifacts": action.get("inputArtifacts", []),
                },
                "output": {
                    "outputArtifacts": action.get("outputArtifacts", []),
                    "executionResult": _result(action),
                },
            }
            if declared.get("roleArn"):
                detail["input"]["roleArn"] = declared["roleArn"]
            if action.get("lastUpdatedBy"):
                detail["updatedBy"] = action["lastUpdatedBy"]
            details.append(detail)
    return sorted(details, key=lambda d: d["startTime"], reverse=True)


def _result(action: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if action.get("externalExecutionId"):
        result["externalExecutionId"] = action["externalExecutionId"]
    if action.get("summary"):
        result["externalExecutionSummary"] = action["summary"]
    if action.get("errorDetails"):
        result["errorDetails"] = action["errorDetails"]
    return result

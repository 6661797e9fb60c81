"""An action's log, as a participant reads it after the action: a build's output from CloudWatch
Logs (the group and stream CodeBuild reports in BatchGetBuilds), a CloudFormation action's stack
events, and for every action what CodePipeline says of it (ListActionExecutions).

https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details.html
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from cdlab.logevents import stream_events

MATCH_RATE = re.compile(r"Match Rate: ([0-9.]+) \(threshold ([0-9.]+)\)")
TAIL_LINES = 15


def build_log(codebuild: Any, logs: Any, build_id: str) -> tuple[str, tuple[str, str] | None]:
    """The build's whole log from CloudWatch Logs, then the phases that failed and why; where
    the log is (group, stream), None when the build wrote none."""
    [build] = codebuild.batch_get_builds(ids=[build_id])["builds"] or [{}]
    where = build.get("logs", {})
    group, stream = where.get("groupName"), where.get("streamName")
    lines = _events(logs, group, stream) if group and stream else None
    text = "".join(f"{line}\n" for line in [*(lines or []), *_failed_phases(build)])
    return text, (group, stream) if lines is not None else None


def _events(logs: Any, group: str, stream: str) -> list[str] | None:
    """Every message of the stream, oldest first, page after page to the token that comes back
    unchanged (:mod:`cdlab.logevents`: on AWS a page may be empty before the end); None when
    it does not exist."""
    try:
        return [event["message"].rstrip("\n") for event in stream_events(logs, group, stream)]
    except ClientError as e:
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def _failed_phases(build: dict[str, Any]) -> list[str]:
    """The phases that did not succeed, with CodeBuild's reasons (the console's phase details)."""
    return [
        f"phase {phase['phaseType']} {phase.get('phaseStatus')}: "
        f"{context.get('statusCode', '')}: {context.get('message', '')}"
        for phase in build.get("phases", [])
        if phase.get("phaseStatus") not in (None, "SUCCEEDED")
        for context in phase.get("contexts", []) or [{}]
    ]


def stack_events(cfn: Any, stack: str, since: datetime) -> str:
    """The stack's events from ``since`` on, oldest first, one a line."""
    events = [
        e
        for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
        if e["Timestamp"] >= since
    ]
    return "".join(
        f"{e['Timestamp']:%H:%M:%S} {e['LogicalResourceId']} {e['ResourceStatus']} "
        f"{e.get('ResourceStatusReason', '')}".rstrip()
        + "\n"
        for e in reversed(events)
    )


def described(detail: dict[str, Any]) -> str:
    """What CodePipeline records of the action execution, a field a line."""
    result = detail.get("output", {}).get("executionResult", {})
    error = result.get("errorDetails") or {}
    fields = {
        "action": f"{detail['stageName']}/{detail['actionName']}",
        "status": detail["status"],
        "execution": detail.get("actionExecutionId", ""),
        "role": detail.get("input", {}).get("roleArn", ""),
        "external id": result.get("externalExecutionId", ""),
        "summary": result.get("externalExecutionSummary", ""),
        "error": f"{error.get('code', '')}: {error.get('message', '')}" if error else "",
    }
    return "".join(f"{name}: {value}\n" for name, value in fields.items() if value)


def match_rate(text: str) -> tuple[float, float] | None:
    """The test's match rate and its gate, from a log."""
    found = MATCH_RATE.findall(text)
    return (float(found[-1][0]), float(found[-1][1])) if found else None


def tail(path: Path) -> str:
    """The log's last lines, indented for the summary."""
    lines = path.read_text(errors="replace").splitlines()[-TAIL_LINES:]
    return "\n".join(f"      | {line}" for line in lines)

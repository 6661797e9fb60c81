"""A build's log in CloudWatch Logs, written as the project's role, as CodeBuild writes it.

CodeBuild creates the project's log group if it is missing and one log stream per build (named
after the build's id) before the build runs, with the project's service role; a role that may not
do so fails the build at once
(https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html). The
buildspec's output goes into the stream as it comes (``worker.LineWriter``). A build whose
LogsConfig has its CloudWatch Logs DISABLED writes none, so its role needs no CloudWatch Logs
permission (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CloudWatchLogsConfig.html).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from cdlab.localcloud.context import RequestContext
from cdlab.pipeline.definition import PipelineError


def location(
    ctx: RequestContext, project: str, config: dict[str, Any], build_id: str
) -> dict[str, Any]:
    """Where a build logs, as BatchGetBuilds shows it (LogsLocation), from its LogsConfig: the
    group ``groupName``, else ``/aws/codebuild/PROJECT``; the stream named after the build's
    uuid, under ``streamName`` (a prefix) if given. With CloudWatch Logs DISABLED there is no
    group, stream nor link, only the configuration
    (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_LogsLocation.html)."""
    cloudwatch = config["cloudWatchLogs"]
    if cloudwatch.get("status") == "DISABLED":
        return {"cloudWatchLogs": cloudwatch, "s3Logs": config["s3Logs"]}
    group = cloudwatch.get("groupName") or f"/aws/codebuild/{project}"
    stream = build_id.partition(":")[2]
    if cloudwatch.get("streamName"):
        stream = f"{cloudwatch['streamName']}/{stream}"
    return {
        "groupName": group,
        "streamName": stream,
        "deepLink": (
            f"https://console.aws.amazon.com/cloudwatch/home?region={ctx.region}"
            f"#logEvent:group={group};stream={stream}"
        ),
        "cloudWatchLogsArn": ctx.arn("logs", f"log-group:{group}:log-stream:{stream}"),
        "cloudWatchLogs": {**cloudwatch, "groupName": group},
        "s3Logs": config["s3Logs"],
    }


@dataclass(frozen=True)
class BuildLog:
    """One build's log stream, and the role's CloudWatch Logs client that writes it."""

    logs: Any
    group: str
    stream: str
    role_arn: str
    build_arn: str

    def _refused(self, error: ClientError) -> PipelineError:
        return PipelineError(
            f"ACCESS_DENIED: Service role {self.role_arn} does not allow AWS CodeBuild to create "
            f"Amazon CloudWatch Logs log streams for build {self.build_arn}. "
            f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
        )

    def open(self) -> None:
        """Create the log group (unless it exists) and the build's stream."""
        logs = self.logs
        try:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=self.group)
            logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        except ClientError as e:
            raise self._refused(e) from None

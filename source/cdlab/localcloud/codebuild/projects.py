"""CodeBuild projects: the checks CodeBuild makes of a project, and its document in the Store.

A project's source may be S3 (``bucket/key`` of a zip), CODEPIPELINE (the pipeline hands the
source over) or NO_SOURCE (the buildspec inline); its artifacts S3, CODEPIPELINE or NO_ARTIFACTS
(https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectSource.html,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectArtifacts.html). The service
role must exist and trust ``codebuild.amazonaws.com``, or CodeBuild refuses the project
(https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.protocols.errors import InvalidInputException, error
from cdlab.localcloud.state.store import Store

ResourceNotFoundException = error("ResourceNotFoundException")
ResourceAlreadyExistsException = error("ResourceAlreadyExistsException")

KIND = "codebuild-project"
SOURCE_TYPES = ("S3", "CODEPIPELINE", "NO_SOURCE")
ARTIFACT_TYPES = ("S3", "CODEPIPELINE", "NO_ARTIFACTS")
DEFAULT_TIMEOUT_MINUTES = 60
DEFAULT_QUEUED_TIMEOUT_MINUTES = 480
TIME_KEYS = ("created", "lastModified", "startTime", "endTime")


def as_times(value: Any) -> Any:
    """A document with its epoch-second timestamps as UTC datetimes, for the protocol layer."""
    if isinstance(value, list):
        return [as_times(v) for v in value]
    if isinstance(value, dict):
        return {
            k: datetime.fromtimestamp(v, UTC)
            if k in TIME_KEYS and isinstance(v, int | float)
            else as_times(v)
            for k, v in value.items()
        }
    return value


def logs_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """A LogsConfig with CodeBuild's defaults: CloudWatch Logs ENABLED, S3 logs DISABLED
    (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_LogsConfig.html). S3 logs
    are refused: the local cloud writes a build's log to CloudWatch Logs only."""
    config = config or {}
    s3_logs = config.get("s3Logs") or {"status": "DISABLED", "encryptionDisabled": False}
    if s3_logs.get("status") == "ENABLED":
        raise InvalidInputException(
            "Invalid input: logsConfig s3Logs with status ENABLED is not supported by the local "
            "cloud, which writes build logs to CloudWatch Logs only; set s3Logs status DISABLED"
        )
    return {
        "cloudWatchLogs": config.get("cloudWatchLogs") or {"status": "ENABLED"},
        "s3Logs": s3_logs,
    }


def check_source(source: dict[str, Any]) -> None:
    kind = source["type"]
    if kind not in SOURCE_TYPES:
        raise InvalidInputException(
            f"Source type {kind} is not supported by the local cloud; it supports "
            f"{', '.join(SOURCE_TYPES)}."
        )
    if kind == "S3" and "/" not in source.get("location", "").strip("/"):
        raise InvalidInputException(
            "Invalid source location: an S3 source is given as bucket/key of a zip file."
        )
    if kind == "NO_SOURCE" and not source.get("buildspec"):
        raise InvalidInputException("Project source buildspec cannot be empty for NO_SOURCE")


def check_artifacts(artifacts: dict[str, Any], source: dict[str, Any]) -> None:
    kind = artifacts["type"]
    if kind not in ARTIFACT_TYPES:
        raise InvalidInputException(
            f"Artifacts type {kind} is not supported by the local cloud; it supports "
            f"{', '.join(ARTIFACT_TYPES)}."
        )
    if kind == "S3" and not artifacts.get("location"):
        raise InvalidInputException("Invalid artifacts location: S3 artifacts need a bucket")
    if (kind == "CODEPIPELINE") != (source["type"] == "CODEPIPELINE"):
        raise InvalidInputException(
            "Invalid input: when using CodePipeline both sourceType, and artifactType must be "
            "set to: CODEPIPELINE"
        )


def check_one_source(p: dict[str, Any], members: tuple[str, ...]) -> None:
    """Refuse secondary sources and artifacts, which the local cloud would keep and not run
    (https://docs.aws.amazon.com/codebuild/latest/userguide/sample-multi-in-out.html)."""
    given = [member for member in members if p.get(member)]
    if given:
        raise InvalidInputException(
            f"Invalid input: {', '.join(given)} are not run by the local cloud, which builds "
            "one source into one artifact"
        )


def check_environment(environment: dict[str, Any]) -> None:
    for variable in environment.get("environmentVariables", []):
        if variable.get("type", "PLAINTEXT") != "PLAINTEXT":
            raise InvalidInputException(
                f"Environment variable {variable['name']}: the local cloud supports PLAINTEXT "
                "variables only."
            )


class Projects:
    """Project documents by name, and the checks of a create or an update."""

    def __init__(self, store: Store, roles: ServiceRoles) -> None:
        self.store = store
        self.roles = roles

    def find(self, name: str) -> dict[str, Any] | None:
        return self.store.get(KIND, name)

    def get(self, name: str) -> dict[str, Any]:
        project = self.find(name)
        if project is None:
            raise ResourceNotFoundException(f"Project cannot be found: {name}")
        return project

    def all(self) -> list[dict[str, Any]]:
        return self.store.all(KIND)

    async def check(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        """CodeBuild's checks of a project's members (create, or an update's result)."""
        check_one_source(p, ("secondarySources", "secondaryArtifacts", "secondarySourceVersions"))
        check_source(p["source"])
        check_artifacts(p["artifacts"], p["source"])
        check_environment(p["environment"])
        logs_config(p.get("logsConfig"))
        call = Call("codebuild", "CreateProject", {"serviceRole": p["serviceRole"]})
        untrusted = await self.roles.untrusted_role(call, ctx.account)
        if untrusted is not None:
            raise untrusted

    def document(self, ctx: RequestContext, p: dict[str, Any], created: float) -> dict[str, Any]:
        """The project as BatchGetProjects shows it, from CreateProject's or UpdateProject's
        members."""
        name = p["name"]
        return {
            "name": name,
            "arn": ctx.arn("codebuild", f"project/{name}"),
            "description": p.get("description", ""),
            "source": p["source"],
            "secondarySources": [],
            "artifacts": p["artifacts"],
            "secondaryArtifacts": [],
            "cache": {"type": "NO_CACHE"},
            "environment": {"environmentVariables": [], **p["environment"]},
            "serviceRole": p["serviceRole"],
            "timeoutInMinutes": p.get("timeoutInMinutes", DEFAULT_TIMEOUT_MINUTES),
            "queuedTimeoutInMinutes": p.get(
                "queuedTimeoutInMinutes", DEFAULT_QUEUED_TIMEOUT_MINUTES
            ),
            "encryptionKey": ctx.arn("kms", "alias/aws/s3"),
            "tags": p.get("tags", []),
            "created": created,
            "lastModified": time.time(),
            "badge": {"badgeEnabled": False},
            "logsConfig": logs_config(p.get("logsConfig")),
            "projectVisibility": "PRIVATE",
        }

    def put(self, project: dict[str, Any]) -> None:
        self.store.put(KIND, project["name"], project)

    def delete(self, name: str) -> None:
        self.store.delete(KIND, name)

"""The CodeBuild API: CreateProject, UpdateProject, DeleteProject, BatchGetProjects,
ListProjects, StartBuild, BatchGetBuilds, ListBuildsForProject, ListBuilds and StopBuild
(https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Operations.html).

A build started here runs in the background (:mod:`supervisor`); its document is what
BatchGetBuilds shows as the build goes on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cdlab.localcloud.codebuild import buildlogs, listing, projects
from cdlab.localcloud.codebuild.projects import (
    InvalidInputException,
    Projects,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    as_times,
)
from cdlab.localcloud.codebuild.records import Builds
from cdlab.localcloud.codebuild.supervisor import Supervisor
from cdlab.localcloud.codebuild.worker import BuildRun, Cloud, artifact_key
from cdlab.localcloud.context import Principal, RequestContext
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.state.logarchive import LogArchive
from cdlab.localcloud.state.store import Store

PIPELINE_SESSION = "codepipeline-"
# StartBuild's overrides of the project's environment: the build's environment shows them and
# its CODEBUILD_BUILD_IMAGE is the image asked for (the commands run on the local machine
# whatever the image) (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html)
SECONDARY_OVERRIDES = (
    "secondarySourcesOverride",
    "secondarySourcesVersionOverride",
    "secondaryArtifactsOverride",
)
ENVIRONMENT_OVERRIDES = (
    ("imageOverride", "image"),
    ("computeTypeOverride", "computeType"),
    ("environmentTypeOverride", "type"),
    ("privilegedModeOverride", "privilegedMode"),
    ("certificateOverride", "certificate"),
    ("imagePullCredentialsTypeOverride", "imagePullCredentialsType"),
)


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document as the API shows it: no private keys, timestamps as datetimes."""
    return as_times({k: v for k, v in doc.items() if not k.startswith("_")})


def initiator(principal: Principal) -> str:
    """Who started a build, as CodeBuild names it: ``codepipeline/PIPELINE`` for CodePipeline's
    session, a user's name, a role session's ``ROLE/SESSION``
    (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Build.html)."""
    name = principal.arn.split(":", 5)[5]
    if principal.kind == "assumed-role":
        session = name.rsplit("/", 1)[1]
        if session.startswith(PIPELINE_SESSION):
            return "codepipeline/" + session.removeprefix(PIPELINE_SESSION)
        return name.split("/", 1)[1]
    return name.rsplit("/", 1)[-1]


class CodeBuild:
    """The CodeBuild operations, named after the API (``create_project`` ...)."""

    def __init__(
        self, store: Store, roles: ServiceRoles, logs: LogArchive, cloud: Cloud, root: Path
    ) -> None:
        self.projects = Projects(store, roles)
        self.builds = Builds(store)
        self.supervisor = Supervisor(BuildRun(self.builds, cloud, logs, root))

    async def create_project(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        if self.projects.find(p["name"]) is not None:
            raise ResourceAlreadyExistsException(
                f"Project already exists: {ctx.arn('codebuild', 'project/' + p['name'])}"
            )
        await self.projects.check(ctx, p)
        doc = self.projects.document(ctx, p, time.time())
        self.projects.put(doc)
        return {"project": public(doc)}

    async def update_project(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        current = self.projects.get(p["name"])
        merged = {**current, **p}
        await self.projects.check(ctx, merged)
        doc = self.projects.document(ctx, merged, current["created"])
        self.projects.put(doc)
        return {"project": public(doc)}

    def delete_project(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Deleting a project that does not exist succeeds, as the API lists no NotFound."""
        self.projects.delete(_name(p["name"]))
        return {}

    def batch_get_projects(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        found, missing = _batch(p["names"], lambda name: self.projects.find(_name(name)))
        return {"projects": found, "projectsNotFound": missing}

    def list_projects(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """By name, creation or last change (``sortBy``), ascending unless ``sortOrder`` says
        DESCENDING, 100 names a page."""
        sort_by = p.get("sortBy", "NAME")
        field = {"CREATED_TIME": "created", "LAST_MODIFIED_TIME": "lastModified"}.get(
            sort_by, "name"
        )
        names, token = listing.page(
            self.projects.all(),
            lambda d: [d[field], d["name"]],
            f"projects/{sort_by}",
            p.get("sortOrder") == "DESCENDING",
            p.get("nextToken"),
        )
        return _listed("projects", [d["name"] for d in names], token)

    def start_build(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        project = self.projects.find(_name(p["projectName"]))
        if project is None:
            raise ResourceNotFoundException(
                f"Project cannot be found: {ctx.arn('codebuild', 'project/' + p['projectName'])}"
            )
        doc = self._build(ctx, project, p)
        self.builds.put(doc)
        self.supervisor.start(doc["id"], doc["timeoutInMinutes"])
        return {"build": public(doc)}

    def _build(
        self, ctx: RequestContext, project: dict[str, Any], p: dict[str, Any]
    ) -> dict[str, Any]:
        """A new build's document: the project with the request's overrides."""
        projects.check_one_source(p, SECONDARY_OVERRIDES)
        source = _source(project, p)
        artifacts = p.get("artifactsOverride") or project["artifacts"]
        if artifacts["type"] == "CODEPIPELINE":
            raise InvalidInputException(
                "Invalid input: artifacts of type CODEPIPELINE are given by AWS CodePipeline; "
                "give artifactsOverride to start this build yourself"
            )
        projects.check_artifacts(artifacts, source)
        build_id = f"{project['name']}:{uuid.uuid4()}"
        now = time.time()
        variables = {v["name"]: v for v in project["environment"]["environmentVariables"]}
        variables |= {v["name"]: v for v in p.get("environmentVariablesOverride", [])}
        environment = {**project["environment"], "environmentVariables": list(variables.values())}
        environment |= {field: p[member] for member, field in ENVIRONMENT_OVERRIDES if member in p}
        projects.check_environment(environment)
        doc: dict[str, Any] = {
            "id": build_id,
            "arn": ctx.arn("codebuild", f"build/{build_id}"),
            "buildNumber": self.builds.next_number(project["name"]),
            "startTime": now,
            "currentPhase": "QUEUED",
            "buildStatus": "IN_PROGRESS",
            "projectName": project["name"],
            "phases": [
                {
                    "phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED", "startTime": now,
                    "endTime": now, "durationInSeconds": 0,
                },
                {"phaseType": "QUEUED", "startTime": now},
            ],
            "source": source,
            "secondarySources": [],
            "secondarySourceVersions": [],
            "artifacts": {},
            "secondaryArtifacts": [],
            "cache": {"type": "NO_CACHE"},
            "environment": environment,
            "serviceRole": p.get("serviceRoleOverride") or project["serviceRole"],
            "logs": buildlogs.location(ctx, project["name"], _logs_config(project, p), build_id),
            "timeoutInMinutes": p.get("timeoutInMinutesOverride") or project["timeoutInMinutes"],
            "queuedTimeoutInMinutes": project["queuedTimeoutInMinutes"],
            "buildComplete": False,
            "initiator": initiator(ctx.principal),
            "encryptionKey": project["encryptionKey"],
            "_artifacts": artifacts,
        }  # fmt: skip
        if p.get("sourceVersion"):
            doc["sourceVersion"] = p["sourceVersion"]
        if artifacts["type"] == "S3":
            bucket, key = artifact_key(doc)
            doc["artifacts"] = {"location": f"arn:aws:s3:::{bucket}/{key}"}
        return doc

    def batch_get_builds(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        found, missing = _batch(p["ids"], lambda build_id: self.builds.find(_build_id(build_id)))
        return {"builds": found, "buildsNotFound": missing}

    def list_builds_for_project(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """By build number, newest first unless ``sortOrder`` is ASCENDING, 100 ids a page; the
        next pages keep the first's order, and a ``sortOrder`` given with a ``nextToken`` is
        refused, as CodeBuild refuses it (its reference: "If the project has more than 100
        builds, setting the sort order will result in an error",
        https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuildsForProject.html)."""
        name = p["projectName"]
        if self.projects.find(name) is None:
            raise ResourceNotFoundException(
                f"Project cannot be found: {ctx.arn('codebuild', 'project/' + name)}"
            )
        token = p.get("nextToken")
        if token and p.get("sortOrder"):
            raise InvalidInputException("Sort order can't be specified when passing a nextToken")
        reverse = listing.descending(token) if token else p.get("sortOrder") != "ASCENDING"
        builds, token = listing.page(
            self.builds.of_project(name), lambda d: [d["buildNumber"]], f"builds/{name}",
            reverse, token,
        )  # fmt: skip
        return _listed("ids", [d["id"] for d in builds], token)

    def list_builds(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """By start, newest first unless ``sortOrder`` is ASCENDING, 100 ids a page."""
        builds, token = listing.page(
            self.builds.all(), lambda d: [d["startTime"], d["id"]], "builds",
            p.get("sortOrder") != "ASCENDING", p.get("nextToken"),
        )  # fmt: skip
        return _listed("ids", [d["id"] for d in builds], token)

    def stop_build(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        build_id = _build_id(p["id"])
        doc = self.builds.find(build_id)
        if doc is None:
            raise ResourceNotFoundException(f"Build {p['id']} does not exist")
        if not doc["buildComplete"]:
            doc = self.builds.update(build_id, _stopping=True)
            self.supervisor.stop(build_id)
        return {"build": public(doc)}

    def resume(self) -> None:
        """End the builds a restart cut short (see :meth:`records.Builds.resume`)."""
        self.builds.resume()

    async def shutdown(self) -> None:
        await self.supervisor.shutdown()


def _logs_config(project: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    """The build's LogsConfig: StartBuild's ``logsConfigOverride`` in place of the project's."""
    override = p.get("logsConfigOverride")
    return projects.logs_config(override) if override else project["logsConfig"]


def _source(project: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    """The build's source: the project's, with the request's overrides; a CODEPIPELINE source
    only CodePipeline may start without an override."""
    source = dict(project["source"])
    if "sourceTypeOverride" in p:
        source["type"] = p["sourceTypeOverride"]
    if "sourceLocationOverride" in p:
        source["location"] = p["sourceLocationOverride"]
    if "buildspecOverride" in p:
        source["buildspec"] = p["buildspecOverride"]
    if source["type"] == "CODEPIPELINE":
        raise InvalidInputException(
            "Invalid input: a project with source type CODEPIPELINE builds the source AWS "
            "CodePipeline gives it; give sourceTypeOverride and sourceLocationOverride to start "
            "a build yourself"
        )
    projects.check_source(source)
    return source


def _batch(
    keys: list[str], find: Callable[[str], dict[str, Any] | None]
) -> tuple[list[dict[str, Any]], list[str]]:
    """A BatchGet's answer: the documents found (as the API shows them), the keys not found."""
    found, missing = [], []
    for key in keys:
        doc = find(key)
        if doc is None:
            missing.append(key)
        else:
            found.append(public(doc))
    return found, missing


def _name(name_or_arn: str) -> str:
    return name_or_arn.rpartition(":project/")[2] if ":project/" in name_or_arn else name_or_arn


def _build_id(id_or_arn: str) -> str:
    return id_or_arn.partition(":build/")[2] if ":build/" in id_or_arn else id_or_arn


def _listed(key: str, items: list[str], token: str | None) -> dict[str, Any]:
    """A List operation's answer: the page's items, and the next page's token if there is one."""
    return {key: items, "nextToken": token} if token else {key: items}

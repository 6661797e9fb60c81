"""AWS::CodeBuild::Project: a project of the local CodeBuild, made through its own API handlers
(``ctx.services["codebuild"]``), so a stack's project is checked as an API call's is.

The properties are the API's members in CloudFormation's spelling (``Source.BuildSpec`` is
``source.buildspec``, ``Environment.EnvironmentVariables`` is ``environment.environmentVariables``
...); Ref is the project's name, ``Arn`` its ARN; a new Name replaces the project, any other
change updates it in place
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-codebuild-project.html).
"""

from __future__ import annotations

from typing import Any

from cdlab import config
from cdlab.localcloud.cloudformation.resources.base import (
    Context,
    Handler,
    Resource,
    Started,
    generated_name,
    kit_call,
)

NAME_LIMIT = 150
SPELLINGS = {"BuildSpec": "buildspec"}  # where the API's member is not the camel-cased property


def api_members(value: Any) -> Any:
    """CloudFormation's properties as the API's members: ``ServiceRole`` -> ``serviceRole``."""
    if isinstance(value, list):
        return [api_members(v) for v in value]
    if isinstance(value, dict):
        return {SPELLINGS.get(k, k[:1].lower() + k[1:]): api_members(v) for k, v in value.items()}
    return value


def project_arn(name: str, region: str | None = None, account: str | None = None) -> str:
    region, account = region or config.region(), account or config.ACCOUNT_ID
    return f"arn:aws:codebuild:{region}:{account}:project/{name}"


class Project(Handler):
    type = "AWS::CodeBuild::Project"
    name_property = "Name"
    create_only = frozenset({"Name"})
    attributes = frozenset({"Arn"})

    def predict(self, props: dict[str, Any]) -> Resource | None:
        name = props.get("Name")
        return Resource(name, {"Arn": project_arn(name)}) if isinstance(name, str) else None

    async def _call(self, ctx: Context, operation: str, props: dict[str, Any]) -> None:
        await kit_call(ctx, "codebuild", operation, api_members(props))

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        name = props.get("Name") or generated_name(ctx, NAME_LIMIT)
        await self._call(ctx, "CreateProject", {**props, "Name": name})
        return Resource(name, {"Arn": project_arn(name, ctx.request.region, ctx.request.account)})

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        await self._call(ctx, "UpdateProject", {**new, "Name": current.physical_id})
        return current

    async def delete(self, ctx: Context, current: Resource) -> None:
        await self._call(ctx, "DeleteProject", {"Name": current.physical_id})

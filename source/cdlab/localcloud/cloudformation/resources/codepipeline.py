"""AWS::CodePipeline::Pipeline: the pipeline made, changed and deleted through the local
CodePipeline's own API handlers (Context.services), as the stack's principal, so CloudFormation
checks what the API checks
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codepipeline-pipeline.html).

The properties are the API's PipelineDeclaration in CloudFormation's spelling (``Stages``,
``ActionTypeId``, ``RunOrder`` ...); an action's ``Configuration`` values become strings, as the
API keeps them. Ref is the pipeline's name; GetAtt Version its version.
"""

from __future__ import annotations

from typing import Any

from cdlab.localcloud.cloudformation.resources.base import (
    Context,
    Handler,
    Resource,
    Started,
    generated_name,
    kit_call,
)

# properties that are CloudFormation's own, not members of the API's declaration
CFN_ONLY = ("RestartExecutionOnUpdate", "DisableInboundStageTransitions", "Tags")


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase keys as the API's camelCase, but inside Configuration."""
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        key[0].lower() + key[1:]: (
            {k: _text(v) for k, v in item.items()} if key == "Configuration" else _camel(item)
        )
        for key, item in value.items()
    }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def declaration(name: str, props: dict[str, Any]) -> dict[str, Any]:
    return _camel({k: v for k, v in props.items() if k not in CFN_ONLY} | {"Name": name})


def _resource(name: str, pipeline: dict[str, Any]) -> Resource:
    return Resource(name, {"Version": str(pipeline["version"])})


class Pipeline(Handler):
    type = "AWS::CodePipeline::Pipeline"
    name_property = "Name"
    create_only = frozenset({"Name"})
    attributes = frozenset({"Version"})

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        name = props.get("Name") or generated_name(ctx, 100, with_stack=True)
        params: dict[str, Any] = {"pipeline": declaration(name, props)}
        if props.get("Tags"):
            params["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in props["Tags"]]
        created = await kit_call(ctx, "codepipeline", "CreatePipeline", params)
        return _resource(name, created["pipeline"])

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        name = current.physical_id
        updated = await kit_call(
            ctx, "codepipeline", "UpdatePipeline", {"pipeline": declaration(name, new)}
        )
        return _resource(name, updated["pipeline"])

    async def delete(self, ctx: Context, current: Resource) -> None:
        await kit_call(ctx, "codepipeline", "DeletePipeline", {"name": current.physical_id})

"""CodePipeline's and CodeBuild's resources, as the Service Authorization Reference names them.

CodePipeline (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodepipeline.html):
a pipeline is ``arn:aws:codepipeline:REGION:ACCOUNT:PIPELINE``, a stage ``PIPELINE/STAGE`` and an
action ``PIPELINE/STAGE/ACTION``; PutApprovalResult acts on the approval action, the stage
transitions and RetryStageExecution on the stage, the other pipeline operations on the pipeline
(named by ``name`` in GetPipeline, DeletePipeline, GetPipelineState and
StartPipelineExecution, by ``pipelineName`` in the others); ListPipelines on ``*``.

CodeBuild (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodebuild.html):
a project is ``arn:aws:codebuild:REGION:ACCOUNT:project/NAME``; the build actions act on the
build's project, named in a build id ``PROJECT:UUID`` (or a build ARN).
"""

from __future__ import annotations

from cdlab.localcloud.iam.resources.builders import Builder, Params, Scope, given, members


def _pipeline_arn(scope: Scope, resource: str) -> str:
    return f"arn:aws:codepipeline:{scope.region}:{scope.account}:{resource}"


def _pipeline(member: str) -> Builder:
    return lambda params, scope: [_pipeline_arn(scope, n) for n in members(params, member)]


def _part(*names: str) -> Builder:
    """The stage (pipeline, stage) or the action (pipeline, stage, action) a request names."""

    def build(params: Params, scope: Scope) -> list[str]:
        parts = [members(params, name)[:1] for name in names]
        if not all(parts):
            return []
        return [_pipeline_arn(scope, "/".join(part[0] for part in parts))]

    return build


CODEPIPELINE: dict[str, Builder] = {
    **dict.fromkeys(
        ("GetPipeline", "DeletePipeline", "GetPipelineState", "StartPipelineExecution"),
        _pipeline("name"),
    ),
    "CreatePipeline": _pipeline("pipeline.name"),
    "UpdatePipeline": _pipeline("pipeline.name"),
    **dict.fromkeys(
        (
            "GetPipelineExecution",
            "ListPipelineExecutions",
            "ListActionExecutions",
            "StopPipelineExecution",
            "ListRuleExecutions",
            "OverrideStageCondition",
            "RollbackStage",
        ),
        _pipeline("pipelineName"),
    ),
    **dict.fromkeys(
        ("RetryStageExecution", "EnableStageTransition", "DisableStageTransition"),
        _part("pipelineName", "stageName"),
    ),
    "PutApprovalResult": _part("pipelineName", "stageName", "actionName"),
    **dict.fromkeys(("TagResource", "UntagResource", "ListTagsForResource"), given("resourceArn")),
}


def _project_arn(scope: Scope, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:codebuild:{scope.region}:{scope.account}:project/{name}"


def _project(member: str) -> Builder:
    return lambda params, scope: [_project_arn(scope, n) for n in members(params, member)]


def _build_project(build_id: str) -> str:
    """The project of a build id ``PROJECT:UUID``, or of a build ARN ``...:build/PROJECT:UUID``."""
    return build_id.rpartition(":build/")[2].rpartition(":")[0] if ":" in build_id else ""


def _builds(member: str) -> Builder:
    def build(params: Params, scope: Scope) -> list[str]:
        projects = [_build_project(build_id) for build_id in members(params, member)]
        return [_project_arn(scope, project) for project in projects if project]

    return build


CODEBUILD: dict[str, Builder] = {
    **dict.fromkeys(
        ("StartBuild", "ListBuildsForProject", "StartBuildBatch", "InvalidateProjectCache"),
        _project("projectName"),
    ),
    **dict.fromkeys(("CreateProject", "UpdateProject", "DeleteProject"), _project("name")),
    "BatchGetProjects": _project("names"),
    **dict.fromkeys(("BatchGetBuilds", "BatchDeleteBuilds"), _builds("ids")),
    **dict.fromkeys(("StopBuild", "RetryBuild"), _builds("id")),
}

"""pipeline.yml as data: its stages, actions and CodeBuild projects, resolved with local names.

The template is read by the local cloud's own loader and resolved by its own intrinsic
functions (parameters take their defaults). Only the Ref and Fn::GetAtt of the pipeline stack's
own resources are local: a bucket or role gets the name CloudFormation would generate (stack
name, logical id, a suffix), with the suffix derived from the stack name instead of drawn at
random, so every run of one pipeline stack uses the same data bucket and role.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cdlab import config
from cdlab.localcloud.cloudformation import template
from cdlab.localcloud.cloudformation.intrinsics import resolve
from cdlab.localcloud.codebuild.buildspec import BuildspecError
from cdlab.localcloud.protocols.errors import AWSError

DEFAULT_STACK = "cdlab"
STACK_NAME_PARAMETER = "PipelineName"  # the stack's name again, under the template's length limit
PIPELINE_TYPE = "AWS::CodePipeline::Pipeline"
PROJECT_TYPE = "AWS::CodeBuild::Project"


# The pipeline cannot run; the message says why. One class with the buildspec runner's errors,
# which the pipeline's builds raise.
PipelineError = BuildspecError


@dataclass(frozen=True)
class Action:
    stage: str
    name: str
    category: str  # Source, Build, Deploy, Test or Approval
    provider: str
    configuration: dict[str, Any]
    inputs: list[str]
    outputs: list[str]

    @property
    def key(self) -> str:
        """``<stage>-<action>``: the action's log file and working directory name."""
        return f"{self.stage}-{self.name}"


@dataclass(frozen=True)
class Project:
    name: str
    buildspec: dict[str, Any]
    environment: dict[str, str]
    service_role: str = ""  # the ARN of the role its builds run as
    log_group: str = ""  # the CloudWatch Logs group of its builds


@dataclass(frozen=True)
class Definition:
    stack: str
    stages: list[tuple[str, list[Action]]]
    projects: dict[str, Project]
    resources: dict[str, dict[str, Any]]  # logical id -> resolved resource (Type, Properties)
    physical: dict[str, str]  # logical id -> local physical name, for the resources used
    pipeline_role: str = ""  # the ARN of the role the pipeline's own calls are made as
    artifact_store: str = ""  # the bucket of the pipeline's artifacts

    def ref(self, logical_id: str) -> str:
        return self.physical[logical_id]


def _suffix(stack: str, logical_id: str) -> str:
    seed = f"{config.ACCOUNT_ID}:{config.region()}:{stack}:{logical_id}"
    return hashlib.sha256(seed.encode()).hexdigest()[:12]


class _LocalNames:
    """The Ref and Fn::GetAtt callbacks of a template scope, naming resources locally."""

    def __init__(self, stack: str, resources: dict[str, Any], scope: template.Scope) -> None:
        self.stack, self.resources, self.scope = stack, resources, scope
        self.physical: dict[str, str] = {}

    def ref(self, logical_id: str) -> str:
        if logical_id not in self.physical:
            self.physical[logical_id] = self._name(logical_id)
        return self.physical[logical_id]

    def _name(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        properties = self.resources[logical_id].get("Properties", {})
        suffix = _suffix(self.stack, logical_id)
        if kind == "AWS::S3::Bucket":
            return f"{self.stack}-{logical_id}-{suffix}".lower()
        if kind == "AWS::IAM::Role":
            return f"{self.stack}-{logical_id}-{suffix.upper()}"[:64]
        if kind == "AWS::Glue::Database":
            return resolve(properties["DatabaseInput"]["Name"], self.scope)
        if kind in (PROJECT_TYPE, PIPELINE_TYPE):
            return resolve(properties["Name"], self.scope)
        raise PipelineError(f"resource {logical_id} ({kind}) has no local stand-in")

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind, name = self.resources[logical_id]["Type"], self.ref(logical_id)
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{config.ACCOUNT_ID}:role/{name}",
            PROJECT_TYPE: f"arn:aws:codebuild:{config.region()}:{config.ACCOUNT_ID}:project/{name}",
        }
        if attribute != "Arn" or kind not in arns:
            raise PipelineError(f"{logical_id}.{attribute} ({kind}) has no local stand-in")
        return arns[kind]


def _project(properties: dict[str, Any]) -> Project:
    variables = properties.get("Environment", {}).get("EnvironmentVariables", [])
    plain = [v for v in variables if v.get("Type", "PLAINTEXT") == "PLAINTEXT"]
    if len(plain) != len(variables):
        raise PipelineError(
            f"project {properties['Name']}: only PLAINTEXT environment variables run locally"
        )
    return Project(
        name=properties["Name"],
        buildspec=yaml.safe_load(properties["Source"]["BuildSpec"]),
        environment={v["Name"]: str(v["Value"]) for v in plain},
        service_role=properties.get("ServiceRole", ""),
        log_group=properties.get("LogsConfig", {}).get("CloudWatchLogs", {}).get("GroupName")
        or f"/aws/codebuild/{properties['Name']}",
    )


def _run_locally(properties: dict[str, Any]) -> dict[str, Any]:
    """The properties of a CodeBuild project that run locally."""
    keys = ("Name", "Source", "Environment", "ServiceRole", "LogsConfig")
    return {key: properties[key] for key in keys if key in properties}


def _action(stage: str, action: dict[str, Any]) -> Action:
    kind = action["ActionTypeId"]
    return Action(
        stage=stage,
        name=action["Name"],
        category=kind["Category"],
        provider=kind["Provider"],
        configuration=action.get("Configuration", {}),
        inputs=[a["Name"] for a in action.get("InputArtifacts", [])],
        outputs=[a["Name"] for a in action.get("OutputArtifacts", [])],
    )


def load(path: Path, stack: str) -> Definition:
    """Read pipeline.yml and resolve its pipeline and CodeBuild projects for pipeline ``stack``.

    The stack name goes in as the template's PipelineName parameter, as the deploy command passes
    it, so the template's own constraint refuses a name too long for SageMaker's names."""
    try:
        parsed = template.load(path.read_text())
        given = [{"ParameterKey": STACK_NAME_PARAMETER, "ParameterValue": stack}]
        values = template.parameter_values(parsed.get("Parameters") or {}, given, None)
        stack_id = f"arn:aws:cloudformation:{config.region()}:{config.ACCOUNT_ID}:stack/{stack}/x"
        scope = template.evaluate(parsed, values, stack, stack_id).scope
    except AWSError as e:
        raise PipelineError(f"{path}: {e.message}") from None
    resources = parsed["Resources"]
    names = _LocalNames(stack, resources, scope)
    scope.ref, scope.get_att = names.ref, names.get_att

    def of_type(kind: str) -> list[dict[str, Any]]:
        return [r.get("Properties", {}) for r in resources.values() if r["Type"] == kind]

    projects = [_project(resolve(_run_locally(p), scope)) for p in of_type(PROJECT_TYPE)]
    pipelines = of_type(PIPELINE_TYPE)
    if len(pipelines) != 1:
        raise PipelineError(f"{path} must declare exactly one {PIPELINE_TYPE}")
    pipeline_role = resolve(pipelines[0].get("RoleArn", ""), scope)
    artifact_store = resolve(pipelines[0].get("ArtifactStore", {}).get("Location", ""), scope)
    roles = [i for i, r in resources.items() if r["Type"] == "AWS::IAM::Role"]
    for logical_id in roles:  # every role, and what its policies name, exists locally
        names.ref(logical_id)
        resolve(resources[logical_id].get("Properties", {}), scope)
    used = dict(names.physical)  # the buildspecs' and the roles' resources
    stages = [
        (stage["Name"], [_action(stage["Name"], a) for a in stage["Actions"]])
        for stage in resolve(pipelines[0]["Stages"], scope)
    ]
    # and the roles the actions pass (a deploy action's RoleArn: CloudFormation assumes it)
    used |= {k: v for k, v in names.physical.items() if resources[k]["Type"] == "AWS::IAM::Role"}
    return Definition(
        stack=stack,
        stages=stages,
        projects={p.name: p for p in projects},
        resources={
            logical_id: {
                "Type": resources[logical_id]["Type"],
                "Properties": resolve(resources[logical_id].get("Properties", {}), scope),
            }
            for logical_id in used
            if resources[logical_id]["Type"] not in (PIPELINE_TYPE, PROJECT_TYPE)
        },
        physical=dict(names.physical),
        pipeline_role=pipeline_role,
        artifact_store=artifact_store,
    )

"""Each stage of the local pipeline acts as its pipeline.yml role, and every statement of those
roles is needed: without it, the stage that uses it fails with AccessDenied naming its action.

After one full run, each mutation removes one statement from its role (PutRolePolicy, as an edit
of pipeline.yml would), runs the one action that uses it alone on that run's artifacts, checks
the refusal, and puts the role's policy back. Statements the local pipeline cannot use yet are
listed in NOT_EXERCISED with the reason; a statement in neither table fails the suite.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdlab.localcloud.cloudformation import template
from cdlab.localcloud.codebuild import buildspec as codebuild
from cdlab.pipeline import definition, roles, runner, source
from cdlab.pipeline.definition import Definition, PipelineError
from cdlab.steps import prepare
from tests.integration.scaled import ScaledCloud
from tests.integration.test_pipeline import REPO, committed_copy, logs_dir, pipeline, pointed_cloud

# action -> how its refusal reads when the request is a HEAD, whose answer carries no message
WORDLESS = {
    "s3:ListBucket": "An error occurred (403) when calling the HeadBucket operation: Forbidden"
}
STAGE_ROLES = ("CodeBuildRole", "TestCodeBuildRole", "CodePipelineRole", "CloudFormationRole")

# (role, Sid) -> the stage whose one action fails without the statement
EXERCISED = {
    ("CodePipelineRole", "SourceBucket"): "Source",
    ("CodePipelineRole", "SourceArchive"): "Source",
    ("CodeBuildRole", "BuildLogs"): "Build",
    ("CodeBuildRole", "PipelineArtifacts"): "Build",
    ("CodeBuildRole", "DataObjects"): "Build",
    ("CodeBuildRole", "Buckets"): "Build",
    ("CodeBuildRole", "GlueCatalog"): "Build",
    ("CodeBuildRole", "Training"): "Build",
    ("CodeBuildRole", "PassSagemakerRole"): "Build",
    ("TestCodeBuildRole", "TestLogs"): "TestQA",
    ("TestCodeBuildRole", "ArtifactBucket"): "TestQA",
    ("TestCodeBuildRole", "PipelineArtifacts"): "TestQA",
    ("TestCodeBuildRole", "HeldOutChannel"): "TestQA",  # issue 13's second bug
    ("TestCodeBuildRole", "InvokeQAEndpoint"): "TestQA",
    ("CodePipelineRole", "ArtifactBucket"): "DeployQA",
    ("CodePipelineRole", "Artifacts"): "DeployQA",
    ("CodePipelineRole", "ValidateTemplates"): "DeployQA",
    ("CodePipelineRole", "EndpointStacks"): "DeployQA",
    ("CodePipelineRole", "PassCloudFormationRole"): "DeployQA",
    # the stack's resources, made as the stack's RoleARN: a fresh stack, so each is created
    ("CloudFormationRole", "SageMakerHosting"): "DeployQA",
    ("CloudFormationRole", "PassSagemakerRole"): "DeployQA",
    ("CloudFormationRole", "RollbackAlarm"): "DeployProd",
}
NOT_EXERCISED = {
    ("CodePipelineRole", "Builds"): "the local cloud serves no CodeBuild API: the runner is "
    "CodeBuild, so nothing calls codebuild:StartBuild",
}


def stage_role_statements() -> dict[tuple[str, str], dict[str, Any]]:
    """(role, Sid) -> statement, for every statement of the stage roles in pipeline.yml."""
    resources = template.load((REPO / "cloudformation" / "pipeline.yml").read_text())["Resources"]
    statements = {}
    for role in STAGE_ROLES:
        for policy in resources[role]["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                statements[(role, statement.get("Sid", "(no Sid)"))] = statement
    return statements


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


@dataclass
class Stages:
    """A pipeline run that succeeded, and what running one of its actions again needs."""

    cloud: ScaledCloud
    clone: Path
    first: Path  # the full run's directory
    definition: Definition
    runs: Path
    numbers: Iterator[int]

    def role_name(self, role: str) -> str:
        return self.definition.ref(role)

    def delete_stack(self, name: str) -> None:
        cfn = self.cloud.client("cloudformation")
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig={"Delay": 1})

    def alone(self, stage: str, fresh_stack: bool = False) -> str:
        """Run ``stage``'s one action on the full run's artifacts; what it failed with, or "".
        With ``fresh_stack``, a deploy action's stack is deleted first, so that it creates every
        resource again (an update of an unchanged stack creates nothing)."""
        directory = self.runs / f"run-{next(self.numbers)}"
        codebuild.write_shims(directory / "bin")
        run = runner.Run(directory, self.clone, runner.Options(self.clone), self.cloud.env)
        run.revision = source.Revision(source.head(self.clone), "run alone", [])
        run.definition = self.definition
        run.artifacts = json.loads((self.first / "artifacts.json").read_text())
        shutil.copytree(self.first / "source", directory / "source")  # what Source uploads
        [action] = dict(self.definition.stages)[stage]
        if fresh_stack:
            self.delete_stack(action.configuration["StackName"])
        handler = runner.HANDLERS[(action.category, action.provider)]
        path = directory / f"{action.key}.log"
        with path.open("w") as log:
            try:
                handler(run, action, log)
            except (PipelineError, ClientError) as e:
                return f"{e}\n{path.read_text()}"
        return ""


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stages]:
    clone = committed_copy(tmp_path_factory.mktemp("clone"))
    for cloud in pointed_cloud(tmp_path_factory):
        first = pipeline(clone, cloud, "--approve")
        assert first.returncode == 0, first.stdout + first.stderr
        loaded = definition.load(clone / "cloudformation" / "pipeline.yml", "cdlab")
        yield Stages(
            cloud, clone, logs_dir(first.stdout), loaded, tmp_path_factory.mktemp("runs"), count()
        )


def test_every_statement_of_a_stage_role_is_exercised_or_its_reason_is_given() -> None:
    statements = stage_role_statements()
    assert not set(EXERCISED) & set(NOT_EXERCISED)
    assert sorted(statements) == sorted({**EXERCISED, **NOT_EXERCISED})


@pytest.mark.slow
@pytest.mark.iam_mutations
@pytest.mark.parametrize(
    "role, sid", sorted(EXERCISED), ids=[".".join(k) for k in sorted(EXERCISED)]
)
def test_without_a_statement_its_stage_fails_with_access_denied_naming_its_action(
    stages: Stages, role: str, sid: str
) -> None:
    iam = stages.cloud.client("iam")
    name = stages.role_name(role)
    [policy] = iam.list_role_policies(RoleName=name)["PolicyNames"]
    whole = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
    kept = [s for s in whole["Statement"] if s.get("Sid") != sid]
    assert len(kept) == len(whole["Statement"]) - 1
    iam.put_role_policy(
        RoleName=name, PolicyName=policy, PolicyDocument=json.dumps({**whole, "Statement": kept})
    )
    fresh_stack = role == "CloudFormationRole"
    try:
        failure = stages.alone(EXERCISED[(role, sid)], fresh_stack)
    finally:
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(whole))
    if fresh_stack:  # the stack rolled back: made again for the statements tested after this one
        assert stages.alone(EXERCISED[(role, sid)], fresh_stack=True) == ""
    missing = actions(stage_role_statements()[(role, sid)])
    assert any(refused(failure, name, action) for action in missing), failure


def refused(failure: str, role_name: str, action: str) -> bool:
    """Whether ``failure`` is the role's session refused ``action``, in AWS's words; a HEAD
    request's refusal has no body, so it names its operation and status only."""
    if action in WORDLESS and WORDLESS[action] in failure:
        return True
    return "AccessDenied" in failure and (
        f":assumed-role/{role_name}/" in failure
        and f"not authorized to perform: {action} " in failure
    )


@pytest.mark.slow
def test_with_every_statement_each_stage_run_alone_succeeds(stages: Stages) -> None:
    for stage in ("Source", "Build", "DeployQA", "TestQA"):
        assert stages.alone(stage) == "", stage


@pytest.mark.slow
def test_the_build_role_may_not_create_the_glue_database_so_predata_only_reads_it(
    stages: Stages,
) -> None:
    """Issue 13's first bug: predata.py created the database the stack owns, and the build
    role has no glue:CreateDatabase."""
    project = stages.definition.projects["cdlab-build"]
    glue = roles.assume(project.service_role, roles.CODEBUILD).session().client("glue")
    database = stages.definition.ref("GlueCatalogDatabase")
    with pytest.raises(ClientError) as refused:
        glue.create_database(DatabaseInput={"Name": database})
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "is not authorized to perform: glue:CreateDatabase on resource: " in error["Message"]
    prepare.ensure_database(glue, database)  # the database exists: GetDatabase is enough


@pytest.mark.slow
def test_a_build_runs_as_its_project_role_and_logs_to_cloudwatch(stages: Stages) -> None:
    build = (stages.first / "Build-PrepareDataAndTrain.log").read_text()
    role = stages.definition.projects["cdlab-build"].service_role
    assert f"running as {role}, logging to /aws/codebuild/cdlab-build" in build
    logs = stages.cloud.client("logs")
    group = "/aws/codebuild/cdlab-test"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    messages = [
        event["message"]
        for stream in streams
        for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])[
            "events"
        ]
    ]
    assert any(message.startswith("Match Rate: ") for message in messages)


@pytest.mark.slow
def test_a_role_that_does_not_trust_codebuild_stops_the_stage(stages: Stages) -> None:
    iam = stages.cloud.client("iam")
    name = stages.role_name("TestCodeBuildRole")
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    untrusting = json.loads(json.dumps(trust).replace(roles.CODEBUILD, "sagemaker.amazonaws.com"))
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(untrusting))
    try:
        failure = stages.alone("TestQA")
    finally:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    role_arn = stages.definition.projects["cdlab-test"].service_role
    assert f"CodeBuild is not authorized to perform: sts:AssumeRole on {role_arn}" in failure

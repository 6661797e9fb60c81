"""Each stage of the pipeline acts as its pipeline.yml role in the local cloud's CodePipeline and
CodeBuild, and the training job and the endpoints' models act as SagemakerRole, their execution
role, in its SageMaker. Every statement of those roles is needed: without it, the stage that uses
it fails with AccessDenied naming its action, or the statement is listed in NOT_EXERCISED with the
reason the local cloud never asks for it.

After one full run (``cdlab pipeline run --approve``), each mutation removes one statement from
its role (PutRolePolicy, as an edit of pipeline.yml would), starts a new execution
(StartPipelineExecution, on the same source version), follows it through the CodePipeline API
until it ends, checks that the expected stage failed and that its error details or its build's
log name the refused action and the role (or, where SageMaker words the failure without them,
read as SageMaker words it: IN_SAGEMAKERS_WORDS), and puts the role's policy back. A statement
in no table fails the suite.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cdlab.localcloud.cloudformation import template
from cdlab.pipeline import approval, execution, roles
from cdlab.pipeline.execution import Followed
from cdlab.steps import prepare
from tests.integration.scaled import ScaledCloud
from tests.integration.test_pipeline import REPO, committed_copy, pipeline, pointed_cloud

STACK = "cdlab"
# action -> how its refusal reads when the request is a HEAD, whose answer carries no message
WORDLESS = {
    "s3:ListBucket": "An error occurred (403) when calling the HeadBucket operation: Forbidden"
}
PIPELINE_ROLES = (
    "CodeBuildRole",
    "TestCodeBuildRole",
    "CodePipelineRole",
    "CloudFormationRole",
    "SagemakerRole",
)

# (role, Sid) -> the stage whose one action fails without the statement
EXERCISED = {
    ("CodePipelineRole", "SourceArchive"): "Source",
    ("CodePipelineRole", "Builds"): "Build",  # the engine's codebuild:StartBuild
    ("CodeBuildRole", "BuildLogs"): "Build",
    ("CodeBuildRole", "PipelineArtifacts"): "Build",
    ("CodeBuildRole", "DataObjects"): "Build",
    ("CodeBuildRole", "Buckets"): "Build",
    ("CodeBuildRole", "GlueCatalog"): "Build",
    ("CodeBuildRole", "Training"): "Build",
    ("CodeBuildRole", "PassSagemakerRole"): "Build",
    ("TestCodeBuildRole", "TestLogs"): "TestQA",
    ("TestCodeBuildRole", "PipelineArtifacts"): "TestQA",
    ("TestCodeBuildRole", "HeldOutChannel"): "TestQA",  # issue 13's second bug
    ("TestCodeBuildRole", "InvokeQAEndpoint"): "TestQA",
    ("CodePipelineRole", "Artifacts"): "Source",
    ("CodePipelineRole", "ValidateTemplates"): "DeployQA",
    ("CodePipelineRole", "EndpointStacks"): "DeployQA",
    ("CodePipelineRole", "PassCloudFormationRole"): "DeployQA",
    # the stack's resources, made as the stack's RoleARN: a fresh stack, so each is created
    ("CloudFormationRole", "SageMakerHosting"): "DeployQA",
    ("CloudFormationRole", "PassSagemakerRole"): "DeployQA",
    ("CloudFormationRole", "RollbackAlarm"): "DeployProd",
    # bucket-level reads: the S3 source's versioning, the buckets' region (GetBucketLocation)
    ("CodePipelineRole", "SourceBucket"): "Source",
    ("CodePipelineRole", "ArtifactBucket"): "Source",
    ("TestCodeBuildRole", "ArtifactBucket"): "TestQA",
    # the execution role, as SageMaker uses it. The training job (train.py, in Build) lists its
    # channels as the role (CreateTrainingJob refuses a channel the role cannot list) and reads
    # them: both fail Build, before any endpoint fetches its model with the same statement.
    ("SagemakerRole", "DataBucketListing"): "Build",
    ("SagemakerRole", "DataBucketObjects"): "Build",
    # read as the role by a blue/green UpdateEndpoint with AutoRollbackConfiguration: the prod
    # endpoint of the run before is updated (a CreateEndpoint does not check it)
    ("SagemakerRole", "RollbackAlarm"): "DeployProd",
}
# (role, Sid) -> why the local cloud never asks for the statement
NOT_EXERCISED = {
    ("SagemakerRole", "Logs"): "the local SageMaker writes the training and endpoint logs itself, "
    "not as the execution role: no logs: call is evaluated",
    ("SagemakerRole", "Metrics"): "the local SageMaker publishes its metrics itself, not as the "
    "execution role: no cloudwatch:PutMetricData is evaluated",
    ("SagemakerRole", "ImagePull"): "the local SageMaker runs the built-in algorithm from its own "
    "code: no ECR call is made, as the execution role or otherwise",
}
# (role, Sid) of EXERCISED -> how its stage's failure reads when SageMaker words it: a training
# job that may not read its channel fails quoting S3's refusal, which names neither the action
# nor the role (AWS's S3 adds them only to the 403's own message)
IN_SAGEMAKERS_WORDS = {
    ("SagemakerRole", "DataBucketObjects"): (
        "Data download failed:Unable to download object s3://",
        "(AccessDenied: Access Denied)",
    ),
}
DEPLOYED = {"DeployQA": f"{STACK}-deploy-qa", "DeployProd": f"{STACK}-deploy-prod"}


def pipeline_role_statements() -> dict[tuple[str, str], dict[str, Any]]:
    """(role, Sid) -> statement, for every statement of the roles in pipeline.yml."""
    resources = template.load((REPO / "cloudformation" / "pipeline.yml").read_text())["Resources"]
    statements = {}
    for role in PIPELINE_ROLES:
        for policy in resources[role]["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                statements[(role, statement.get("Sid", "(no Sid)"))] = statement
    return statements


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


@dataclass
class Stages:
    """The pipeline stack after a run that succeeded, and new executions of it."""

    cloud: ScaledCloud
    first: Path  # the full run's directory
    runs: Path
    numbers: Iterator[int]

    def role_name(self, role: str) -> str:
        resource = self.cloud.client("cloudformation").describe_stack_resource(
            StackName=STACK, LogicalResourceId=role
        )["StackResourceDetail"]
        return str(resource["PhysicalResourceId"])

    def role_arn(self, role: str) -> str:
        return str(self.cloud.client("iam").get_role(RoleName=self.role_name(role))["Role"]["Arn"])

    def delete_stack(self, name: str) -> None:
        cfn = self.cloud.client("cloudformation")
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig={"Delay": 1})

    def again(self, fresh_stack: str = "") -> tuple[str, str]:
        """A new execution, approved as it comes, followed to its end: the stage that failed
        ("" when it succeeded) and what it failed with. With ``fresh_stack``, that deploy
        stack is deleted first, so that it creates every resource again."""
        if fresh_stack:
            self.delete_stack(fresh_stack)
        found = boto3.client("codepipeline").start_pipeline_execution(name=STACK)
        directory = self.runs / f"run-{next(self.numbers)}"
        directory.mkdir()
        follower = execution.Follower(
            Followed(STACK, found["pipelineExecutionId"]), directory, io.StringIO()
        )
        followed = follower.until_settled(
            lambda waiting: approval.answer(waiting, True, "the mutation harness") or True
        )
        failed = followed.failed_action()
        if failed is None:
            assert followed.status == "Succeeded", followed.status
            return "", ""
        label = f"{failed['stageName']}/{failed['actionName']}"
        return failed["stageName"], followed.logs[label].read_text()


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stages]:
    clone = committed_copy(tmp_path_factory.mktemp("clone"))
    for cloud in pointed_cloud(tmp_path_factory):
        first = pipeline(clone, cloud, "--approve")
        assert first.returncode == 0, first.stdout + first.stderr
        directory = Path(first.stdout.split("  logs        ")[1].split()[0])
        yield Stages(cloud, directory, tmp_path_factory.mktemp("runs"), count())


@contextmanager
def without_statement(stages: Stages, role: str, sid: str) -> Iterator[None]:
    """The role's policy without its statement ``sid`` (PutRolePolicy, as an edit of pipeline.yml
    would) for the block, then as it was."""
    iam = stages.cloud.client("iam")
    name = stages.role_name(role)
    [policy] = iam.list_role_policies(RoleName=name)["PolicyNames"]
    whole = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
    kept = [s for s in whole["Statement"] if s.get("Sid") != sid]
    assert len(kept) == len(whole["Statement"]) - 1
    iam.put_role_policy(
        RoleName=name, PolicyName=policy, PolicyDocument=json.dumps({**whole, "Statement": kept})
    )
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(whole))


def test_every_statement_of_a_pipeline_role_is_exercised_or_its_reason_is_given() -> None:
    statements = pipeline_role_statements()
    assert not set(EXERCISED) & set(NOT_EXERCISED)
    assert set(IN_SAGEMAKERS_WORDS) <= set(EXERCISED)
    assert sorted(statements) == sorted({**EXERCISED, **NOT_EXERCISED})


@pytest.mark.slow
@pytest.mark.iam_mutations
@pytest.mark.parametrize(
    "role, sid", sorted(EXERCISED), ids=[".".join(k) for k in sorted(EXERCISED)]
)
def test_without_a_statement_its_stage_fails_with_access_denied_naming_its_action(
    stages: Stages, role: str, sid: str
) -> None:
    stage = EXERCISED[(role, sid)]
    fresh_stack = DEPLOYED[stage] if role == "CloudFormationRole" else ""
    with without_statement(stages, role, sid):
        failed, failure = stages.again(fresh_stack)
    if fresh_stack:  # the stack rolled back: made again for the statements tested after this one
        assert stages.again(fresh_stack) == ("", "")
    assert failed == stage, failure
    if (role, sid) in IN_SAGEMAKERS_WORDS:
        assert all(words in failure for words in IN_SAGEMAKERS_WORDS[(role, sid)]), failure
        return
    missing = actions(pipeline_role_statements()[(role, sid)])
    assert any(refused(failure, stages.role_name(role), action) for action in missing), failure


@pytest.mark.slow
def test_a_qa_stack_whose_creation_failed_is_replaced_by_the_next_run(stages: Stages) -> None:
    """The workshop's stuck participant: the QA stack's first creation fails (here its role may
    not create the model), which leaves it ROLLBACK_COMPLETE, a state UpdateStack refuses.
    DeployQA's REPLACE_ON_FAILURE deletes it and creates it again on the next run, as the
    pipeline's roles, without anyone deleting it by hand."""
    cfn, qa = stages.cloud.client("cloudformation"), DEPLOYED["DeployQA"]
    with without_statement(stages, "CloudFormationRole", "SageMakerHosting"):
        failed_stage, failure = stages.again(fresh_stack=qa)
    assert failed_stage == "DeployQA", failure
    [failed] = cfn.describe_stacks(StackName=qa)["Stacks"]
    assert failed["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stages.again() == ("", "")
    [replaced] = cfn.describe_stacks(StackName=qa)["Stacks"]
    assert replaced["StackStatus"] == "CREATE_COMPLETE"
    assert replaced["StackId"] != failed["StackId"]
    state = boto3.client("codepipeline").get_pipeline_state(name=STACK)["stageStates"]
    [deploy_qa] = [s for s in state if s["stageName"] == "DeployQA"]
    assert deploy_qa["actionStates"][0]["latestExecution"]["summary"] == f"Stack {qa} replaced"


def refused(failure: str, role_name: str, action: str) -> bool:
    """Whether ``failure`` is the role's session refused ``action``, in AWS's words; a HEAD
    request's refusal has no body, so it names its operation and status only. SageMaker's
    CreateTrainingJob, refused the listing of a channel by the job's role, names the role's ARN
    and the permission it needs ('... the role "arn:...:role/NAME" has "s3:ListBucket"
    permissions on bucket ...')."""
    if action in WORDLESS and WORDLESS[action] in failure:
        return True
    if f':role/{role_name}" has "{action}" permissions' in failure:
        return True
    return (
        f":assumed-role/{role_name}/" in failure
        and f"not authorized to perform: {action} " in failure
    )


@pytest.mark.slow
def test_the_build_role_may_not_create_the_glue_database_so_predata_only_reads_it(
    stages: Stages,
) -> None:
    """Issue 13's first bug: predata.py created the database the stack owns, and the build
    role has no glue:CreateDatabase."""
    role = stages.role_arn("CodeBuildRole")
    glue = roles.assume(role, roles.CODEBUILD).session().client("glue")
    database = stages.role_name("GlueCatalogDatabase")
    with pytest.raises(ClientError) as refused:
        glue.create_database(DatabaseInput={"Name": database})
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "is not authorized to perform: glue:CreateDatabase on resource: " in error["Message"]
    prepare.ensure_database(glue, database)  # the database exists: GetDatabase is enough


@pytest.mark.slow
def test_a_build_runs_as_its_project_role_and_logs_to_cloudwatch(stages: Stages) -> None:
    build = (stages.first / "Build-PrepareDataAndTrain.log").read_text()
    assert f"log: /aws/codebuild/{STACK}-build " in build
    codebuild = stages.cloud.client("codebuild")
    first_run = codebuild.list_builds_for_project(
        projectName=f"{STACK}-test", sortOrder="ASCENDING"
    )  # the first run's build: the mutation tests, when run before, add failed ones
    [listed] = first_run["ids"][:1]
    [described] = codebuild.batch_get_builds(ids=[listed])["builds"]
    assert described["serviceRole"] == stages.role_arn("TestCodeBuildRole")
    logs = stages.cloud.client("logs")
    where = described["logs"]
    events = logs.get_log_events(
        logGroupName=where["groupName"], logStreamName=where["streamName"], startFromHead=True
    )["events"]
    assert any(event["message"].startswith("Match Rate: ") for event in events)


@pytest.mark.slow
def test_a_role_that_does_not_trust_codebuild_stops_the_stage(stages: Stages) -> None:
    iam = stages.cloud.client("iam")
    name = stages.role_name("TestCodeBuildRole")
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    untrusting = json.loads(json.dumps(trust).replace(roles.CODEBUILD, "sagemaker.amazonaws.com"))
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(untrusting))
    try:
        failed, failure = stages.again()
    finally:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    assert failed == "TestQA", failure
    role_arn = stages.role_arn("TestCodeBuildRole")
    assert f"CodeBuild is not authorized to perform: sts:AssumeRole on {role_arn}" in failure

"""cloudformation/participant.yml: a valid template whose policy allows what the notebooks and
Lab 3 do and refuses the rest, as the kit's evaluator (AWS's evaluation logic) decides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from cdlab.localcloud import participant
from cdlab.localcloud.iam.policy import Request, compile_policy, evaluate
from cdlab.localcloud.iam.requests import authorization
from cdlab.localcloud.moto import policysizes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "cloudformation" / "participant.yml"
ACCOUNT, REGION = "123456789012", "us-east-1"
USER = f"arn:aws:iam::{ACCOUNT}:user/cdlab-participant"
NOTEBOOKS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cdlab-notebooks"
AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
SERVICE_LINKED_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{AUTOSCALING_SERVICE}/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)
MODEL = {"ModelName": "cdlab-nb03-model1", "PrimaryContainer": {"Image": "fm"}}
JOB = {"TrainingJobName": "cdlab-nb02-20261205", "RoleArn": NOTEBOOKS_ROLE}


@pytest.fixture(scope="module")
def compiled():
    return [
        compile_policy(document) for _, document in participant.policies(TEMPLATE, REGION, ACCOUNT)
    ]


def allowed(compiled, service: str, operation: str, params: dict[str, Any]) -> bool:
    """Whether the participant, holding every policy of the template, may make the call: its
    action and every further check (iam:PassRole ...)."""
    asked = authorization(service, operation, params, REGION, ACCOUNT)
    return all(
        evaluate(compiled, Request(USER, c.action, c.resources, c.context)).allowed
        for c in asked.all_checks
    )


def test_the_template_is_valid() -> None:
    assert lint_file(TEMPLATE, ManualArgs(regions=[REGION])) == []
    names = [name for name, _ in participant.policies(TEMPLATE, REGION, ACCOUNT)]
    assert names == ["cdlab-participant", "cdlab-participant-lab"]


def test_each_policy_fits_iams_quota() -> None:
    """A managed policy holds at most 6,144 characters but whitespace, once CloudFormation has
    resolved it (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html):
    one policy of everything was 7,129 and IAM refused it."""
    for name, document in participant.policies(TEMPLATE, REGION, ACCOUNT):
        assert policysizes.size(json.dumps(document)) <= policysizes.MANAGED_POLICY_CHARACTERS, name


NEEDED = [
    ("s3", "PutObject", {"Bucket": "cdlab-notebooks", "Key": "cdlab-nb01/train/train.protobuf"}),
    ("s3", "ListObjectVersions", {"Bucket": "cdlab-notebooks"}),
    ("s3", "ListBuckets", {}),
    ("sagemaker", "CreateModel", {**MODEL, "ExecutionRoleArn": NOTEBOOKS_ROLE}),
    ("sagemaker", "CreateTrainingJob", JOB),
    ("sagemaker-runtime", "InvokeEndpoint", {"EndpointName": "cdlab-nb03-my-endpoint"}),
    ("sagemaker", "DescribeEndpoint", {"EndpointName": "prod-cdlab-lab3"}),
    ("sagemaker", "ListEndpoints", {}),
    ("cloudformation", "CreateStack", {"StackName": "cdlab-nb00-qa"}),
    ("application-autoscaling", "PutScalingPolicy", {"ServiceNamespace": "sagemaker"}),
    ("monitoring", "PutMetricAlarm", {"AlarmName": "cdlab-nb07-5xx"}),
    ("monitoring", "PutMetricData", {"Namespace": "CDLab/Notebooks"}),
    ("logs", "GetLogEvents", {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": "s"}),
    ("glue", "DeleteDatabase", {"Name": "cdlab_notebooks"}),
    # predata's prepare updates the ratings table when it exists already
    ("glue", "UpdateTable", {"DatabaseName": "cdlab_notebooks", "TableInput": {"Name": "ratings"}}),
    ("iam", "GetRole", {"RoleName": "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"}),
    ("iam", "PutRolePolicy", {"RoleName": "cdlab-lab3-CodeBuildRole-ABC", "PolicyName": "p"}),
    # CloudFormation's AWS::Events::Rule handler reads a rule's targets when it creates and
    # deletes one (the handler schema's read and delete permissions)
    ("events", "ListTargetsByRule", {"Rule": "cdlab-lab3-SourceEventRule-ABC"}),
]  # fmt: skip


@pytest.mark.parametrize(("service", "operation", "params"), NEEDED, ids=lambda v: str(v)[:40])
def test_what_the_notebooks_and_lab_3_do_is_allowed(compiled, service, operation, params) -> None:
    assert allowed(compiled, service, operation, params)


REFUSED = [
    ("iam", "CreateUser", {"UserName": "cdlab-someone"}),
    ("iam", "PutRolePolicy", {"RoleName": "workshop-admin", "PolicyName": "p"}),
    ("sagemaker", "CreateModel", {**MODEL, "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/x"}),
    ("sagemaker", "DeleteEndpoint", {"EndpointName": "someone-elses-endpoint"}),
    ("s3", "GetObject", {"Bucket": "workshop-secrets", "Key": "k"}),
    ("glue", "DeleteDatabase", {"Name": "finance"}),
    ("ec2", "RunInstances", {}),
]  # fmt: skip


@pytest.mark.parametrize(("service", "operation", "params"), REFUSED, ids=lambda v: str(v)[:40])
def test_the_rest_is_refused(compiled, service, operation, params) -> None:
    assert not allowed(compiled, service, operation, params)


def test_the_notebooks_role_is_passed_to_sagemaker_only(compiled) -> None:
    def pass_to(service: str) -> bool:
        context = {"iam:PassedToService": service}
        return evaluate(compiled, Request(USER, "iam:PassRole", (NOTEBOOKS_ROLE,), context)).allowed

    assert pass_to("sagemaker.amazonaws.com")
    assert not pass_to("ec2.amazonaws.com")


def test_a_role_with_a_path_is_passed_when_the_stack_names_the_path() -> None:
    """A role's ARN holds its path (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html):
    the SageMaker console's execution roles are under /service-role/."""
    name = "AmazonSageMaker-ExecutionRole-20261207T000000"
    role = f"arn:aws:iam::{ACCOUNT}:role/service-role/{name}"
    given = {"NotebooksRoleName": name, "NotebooksRolePath": "/service-role/"}
    documents = participant.policies(TEMPLATE, REGION, ACCOUNT, given)
    context = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    request = Request(USER, "iam:PassRole", (role,), context)
    assert evaluate([compile_policy(d) for _, d in documents], request).allowed
    defaults = [compile_policy(d) for _, d in participant.policies(TEMPLATE, REGION, ACCOUNT)]
    assert not evaluate(defaults, request).allowed


def test_only_autoscalings_service_linked_role_may_be_created(compiled) -> None:
    def create(service: str, role: str) -> bool:
        context = {"iam:AWSServiceName": service}
        request = Request(USER, "iam:CreateServiceLinkedRole", (role,), context)
        return evaluate(compiled, request).allowed

    assert create(AUTOSCALING_SERVICE, SERVICE_LINKED_ROLE)
    other = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ec2.amazonaws.com/AWSServiceRoleForEC2"
    assert not create("ec2.amazonaws.com", other)


LAB_CALLS = [
    ("codepipeline:GetPipelineState", f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:cdlab-lab3"),
    ("codepipeline:ListActionExecutions", f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:cdlab-lab3"),
    ("codebuild:BatchGetBuilds", f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/cdlab-lab3-test"),
    (
        "codepipeline:PutApprovalResult",
        f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:cdlab-lab3/Approval/Approve",
    ),
    ("codebuild:CreateProject", f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/cdlab-lab3-build"),
    ("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/cdlab-lab3-SourceEventRule-X"),
]


@pytest.mark.parametrize(("action", "resource"), LAB_CALLS, ids=lambda v: v.split(":")[-1])
def test_lab_3_may_deploy_and_drive_its_pipeline(compiled, action, resource) -> None:
    """Calls of CloudFormation (as the participant) and of the lab's notebook: its pipeline's
    and no other's."""
    assert evaluate(compiled, Request(USER, action, (resource,))).allowed
    other = resource.replace("cdlab-lab3", "payroll")
    assert not evaluate(compiled, Request(USER, action, (other,))).allowed


def test_lab_3_stack_roles_are_passed_to_their_services_only(compiled) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/cdlab-lab3-CodeBuildRole-X"

    def pass_to(service: str) -> bool:
        context = {"iam:PassedToService": service}
        return evaluate(compiled, Request(USER, "iam:PassRole", (role,), context)).allowed

    assert pass_to("codebuild.amazonaws.com") and pass_to("codepipeline.amazonaws.com")
    assert not pass_to("ec2.amazonaws.com")

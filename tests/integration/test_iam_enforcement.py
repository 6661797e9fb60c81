"""IAM enforcement through real clients: a role session may do what its role's policies allow
and is refused the rest in each protocol family's words (code, HTTP status, message); an explicit
Deny wins over ``"Action": "*"``; passing a role needs iam:PassRole; a bucket policy grants and
takes away; ``CDLAB_IAM=off`` turns the checks off."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.aws_errors import refused
from tests.integration.private_cloud import PrivateCloud
from tests.integration.test_principals import NO_RETRIES, TRUST, aws_cli
from tests.roles import SAGEMAKER, trusting

ACCOUNT = "123456789012"
SUFFIX = uuid.uuid4().hex[:8]
ALLOWED_BUCKET = f"cdlab-iam-allowed-{SUFFIX}"
OTHER_BUCKET = f"cdlab-iam-other-{SUFFIX}"
EXECUTION_ROLE = f"cdlab-iam-exec-{SUFFIX}"
OTHER_ROLE = f"cdlab-iam-other-exec-{SUFFIX}"
SAGEMAKER_TRUST = trusting(SAGEMAKER)
MODEL_DATA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{ALLOWED_BUCKET}/*",
        }
    ],
}
"""EXECUTION_ROLE's policy: CreateModel needs the role to get the model data
(https://repost.aws/knowledge-center/sagemaker-s3-accessdenied-training)."""
SCIENTIST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["sagemaker:CreateModel", "sagemaker:DescribeModel",
                       "sagemaker:DeleteModel", "sagemaker:ListModels",
                       "sagemaker:CreateTrainingJob"],
            "Resource": "*",
        },
        {"Effect": "Allow", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{ALLOWED_BUCKET}", f"arn:aws:s3:::{ALLOWED_BUCKET}/*"]},
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/{EXECUTION_ROLE}",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    ],
}  # fmt: skip
ALL_BUT_DELETE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "sagemaker:DeleteModel", "Resource": "*"},
    ],
}


def refusal(call: Callable[..., Any], **kwargs: Any) -> tuple[str, int, str]:
    """(code, HTTP status, message), the order this file's expectations read best in."""
    code, message, status = refused(call, **kwargs)
    return code, status, message


def not_allowed(arn: str, action: str, resource: str | None = None) -> str:
    on = f" on resource: {resource}" if resource else ""
    return (
        f"User: {arn} is not authorized to perform: {action}{on} because no identity-based "
        f"policy allows the {action} action"
    )


def make_role(iam, name: str, policy: dict[str, Any] | None) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn


def drop_role(iam, name: str) -> None:
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)


class Session:
    """A role session's clients, and its ARN."""

    def __init__(self, sts, role_arn: str, region: str, name: str = "alice") -> None:
        self.credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
        self.arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_arn.rpartition('/')[2]}/{name}"
        self.boto = boto3.Session(
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
            region_name=region,
        )

    def client(self, service: str):
        return self.boto.client(service, config=NO_RETRIES)


@contextlib.contextmanager
def role_session(client, aws_env, name: str, policy: dict[str, Any] | None) -> Iterator[Session]:
    """A session of a new role ``name`` allowed ``policy`` (None: nothing); the role is
    dropped after."""
    iam = client("iam")
    arn = make_role(iam, name, policy)
    try:
        yield Session(client("sts"), arn, aws_env["AWS_DEFAULT_REGION"])
    finally:
        drop_role(iam, name)


@pytest.fixture(scope="module")
def roles(client) -> Iterator[dict[str, str]]:
    iam, s3 = client("iam"), client("s3")
    names = {
        "scientist": f"cdlab-iam-scientist-{SUFFIX}",
        "all-but-delete": f"cdlab-iam-all-but-delete-{SUFFIX}",
    }
    arns = {
        "scientist": make_role(iam, names["scientist"], SCIENTIST),
        "all-but-delete": make_role(iam, names["all-but-delete"], ALL_BUT_DELETE),
    }
    for name in (EXECUTION_ROLE, OTHER_ROLE):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    iam.put_role_policy(
        RoleName=EXECUTION_ROLE, PolicyName="p", PolicyDocument=json.dumps(MODEL_DATA)
    )
    for bucket in (ALLOWED_BUCKET, OTHER_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    yield arns
    for bucket in (ALLOWED_BUCKET, OTHER_BUCKET):
        s3.delete_object(Bucket=bucket, Key="k")
        s3.delete_bucket(Bucket=bucket)
    for name in (*names.values(), EXECUTION_ROLE, OTHER_ROLE):
        drop_role(iam, name)


@pytest.fixture
def scientist(client, roles, aws_env) -> Session:
    return Session(client("sts"), roles["scientist"], aws_env["AWS_DEFAULT_REGION"])


def model(name: str, role: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ModelName": name,
        "PrimaryContainer": {
            "Image": fm_image_uri("us-east-1"),
            "ModelDataUrl": f"s3://{ALLOWED_BUCKET}/k",
        },
    }
    if role is not None:
        params["ExecutionRoleArn"] = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    return params


def test_allowed_calls_succeed_and_the_rest_are_refused_in_sagemakers_words(scientist) -> None:
    sm = scientist.client("sagemaker")
    name = f"cdlab-iam-{SUFFIX}"
    sm.create_model(**model(name, EXECUTION_ROLE))
    try:
        assert sm.describe_model(ModelName=name)["ModelName"] == name
        assert refusal(sm.list_endpoints) == (
            "AccessDeniedException",
            400,
            not_allowed(scientist.arn, "sagemaker:ListEndpoints"),
        )
    finally:
        sm.delete_model(ModelName=name)


def test_s3_refuses_a_bucket_not_allowed_until_its_policy_allows(client, scientist) -> None:
    s3 = scientist.client("s3")
    assert s3.get_object(Bucket=ALLOWED_BUCKET, Key="k")["Body"].read() == b"data"
    resource = f'"arn:aws:s3:::{OTHER_BUCKET}/k"'
    denied = ("AccessDenied", 403, not_allowed(scientist.arn, "s3:GetObject", resource))
    assert refusal(s3.get_object, Bucket=OTHER_BUCKET, Key="k") == denied

    role_arn = scientist.arn.replace(":sts:", ":iam:").replace("assumed-role", "role")
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": role_arn.rpartition("/")[0]},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{OTHER_BUCKET}/*",
            }
        ],
    }
    admin = client("s3")
    admin.put_bucket_policy(Bucket=OTHER_BUCKET, Policy=json.dumps(grant))
    try:
        assert s3.get_object(Bucket=OTHER_BUCKET, Key="k")["Body"].read() == b"data"
    finally:
        admin.delete_bucket_policy(Bucket=OTHER_BUCKET)
    assert refusal(s3.get_object, Bucket=OTHER_BUCKET, Key="k") == denied


def test_query_services_refuse_with_access_denied_403(scientist) -> None:
    assert refusal(scientist.client("iam").list_users) == (
        "AccessDenied",
        403,
        not_allowed(scientist.arn, "iam:ListUsers"),
    )
    assert refusal(scientist.client("cloudformation").list_stacks) == (
        "AccessDenied",
        403,
        not_allowed(scientist.arn, "cloudformation:ListStacks"),
    )


def test_an_explicit_deny_overrides_allow_everything(client, roles, aws_env) -> None:
    session = Session(client("sts"), roles["all-but-delete"], aws_env["AWS_DEFAULT_REGION"])
    sm = session.client("sagemaker")
    name = f"cdlab-iam-deny-{SUFFIX}"
    sm.create_model(**model(name))
    try:
        assert refusal(sm.delete_model, ModelName=name) == (
            "AccessDeniedException",
            400,
            f"User: {session.arn} is not authorized to perform: sagemaker:DeleteModel on "
            f"resource: arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/{name} with an explicit "
            "deny in an identity-based policy",
        )
    finally:
        client("sagemaker").delete_model(ModelName=name)


def test_passing_a_role_needs_iam_pass_role_on_it(scientist) -> None:
    sm = scientist.client("sagemaker")
    other = f"arn:aws:iam::{ACCOUNT}:role/{OTHER_ROLE}"
    denied = ("AccessDeniedException", 400, not_allowed(scientist.arn, "iam:PassRole", other))
    assert refusal(sm.create_model, **model(f"cdlab-iam-pass-{SUFFIX}", OTHER_ROLE)) == denied
    job = {
        "TrainingJobName": f"cdlab-iam-pass-{SUFFIX}",
        "AlgorithmSpecification": {
            "TrainingImage": fm_image_uri("us-east-1"),
            "TrainingInputMode": "File",
        },
        "RoleArn": other,
        "OutputDataConfig": {"S3OutputPath": f"s3://{ALLOWED_BUCKET}/out"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 1,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    assert refusal(sm.create_training_job, **job) == denied


def test_the_aws_cli_gets_the_refusal(aws_env, scientist) -> None:
    credentials = scientist.credentials
    result = aws_cli(
        aws_env, credentials, credentials["SessionToken"], "sagemaker", "list-endpoints"
    )
    assert result.returncode != 0
    assert "(AccessDeniedException)" in result.stderr
    message = not_allowed(scientist.arn, "sagemaker:ListEndpoints")
    assert message in result.stderr


@pytest.mark.slow  # a local cloud of its own
def test_cdlab_iam_off_turns_the_checks_off(private: PrivateCloud) -> None:
    private.patch.setenv("CDLAB_IAM", "off")
    private.up()
    iam = private.client("iam")
    name = f"cdlab-iam-nothing-{SUFFIX}"
    arn = make_role(iam, name, None)
    session = Session(private.client("sts"), arn, "us-east-1")
    assert "Endpoints" in session.client("sagemaker").list_endpoints()


def test_a_missing_key_is_403_to_a_caller_that_may_not_list_its_bucket(
    client, scientist, aws_env
) -> None:
    """S3 answers a key that does not exist with 404 only to a caller allowed s3:ListBucket on
    the bucket, and with 403 to any other
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html): code that reads a 404
    as "not there yet" meets a 403 on AWS when its role may only get objects."""
    objects = f"arn:aws:s3:::{ALLOWED_BUCKET}/*"
    get_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": objects}],
    }
    with role_session(client, aws_env, f"cdlab-iam-get-only-{SUFFIX}", get_only) as reader:
        s3 = reader.client("s3")
        assert s3.get_object(Bucket=ALLOWED_BUCKET, Key="k")["Body"].read() == b"data"
        assert refusal(s3.get_object, Bucket=ALLOWED_BUCKET, Key="missing") == (
            "AccessDenied",
            403,
            "Access Denied",
        )
        assert refusal(s3.head_object, Bucket=ALLOWED_BUCKET, Key="missing") == (
            "403",
            403,
            "Forbidden",
        )
    s3 = scientist.client("s3")  # s3:* on the bucket, s3:ListBucket among it
    assert refusal(s3.get_object, Bucket=ALLOWED_BUCKET, Key="missing")[:2] == ("NoSuchKey", 404)
    assert refusal(s3.head_object, Bucket=ALLOWED_BUCKET, Key="missing")[:2] == ("404", 404)

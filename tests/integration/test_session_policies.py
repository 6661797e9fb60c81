"""AssumeRole as STS holds it, through real clients: DurationSeconds within the role's
MaxSessionDuration and, for a role session assuming a role (role chaining), within an hour; an
inline session policy within 2,048 characters and at most 10 managed ones; and a session assumed
with session policies may do only what both its role's policies and its session policies allow
(so may a stack it creates without a role), but what a bucket policy grants the session's own
ARN."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import WaiterError

from tests.aws_errors import refused
from tests.integration.test_principals import NO_RETRIES, TRUST

ACCOUNT = "123456789012"
SUFFIX = uuid.uuid4().hex[:8]
ROLE = f"cdlab-sts-role-{SUFFIX}"
LONG_ROLE = f"cdlab-sts-long-{SUFFIX}"
LISTING = f"cdlab-sts-listing-{SUFFIX}"
BUCKET = f"cdlab-sts-{SUFFIX}"
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
LIST_BUCKETS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
}
OVER_MAX = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
CHAINED = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role "
    "chaining."
)


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def session_arn(role: str, name: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}"


def refusal(call: Callable[..., Any], **kwargs: Any) -> tuple[str, int, str]:
    code, message, status = refused(call, **kwargs)
    return code, status, message


def no_session_policy_allows(arn: str, action: str, resource: str | None = None) -> str:
    on = f" on resource: {resource}" if resource else ""
    return (
        f"User: {arn} is not authorized to perform: {action}{on} because no session policy "
        f"allows the {action} action"
    )


def signed_by(answer: dict[str, Any], region: str) -> boto3.Session:
    credentials = answer["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


@pytest.fixture(scope="module")
def roles(client) -> Iterator[None]:
    """ROLE (MaxSessionDuration 3600, allowed everything), LONG_ROLE (43200, allowed everything)
    and the managed policy LISTING (s3:ListAllMyBuckets), all trusting the account."""
    iam, s3 = client("iam"), client("s3")
    for name, longest in ((ROLE, 3600), (LONG_ROLE, 43200)):
        iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=longest
        )
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(EVERYTHING))
    listing = iam.create_policy(PolicyName=LISTING, PolicyDocument=json.dumps(LIST_BUCKETS))
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")
    yield
    s3.delete_object(Bucket=BUCKET, Key="k")
    s3.delete_bucket(Bucket=BUCKET)
    iam.delete_policy(PolicyArn=listing["Policy"]["Arn"])
    for name in (ROLE, LONG_ROLE):
        iam.delete_role_policy(RoleName=name, PolicyName="p")
        iam.delete_role(RoleName=name)


@pytest.fixture
def sts(client, roles):
    return client("sts")


def test_duration_seconds_over_the_roles_max_session_duration_is_refused(sts) -> None:
    for seconds in (3601, 43200):
        assert refusal(
            sts.assume_role, RoleArn=role_arn(ROLE), RoleSessionName="long", DurationSeconds=seconds
        ) == ("ValidationError", 400, OVER_MAX)
    sts.assume_role(RoleArn=role_arn(ROLE), RoleSessionName="hour", DurationSeconds=3600)
    sts.assume_role(RoleArn=role_arn(LONG_ROLE), RoleSessionName="day", DurationSeconds=43200)


def test_role_chaining_is_held_to_an_hour_whatever_the_roles_max(sts, aws_env) -> None:
    first = sts.assume_role(RoleArn=role_arn(ROLE), RoleSessionName="first")
    chained = signed_by(first, aws_env["AWS_DEFAULT_REGION"]).client("sts", config=NO_RETRIES)
    for seconds in (3601, 43200):
        assert refusal(
            chained.assume_role,
            RoleArn=role_arn(LONG_ROLE),
            RoleSessionName="second",
            DurationSeconds=seconds,
        ) == ("ValidationError", 400, CHAINED)
    answer = chained.assume_role(
        RoleArn=role_arn(LONG_ROLE), RoleSessionName="second", DurationSeconds=3600
    )
    assert answer["AssumedRoleUser"]["Arn"] == session_arn(LONG_ROLE, "second")


def test_an_inline_session_policy_over_2048_characters_is_refused(sts) -> None:
    statements = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/{n:060}"}
        for n in range(30)
    ]  # 30 statements of about 150 characters each: some 4,500 in all
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    code, status, message = refusal(
        sts.assume_role, RoleArn=role_arn(ROLE), RoleSessionName="big", Policy=policy
    )
    assert (code, status) == ("PackedPolicyTooLarge", 400)
    assert message.startswith("Packed policy consumes ")
    assert message.endswith("% of allotted space, please use smaller policy.")
    fits = json.dumps({"Version": "2012-10-17", "Statement": statements[:12]})
    sts.assume_role(RoleArn=role_arn(ROLE), RoleSessionName="fits", Policy=fits)


def test_more_than_10_managed_session_policies_are_refused(sts) -> None:
    arns = [{"arn": f"arn:aws:iam::{ACCOUNT}:policy/{LISTING}"}] * 11
    code, status, message = refusal(
        sts.assume_role, RoleArn=role_arn(ROLE), RoleSessionName="many", PolicyArns=arns
    )
    assert (code, status) == ("ValidationError", 400)
    assert message.endswith(
        "at 'policyArns' failed to satisfy constraint: Member must have length less than or "
        "equal to 10"
    )


@pytest.mark.parametrize(
    "policy",
    [
        "not json",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "*"}]}),
        json.dumps(["a", "list"]),
    ],
)
def test_an_inline_session_policy_that_is_not_a_policy_is_refused(sts, policy) -> None:
    code, status, message = refusal(
        sts.assume_role, RoleArn=role_arn(ROLE), RoleSessionName="bad", Policy=policy
    )
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert message.startswith("The session policy is not a policy the local cloud can evaluate")


def test_a_managed_session_policy_that_does_not_exist_is_refused(sts) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:policy/cdlab-sts-missing-{SUFFIX}"
    assert refusal(
        sts.assume_role,
        RoleArn=role_arn(ROLE),
        RoleSessionName="missing",
        PolicyArns=[{"arn": f"arn:aws:iam::{ACCOUNT}:policy/{LISTING}"}, {"arn": missing}],
    ) == (
        "MalformedPolicyDocument",
        400,
        f"The managed session policy {missing} does not exist in the role's account (\"The "
        'policies must exist in the same account as the role").',
    )
    unknown = "arn:aws:iam::aws:policy/CdlabNoSuchAwsManagedPolicy"
    code, status, message = refusal(
        sts.assume_role,
        RoleArn=role_arn(ROLE),
        RoleSessionName="aws",
        PolicyArns=[{"arn": unknown}],
    )
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert message.startswith(f"The local cloud does not hold the AWS managed policy {unknown}")


def test_an_aws_managed_session_policy_limits_the_session_as_on_aws(sts, aws_env) -> None:
    answer = sts.assume_role(
        RoleArn=role_arn(ROLE),
        RoleSessionName="readonly",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
    )
    session = signed_by(answer, aws_env["AWS_DEFAULT_REGION"])
    assert any(b["Name"] == BUCKET for b in session.client("s3").list_buckets()["Buckets"])
    s3 = session.client("s3", config=NO_RETRIES)
    code, status, _ = refusal(s3.put_object, Bucket=BUCKET, Key="w", Body=b"no")
    assert (code, status) == ("AccessDenied", 403)


@pytest.mark.parametrize("kind", ["inline", "managed"])
def test_a_session_may_only_do_what_its_session_policy_allows_too(sts, aws_env, kind) -> None:
    given: dict[str, Any] = {"Policy": json.dumps(LIST_BUCKETS)}
    if kind == "managed":
        given = {"PolicyArns": [{"arn": f"arn:aws:iam::{ACCOUNT}:policy/{LISTING}"}]}
    answer = sts.assume_role(RoleArn=role_arn(ROLE), RoleSessionName=kind, **given)
    session = signed_by(answer, aws_env["AWS_DEFAULT_REGION"])
    assert any(b["Name"] == BUCKET for b in session.client("s3").list_buckets()["Buckets"])
    iam = session.client("iam", config=NO_RETRIES)
    assert refusal(iam.list_roles) == (
        "AccessDenied",
        403,
        no_session_policy_allows(session_arn(ROLE, kind), "iam:ListRoles"),
    )
    # a session assumed without one still may do everything its role may
    answer = sts.assume_role(RoleArn=role_arn(ROLE), RoleSessionName="all")
    assert "Roles" in signed_by(answer, aws_env["AWS_DEFAULT_REGION"]).client("iam").list_roles()


def test_a_session_policy_neither_grants_beyond_the_role_nor_survives_its_deny(
    client, sts, aws_env
) -> None:
    name = f"cdlab-sts-narrow-{SUFFIX}"
    iam = client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(LIST_BUCKETS))
    try:
        wide = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            ],
        }
        answer = sts.assume_role(
            RoleArn=role_arn(name), RoleSessionName="wide", Policy=json.dumps(wide)
        )
        session = signed_by(answer, aws_env["AWS_DEFAULT_REGION"])
        arn = session_arn(name, "wide")
        assert refusal(session.client("iam", config=NO_RETRIES).list_roles) == (
            "AccessDenied",
            403,
            f"User: {arn} is not authorized to perform: iam:ListRoles because no identity-based "
            "policy allows the iam:ListRoles action",
        )
        assert refusal(session.client("s3", config=NO_RETRIES).list_buckets) == (
            "AccessDenied",
            403,
            f"User: {arn} is not authorized to perform: s3:ListAllMyBuckets with an explicit "
            "deny in a session policy",
        )
    finally:
        iam.delete_role_policy(RoleName=name, PolicyName="p")
        iam.delete_role(RoleName=name)


def test_a_bucket_policy_naming_the_session_is_not_limited_by_its_session_policy(
    client, sts, aws_env
) -> None:
    """A bucket policy naming the session's ARN grants it beyond its session policy; one naming
    its role is limited by the session policy, as the role's own policy is."""
    answer = sts.assume_role(
        RoleArn=role_arn(ROLE), RoleSessionName="reader", Policy=json.dumps(LIST_BUCKETS)
    )
    s3 = signed_by(answer, aws_env["AWS_DEFAULT_REGION"]).client("s3", config=NO_RETRIES)
    arn = session_arn(ROLE, "reader")
    denied = (
        "AccessDenied",
        403,
        no_session_policy_allows(arn, "s3:GetObject", f'"arn:aws:s3:::{BUCKET}/k"'),
    )
    assert refusal(s3.get_object, Bucket=BUCKET, Key="k") == denied

    def grant(principal: str) -> None:
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        client("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))

    try:
        grant(role_arn(ROLE))
        assert refusal(s3.get_object, Bucket=BUCKET, Key="k") == denied
        grant(arn)
        assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"data"
    finally:
        client("s3").delete_bucket_policy(Bucket=BUCKET)


def test_a_stack_a_limited_session_creates_acts_within_its_session_policy(
    client, sts, aws_env
) -> None:
    """A stack without a RoleARN creates its resources as its caller: a session, with its session
    policy (kept with the stack)."""
    stacks_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"}],
    }
    answer = sts.assume_role(
        RoleArn=role_arn(ROLE), RoleSessionName="stacker", Policy=json.dumps(stacks_only)
    )
    cfn = signed_by(answer, aws_env["AWS_DEFAULT_REGION"]).client("cloudformation")
    stack, bucket = f"cdlab-sts-stack-{SUFFIX}", f"cdlab-sts-stack-{SUFFIX}"
    body = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": bucket}}}}
    try:
        cfn.create_stack(StackName=stack, TemplateBody=json.dumps(body))
        with contextlib.suppress(WaiterError):
            cfn.get_waiter("stack_create_complete").wait(StackName=stack)
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        [reason] = [
            e.get("ResourceStatusReason", "")
            for e in events
            if e["ResourceStatus"] == "CREATE_FAILED"
        ]
        assert status == "ROLLBACK_COMPLETE"
        assert reason.startswith(
            f'Resource handler returned message: "User: {session_arn(ROLE, "stacker")} is not '
            "authorized to perform: s3:CreateBucket"
        )
        assert "because no session policy allows the s3:CreateBucket action" in reason
    finally:
        client("cloudformation").delete_stack(StackName=stack)
        client("cloudformation").get_waiter("stack_delete_complete").wait(StackName=stack)

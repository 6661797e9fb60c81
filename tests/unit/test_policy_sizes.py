"""IAM's quotas on a policy document's size, whitespace not counted
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): moto took any."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


def document(characters: int) -> str:
    """A policy document of exactly ``characters`` characters without whitespace, with some."""
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::"}
    text = json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2)
    padding = characters - len("".join(text.split()))
    statement["Resource"] += "b" * padding
    made = json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2)
    assert len("".join(made.split())) == characters
    return made


def refusal(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_a_managed_policy_holds_6144_characters(moto_client) -> None:
    iam = moto_client("iam")
    name = f"fits-{uuid.uuid4().hex[:8]}"
    arn = iam.create_policy(PolicyName=name, PolicyDocument=document(6144))["Policy"]["Arn"]
    assert refusal(iam.create_policy, PolicyName=f"{name}-over", PolicyDocument=document(6145)) == (
        "LimitExceeded",
        "Cannot exceed quota for PolicySize: 6144",
    )
    assert refusal(iam.create_policy_version, PolicyArn=arn, PolicyDocument=document(6145)) == (
        "LimitExceeded",
        "Cannot exceed quota for PolicySize: 6144",
    )
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document(6000), SetAsDefault=True)
    names = [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    assert name in names and f"{name}-over" not in names


def test_a_roles_inline_policies_hold_10240_characters_together(moto_client) -> None:
    iam = moto_client("iam")
    role = f"inline-{uuid.uuid4().hex[:8]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=role, PolicyName="a", PolicyDocument=document(6000))
    iam.put_role_policy(RoleName=role, PolicyName="a", PolicyDocument=document(6100))  # replaced
    iam.put_role_policy(RoleName=role, PolicyName="b", PolicyDocument=document(4140))
    assert refusal(
        iam.put_role_policy, RoleName=role, PolicyName="c", PolicyDocument=document(200)
    ) == ("LimitExceeded", f"Maximum policy size of 10240 bytes exceeded for role {role}")
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["a", "b"]


def test_a_users_inline_policies_hold_2048_and_a_groups_5120(moto_client) -> None:
    iam = moto_client("iam")
    user, group = f"user-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.put_user_policy(UserName=user, PolicyName="a", PolicyDocument=document(2048))
    iam.put_group_policy(GroupName=group, PolicyName="a", PolicyDocument=document(5120))
    assert refusal(
        iam.put_user_policy, UserName=user, PolicyName="b", PolicyDocument=document(200)
    ) == ("LimitExceeded", f"Maximum policy size of 2048 bytes exceeded for user {user}")
    assert refusal(
        iam.put_group_policy, GroupName=group, PolicyName="b", PolicyDocument=document(200)
    ) == ("LimitExceeded", f"Maximum policy size of 5120 bytes exceeded for group {group}")

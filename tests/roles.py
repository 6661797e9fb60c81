"""Roles for the tests, made through the IAM API as a participant would make them: a service's
execution role trusts that service, and its policy says what it may do."""

from __future__ import annotations

import json
from typing import Any

ACCOUNT = "123456789012"
SAGEMAKER = "sagemaker.amazonaws.com"
CLOUDFORMATION = "cloudformation.amazonaws.com"
S3_EVERYWHERE = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
WATCH_ALARMS = {"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": "*"}
EXECUTION_ROLES = ("me", "cdlab-training", "cdlab-sagemaker")
"""The SageMaker execution roles the suite's requests name (they may use any bucket)."""


def trusting(*services: str) -> dict[str, Any]:
    """A trust policy that lets ``services`` (``sagemaker.amazonaws.com``) assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": list(services)},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def allowing(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def make_role(iam: Any, name: str, trust: dict[str, Any], policy: dict[str, Any] | None) -> str:
    """Create (or, if it exists, reset) the role ``name``; its ARN."""
    try:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    for existing in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=existing)
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return role_arn(name)


def drop_role(iam: Any, name: str) -> None:
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)


def make_execution_roles(iam: Any) -> None:
    """The suite's SageMaker execution roles: trusting SageMaker, using any bucket, watching any
    alarm (a deployment's auto-rollback alarms)."""
    for name in EXECUTION_ROLES:
        make_role(iam, name, trusting(SAGEMAKER), allowing(S3_EVERYWHERE, WATCH_ALARMS))

"""The enforcer with policies in memory: identity and bucket policies fetched once and kept until
IAM or the bucket's policy changes; denials worded as AWS words them; what cannot be named is
denied, and sts:GetCallerIdentity needs nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from cdlab.localcloud.context import Principal
from cdlab.localcloud.iam.enforcer import Denial, Enforcer, bucket_policy_changed, caller_context
from cdlab.localcloud.iam.policy import Decision, PolicyType
from cdlab.localcloud.iam.wire import Call

T = TypeVar("T")
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/scientist"
SESSION = Principal(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/scientist/alice", "ASIAX", "assumed-role", ROLE
)
USER = Principal(
    f"arn:aws:iam::{ACCOUNT}:user/bob", "AKIAX", "user", f"arn:aws:iam::{ACCOUNT}:user/bob", "bob"
)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class FakeMoto:
    """Policies in memory, counting the fetches."""

    def __init__(self) -> None:
        self.identity: dict[str, list[str]] = {}
        self.buckets: dict[str, str] = {}
        self.fetches = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        self.fetches += 1
        return fn(*args)

    def identity_policies(self, arn: str) -> list[str] | None:
        return self.identity.get(arn)

    def bucket_policy(self, bucket: str) -> str | None:
        return self.buckets.get(bucket)


def denial(enforcer: Enforcer, principal: Principal, call: Call | None) -> Denial | None:
    return asyncio.run(enforcer.denial(principal, call, "us-east-1", ACCOUNT))


def test_identity_policies_are_fetched_once_until_iam_changes() -> None:
    moto = FakeMoto()
    moto.identity[ROLE] = [
        policy({"Effect": "Allow", "Action": "sagemaker:List*", "Resource": "*"})
    ]
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    assert denial(enforcer, SESSION, Call("sagemaker", "ListModels", {})) is None
    assert denial(enforcer, SESSION, Call("sagemaker", "ListEndpoints", {})) is None
    assert moto.fetches == 1
    refused = denial(enforcer, SESSION, Call("sagemaker", "DeleteModel", {"ModelName": "m"}))
    assert refused is not None
    assert refused.message() == (
        f"User: {SESSION.arn} is not authorized to perform: sagemaker:DeleteModel on resource: "
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/m because no identity-based policy allows "
        "the sagemaker:DeleteModel action"
    )
    moto.identity[ROLE] = [policy({"Effect": "Deny", "Action": "*", "Resource": "*"})]
    assert denial(enforcer, SESSION, Call("sagemaker", "ListModels", {})) is None  # kept
    enforcer.forget()
    refused = denial(enforcer, SESSION, Call("sagemaker", "ListModels", {}))
    assert refused is not None and refused.decision is Decision.EXPLICIT_DENY
    assert refused.message() == (
        f"User: {SESSION.arn} is not authorized to perform: sagemaker:ListModels with an "
        "explicit deny in an identity-based policy"
    )


def test_a_bucket_policy_grants_and_is_kept_until_it_changes() -> None:
    moto = FakeMoto()
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    get = Call("s3", "GetObject", {"Bucket": "b", "Key": "k"})
    refused = denial(enforcer, USER, get)
    assert refused is not None
    assert refused.message(quote_resource=True) == (
        f"User: {USER.arn} is not authorized to perform: s3:GetObject on resource: "
        '"arn:aws:s3:::b/k" because no identity-based policy allows the s3:GetObject action'
    )
    moto.buckets["b"] = policy(
        {"Effect": "Allow", "Principal": {"AWS": USER.arn}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::b/*"}
    )  # fmt: skip
    assert denial(enforcer, USER, get) is not None  # "no policy" is kept too
    enforcer.forget_bucket("b")
    assert denial(enforcer, USER, get) is None
    moto.buckets["b"] = policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
    )
    enforcer.forget_bucket("b")
    refused = denial(enforcer, USER, get)
    assert refused is not None
    assert refused.policy_type is PolicyType.RESOURCE
    assert refused.message(quote_resource=True).endswith(
        "with an explicit deny in a resource-based policy"
    )


def test_what_cannot_be_named_is_denied_and_get_caller_identity_needs_nothing() -> None:
    enforcer = Enforcer(FakeMoto())  # type: ignore[arg-type]
    refused = denial(enforcer, USER, None)
    assert refused is not None and refused.action is None
    assert refused.message().startswith(f"User: {USER.arn} is not authorized to perform this")
    assert denial(enforcer, USER, Call("sts", "GetCallerIdentity", {})) is None


def test_pass_role_is_checked_with_the_service_it_is_passed_to() -> None:
    moto = FakeMoto()
    moto.identity[ROLE] = [
        policy(
            {"Effect": "Allow", "Action": "sagemaker:CreateModel", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
             "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}},
        )
    ]  # fmt: skip
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    execution = f"arn:aws:iam::{ACCOUNT}:role/exec"
    call = Call("sagemaker", "CreateModel", {"ModelName": "m", "ExecutionRoleArn": execution})
    refused = denial(enforcer, SESSION, call)
    assert refused is not None
    assert (refused.action, refused.resource) == ("iam:PassRole", execution)


def test_the_callers_context_keys() -> None:
    assert caller_context(USER) == {
        "aws:PrincipalArn": USER.arn,
        "aws:PrincipalType": "User",
        "aws:username": "bob",
    }
    assert caller_context(SESSION) == {"aws:PrincipalArn": ROLE, "aws:PrincipalType": "AssumedRole"}


def test_bucket_policy_changes_are_recognized() -> None:
    assert bucket_policy_changed("PUT", "/b", {"policy": ""}) == "b"
    assert bucket_policy_changed("DELETE", "/b", {"policy": ""}) == "b"
    assert bucket_policy_changed("DELETE", "/b", {}) == "b"
    assert bucket_policy_changed("DELETE", "/b/k", {}) is None
    assert bucket_policy_changed("PUT", "/b", {"tagging": ""}) is None
    assert bucket_policy_changed("GET", "/b", {"policy": ""}) is None

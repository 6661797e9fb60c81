"""Trust policies in the enforcer: AssumeRole needs the role's trust policy to allow the caller
(the account's root included), a role passed to a service must exist and trust that service,
and a trust policy is fetched once until IAM changes."""

from __future__ import annotations

import asyncio
import json

from cdlab.localcloud.context import Principal
from cdlab.localcloud.iam.enforcer import Enforcer
from cdlab.localcloud.iam.policy import Decision, PolicyType
from cdlab.localcloud.iam.service_roles import ServiceRoles, role_session, s3_call
from cdlab.localcloud.iam.wire import Call
from tests.unit.test_iam_enforcer import ACCOUNT, ROLE, SESSION, FakeMoto, denial, policy

TARGET = f"arn:aws:iam::{ACCOUNT}:role/deployer"
ROOT = Principal.administrator(ACCOUNT, "AKIAKIT")
ASSUME = Call("sts", "AssumeRole", {"RoleArn": TARGET, "RoleSessionName": "s"})


class TrustingMoto(FakeMoto):
    """FakeMoto with roles' trust policies."""

    def __init__(self) -> None:
        super().__init__()
        self.trust: dict[str, str] = {}

    def role_trust_policy(self, arn: str) -> str | None:
        return self.trust.get(arn)


def trust(principal: dict[str, object]) -> str:
    return policy({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def untrusted(enforcer: Enforcer, call: Call) -> tuple[str, str] | None:
    return asyncio.run(enforcer.untrusted_role(call, ACCOUNT))


def test_root_may_assume_a_role_that_trusts_the_account_only() -> None:
    moto = TrustingMoto()
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    moto.trust[TARGET] = trust({"Service": "sagemaker.amazonaws.com"})
    refused = denial(enforcer, ROOT, ASSUME)
    assert refused is not None
    assert refused.message() == (
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole on "
        f"resource: {TARGET}"
    )
    moto.trust[TARGET] = trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    enforcer.forget()
    assert denial(enforcer, ROOT, ASSUME) is None


def test_root_is_not_evaluated_on_anything_else() -> None:
    enforcer = Enforcer(TrustingMoto())  # type: ignore[arg-type]
    assert denial(enforcer, ROOT, Call("sagemaker", "DeleteModel", {"ModelName": "m"})) is None
    assert denial(enforcer, ROOT, None) is None


def test_a_session_needs_its_identity_policy_unless_the_trust_policy_names_its_role() -> None:
    moto = TrustingMoto()
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    moto.trust[TARGET] = trust({"AWS": ACCOUNT})  # the account: delegates to identity policies
    moto.identity[ROLE] = []
    refused = denial(enforcer, SESSION, ASSUME)
    assert refused is not None and "because no identity-based policy allows" in refused.message()

    moto.identity[ROLE] = [policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})]
    enforcer.forget()
    assert denial(enforcer, SESSION, ASSUME) is None

    moto.identity[ROLE] = []
    moto.trust[TARGET] = trust({"AWS": ROLE})  # the role by name: its sessions need nothing else
    enforcer.forget()
    assert denial(enforcer, SESSION, ASSUME) is None


def test_an_explicit_deny_in_the_trust_policy_wins() -> None:
    moto = TrustingMoto()
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    moto.trust[TARGET] = policy(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": ROLE}, "Action": "sts:AssumeRole"},
    )
    moto.identity[ROLE] = [policy({"Effect": "Allow", "Action": "*", "Resource": "*"})]
    refused = denial(enforcer, SESSION, ASSUME)
    assert refused is not None
    assert (refused.decision, refused.policy_type) == (Decision.EXPLICIT_DENY, PolicyType.RESOURCE)
    assert refused.message() == (
        f"User: {SESSION.arn} is not authorized to perform: sts:AssumeRole on resource: {TARGET}"
    )  # STS names no policy when the trust policy refuses


def test_a_passed_role_must_exist_and_trust_the_service_it_is_passed_to() -> None:
    moto = TrustingMoto()
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    create_model = Call("sagemaker", "CreateModel", {"ModelName": "m", "ExecutionRoleArn": TARGET})
    assert untrusted(enforcer, create_model) == (TARGET, "sagemaker.amazonaws.com")  # missing

    moto.trust[TARGET] = trust({"Service": "cloudformation.amazonaws.com"})
    enforcer.forget()
    assert untrusted(enforcer, create_model) == (TARGET, "sagemaker.amazonaws.com")
    stack = Call("cloudformation", "CreateStack", {"StackName": "s", "RoleARN": TARGET})
    assert untrusted(enforcer, stack) is None

    moto.trust[TARGET] = trust({"Service": ["sagemaker.amazonaws.com"]})
    enforcer.forget()
    assert untrusted(enforcer, create_model) is None
    assert untrusted(enforcer, stack) == (TARGET, "cloudformation.amazonaws.com")
    assert untrusted(enforcer, Call("sagemaker", "ListModels", {})) is None


def test_a_trust_policy_is_fetched_once_until_iam_changes() -> None:
    moto = TrustingMoto()
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    moto.trust[TARGET] = trust({"Service": "sagemaker.amazonaws.com"})
    for _ in range(3):
        assert asyncio.run(enforcer.trusts(TARGET, "sagemaker.amazonaws.com"))
    assert moto.fetches == 1
    moto.trust[TARGET] = json.dumps({"Version": "2012-10-17", "Statement": []})
    assert asyncio.run(enforcer.trusts(TARGET, "sagemaker.amazonaws.com"))  # still the kept one
    enforcer.forget()
    assert not asyncio.run(enforcer.trusts(TARGET, "sagemaker.amazonaws.com"))


def test_a_service_acts_as_a_session_of_the_role() -> None:
    moto = TrustingMoto()
    moto.identity[ROLE] = [
        policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"})
    ]
    roles = ServiceRoles(Enforcer(moto))  # type: ignore[arg-type]
    session = role_session(ROLE, "SageMaker")
    assert session.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/scientist/SageMaker"
    assert session.entity_arn == ROLE

    def decide(call: Call) -> str | None:
        refused = asyncio.run(roles.denial(ROLE, "SageMaker", call, "us-east-1"))
        return None if refused is None else refused.message()

    assert decide(s3_call("GetObject", "data", "train/part-0")) is None
    assert decide(s3_call("PutObject", "data", "model.tar.gz")) == (
        f"User: {session.arn} is not authorized to perform: s3:PutObject on resource: "
        "arn:aws:s3:::data/model.tar.gz because no identity-based policy allows the "
        "s3:PutObject action"
    )
    off = ServiceRoles(None)
    assert asyncio.run(off.denial(ROLE, "SageMaker", s3_call("PutObject", "d", "k"), "r")) is None

"""The enforcer's decisions, kept per (principal, action, resources, condition context): a
repeated call is decided as before, a call in another context on its own, and any IAM change is
seen at the very next call, even one that arrives while a decision is being made."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from cdlab.localcloud.iam.enforcer import Enforcer
from cdlab.localcloud.iam.wire import Call
from tests.unit.test_iam_enforcer import ACCOUNT, ROLE, SESSION, USER, FakeMoto, policy

T = TypeVar("T")
LIST_MODELS = Call("sagemaker", "ListModels", {})


def allowed(enforcer: Enforcer, call: Call, region: str = "us-east-1", principal=SESSION) -> bool:
    return asyncio.run(enforcer.denial(principal, call, region, ACCOUNT)) is None


def test_a_decision_is_kept_per_condition_context() -> None:
    moto = FakeMoto()
    moto.identity[ROLE] = [
        policy(
            {"Effect": "Allow", "Action": "sagemaker:ListModels", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}
        )
    ]  # fmt: skip
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    assert allowed(enforcer, LIST_MODELS, "us-east-1")
    assert not allowed(enforcer, LIST_MODELS, "eu-west-1")
    assert allowed(enforcer, LIST_MODELS, "us-east-1")
    assert not allowed(enforcer, LIST_MODELS, "us-east-1", principal=USER)  # bob has no policy


def test_a_policy_change_is_seen_at_the_next_call() -> None:
    moto = FakeMoto()
    moto.identity[ROLE] = [policy({"Effect": "Allow", "Action": "*", "Resource": "*"})]
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    for _ in range(3):
        assert allowed(enforcer, LIST_MODELS)
    moto.identity[ROLE].append(
        policy({"Effect": "Deny", "Action": "sagemaker:ListModels", "Resource": "*"})
    )
    enforcer.forget()  # what the gateway does after any IAM change
    assert not allowed(enforcer, LIST_MODELS)
    moto.identity[ROLE].pop()
    enforcer.forget()
    assert allowed(enforcer, LIST_MODELS)


class ChangingMoto(FakeMoto):
    """IAM changes while the first fetch of policies is under way."""

    def __init__(self, change: Callable[[], None]) -> None:
        super().__init__()
        self.change: Callable[[], None] | None = change

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        result = await super().run(fn, *args)
        if self.change is not None:
            change, self.change = self.change, None
            change()
        return result


def test_a_decision_made_while_iam_changes_is_not_kept() -> None:
    enforcer: Enforcer

    def deny_everything() -> None:
        moto.identity[ROLE] = [policy({"Effect": "Deny", "Action": "*", "Resource": "*"})]
        enforcer.forget()

    moto = ChangingMoto(deny_everything)
    moto.identity[ROLE] = [policy({"Effect": "Allow", "Action": "*", "Resource": "*"})]
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    assert allowed(enforcer, LIST_MODELS)  # decided on the policies fetched before the change
    assert not allowed(enforcer, LIST_MODELS)

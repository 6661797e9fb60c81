"""The decision on a request: explicit deny, then allow, else implicit deny, for each of its
resources (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdlab.localcloud.iam.policy.documents import CompiledPolicy, Grant, PolicyType, compile_policy
from cdlab.localcloud.iam.policy.request import Request


class Decision(enum.Enum):
    """AWS's three outcomes: allowed, denied because nothing allows, denied by a Deny."""

    ALLOW = "allow"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"


@dataclass(frozen=True)
class Evaluation:
    """The decision; when denied, the kind of policy that denied (for an implicit deny, the kind
    that did not allow) and the first resource it was denied on."""

    decision: Decision
    policy_type: PolicyType | None = None
    resource: str | None = None

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


PolicyLike = CompiledPolicy | Mapping[str, Any] | str


def _compiled(policy: PolicyLike, kind: PolicyType) -> CompiledPolicy:
    if not isinstance(policy, CompiledPolicy):
        return compile_policy(policy, kind)
    if policy.kind is not kind:
        raise ValueError(f"a {policy.kind.value} policy passed as a {kind.value} one")
    return policy


def _decide(
    identity: Sequence[CompiledPolicy],
    resource_policy: CompiledPolicy | None,
    request: Request,
    resource: str,
    resource_policy_required: bool,
) -> Evaluation:
    if any(p.denies(request, resource) for p in identity):
        return Evaluation(Decision.EXPLICIT_DENY, PolicyType.IDENTITY, resource)
    granted = Grant.NONE
    if resource_policy is not None:
        if resource_policy.denies(request, resource):
            return Evaluation(Decision.EXPLICIT_DENY, PolicyType.RESOURCE, resource)
        granted = resource_policy.allows(request, resource)
    # The root user has full access unless a policy denies it.
    by_identity = request.caller.root or any(p.allows(request, resource) for p in identity)
    if resource_policy_required:
        if granted is Grant.DIRECT or (granted is Grant.ACCOUNT and by_identity):
            return Evaluation(Decision.ALLOW)
        if granted is Grant.NONE:
            return Evaluation(Decision.IMPLICIT_DENY, PolicyType.RESOURCE, resource)
    elif by_identity or granted is Grant.DIRECT:
        return Evaluation(Decision.ALLOW)
    return Evaluation(Decision.IMPLICIT_DENY, PolicyType.IDENTITY, resource)


def evaluate(
    identity_policies: Iterable[PolicyLike],
    request: Request,
    resource_policy: PolicyLike | None = None,
    *,
    resource_policy_required: bool = False,
) -> Evaluation:
    """AWS's decision on ``request`` within one account
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
    an explicit deny in any policy wins; then an allow in an identity-based policy, or in the
    resource-based policy to the caller itself (its ARN, its role, or "*"), allows; otherwise the
    request is implicitly denied. A resource-based Allow that names the caller's account only
    delegates to the identity-based policies. With ``resource_policy_required`` (role trust
    policies, KMS key policies) the resource-based policy must allow: the caller by name, or its
    account together with an identity-based allow. Each of the request's resources must be
    allowed; an explicit deny on any is reported before an implicit one."""
    identity = [_compiled(p, PolicyType.IDENTITY) for p in identity_policies]
    resource = None if resource_policy is None else _compiled(resource_policy, PolicyType.RESOURCE)
    outcomes = [
        _decide(identity, resource, request, arn, resource_policy_required)
        for arn in request.resources
    ]
    for decision in (Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY):
        for outcome in outcomes:
            if outcome.decision is decision:
                return outcome
    return Evaluation(Decision.ALLOW)

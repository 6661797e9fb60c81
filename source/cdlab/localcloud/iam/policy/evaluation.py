"""The decision on a request: explicit deny, then allow, else implicit deny, for each of its
resources (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html),
within what a role session's session policies allow
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session)."""

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
    session: Sequence[CompiledPolicy] | None,
) -> Evaluation:
    if any(p.denies(request, resource) for p in identity):
        return Evaluation(Decision.EXPLICIT_DENY, PolicyType.IDENTITY, resource)
    if session is not None and any(p.denies(request, resource) for p in session):
        return Evaluation(Decision.EXPLICIT_DENY, PolicyType.SESSION, resource)
    granted = Grant.NONE
    if resource_policy is not None:
        if resource_policy.denies(request, resource):
            return Evaluation(Decision.EXPLICIT_DENY, PolicyType.RESOURCE, resource)
        granted = resource_policy.allows(request, resource)
    if granted is Grant.DIRECT:  # the caller by name: no session policy limits it
        return Evaluation(Decision.ALLOW)
    # The root user has full access unless a policy denies it.
    by_identity = request.caller.root or any(p.allows(request, resource) for p in identity)
    allowed = granted is Grant.ROLE or (
        by_identity and (granted is Grant.ACCOUNT or not resource_policy_required)
    )
    if not allowed:
        by_resource = resource_policy_required and granted is Grant.NONE
        kind = PolicyType.RESOURCE if by_resource else PolicyType.IDENTITY
        return Evaluation(Decision.IMPLICIT_DENY, kind, resource)
    if session is None or any(p.allows(request, resource) for p in session):
        return Evaluation(Decision.ALLOW)
    return Evaluation(Decision.IMPLICIT_DENY, PolicyType.SESSION, resource)


def evaluate(
    identity_policies: Iterable[PolicyLike],
    request: Request,
    resource_policy: PolicyLike | None = None,
    *,
    resource_policy_required: bool = False,
    session_policies: Iterable[PolicyLike] | None = None,
) -> Evaluation:
    """AWS's decision on ``request`` within one account
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
    an explicit deny in any policy wins; then an allow in an identity-based policy, or in the
    resource-based policy to the caller itself (its ARN, its role, or "*"), allows; otherwise the
    request is implicitly denied. A resource-based Allow that names the caller's account only
    delegates to the identity-based policies. With ``resource_policy_required`` (role trust
    policies, KMS key policies) the resource-based policy must allow: the caller by name, or its
    account together with an identity-based allow. Each of the request's resources must be
    allowed; an explicit deny on any is reported before an implicit one.

    ``session_policies`` (None: the caller is no session assumed with any) limit the rest: "The
    permissions for a session are the intersection of the identity-based policies for the IAM
    entity ... and the session policies", and a resource-based policy naming the session's role
    is limited by them, one naming the session's own ARN (or anyone) is not ("The resource-based
    policy permissions are not limited by the session policy"), as
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
    reads; an allow then needs an allow in a session policy too."""
    identity = [_compiled(p, PolicyType.IDENTITY) for p in identity_policies]
    resource = None if resource_policy is None else _compiled(resource_policy, PolicyType.RESOURCE)
    session = None
    if session_policies is not None:
        session = [_compiled(p, PolicyType.SESSION) for p in session_policies]
    outcomes = [
        _decide(identity, resource, request, arn, resource_policy_required, session)
        for arn in request.resources
    ]
    for decision in (Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY):
        for outcome in outcomes:
            if outcome.decision is decision:
                return outcome
    return Evaluation(Decision.ALLOW)

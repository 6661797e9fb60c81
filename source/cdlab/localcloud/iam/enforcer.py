"""IAM enforcement: whether an IAM user or a role session may make a call, by the policies moto
keeps (issue 13).

A call (:mod:`.wire`) asks IAM for its action on its resources and for each further
authorization it needs, iam:PassRole included (:mod:`.requests`). Each is evaluated
(:mod:`.policy`) against the caller's identity-based policies: an IAM user's inline and attached
managed policies and its groups' (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups.html),
an assumed role's inline and attached managed policies
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html), limited by the session
policies the session was assumed with, if any (its ``Policy`` and ``PolicyArns``,
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session: "The
resulting session's permissions are the intersection of the role's identity-based policy and the
session policies"; a resource-based policy naming the session's own ARN is not limited by them,
one naming its role is); for S3, also against the bucket's policy
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html).
A call the local cloud cannot name is denied, as IAM denies what no policy allows
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
sts:GetCallerIdentity needs no permission and is always allowed
(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).

sts:AssumeRole is allowed only if the role's trust policy allows the caller too (a role trust
policy is the resource-based policy that must allow,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-trust-policy);
that is the one check the account's administrator (the kit's key, evaluated as the account's
root) is put to: it may do everything else. A role passed to a service must exist and trust that
service (:meth:`Enforcer.untrusted_role`), as the service finds when it assumes the role.

Compiled policies are kept per IAM entity, per role trust policy, per session policy and per
bucket, and each decision per (principal, its session policy if it has one, action, resources,
condition context), so a caller repeating a call (InvokeEndpoint, the hot path) costs a
dictionary lookup, and a session without session policies no more than before;
:meth:`Enforcer.forget` drops the entities', the trust and the session policies (a managed one
may have changed) and every decision after any IAM change,
:meth:`Enforcer.forget_bucket` a bucket's policy and every decision after its policy changes or
it is deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdlab.localcloud.context import Principal, SessionPolicy
from cdlab.localcloud.iam.policy import (
    CompiledPolicy,
    Decision,
    Evaluation,
    PolicyError,
    PolicyType,
    Request,
    compile_policy,
    evaluate,
)
from cdlab.localcloud.iam.requests import authorization, passed_roles
from cdlab.localcloud.iam.resources import Check
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.moto.state import MotoState

log = logging.getLogger("cdlab.iam")

NO_PERMISSION_NEEDED = {("sts", "GetCallerIdentity")}
ASSUME_ROLE = "sts:AssumeRole"
MAX_DECISIONS = 50_000  # then the cache starts afresh: distinct S3 keys alone could fill it
PRINCIPAL_TYPES = {"user": "User", "assumed-role": "AssumedRole"}


@dataclass(frozen=True)
class Denial:
    """Why a call is refused: the caller, the action and resource denied, and how."""

    principal_arn: str
    action: str | None  # None: the local cloud could not name the call's action
    resource: str | None = None
    decision: Decision = Decision.IMPLICIT_DENY
    policy_type: PolicyType = PolicyType.IDENTITY

    def message(self, quote_resource: bool = False) -> str:
        """AWS's access-denied message
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html);
        S3 quotes the resource
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html)."""
        who = f"User: {self.principal_arn} is not authorized to perform"
        if self.action is None:
            return (
                f"{who} this request: the local cloud cannot tell which IAM action it is, and "
                "denies what it cannot name."
            )
        text = f"{who}: {self.action}"
        if self.resource and self.resource != "*":
            resource = f'"{self.resource}"' if quote_resource else self.resource
            text += f" on resource: {resource}"
        kind = self.policy_type.value
        if self.action == ASSUME_ROLE and self.policy_type is PolicyType.RESOURCE:
            return text  # STS names no policy when a trust policy does not allow
            # (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html)
        if self.decision is Decision.EXPLICIT_DENY:
            article = "an" if kind.startswith("identity") else "a"
            return f"{text} with an explicit deny in {article} {kind} policy"
        return f"{text} because no {kind} policy allows the {self.action} action"


def caller_context(principal: Principal) -> dict[str, Any]:
    """The global condition keys the caller sets: ``aws:PrincipalArn`` (an assumed role's is
    the role's), ``aws:PrincipalType`` and, for an IAM user, ``aws:username``
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
    context: dict[str, Any] = {
        "aws:PrincipalArn": principal.entity_arn,
        "aws:PrincipalType": PRINCIPAL_TYPES.get(principal.kind),
    }
    if principal.username is not None:
        context["aws:username"] = principal.username
    return {key: value for key, value in context.items() if value is not None}


def _bucket(resource: str) -> str | None:
    """The bucket an S3 ARN names (``arn:aws:s3:::bucket/key``)."""
    prefix = "arn:aws:s3:::"
    if not resource.startswith(prefix) or len(resource) == len(prefix):
        return None
    return resource[len(prefix) :].partition("/")[0]


def _frozen(context: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A condition context as part of a decision's key: its lists as tuples."""
    return tuple(
        sorted((key, tuple(v) if isinstance(v, list) else v) for key, v in context.items())
    )


def _compiled(documents: Sequence[str], kind: PolicyType, owner: str) -> list[CompiledPolicy]:
    compiled = []
    for document in documents:
        try:
            compiled.append(compile_policy(document, kind))
        except PolicyError as e:
            log.warning("a policy of %s is not evaluated: %s", owner, e)
    return compiled


class Enforcer:
    """The policies of IAM users, roles and buckets, compiled once, and the decisions on calls."""

    def __init__(self, moto: MotoState) -> None:
        self.moto = moto
        self._identity: dict[str, list[CompiledPolicy]] = {}
        self._buckets: dict[str, CompiledPolicy | None] = {}
        self._trust: dict[str, CompiledPolicy | None] = {}  # None: no such role
        self._sessions: dict[SessionPolicy, list[CompiledPolicy]] = {}
        self._decisions: dict[tuple[Any, ...], Evaluation] = {}
        self._generation = 0  # how many times IAM changed: a fetch older than a change is stale

    def forget(self) -> None:
        """Drop every entity's policies, every role's trust policy and every decision: IAM has
        changed."""
        self._identity.clear()
        self._trust.clear()
        self._sessions.clear()
        self._decisions.clear()
        self._generation += 1

    def forget_bucket(self, bucket: str) -> None:
        """Drop a bucket's policy, and every decision: it was put or deleted, or the bucket
        was."""
        self._buckets.pop(bucket, None)
        self._decisions.clear()
        self._generation += 1

    async def denial(
        self, principal: Principal, call: Call | None, region: str, account: str
    ) -> Denial | None:
        """Why ``principal`` may not make ``call`` (signed for ``region`` in ``account``), or
        None if it may. The account's root (the kit's key) is refused only an AssumeRole its
        trust policy does not allow."""
        root = principal.kind == "root"
        if call is None:
            return None if root else Denial(principal.arn, None)
        if (call.service, call.operation) in NO_PERMISSION_NEEDED:
            return None
        if root and (call.service, call.operation) != ("sts", "AssumeRole"):
            return None
        asked = authorization(
            call.service,
            call.operation,
            call.params,
            region,
            account,
            extra_context=caller_context(principal),
        )
        for check in asked.all_checks:
            if root and check.action != ASSUME_ROLE:
                continue
            outcome = await self._decision(principal, check)
            if not outcome.allowed:
                return Denial(
                    principal.arn,
                    check.action,
                    outcome.resource,
                    outcome.decision,
                    outcome.policy_type or PolicyType.IDENTITY,
                )
        return None

    async def untrusted_role(self, call: Call | None, account: str) -> tuple[str, str] | None:
        """The first role ``call`` passes to a service (SageMaker's execution role, a stack's
        service role) that does not exist or whose trust policy does not let that service assume
        it, as (role ARN, service principal); None if every passed role may be assumed."""
        if call is None:
            return None
        for role, service in passed_roles(call.service, call.operation, call.params, account):
            if not await self.trusts(role, service):
                return role, service
        return None

    async def trusts(self, role_arn: str, service: str) -> bool:
        """Whether the role exists and its trust policy lets ``service``
        (``sagemaker.amazonaws.com``) assume it."""
        trust = await self._trust_policy(role_arn)
        if trust is None:
            return False
        request = Request(service, ASSUME_ROLE, (role_arn,))
        return evaluate([], request, trust, resource_policy_required=True).allowed

    async def _resource_policy(self, check: Check) -> tuple[CompiledPolicy | None, bool]:
        """The resource-based policy a check is also evaluated against, and whether it must
        allow: an S3 bucket's policy (it may), a role's trust policy for AssumeRole (it must)."""
        if check.action == ASSUME_ROLE:
            return await self._trust_policy(check.resources[0]), True
        bucket = _bucket(check.resources[0]) if check.action.startswith("s3:") else None
        return (await self._bucket_policy(bucket) if bucket else None), False

    async def _decision(self, principal: Principal, check: Check) -> Evaluation:
        """The decision on one check, evaluated once until IAM or a bucket policy changes."""
        key = (principal.arn, principal.entity_arn, check.action, check.resources)
        key += _frozen(check.context)
        if principal.session_policy is not None:
            key = (principal.session_policy, *key)
        known = self._decisions.get(key)
        if known is not None:
            return known
        generation = self._generation
        identity = await self._identity_policies(principal.entity_arn)
        resource_policy, required = await self._resource_policy(check)
        session = None
        if principal.session_policy is not None:
            session = await self._session_policies(principal.session_policy)
        request = Request(principal.arn, check.action, check.resources, check.context)
        outcome = evaluate(
            identity,
            request,
            resource_policy,
            resource_policy_required=required,
            session_policies=session,
        )
        if generation == self._generation:
            if len(self._decisions) >= MAX_DECISIONS:
                self._decisions.clear()
            self._decisions[key] = outcome
        return outcome

    async def _identity_policies(self, entity_arn: str | None) -> list[CompiledPolicy]:
        if entity_arn is None:
            return []
        known = self._identity.get(entity_arn)
        if known is not None:
            return known
        generation = self._generation
        documents = await self.moto.run(self.moto.identity_policies, entity_arn)
        compiled = _compiled(documents or [], PolicyType.IDENTITY, entity_arn)
        if generation == self._generation:
            self._identity[entity_arn] = compiled
        return compiled

    async def _session_policies(self, policy: SessionPolicy) -> list[CompiledPolicy]:
        """A session's session policies, compiled: the inline one and each managed one's default
        version (one that does not exist, or is malformed, allows nothing)."""
        known = self._sessions.get(policy)
        if known is not None:
            return known
        generation = self._generation
        documents = [policy.document] if policy.document is not None else []
        for arn in policy.arns:
            managed = await self.moto.run(self.moto.managed_policy, arn)
            documents += [managed] if managed is not None else []
        compiled = _compiled(documents, PolicyType.SESSION, "a session")
        if generation == self._generation:
            self._sessions[policy] = compiled
        return compiled

    async def _bucket_policy(self, bucket: str) -> CompiledPolicy | None:
        return await self._kept_resource_policy(self._buckets, bucket, self.moto.bucket_policy)

    async def _trust_policy(self, role_arn: str) -> CompiledPolicy | None:
        """The role's trust policy; None if there is no such role."""
        return await self._kept_resource_policy(self._trust, role_arn, self.moto.role_trust_policy)

    async def _kept_resource_policy(
        self,
        kept: dict[str, CompiledPolicy | None],
        owner: str,
        fetch: Callable[[str], str | None],
    ) -> CompiledPolicy | None:
        """``owner``'s resource-based policy from ``kept``, else fetched and kept (unless IAM or
        a bucket policy changed meanwhile)."""
        if owner in kept:
            return kept[owner]
        generation = self._generation
        document = await self.moto.run(fetch, owner)
        compiled = _compiled([document] if document else [], PolicyType.RESOURCE, owner)
        policy = compiled[0] if compiled else None
        if generation == self._generation:
            kept[owner] = policy
        return policy


def bucket_policy_changed(method: str, path: str, query: Mapping[str, str]) -> str | None:
    """The bucket whose policy a successful S3 request (path-style) put or deleted, or the
    bucket it deleted (PutBucketPolicy, DeleteBucketPolicy, DeleteBucket); None otherwise."""
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or key.strip("/") or method not in ("PUT", "DELETE"):
        return None
    if "policy" in query or (method == "DELETE" and not query):
        return bucket
    return None

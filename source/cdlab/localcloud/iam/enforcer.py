"""IAM enforcement: whether an IAM user or a role session may make a call, by the policies moto
keeps (issue 13).

A call (:mod:`.wire`) asks IAM for its action on its resources and for each further
authorization it needs, iam:PassRole included (:mod:`.requests`). Each is evaluated
(:mod:`.policy`) against the caller's identity-based policies: an IAM user's inline and attached
managed policies and its groups' (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups.html),
an assumed role's inline and attached managed policies
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html); for S3, also against the
bucket's policy (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html).
A call the local cloud cannot name is denied, as IAM denies what no policy allows
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
sts:GetCallerIdentity needs no permission and is always allowed
(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).

The account's administrator (the kit's key) is never evaluated here: it may do everything.

Compiled policies are kept per IAM entity and per bucket, and each decision per (principal,
action, resources, condition context), so a caller repeating a call (InvokeEndpoint, the hot
path) costs a dictionary lookup; :meth:`Enforcer.forget` drops the entities' policies and every
decision after any IAM change, :meth:`Enforcer.forget_bucket` a bucket's policy and every
decision after its policy changes or it is deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdlab.localcloud.context import Principal
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
from cdlab.localcloud.iam.requests import authorization
from cdlab.localcloud.iam.resources import Check
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.moto.state import MotoState

log = logging.getLogger("cdlab.iam")

NO_PERMISSION_NEEDED = {("sts", "GetCallerIdentity")}
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
        self._decisions: dict[tuple[Any, ...], Evaluation] = {}
        self._generation = 0  # how many times IAM changed: a fetch older than a change is stale

    def forget(self) -> None:
        """Drop every entity's policies and every decision: IAM has changed."""
        self._identity.clear()
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
        None if it may."""
        if call is None:
            return Denial(principal.arn, None)
        if (call.service, call.operation) in NO_PERMISSION_NEEDED:
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

    async def _decision(self, principal: Principal, check: Check) -> Evaluation:
        """The decision on one check, evaluated once until IAM or a bucket policy changes."""
        key = (principal.arn, principal.entity_arn, check.action, check.resources)
        key += _frozen(check.context)
        known = self._decisions.get(key)
        if known is not None:
            return known
        generation = self._generation
        identity = await self._identity_policies(principal.entity_arn)
        bucket = _bucket(check.resources[0]) if check.action.startswith("s3:") else None
        resource_policy = await self._bucket_policy(bucket) if bucket else None
        request = Request(principal.arn, check.action, check.resources, check.context)
        outcome = evaluate(identity, request, resource_policy)
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

    async def _bucket_policy(self, bucket: str) -> CompiledPolicy | None:
        if bucket in self._buckets:
            return self._buckets[bucket]
        generation = self._generation
        document = await self.moto.run(self.moto.bucket_policy, bucket)
        compiled = _compiled([document] if document else [], PolicyType.RESOURCE, bucket)
        policy = compiled[0] if compiled else None
        if generation == self._generation:
            self._buckets[bucket] = policy
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

"""The context every operation is served in: who calls, in which account and region, under which
request id.

AWS derives the region from the request's SigV4 credential scope and the account from the
caller's access key; so does the gateway. A provider builds ARNs and error messages from the
context, never from the process environment. ``Principal`` is the caller's identity: the kit's
own key is the account's administrator (as in a workshop account); an IAM user's access key or
an assumed role's session credentials make that user or role session the caller
(:mod:`cdlab.localcloud.iam.principals`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from cdlab import config

PrincipalKind = Literal["root", "user", "assumed-role"]


@dataclass(frozen=True)
class SessionPolicy:
    """The session policies a role session was assumed with: the inline one (``Policy``, JSON
    text) and the managed ones' ARNs (``PolicyArns``)
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session)."""

    document: str | None = None
    arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Principal:
    """Who signed the request: the ARN AWS would name in a refusal, the access key used, and
    what IAM enforcement needs of the caller: its kind; the IAM entity whose identity-based
    policies apply (the user, or the role a session assumed; None for the account's root,
    which no identity-based policy limits); an IAM user's name, the value of
    ``${aws:username}``, a key AWS sets for IAM users only, not for the root or roles
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-username);
    and a role session's session policies (None: it has none).
    """

    arn: str
    access_key_id: str
    kind: PrincipalKind = "root"
    entity_arn: str | None = None
    username: str | None = None
    session_policy: SessionPolicy | None = None

    @classmethod
    def administrator(cls, account: str, access_key_id: str) -> Principal:
        return cls(f"arn:aws:iam::{account}:root", access_key_id, "root")

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Principal:
        """The principal ``dataclasses.asdict`` made ``doc`` of (kept as JSON: a stack's
        caller)."""
        policy = doc.get("session_policy")
        if policy is not None:
            policy = SessionPolicy(policy.get("document"), tuple(policy.get("arns") or ()))
        return cls(**{**doc, "session_policy": policy})


@dataclass(frozen=True)
class RequestContext:
    account: str
    region: str
    principal: Principal
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    @classmethod
    def of_resource(cls, arn: str) -> RequestContext:
        """The local cloud acting for a resource (a stack's operation, say): in the account and
        region its ARN names, as the account's administrator."""
        _, _, _, region, account, _ = arn.split(":", 5)
        return cls(account, region, Principal.administrator(account, "internal"))

    @classmethod
    def internal(cls) -> RequestContext:
        """The local cloud acting on its own (a restart's resume, a background step): the
        account's administrator in the cloud's default region."""
        return cls(
            config.ACCOUNT_ID,
            config.region(),
            Principal.administrator(config.ACCOUNT_ID, "internal"),
        )


Result = dict[str, Any]
Handler = Callable[[RequestContext, dict[str, Any]], Result | Awaitable[Result]]
"""An operation: the request's context and members in, the response's members out (or awaited)."""

"""Policy documents parsed, checked against the grammar
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html) and compiled
once: each statement's actions, resources, principals and conditions, ready to tell how it
applies to a request (:class:`Grant`)."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cdlab.localcloud.iam.policy.conditions import Condition, parse_conditions
from cdlab.localcloud.iam.policy.matching import Mode, Patterns, Unresolved, glob_source, union
from cdlab.localcloud.iam.policy.request import Caller, Request
from cdlab.localcloud.iam.policy.values import PolicyError, strings

VARIABLES_VERSION = "2012-10-17"
_VERSIONS = (None, "2008-10-17", VARIABLES_VERSION)
_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource"}
    | {"NotResource", "Condition"}
)
_ACTION = re.compile(r"\*|[A-Za-z0-9-]+:[\w*?-]+")
_ROOT = re.compile(r"arn:[^:]+:iam::(\d{12}):root")
_ACCOUNT = re.compile(r"\d{12}")
_ROLE = re.compile(r"arn:[^:]+:iam::(\d{12}):role/(?:.*/)?([^/]+)")


class PolicyType(enum.Enum):
    """The kinds of policy, named as AWS's access-denied messages name them
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html). A
    session policy has an identity-based policy's grammar
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session)."""

    IDENTITY = "identity-based"
    RESOURCE = "resource-based"
    SESSION = "session"


class Grant(enum.IntEnum):
    """How a statement applies to a caller: not at all, through the caller's account (which a
    resource-based Allow delegates to the account's identity-based policies), to the role whose
    session the caller is (which a session policy limits), or to the caller itself: its ARN, or
    anyone (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session)."""

    NONE = 0
    ACCOUNT = 1
    ROLE = 2
    DIRECT = 3


@dataclass(frozen=True)
class _Principals:
    """A Principal element: "*", AWS accounts, IAM users and roles (a role matches its
    sessions), and exact service, federated or canonical-user principals
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)."""

    anyone: bool = False
    exact: frozenset[str] = frozenset()
    roles: frozenset[tuple[str, str]] = frozenset()
    accounts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, element: Any) -> _Principals:
        if element == "*":
            return cls(anyone=True)
        if not isinstance(element, Mapping) or not element:
            raise PolicyError(f'Principal is "*" or maps principal types to values: {element!r}')
        exact, roles, accounts = set(), set(), set()
        for kind, values in element.items():
            if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
                raise PolicyError(f"unknown principal type {kind!r}")
            for value in strings(values, f"Principal {kind}"):
                if kind != "AWS":
                    exact.add(value)
                elif value == "*":
                    return cls(anyone=True)
                elif _ACCOUNT.fullmatch(value):
                    accounts.add(value)
                elif root := _ROOT.fullmatch(value):
                    accounts.add(root.group(1))
                elif role := _ROLE.fullmatch(value):
                    roles.add((role.group(1), role.group(2)))
                else:
                    exact.add(value)
        return cls(False, frozenset(exact), frozenset(roles), frozenset(accounts))

    def grant(self, caller: Caller) -> Grant:
        if self.anyone or caller.arn in self.exact:
            return Grant.DIRECT
        if (caller.account, caller.role) in self.roles:
            return Grant.ROLE
        return Grant.ACCOUNT if caller.account in self.accounts else Grant.NONE


def _element(statement: Mapping[str, Any], name: str, required: bool, number: int) -> str | None:
    """Which of ``name`` and ``Not<name>`` the statement has."""
    present = [key for key in (name, "Not" + name) if key in statement]
    if len(present) == 2:
        raise PolicyError(f"statement {number} has both {name} and Not{name}")
    if required and not present:
        raise PolicyError(f"statement {number} has neither {name} nor Not{name}")
    return present[0] if present else None


@dataclass(frozen=True)
class _Statement:
    deny: bool
    actions: re.Pattern[str]
    not_action: bool
    resources: Patterns | None  # None: no Resource element (a trust policy)
    not_resource: bool
    principals: _Principals | None  # None: an identity-based policy
    not_principal: bool
    conditions: tuple[Condition, ...]

    @classmethod
    def parse(cls, raw: Any, kind: PolicyType, variables: bool, number: int) -> _Statement:
        if not isinstance(raw, Mapping):
            raise PolicyError(f"statement {number} is not an object: {raw!r}")
        if unknown := set(raw) - _STATEMENT_KEYS:
            raise PolicyError(f"statement {number} has unknown elements {sorted(unknown)}")
        if (effect := raw.get("Effect")) not in ("Allow", "Deny"):
            raise PolicyError(f"statement {number}: Effect is Allow or Deny, not {effect!r}")
        identity = kind is not PolicyType.RESOURCE
        action = _element(raw, "Action", True, number)
        resource = _element(raw, "Resource", identity, number)
        principal = _element(raw, "Principal", not identity, number)
        if identity and principal:
            raise PolicyError(f"statement {number}: an identity-based policy names no {principal}")
        actions = strings(raw[action], f"statement {number} {action}")
        if bad := [a for a in actions if not _ACTION.fullmatch(a)]:
            raise PolicyError(f"statement {number}: actions are service:Action or *, not {bad}")
        resources = None
        if resource:
            arns = strings(raw[resource], f"statement {number} {resource}")
            resources = Patterns(arns, Mode.RESOURCE, variables)
        return cls(
            deny=effect == "Deny",
            actions=union((glob_source(((a, True),), Mode.STRING) for a in actions), re.IGNORECASE),
            not_action=action == "NotAction",
            resources=resources,
            not_resource=resource == "NotResource",
            principals=_Principals.parse(raw[principal]) if principal else None,
            not_principal=principal == "NotPrincipal",
            conditions=parse_conditions(raw.get("Condition", {}), variables),
        )

    def grant(self, request: Request, resource: str) -> Grant:
        """How this statement applies to the request on ``resource``: NONE if it does not."""
        context = request.values
        if (self.actions.fullmatch(request.action) is None) != self.not_action:
            return Grant.NONE
        try:
            resources = self.resources
            if resources is not None and resources.match(resource, context) == self.not_resource:
                return Grant.NONE
            grant = self.principals.grant(request.caller) if self.principals else Grant.DIRECT
            if self.not_principal:
                grant = Grant.DIRECT if grant is Grant.NONE else Grant.NONE
            if grant and all(c.holds(context) for c in self.conditions):
                return grant
        except Unresolved:
            pass
        return Grant.NONE


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy document, checked and with its patterns compiled, ready for :func:`evaluate`."""

    kind: PolicyType
    allow_statements: tuple[_Statement, ...]
    deny_statements: tuple[_Statement, ...]

    def denies(self, request: Request, resource: str) -> bool:
        return any(s.grant(request, resource) for s in self.deny_statements)

    def allows(self, request: Request, resource: str) -> Grant:
        """The strongest grant of the Allow statements."""
        granted = Grant.NONE
        for statement in self.allow_statements:
            granted = max(granted, statement.grant(request, resource))
            if granted is Grant.DIRECT:
                break
        return granted


def compile_policy(
    document: Mapping[str, Any] | str, kind: PolicyType = PolicyType.IDENTITY
) -> CompiledPolicy:
    """Parse and check a policy document (a mapping or its JSON text)
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as e:
            raise PolicyError(f"the policy is not JSON: {e}") from None
    if not isinstance(document, Mapping):
        raise PolicyError(f"a policy is a JSON object, not {document!r}")
    if unknown := set(document) - _POLICY_KEYS:
        raise PolicyError(f"unknown policy elements {sorted(unknown)}")
    if document.get("Version") not in _VERSIONS:
        raise PolicyError(f"unknown policy Version {document.get('Version')!r}")
    variables = document.get("Version") == VARIABLES_VERSION
    raw = document.get("Statement")
    raw = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(raw, list):
        raise PolicyError("a policy has a Statement: an object or a list of objects")
    statements = [_Statement.parse(s, kind, variables, n) for n, s in enumerate(raw, start=1)]
    return CompiledPolicy(
        kind,
        allow_statements=tuple(s for s in statements if not s.deny),
        deny_statements=tuple(s for s in statements if s.deny),
    )

"""Stack policies: which update actions (Update:Modify, Update:Replace, Update:Delete) a stack
allows on which resources. With a policy set, an action is allowed only if a statement allows it
and none denies it, as CloudFormation evaluates them; without one, everything is allowed.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from cdlab.localcloud.protocols.errors import ValidationError

CONDITIONS = ("StringEquals", "StringLike")


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def parse(body: str) -> dict[str, Any]:
    """A policy document, checked for the parts the local cloud evaluates."""
    try:
        policy = json.loads(body)
    except json.JSONDecodeError as e:
        raise ValidationError(f"Error validating stack policy: Invalid JSON: {e}") from None
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if not isinstance(statements, list) or not statements:
        raise ValidationError("Error validating stack policy: a policy needs a Statement list.")
    for statement in statements:
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise ValidationError("Error validating stack policy: Effect must be Allow or Deny.")
        unknown = set(statement.get("Condition", {})) - set(CONDITIONS)
        if unknown:
            raise ValidationError(
                f"Error validating stack policy: the local cloud evaluates the conditions "
                f"{', '.join(CONDITIONS)} only, not {', '.join(sorted(unknown))}."
            )
    return policy


def _matches(statement: dict[str, Any], action: str, resource: str, resource_type: str) -> bool:
    def any_of(patterns: Any, value: str) -> bool:
        return any(fnmatchcase(value, p) for p in _list(patterns))

    if "Action" in statement and not any_of(statement["Action"], action):
        return False
    if "NotAction" in statement and any_of(statement["NotAction"], action):
        return False
    if "Resource" in statement and not any_of(statement["Resource"], resource):
        return False
    if "NotResource" in statement and any_of(statement["NotResource"], resource):
        return False
    for operator, tests in statement.get("Condition", {}).items():
        wanted = _list(tests.get("ResourceType"))
        if operator == "StringEquals" and resource_type not in wanted:
            return False
        if operator == "StringLike" and not any_of(wanted, resource_type):
            return False
    return True


def denial(
    policy: dict[str, Any] | None, action: str, logical_id: str, resource_type: str
) -> str | None:
    """Why ``policy`` forbids ``action`` on a resource, or None if it allows it."""
    if policy is None:
        return None
    resource = f"LogicalResourceId/{logical_id}"
    allowed = False
    for number, statement in enumerate(policy["Statement"], start=1):
        if _matches(statement, action, resource, resource_type):
            if statement["Effect"] == "Deny":
                return (
                    f"Action denied by stack policy: Statement [#{number}] does not allow "
                    f"[{action}] for resource [{resource}]"
                )
            allowed = True
    if allowed:
        return None
    return (
        f"Action denied by stack policy: no statement allows [{action}] for resource [{resource}]"
    )

"""What the per-service tables are made of: the :class:`Scope` a request acts in, its members
(:func:`members`), and builders of ARNs from them, with the combinators the tables share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PathLookup = Callable[[str, str], str | None]
"""An IAM entity's path (``/service-role/``) by kind (``role``, ``user``, ``group``,
``instance-profile``) and name, or None when it is not known (the path is then ``/``)."""


@dataclass(frozen=True)
class Scope:
    """Where a request acts: its signed region and its account; for IAM, how to find an entity's
    path and which user is calling (IAM's user actions act on the caller when they name nobody)."""

    region: str
    account: str
    iam_path: PathLookup | None = None
    username: str | None = None


Params = Mapping[str, Any]
Builder = Callable[[Params, Scope], list[str]]


def members(params: Any, path: str) -> list[str]:
    """The non-empty strings at a dotted member path (``TableInput.Name``); a list on the way
    fans out (``TrainingJobDefinitions.RoleArn``). Anything else a request holds is skipped."""
    found = [params]
    for name in path.split("."):
        step: list[Any] = []
        for item in found:
            value = item.get(name) if isinstance(item, Mapping) else None
            step.extend(value if isinstance(value, list) else [value])
        found = step
    return [value for value in found if isinstance(value, str) and value]


def is_arn(value: str) -> bool:
    return value.startswith("arn:")


def all_of(*builders: Builder) -> Builder:
    """Every builder's ARNs; none at all if one of them finds nothing (the action needs each)."""

    def build(params: Params, scope: Scope) -> list[str]:
        arns: list[str] = []
        for builder in builders:
            found = builder(params, scope)
            if not found:
                return []
            arns += found
        return arns

    return build


def optional(builder: Builder, *required: Builder) -> Builder:
    """The required builders' ARNs, plus the optional builder's when the request names it."""
    need = all_of(*required)

    def build(params: Params, scope: Scope) -> list[str]:
        arns = need(params, scope)
        return arns + builder(params, scope) if arns else []

    return build


def given(member: str) -> Builder:
    """The ARNs the request gives (tagging actions name their resource by ARN)."""
    return lambda params, _scope: [v for v in members(params, member) if is_arn(v)]

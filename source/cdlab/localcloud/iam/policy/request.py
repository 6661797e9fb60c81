"""What is asked of the evaluation: the :class:`Request` (principal, action, resources, condition
context), its caller's ARN parsed (:class:`Caller`) and its context normalized."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdlab.localcloud.iam.policy.values import Context, scalar

_CALLER = re.compile(r"arn:[^:]+:(?:iam|sts)::(\d{12}):(.*)")


@dataclass(frozen=True)
class Caller:
    arn: str
    account: str | None
    role: str | None  # the role name of an assumed-role session
    root: bool

    @classmethod
    def parse(cls, arn: str) -> Caller:
        match = _CALLER.fullmatch(arn)
        if match is None:  # a service principal such as sagemaker.amazonaws.com
            return cls(arn, None, None, False)
        account, resource = match.groups()
        role = resource.split("/")[1] if resource.startswith("assumed-role/") else None
        return cls(arn, account, role, resource == "root")


def _context(context: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Keys lower-cased (condition key names are case-insensitive), every value a tuple of
    strings; a key without a value is absent
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html)."""
    values = {}
    for key, value in context.items():
        if isinstance(value, list | tuple):
            strings = tuple(map(scalar, value))
        else:
            strings = () if value is None else (scalar(value),)
        if strings:
            values[key.lower()] = strings
    return values


@dataclass(frozen=True)
class Request:
    """What is asked: ``principal_arn`` (an IAM user, ``arn:aws:sts::…:assumed-role/…`` session,
    ``arn:aws:iam::…:root``, or a service principal name), ``action`` (``s3:GetObject``), the
    ARNs of the ``resources`` (``"*"`` for an action without resource-level permissions), and
    the condition ``context``: keys such as ``aws:RequestedRegion``, ``aws:username``,
    ``iam:PassedToService`` mapped to a string, a list of strings (a multivalued key), a number
    or a boolean. ``caller`` and ``values`` are derived: the parsed principal and the context
    normalized. Hashable (the context left out of the hash), for a decision cache."""

    principal_arn: str
    action: str
    resources: tuple[str, ...]
    context: Mapping[str, Any] = field(default_factory=dict, hash=False)
    caller: Caller = field(init=False, repr=False, compare=False)
    values: Context = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.resources, str) or not self.resources:
            raise ValueError("a request names its resources as a non-empty tuple of ARNs or '*'")
        object.__setattr__(self, "resources", tuple(self.resources))
        object.__setattr__(self, "caller", Caller.parse(self.principal_arn))
        object.__setattr__(self, "values", _context(self.context))

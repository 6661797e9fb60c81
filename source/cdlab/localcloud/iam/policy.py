"""AWS's policy evaluation logic within one account, as a pure module: no I/O, no moto.

A request is denied if any applicable statement denies it, allowed if an identity-based policy
allows it or a resource-based policy allows it to the caller by name, and otherwise denied
implicitly (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
An action on several resources is allowed only if it is allowed on each. Policies are parsed and
checked once by :func:`compile_policy` (a malformed one raises :class:`PolicyError`, which is
how a PutRolePolicy of it is refused); :func:`evaluate` then costs a few precompiled regular
expression matches per statement. Callers cache the :class:`CompiledPolicy` of each document.

Supported: ``Action``/``NotAction`` (case-insensitive), ``Resource``/``NotResource`` (case-
sensitive), ``*`` and ``?`` wildcards, ``Principal``/``NotPrincipal`` of resource-based policies,
policy variables with defaults and the ``${*}``, ``${?}``, ``${$}`` escapes, and every condition
operator of the documentation except ``BinaryEquals``, with ``...IfExists`` and the
``ForAnyValue:``/``ForAllValues:`` set operators. Not modelled: permissions boundaries, session
policies, SCPs, cross-account access.

Why this is written by hand. moto's own enforcement (moto/iam/access_control.py, moto 5.2) sees
a resource ARN for S3 only ("*" elsewhere), matches actions case-sensitively through an unescaped
regular expression without ``?``, knows no condition operator but ``StringEquals`` (trust
policies), turns an Allow statement whose condition fails into an explicit deny, and never reads
bucket policies. principalmapper (PMapper 1.1.5, January 2022, unreleased since; AGPL-3.0, which
the kit cannot take on) simulates more, but over its own graph of ``Node`` objects, matches
resources case-insensitively, escapes only ``.``, ``$`` and ``^`` of a pattern, substitutes
variables textually (a missing one stays literal, no ``${*}``), evaluates ``StringNotLike`` with
a missing key to false against the documentation, and has a copy-paste bug in its SNS/SQS action
path. policy_sentry (0.15, maintained, MIT) is a database of IAM actions, ARN formats and
condition keys with a policy writer: it evaluates nothing, and would pull in requests,
beautifulsoup4, orjson, click and schema plus a 13 MB JSON file for it.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

Context = Mapping[str, tuple[str, ...]]
Matcher = Callable[[str, Context], bool]  # a request value, the context for policy variables
Factory = Callable[[str, bool], Matcher]  # a policy value, whether it may hold variables

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
_CALLER = re.compile(r"arn:[^:]+:(?:iam|sts)::(\d{12}):(.*)")
_ROLE = re.compile(r"arn:[^:]+:iam::(\d{12}):role/(?:.*/)?([^/]+)")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"(.+?), '([^']*)'")
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")


class PolicyError(ValueError):
    """A policy document the local cloud refuses: not JSON, outside the policy grammar
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html), or using
    an operator it does not evaluate."""


class PolicyType(enum.Enum):
    """The two kinds of policy, named as AWS's access-denied messages name them
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)."""

    IDENTITY = "identity-based"
    RESOURCE = "resource-based"


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


class _Grant(enum.IntEnum):
    """How a statement applies to a caller: not at all, through the caller's account (which a
    resource-based Allow delegates to the account's identity-based policies), or to the caller
    itself (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)."""

    NONE = 0
    ACCOUNT = 1
    DIRECT = 2


@dataclass(frozen=True)
class _Caller:
    arn: str
    account: str | None
    role: str | None  # the role name of an assumed-role session
    root: bool

    @classmethod
    def parse(cls, arn: str) -> _Caller:
        match = _CALLER.fullmatch(arn)
        if match is None:  # a service principal such as sagemaker.amazonaws.com
            return cls(arn, None, None, False)
        account, resource = match.groups()
        role = resource.split("/")[1] if resource.startswith("assumed-role/") else None
        return cls(arn, account, role, resource == "root")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"condition context values are strings, numbers or booleans, not {value!r}")


def _context(context: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Keys lower-cased (condition key names are case-insensitive), every value a tuple of
    strings; a key without a value is absent
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html)."""
    values = {}
    for key, value in context.items():
        if isinstance(value, list | tuple):
            strings = tuple(map(_scalar, value))
        else:
            strings = () if value is None else (_scalar(value),)
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
    caller: _Caller = field(init=False, repr=False, compare=False)
    values: Context = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.resources, str) or not self.resources:
            raise ValueError("a request names its resources as a non-empty tuple of ARNs or '*'")
        object.__setattr__(self, "resources", tuple(self.resources))
        object.__setattr__(self, "caller", _Caller.parse(self.principal_arn))
        object.__setattr__(self, "values", _context(self.context))


class _Unresolved(Exception):
    """A policy variable without a value: it makes its statement not apply
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html)."""


# A string with wildcards as (text, wildcards active) pieces: the escapes ${*}, ${?}, ${$} and
# the values of policy variables are literal text.
Pieces = tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class _Variable:
    """``${key}`` or ``${key, 'default'}``."""

    key: str
    default: str | None

    def resolve(self, context: Context) -> tuple[str, bool]:
        values = context.get(self.key, ())
        if len(values) == 1:
            return values[0], False
        if self.default is None:
            raise _Unresolved(self.key)
        return self.default, False


class _Mode(enum.Enum):
    """How ``*`` and ``?`` match: anywhere in a string (actions, ``StringLike``); within the
    colon-separated segments of a Resource ARN, ``*`` crossing colons only at a segment's end
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html);
    within each of an ARN's six components (the ARN condition operators)."""

    STRING = "string"
    RESOURCE = "resource"
    ARN = "arn"


def _glob_source(pieces: Pieces, mode: _Mode) -> str:
    chars = [(c, wild) for text, wild in pieces for c in text]
    source, colons = [], 0
    for i, (c, wild) in enumerate(chars):
        if not wild or c not in "*?":
            colons += c == ":"
            source.append(re.escape(c))
            continue
        segment_end = i + 1 == len(chars) or chars[i + 1][0] == ":"
        within = (mode is _Mode.RESOURCE and not (c == "*" and segment_end)) or (
            mode is _Mode.ARN and colons < 5
        )
        source.append(("[^:]" if within else ".") + ("*" if c == "*" else ""))
    return "".join(source)


@lru_cache(maxsize=4096)
def _glob(pieces: Pieces, mode: _Mode) -> re.Pattern[str]:
    return re.compile(_glob_source(pieces, mode), re.DOTALL)


class _Template:
    """A policy string, with its policy variables when the policy's Version supports them."""

    __slots__ = ("pieces", "static")

    def __init__(self, raw: str, variables: bool) -> None:
        pieces: list[tuple[str, bool] | _Variable] = []
        end = 0
        for match in _VARIABLE.finditer(raw) if variables else ():
            pieces.append((raw[end : match.start()], True))
            inner = match.group(1)
            if inner in ("*", "?", "$"):
                pieces.append((inner, False))
            else:
                default = _DEFAULT.fullmatch(inner)
                key, value = default.groups() if default else (inner, None)
                pieces.append(_Variable(key.strip().lower(), value))
            end = match.end()
        pieces.append((raw[end:], True))
        self.pieces = tuple(pieces)
        self.static = not any(isinstance(piece, _Variable) for piece in pieces)

    def resolve(self, context: Context) -> Pieces:
        return tuple(p.resolve(context) if isinstance(p, _Variable) else p for p in self.pieces)

    def text(self, context: Context) -> str:
        return "".join(text for text, _ in self.resolve(context))

    def pattern(self, context: Context, mode: _Mode) -> re.Pattern[str]:
        return _glob(self.resolve(context), mode)


def _union(sources: Iterable[str], flags: int = 0) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{source})" for source in sources), re.DOTALL | flags)


class _Patterns:
    """A Resource or NotResource element: its static values as one regular expression, the values
    with policy variables resolved per request (all of them, so an unresolved one voids the
    statement even when another value matches)."""

    __slots__ = ("dynamic", "mode", "static")

    def __init__(self, values: Sequence[str], mode: _Mode, variables: bool) -> None:
        templates = [_Template(value, variables) for value in values]
        static = [_glob_source(t.resolve({}), mode) for t in templates if t.static]
        self.static = _union(static) if static else None
        self.dynamic = tuple(t for t in templates if not t.static)
        self.mode = mode

    def match(self, value: str, context: Context) -> bool:
        patterns = [t.pattern(context, self.mode) for t in self.dynamic]
        if self.static is not None and self.static.fullmatch(value):
            return True
        return any(p.fullmatch(value) for p in patterns)


# ------------------------------------------------------------------ condition operators
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html


def _string_equals(raw: str, variables: bool) -> Matcher:
    template = _Template(raw, variables)
    return lambda value, context: value == template.text(context)


def _string_equals_ignore_case(raw: str, variables: bool) -> Matcher:
    template = _Template(raw, variables)
    return lambda value, context: value.lower() == template.text(context).lower()


def _string_like(raw: str, variables: bool) -> Matcher:
    template = _Template(raw, variables)
    return lambda value, context: bool(template.pattern(context, _Mode.STRING).fullmatch(value))


def _arn_like(raw: str, variables: bool) -> Matcher:
    template = _Template(raw, variables)
    return lambda value, context: bool(template.pattern(context, _Mode.ARN).fullmatch(value))


def _bool(raw: str, variables: bool) -> Matcher:
    template = _Template(raw, variables)
    if template.static and raw.lower() not in ("true", "false"):
        raise PolicyError(f"Bool compares with true or false, not {raw!r}")
    return lambda value, context: value.lower() == template.text(context).lower()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _timestamp(text: str) -> datetime | None:
    """ISO 8601 (UTC unless it says otherwise) or epoch seconds."""
    if _EPOCH.fullmatch(text):
        return datetime.fromtimestamp(float(text), UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare(parse: Callable[[str], Any], compare: Callable[[Any, Any], bool]) -> Factory:
    def factory(raw: str, variables: bool) -> Matcher:
        wanted = parse(raw)
        if wanted is None:
            raise PolicyError(f"cannot compare with {raw!r}")

        def match(value: str, context: Context) -> bool:
            actual = parse(value)
            return actual is not None and compare(actual, wanted)

        return match

    return factory


def _ip_address(raw: str, variables: bool) -> Matcher:
    try:
        network = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise PolicyError(
            f"IpAddress compares with an address or CIDR range, not {raw!r}"
        ) from None

    def match(value: str, context: Context) -> bool:
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return match


def _comparisons() -> dict[str, tuple[Factory, bool]]:
    operators = {}
    relations = {"Equals": operator.eq, "LessThan": operator.lt, "LessThanEquals": operator.le}
    relations |= {"GreaterThan": operator.gt, "GreaterThanEquals": operator.ge}
    for family, parse in (("Numeric", _number), ("Date", _timestamp)):
        for name, relation in relations.items():
            operators[family + name] = (_compare(parse, relation), False)
        operators[family + "NotEquals"] = (_compare(parse, operator.eq), True)
    return operators


# base operator -> (matcher factory, negated, policy variables allowed)
_OPERATORS: dict[str, tuple[Factory, bool, bool]] = {
    "StringEquals": (_string_equals, False, True),
    "StringNotEquals": (_string_equals, True, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False, True),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True, True),
    "StringLike": (_string_like, False, True),
    "StringNotLike": (_string_like, True, True),
    "ArnEquals": (_arn_like, False, True),
    "ArnLike": (_arn_like, False, True),
    "ArnNotEquals": (_arn_like, True, True),
    "ArnNotLike": (_arn_like, True, True),
    "Bool": (_bool, False, True),
    "IpAddress": (_ip_address, False, False),
    "NotIpAddress": (_ip_address, True, False),
} | {name: (factory, negated, False) for name, (factory, negated) in _comparisons().items()}


@dataclass(frozen=True)
class _Condition:
    """One key under one operator. Several values for the key match if any does, or for a
    negated operator if none does; a missing key fails the test, passes a negated one, passes
    with ...IfExists and ForAllValues, and fails ForAnyValue
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
    Without a set operator, a multivalued key matches if any of its values does (none, for a
    negated operator). ``null`` holds the Null operator's expectations: True for "absent"."""

    key: str
    matchers: tuple[Matcher, ...] = ()
    negated: bool = False
    set_operator: str | None = None
    if_exists: bool = False
    null: frozenset[bool] | None = None

    def holds(self, context: Context) -> bool:
        values = context.get(self.key)
        if self.null is not None:
            return (values is None) in self.null
        if values is None:
            if self.if_exists or self.set_operator == "ForAllValues":
                return True
            return self.negated and self.set_operator is None
        results = [any(m(v, context) for m in self.matchers) != self.negated for v in values]
        if self.set_operator == "ForAllValues" or (self.negated and self.set_operator is None):
            return all(results)
        return any(results)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | bool | int | float) for v in values):
        raise PolicyError(f"{what} is a string or a non-empty list of strings, not {value!r}")
    return tuple(map(_scalar, values))


def _conditions(block: Any, variables: bool) -> tuple[_Condition, ...]:
    if not isinstance(block, Mapping):
        raise PolicyError(f"Condition maps operators to keys and values, not {block!r}")
    conditions = []
    for name, tests in block.items():
        set_operator, _, base = name.rpartition(":")
        if set_operator not in ("", "ForAnyValue", "ForAllValues"):
            raise PolicyError(f"unknown set operator in {name!r}")
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        if not isinstance(tests, Mapping):
            raise PolicyError(f"{name} maps condition keys to values, not {tests!r}")
        for key, raw in tests.items():
            values = _strings(raw, f"the value of {key} under {name}")
            if base == "Null":
                if if_exists or set_operator:
                    raise PolicyError(f"Null takes neither IfExists nor a set operator: {name}")
                if not {v.lower() for v in values} <= {"true", "false"}:
                    raise PolicyError(f"Null tests with true or false, not {raw!r}")
                absent = frozenset(v.lower() == "true" for v in values)
                conditions.append(_Condition(key.lower(), null=absent))
                continue
            if base not in _OPERATORS:
                raise PolicyError(
                    f"the local cloud does not evaluate the condition operator {name}"
                )
            factory, negated, with_variables = _OPERATORS[base]
            matchers = tuple(factory(v, variables and with_variables) for v in values)
            conditions.append(
                _Condition(key.lower(), matchers, negated, set_operator or None, if_exists)
            )
    return tuple(conditions)


# ------------------------------------------------------------------ principals and statements


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
            for value in _strings(values, f"Principal {kind}"):
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

    def grant(self, caller: _Caller) -> _Grant:
        if self.anyone or caller.arn in self.exact or (caller.account, caller.role) in self.roles:
            return _Grant.DIRECT
        return _Grant.ACCOUNT if caller.account in self.accounts else _Grant.NONE


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
    resources: _Patterns | None  # None: no Resource element (a trust policy)
    not_resource: bool
    principals: _Principals | None  # None: an identity-based policy
    not_principal: bool
    conditions: tuple[_Condition, ...]

    @classmethod
    def parse(cls, raw: Any, kind: PolicyType, variables: bool, number: int) -> _Statement:
        if not isinstance(raw, Mapping):
            raise PolicyError(f"statement {number} is not an object: {raw!r}")
        if unknown := set(raw) - _STATEMENT_KEYS:
            raise PolicyError(f"statement {number} has unknown elements {sorted(unknown)}")
        if (effect := raw.get("Effect")) not in ("Allow", "Deny"):
            raise PolicyError(f"statement {number}: Effect is Allow or Deny, not {effect!r}")
        identity = kind is PolicyType.IDENTITY
        action = _element(raw, "Action", True, number)
        resource = _element(raw, "Resource", identity, number)
        principal = _element(raw, "Principal", not identity, number)
        if identity and principal:
            raise PolicyError(f"statement {number}: an identity-based policy names no {principal}")
        actions = _strings(raw[action], f"statement {number} {action}")
        if bad := [a for a in actions if not _ACTION.fullmatch(a)]:
            raise PolicyError(f"statement {number}: actions are service:Action or *, not {bad}")
        resources = None
        if resource:
            arns = _strings(raw[resource], f"statement {number} {resource}")
            resources = _Patterns(arns, _Mode.RESOURCE, variables)
        return cls(
            deny=effect == "Deny",
            actions=_union(
                (_glob_source(((a, True),), _Mode.STRING) for a in actions), re.IGNORECASE
            ),
            not_action=action == "NotAction",
            resources=resources,
            not_resource=resource == "NotResource",
            principals=_Principals.parse(raw[principal]) if principal else None,
            not_principal=principal == "NotPrincipal",
            conditions=_conditions(raw.get("Condition", {}), variables),
        )

    def grant(self, request: Request, resource: str) -> _Grant:
        """How this statement applies to the request on ``resource``: NONE if it does not."""
        context = request.values
        if (self.actions.fullmatch(request.action) is None) != self.not_action:
            return _Grant.NONE
        try:
            resources = self.resources
            if resources is not None and resources.match(resource, context) == self.not_resource:
                return _Grant.NONE
            grant = self.principals.grant(request.caller) if self.principals else _Grant.DIRECT
            if self.not_principal:
                grant = _Grant.DIRECT if grant is _Grant.NONE else _Grant.NONE
            if grant and all(c.holds(context) for c in self.conditions):
                return grant
        except _Unresolved:
            pass
        return _Grant.NONE


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy document, checked and with its patterns compiled, ready for :func:`evaluate`."""

    kind: PolicyType
    allow_statements: tuple[_Statement, ...]
    deny_statements: tuple[_Statement, ...]

    def denies(self, request: Request, resource: str) -> bool:
        return any(s.grant(request, resource) for s in self.deny_statements)

    def allows(self, request: Request, resource: str) -> _Grant:
        """The strongest grant of the Allow statements."""
        granted = _Grant.NONE
        for statement in self.allow_statements:
            granted = max(granted, statement.grant(request, resource))
            if granted is _Grant.DIRECT:
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
    granted = _Grant.NONE
    if resource_policy is not None:
        if resource_policy.denies(request, resource):
            return Evaluation(Decision.EXPLICIT_DENY, PolicyType.RESOURCE, resource)
        granted = resource_policy.allows(request, resource)
    # The root user has full access unless a policy denies it.
    by_identity = request.caller.root or any(p.allows(request, resource) for p in identity)
    if resource_policy_required:
        if granted is _Grant.DIRECT or (granted is _Grant.ACCOUNT and by_identity):
            return Evaluation(Decision.ALLOW)
        if granted is _Grant.NONE:
            return Evaluation(Decision.IMPLICIT_DENY, PolicyType.RESOURCE, resource)
    elif by_identity or granted is _Grant.DIRECT:
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

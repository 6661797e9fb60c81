"""A policy's Condition element: the condition operators, each a factory of matchers for a
policy value, and the keys tested under them with ``...IfExists`` and the ``ForAnyValue:`` and
``ForAllValues:`` set operators
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)."""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cdlab.localcloud.iam.policy.matching import Mode, Template
from cdlab.localcloud.iam.policy.values import Context, PolicyError, strings

Matcher = Callable[[str, Context], bool]  # a request value, the context for policy variables
Factory = Callable[[str, bool], Matcher]  # a policy value, whether it may hold variables
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")


def _string_equals(raw: str, variables: bool) -> Matcher:
    template = Template(raw, variables)
    return lambda value, context: value == template.text(context)


def _string_equals_ignore_case(raw: str, variables: bool) -> Matcher:
    template = Template(raw, variables)
    return lambda value, context: value.lower() == template.text(context).lower()


def _string_like(raw: str, variables: bool) -> Matcher:
    template = Template(raw, variables)
    return lambda value, context: bool(template.pattern(context, Mode.STRING).fullmatch(value))


def _arn_like(raw: str, variables: bool) -> Matcher:
    template = Template(raw, variables)
    return lambda value, context: bool(template.pattern(context, Mode.ARN).fullmatch(value))


def _bool(raw: str, variables: bool) -> Matcher:
    template = Template(raw, variables)
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
class Condition:
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


def parse_conditions(block: Any, variables: bool) -> tuple[Condition, ...]:
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
            values = strings(raw, f"the value of {key} under {name}")
            if base == "Null":
                if if_exists or set_operator:
                    raise PolicyError(f"Null takes neither IfExists nor a set operator: {name}")
                if not {v.lower() for v in values} <= {"true", "false"}:
                    raise PolicyError(f"Null tests with true or false, not {raw!r}")
                absent = frozenset(v.lower() == "true" for v in values)
                conditions.append(Condition(key.lower(), null=absent))
                continue
            if base not in _OPERATORS:
                raise PolicyError(
                    f"the local cloud does not evaluate the condition operator {name}"
                )
            factory, negated, with_variables = _OPERATORS[base]
            matchers = tuple(factory(v, variables and with_variables) for v in values)
            conditions.append(
                Condition(key.lower(), matchers, negated, set_operator or None, if_exists)
            )
    return tuple(conditions)

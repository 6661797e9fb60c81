"""The Rules section: assertions on parameter values, checked before any resource is touched.

As CloudFormation does it (docs/aws-compatibility.md, "The pipeline stack: rules, revisions, the
first run and the approval"): a rule whose RuleCondition is false is skipped; a false Assert
refuses the whole operation with its AssertDescription. The rule functions are Fn::And, Fn::Or,
Fn::Not, Fn::Equals, Fn::Contains, Fn::EachMemberEquals and Fn::EachMemberIn over Refs to
parameters and pseudo parameters. Fn::RefAll, Fn::ValueOf and Fn::ValueOfAll read AWS-specific
parameter types (VPCs, subnets ...), which the local cloud does not provide.
"""

from __future__ import annotations

from typing import Any

from cdlab.localcloud.protocols.errors import ValidationError

BOOLEAN = ("Fn::And", "Fn::Or", "Fn::Not", "Fn::Equals", "Fn::Contains", "Fn::EachMemberEquals",
           "Fn::EachMemberIn")  # fmt: skip
RULE_KEYS = {"RuleCondition", "Assertions"}


def _format_error(message: str) -> ValidationError:
    return ValidationError(f"Template format error: {message}")


def _function(expression: Any, rule: str) -> tuple[str, Any]:
    if not isinstance(expression, dict) or len(expression) != 1:
        raise _format_error(
            f"rule {rule}: a condition must be one rule function, not {expression!r}"
        )
    [(name, argument)] = expression.items()
    if name not in BOOLEAN:
        raise _format_error(
            f"rule {rule}: {name} is not a rule function the local cloud evaluates "
            f"({', '.join(BOOLEAN)})"
        )
    return name, argument


def check_form(rules: Any, names: set[str]) -> None:
    """Each rule has Assertions (each with an Assert) and refers to declared names only."""
    if not isinstance(rules, dict):
        raise _format_error("the Rules section must be a mapping of rules")
    for rule, body in rules.items():
        if not isinstance(body, dict) or not isinstance(body.get("Assertions"), list):
            raise _format_error(f"rule {rule} must have a list of Assertions")
        extra = sorted(set(body) - RULE_KEYS)
        if extra:
            raise _format_error(f"rule {rule} has unknown keys {extra}")
        expressions = [a.get("Assert") if isinstance(a, dict) else a for a in body["Assertions"]]
        if "RuleCondition" in body:
            expressions.append(body["RuleCondition"])
        for expression in expressions:
            _function(expression, rule)
            unknown = sorted(_refs(expression) - names)
            if unknown:
                raise _format_error(f"rule {rule} refers to undeclared parameters {unknown}")


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return {value["Ref"]}
        return set().union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def _value(value: Any, parameters: dict[str, Any], rule: str) -> Any:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]
    if isinstance(value, dict):
        return _holds(value, parameters, rule)
    if isinstance(value, list):
        return [_value(v, parameters, rule) for v in value]
    return value


def _holds(expression: Any, parameters: dict[str, Any], rule: str) -> bool:
    name, argument = _function(expression, rule)
    values = [_value(v, parameters, rule) for v in argument]
    if name == "Fn::And":
        return all(values)
    if name == "Fn::Or":
        return any(values)
    if name == "Fn::Not":
        return not values[0]
    if name == "Fn::Equals":
        return str(values[0]) == str(values[1])
    if name == "Fn::Contains":
        return str(values[1]) in [str(v) for v in values[0]]
    if name == "Fn::EachMemberEquals":
        return all(str(v) == str(values[1]) for v in values[0])
    return all(str(v) in [str(w) for w in values[1]] for v in values[0])  # Fn::EachMemberIn


def assert_all(rules: dict[str, Any], parameters: dict[str, Any]) -> None:
    """Raise CloudFormation's ValidationError at the first assertion that does not hold."""
    for rule, body in rules.items():
        if "RuleCondition" in body and not _holds(body["RuleCondition"], parameters, rule):
            continue
        for assertion in body["Assertions"]:
            if not _holds(assertion["Assert"], parameters, rule):
                raise ValidationError(
                    assertion.get("AssertDescription") or f"Assertion failed for rule {rule}"
                )

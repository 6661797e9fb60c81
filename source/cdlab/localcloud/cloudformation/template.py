"""Templates: reading (YAML with the short tags, or JSON), parameter values, evaluation for one
stack (parameters, pseudo parameters, conditions, creation order) and what a template declares.

Everything here is a pure function of the template text and the request, so a template error is
found before a stack exists (or changes) and is worded as CloudFormation words it. Checking the
form is :mod:`validation`; references and order are :mod:`graph`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from cdlab.localcloud.cloudformation import rules
from cdlab.localcloud.cloudformation.graph import order
from cdlab.localcloud.cloudformation.intrinsics import NO_VALUE, Scope, condition
from cdlab.localcloud.protocols.errors import ValidationError

NO_ECHO_MASK = "****"
SHORT_TAGS = (
    "Ref", "Sub", "GetAtt", "Join", "If", "Equals", "Not", "And", "Or", "Select", "Split",
    "FindInMap", "Base64", "GetAZs", "Condition", "ImportValue", "Cidr", "Length", "ToJsonString",
    "Contains", "EachMemberEquals", "EachMemberIn", "RefAll", "ValueOf", "ValueOfAll",  # Rules
)  # fmt: skip


def format_error(message: str) -> ValidationError:
    return ValidationError(f"Template format error: {message}")


# ---- reading -----------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML as CloudFormation reads it: short tags become long forms, dates stay strings."""


def _short_form(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag in SHORT_TAGS:
    _Loader.add_constructor(f"!{_tag}", _short_form(_tag))
_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


def load(body: str) -> dict[str, Any]:
    """A template's text as data (JSON when it looks like JSON, YAML otherwise)."""
    if body.lstrip().startswith("{"):
        try:
            data = json.loads(body)
        except json.JSONDecodeError as e:
            raise format_error(
                f"JSON not well-formed. (line {e.lineno}, column {e.colno})"
            ) from None
    else:
        try:
            data = yaml.load(body, Loader=_Loader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise format_error(f"YAML not well-formed.{where}") from None
        except yaml.YAMLError:
            raise format_error("YAML not well-formed.") from None
    if not isinstance(data, dict):
        raise format_error("The template must be a JSON object or a YAML mapping.")
    return data


# ---- parameters -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _constraint_error(name: str, declaration: dict[str, Any], reason: str) -> ValidationError:
    if declaration.get("ConstraintDescription"):
        reason = f"failed to satisfy constraint: {declaration['ConstraintDescription']}"
        return ValidationError(f"Parameter {name} {reason}")
    return ValidationError(f"Parameter '{name}' {reason}")


def _check_value(name: str, declaration: dict[str, Any], value: str) -> None:
    kind = declaration["Type"]
    allowed = declaration.get("AllowedValues")
    if allowed is not None and value not in [_text(v) for v in allowed]:
        raise _constraint_error(name, declaration, "must be one of AllowedValues")
    if kind in ("Number", "List<Number>"):
        try:
            number = float(value)
        except ValueError:
            raise ValidationError(f"Parameter '{name}' must be a number") from None
        if not math.isfinite(number):
            raise ValidationError(f"Parameter '{name}' must be a number")
        if "MinValue" in declaration and number < float(declaration["MinValue"]):
            raise _constraint_error(
                name, declaration, f"must be a number not less than {declaration['MinValue']}"
            )
        if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
            raise _constraint_error(
                name, declaration, f"must be a number not greater than {declaration['MaxValue']}"
            )
        return
    if "MinLength" in declaration and len(value) < int(declaration["MinLength"]):
        raise _constraint_error(
            name, declaration, f"must contain at least {declaration['MinLength']} characters"
        )
    if "MaxLength" in declaration and len(value) > int(declaration["MaxLength"]):
        raise _constraint_error(
            name, declaration, f"must contain at most {declaration['MaxLength']} characters"
        )
    pattern = declaration.get("AllowedPattern")
    if pattern is not None:
        try:
            matches = re.fullmatch(pattern, value) is not None
        except re.error:
            raise format_error(
                f"Parameter {name} has an invalid AllowedPattern: {pattern}"
            ) from None
        if not matches:
            raise _constraint_error(name, declaration, f"must match pattern {pattern}")


def parameter_values(
    declarations: dict[str, Any], given: list[dict[str, Any]], previous: dict[str, str] | None
) -> dict[str, str]:
    """The value of every declared parameter as a string (lists comma-joined), checked against
    its constraints. ``previous`` holds the stack's current values, for UsePreviousValue."""
    supplied: dict[str, str] = {}
    for parameter in given:
        key = parameter["ParameterKey"]
        if parameter.get("UsePreviousValue"):
            if previous is None or key not in previous:
                raise ValidationError(
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as "
                    "true for a parameter key that is not in the previous template"
                )
            supplied[key] = previous[key]
        else:
            supplied[key] = parameter.get("ParameterValue", "")
    unknown = [key for key in supplied if key not in declarations]
    if unknown:
        raise ValidationError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values: dict[str, str] = {}
    missing = []
    for name, declaration in declarations.items():
        if name in supplied:
            values[name] = supplied[name]
        elif "Default" in declaration:
            values[name] = _text(declaration["Default"])
        else:
            missing.append(name)
    if missing:
        raise ValidationError(f"Parameters: [{', '.join(missing)}] must have values")
    for name, value in values.items():
        declaration = declarations[name]
        items = (
            value.split(",")
            if declaration["Type"].startswith(("List<", "CommaDelimited"))
            else [value]
        )
        for item in items:
            _check_value(name, declaration, item.strip() if len(items) > 1 else item)
    return values


PSEUDO_PARAMETERS = (
    "AWS::StackName", "AWS::StackId", "AWS::Region", "AWS::AccountId", "AWS::Partition",
    "AWS::URLSuffix", "AWS::NotificationARNs", "AWS::NoValue",
)  # fmt: skip


def pseudo_parameters(stack_name: str, stack_id: str) -> dict[str, Any]:
    """The pseudo parameters of a stack; its region and account are the ones its ARN names."""
    _, _, _, region, account, _ = stack_id.split(":", 5)
    return {
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id,
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


# ---- evaluation for one stack -----------------------------------------------------------------


@dataclass
class Evaluated:
    """A template with its parameters and conditions settled for one stack."""

    template: dict[str, Any]
    scope: Scope
    enabled: list[str]  # the resources whose condition holds, in creation order

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]


def evaluate(
    template: dict[str, Any], values: dict[str, str], stack_name: str, stack_id: str
) -> Evaluated:
    """Parameters (lists split), pseudo parameters, rules and conditions for one stack."""
    declarations = template.get("Parameters") or {}
    parameters: dict[str, Any] = pseudo_parameters(stack_name, stack_id)
    for name, value in values.items():
        is_list = declarations[name]["Type"] in ("CommaDelimitedList", "List<Number>")
        parameters[name] = [v.strip() for v in value.split(",")] if is_list else value
    rules.assert_all(template.get("Rules") or {}, parameters)
    scope = Scope(
        parameters, mappings=template.get("Mappings") or {}, region=parameters["AWS::Region"]
    )
    expressions = template.get("Conditions") or {}
    evaluating: list[str] = []

    def settle(name: str) -> bool:
        if name in scope.conditions:
            return scope.conditions[name]
        if name not in expressions:
            raise format_error(f"Condition {name} is not defined in the Conditions block")
        if name in evaluating:
            raise format_error(f"Circular condition dependency: {' -> '.join([*evaluating, name])}")
        evaluating.append(name)
        for other, _ in _condition_refs(expressions[name]):
            settle(other)
        scope.conditions[name] = condition(expressions[name], scope)
        evaluating.pop()
        return scope.conditions[name]

    for name in expressions:
        settle(name)
    resources = template["Resources"]
    enabled = {
        name
        for name, r in resources.items()
        if r.get("Condition") is None or settle(r["Condition"])
    }
    scope.resources = frozenset(enabled)
    return Evaluated(template, scope, order(resources, enabled))


def _condition_refs(value: Any) -> Iterator[tuple[str, None]]:
    """The conditions a condition expression names with ``{"Condition": name}``."""
    if isinstance(value, dict):
        if set(value) == {"Condition"} and isinstance(value["Condition"], str):
            yield value["Condition"], None
        else:
            for item in value.values():
                yield from _condition_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _condition_refs(item)


# ---- what a template declares (ValidateTemplate, GetTemplateSummary) ---------------------------


def parameter_declarations(template: dict[str, Any], *, detailed: bool) -> list[dict[str, Any]]:
    """Parameters as ValidateTemplate (or, ``detailed``, GetTemplateSummary) lists them."""
    result = []
    for name, declaration in (template.get("Parameters") or {}).items():
        entry: dict[str, Any] = {
            "ParameterKey": name,
            "NoEcho": str(declaration.get("NoEcho", "false")).lower() == "true",
        }
        if "Default" in declaration:
            entry["DefaultValue"] = _text(declaration["Default"])
        if "Description" in declaration:
            entry["Description"] = str(declaration["Description"])
        if detailed:
            entry["ParameterType"] = declaration["Type"]
            if "AllowedValues" in declaration:
                entry["ParameterConstraints"] = {
                    "AllowedValues": [_text(v) for v in declaration["AllowedValues"]]
                }
        result.append(entry)
    return result


def capabilities(template: dict[str, Any]) -> tuple[list[str], str | None]:
    """The capabilities a template needs (IAM resources), and CloudFormation's reason."""
    iam = sorted(
        {r["Type"] for r in template["Resources"].values() if r["Type"].startswith("AWS::IAM::")}
    )
    if not iam:
        return [], None
    named = any(
        r["Type"].startswith("AWS::IAM::")
        and any(k in r.get("Properties", {}) for k in ("RoleName", "UserName", "GroupName"))
        for r in template["Resources"].values()
    )
    return (
        ["CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"],
        f"The following resource(s) require capabilities: [{', '.join(iam)}]",
    )

"""Templates: reading (YAML with the short tags, or JSON), checking, parameters and ordering.

Everything here is a pure function of the template text and the request, so a template error is
found before a stack exists (or changes) and is worded as CloudFormation words it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from cdlab import config
from cdlab.localcloud.cloudformation.intrinsics import (
    NO_VALUE,
    SUB_VARIABLE,
    Scope,
    condition,
    function_of,
    get_att_target,
    sub_parts,
)
from cdlab.localcloud.protocols.errors import ValidationError

SECTIONS = {
    "AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings",
    "Conditions", "Transform", "Resources", "Outputs",
}  # fmt: skip
RESOURCE_KEYS = {
    "Type", "Properties", "DependsOn", "Condition", "Metadata", "DeletionPolicy",
    "UpdateReplacePolicy", "CreationPolicy", "UpdatePolicy", "Version",
}  # fmt: skip
PARAMETER_TYPES = {"String", "Number", "List<Number>", "CommaDelimitedList"}
LOGICAL_ID = re.compile(r"[A-Za-z0-9]+")
NO_ECHO_MASK = "****"
SHORT_TAGS = (
    "Ref", "Sub", "GetAtt", "Join", "If", "Equals", "Not", "And", "Or", "Select", "Split",
    "FindInMap", "Base64", "GetAZs", "Condition", "ImportValue", "Cidr", "Length", "ToJsonString",
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


# ---- references and order ---------------------------------------------------------------------


def references(value: Any) -> Iterator[tuple[str, str | None]]:
    """Every ``(name, attribute)`` a value refers to: Ref gives no attribute, GetAtt does."""
    call = function_of(value)
    if call is not None:
        name, argument = call
        if name == "Ref" and isinstance(argument, str):
            yield argument, None
            return
        if name == "Fn::GetAtt":
            resource, attribute = get_att_target(argument)
            yield resource, attribute if isinstance(attribute, str) else None
            yield from references(attribute)
            return
        if name == "Fn::Sub":
            text, variables = sub_parts(argument)
            for variable in SUB_VARIABLE.findall(text):
                variable = variable.strip()
                if variable.startswith("!") or variable in variables:
                    continue
                if "." in variable:
                    resource, attribute = variable.split(".", 1)
                    yield resource, attribute
                else:
                    yield variable, None
            yield from references(variables)
            return
        yield from references(argument)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def depends_on(resource: dict[str, Any]) -> list[str]:
    value = resource.get("DependsOn", [])
    return [value] if isinstance(value, str) else list(value)


def dependencies(resources: dict[str, Any]) -> dict[str, set[str]]:
    """Which resources each resource needs first (from Ref, GetAtt, Sub and DependsOn)."""
    return {
        name: {
            target
            for target, _ in references(resource.get("Properties", {}))
            if target in resources and target != name
        }
        | set(depends_on(resource))
        for name, resource in resources.items()
    }


def order(resources: dict[str, Any], enabled: set[str] | None = None) -> list[str]:
    """The resources (only ``enabled`` ones, if given) so that each comes after what it needs."""
    needs = dependencies(resources)
    names = [n for n in resources if enabled is None or n in enabled]
    pending = {n: {d for d in needs[n] if d in names} for n in names}
    ordered: list[str] = []
    while pending:
        ready = [n for n in names if n in pending and not pending[n]]
        if not ready:
            raise ValidationError(
                f"Circular dependency between resources: [{', '.join(sorted(pending))}]"
            )
        for name in ready:
            ordered.append(name)
            del pending[name]
        for waiting in pending.values():
            waiting.difference_update(ready)
    return ordered


# ---- checking ---------------------------------------------------------------------------------


def _check_refs(
    value: Any, section: str, names: set[str], resources: dict[str, Any],
    provided: Mapping[str, frozenset[str]] | None,
) -> None:  # fmt: skip
    unresolved = []
    for name, attribute in references(value):
        if attribute is None:
            if name not in names and name not in resources:
                unresolved.append(name)
            continue
        if name not in resources:
            raise ValidationError(
                f"Template error: instance of Fn::GetAtt references undefined resource {name}"
            )
        supported = provided.get(resources[name]["Type"]) if provided is not None else None
        if supported is not None and attribute not in supported:
            raise ValidationError(
                f"Template error: resource {name} does not support attribute type {attribute} "
                "in Fn::GetAtt"
            )
    if unresolved:
        raise format_error(
            f"Unresolved resource dependencies [{', '.join(dict.fromkeys(unresolved))}] in the "
            f"{section} block of the template"
        )


def check(template: dict[str, Any], provided: Mapping[str, frozenset[str]] | None) -> None:
    """Raise CloudFormation's ValidationError for anything wrong with the template's form.

    ``provided`` maps each resource type the local cloud provides to its Fn::GetAtt attributes;
    any other type is unrecognized. None checks the form only (as ValidateTemplate does, so a
    template for AWS can be validated even where the local cloud cannot deploy it).
    """
    unknown = sorted(set(template) - SECTIONS)
    if unknown:
        raise format_error(f"Invalid template property or properties [{', '.join(unknown)}]")
    version = template.get("AWSTemplateFormatVersion", "2010-09-09")
    if str(version) != "2010-09-09":
        raise format_error("Unsupported template version")
    for section in ("Transform", "Rules"):
        if section in template:
            raise format_error(
                f"the local cloud does not evaluate the {section} section; remove it to deploy "
                "locally."
            )
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise format_error("At least one Resources member must be defined.")
    parameters = template.get("Parameters") or {}
    conditions = template.get("Conditions") or {}
    for name, declaration in parameters.items():
        check_parameter_declaration(name, declaration)
    names = set(parameters) | set(pseudo_parameters("stack", "id"))
    for name, resource in resources.items():
        if not LOGICAL_ID.fullmatch(name):
            raise format_error(f"Resource name {name} is non alphanumeric.")
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise format_error(
                f"[/Resources/{name}] Every Resources object must contain a Type member."
            )
        extra = sorted(set(resource) - RESOURCE_KEYS)
        if extra:
            raise format_error(f"Invalid template resource property '{extra[0]}'")
        if resource.get("Condition") is not None and resource["Condition"] not in conditions:
            raise format_error(f"Unresolved condition {resource['Condition']} in resource {name}")
        missing = [d for d in depends_on(resource) if d not in resources]
        if missing:
            raise format_error(
                f"Unresolved resource dependencies [{', '.join(missing)}] in the Resources "
                "block of the template"
            )
    if provided is not None:
        unrecognized = sorted({r["Type"] for r in resources.values()} - set(provided))
        if unrecognized:
            raise format_error(
                f"Unrecognized resource types: [{', '.join(unrecognized)}]. The local cloud "
                f"provides {', '.join(provided)}."
            )
    for resource in resources.values():
        _check_refs(resource.get("Properties", {}), "Resources", names, resources, provided)
    for expression in conditions.values():
        bad = [n for n, _ in references(expression) if n not in names]
        if bad:
            raise format_error(
                f"Unresolved dependencies [{', '.join(bad)}]. Cannot reference resources in the "
                "Conditions block of the template"
            )
    for name, output in (template.get("Outputs") or {}).items():
        if not isinstance(output, dict) or "Value" not in output:
            raise format_error(f"Every Outputs member must contain a Value object ({name})")
        if output.get("Condition") is not None and output["Condition"] not in conditions:
            raise format_error(f"Unresolved condition {output['Condition']} in output {name}")
        _check_refs(output, "Outputs", names, resources, provided)
    order(resources)


# ---- parameters -------------------------------------------------------------------------------


def check_parameter_declaration(name: str, declaration: Any) -> None:
    if not isinstance(declaration, dict) or "Type" not in declaration:
        raise format_error(f"Every Parameters object must contain a Type member ({name}).")
    kind = declaration["Type"]
    if kind not in PARAMETER_TYPES:
        raise format_error(
            f"Parameter {name} has type {kind}, which the local cloud does not provide (it "
            f"provides {', '.join(sorted(PARAMETER_TYPES))}); SSM and AWS-specific parameter "
            "types need the AWS account to look values up."
        )


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


def pseudo_parameters(stack_name: str, stack_id: str) -> dict[str, Any]:
    return {
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id,
        "AWS::Region": config.region(),
        "AWS::AccountId": config.ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


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
    """Parameters (lists split), pseudo parameters and conditions for one stack."""
    declarations = template.get("Parameters") or {}
    parameters: dict[str, Any] = pseudo_parameters(stack_name, stack_id)
    for name, value in values.items():
        is_list = declarations[name]["Type"] in ("CommaDelimitedList", "List<Number>")
        parameters[name] = [v.strip() for v in value.split(",")] if is_list else value
    scope = Scope(parameters, mappings=template.get("Mappings") or {}, region=config.region())
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

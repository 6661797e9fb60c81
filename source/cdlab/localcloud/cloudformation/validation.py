"""Checking a template's form before it is used: sections, parameter declarations, resources,
resource types, references, conditions and outputs, worded as CloudFormation words each error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cdlab.localcloud.cloudformation import rules
from cdlab.localcloud.cloudformation.graph import depends_on, order, references
from cdlab.localcloud.cloudformation.template import PSEUDO_PARAMETERS, format_error
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
# each resource type the local cloud provides -> its Fn::GetAtt attributes
Provided = Mapping[str, frozenset[str]]


def _check_refs(
    value: Any, section: str, names: set[str], resources: dict[str, Any],
    provided: Provided | None,
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


def check(template: dict[str, Any], provided: Provided | None) -> None:
    """Raise CloudFormation's ValidationError for anything wrong with the template's form.

    ``provided`` maps each resource type the local cloud provides to its Fn::GetAtt attributes;
    any other type is unrecognized. None checks the form only (as ValidateTemplate does, so a
    template for AWS can be validated even where the local cloud cannot deploy it).
    """
    _check_sections(template)
    resources = template["Resources"]
    parameters = template.get("Parameters") or {}
    conditions = template.get("Conditions") or {}
    for name, declaration in parameters.items():
        check_parameter_declaration(name, declaration)
    names = set(parameters) | set(PSEUDO_PARAMETERS)
    rules.check_form(template.get("Rules") or {}, names)
    for name, resource in resources.items():
        _check_resource(name, resource, resources, conditions)
    if provided is not None:
        _check_types(resources, provided)
    for resource in resources.values():
        _check_refs(resource.get("Properties", {}), "Resources", names, resources, provided)
    _check_conditions(conditions, names)
    for name, output in (template.get("Outputs") or {}).items():
        _check_output(name, output, names, resources, conditions, provided)
    order(resources)


def _check_sections(template: dict[str, Any]) -> None:
    """The sections are known, the version is 2010-09-09, and there are Resources."""
    unknown = sorted(set(template) - SECTIONS)
    if unknown:
        raise format_error(f"Invalid template property or properties [{', '.join(unknown)}]")
    version = template.get("AWSTemplateFormatVersion", "2010-09-09")
    if str(version) != "2010-09-09":
        raise format_error("Unsupported template version")
    if "Transform" in template:
        raise format_error(
            "the local cloud does not evaluate the Transform section; remove it to deploy locally."
        )
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise format_error("At least one Resources member must be defined.")


def _check_resource(
    name: str, resource: Any, resources: dict[str, Any], conditions: dict[str, Any]
) -> None:
    """A resource's name, keys, condition and DependsOn."""
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


def _check_types(resources: dict[str, Any], provided: Provided) -> None:
    """Every resource type is one the local cloud provides."""
    unrecognized = sorted({r["Type"] for r in resources.values()} - set(provided))
    if unrecognized:
        raise format_error(
            f"Unrecognized resource types: [{', '.join(unrecognized)}]. The local cloud "
            f"provides {', '.join(provided)}."
        )


def _check_conditions(conditions: dict[str, Any], names: set[str]) -> None:
    """Conditions refer to parameters only, not to resources."""
    for expression in conditions.values():
        bad = [n for n, _ in references(expression) if n not in names]
        if bad:
            raise format_error(
                f"Unresolved dependencies [{', '.join(bad)}]. Cannot reference resources in the "
                "Conditions block of the template"
            )


def _check_output(
    name: str, output: Any, names: set[str], resources: dict[str, Any],
    conditions: dict[str, Any], provided: Provided | None,
) -> None:  # fmt: skip
    """An output has a Value, a declared condition if any, and references that resolve."""
    if not isinstance(output, dict) or "Value" not in output:
        raise format_error(f"Every Outputs member must contain a Value object ({name})")
    if output.get("Condition") is not None and output["Condition"] not in conditions:
        raise format_error(f"Unresolved condition {output['Condition']} in output {name}")
    _check_refs(output, "Outputs", names, resources, provided)


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

"""What a template's values refer to, and the order its resources are created in.

A resource comes after every resource it names with Ref, Fn::GetAtt or Fn::Sub, and after those
its DependsOn lists; a cycle is CloudFormation's "Circular dependency" error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cdlab.localcloud.cloudformation.intrinsics import (
    SUB_VARIABLE,
    function_of,
    get_att_target,
    sub_parts,
)
from cdlab.localcloud.protocols.errors import ValidationError


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

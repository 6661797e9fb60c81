"""What an update does to each resource: nothing, an in-place update, or a replacement.

`diff` decides it for one resource from its old and new resolved properties (a change to a
create-only property replaces the resource, as CloudFormation documents per type). `plan` runs
it over a whole template before anything changes, for a change set: a value that depends on a
resource still to be created is `Unknown`, and the replacement it may cause is "Conditional".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdlab.localcloud.cloudformation.graph import references
from cdlab.localcloud.cloudformation.intrinsics import Unknown, resolve
from cdlab.localcloud.cloudformation.resources import HANDLERS
from cdlab.localcloud.cloudformation.resources.base import Handler, Resource
from cdlab.localcloud.cloudformation.template import Evaluated


@dataclass
class Diff:
    changed: list[str]  # the top-level properties whose values differ
    replace: bool | None  # None: only an Unknown value would replace it ("Conditional")


def _unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_unknown(v) for v in value)
    return False


def diff(entry: dict[str, Any], resource_type: str, props: dict[str, Any]) -> Diff | None:
    """How ``entry`` (a stack resource) must change to have ``props``; None if it need not."""
    old = entry["Properties"]
    if entry["ResourceType"] != resource_type:
        return Diff(sorted(set(old) | set(props)), True)
    changed = sorted(k for k in set(old) | set(props) if old.get(k) != props.get(k))
    if not changed:
        return None
    recreate = [k for k in changed if k in HANDLERS[resource_type].create_only]
    if not recreate:
        return Diff(changed, False)
    if all(_unknown(props.get(k)) for k in recreate):
        return Diff(changed, None)
    return Diff(changed, True)


def _detail(
    name: str, handler: Handler, props: dict[str, Any], cause: tuple[str, str] | None
) -> dict[str, Any]:
    source, entity = cause or ("DirectModification", None)
    detail = {
        "Target": {
            "Attribute": "Properties",
            "Name": name,
            "RequiresRecreation": "Always" if name in handler.create_only else "Never",
        },
        "Evaluation": "Dynamic" if _unknown(props.get(name)) else "Static",
        "ChangeSource": source,
    }
    if entity:
        detail["CausingEntity"] = entity
    return detail


def plan(
    current: dict[str, dict[str, Any]],
    old_template: dict[str, Any] | None,
    old_values: dict[str, str],
    new: Evaluated,
    new_values: dict[str, str],
) -> list[dict[str, Any]]:
    """A change set's Changes: the resource changes ``new`` makes to the ``current`` resources."""
    fate: dict[str, str] = {}  # logical id -> "Add" | "Replace" | "Conditional" | "Modify"
    predicted: dict[str, Resource | None] = {}

    def ref(name: str) -> Any:
        if fate.get(name) in ("Add", "Replace", "Conditional"):
            guess = predicted.get(name)
            return guess.physical_id if guess else Unknown(name)
        return current[name]["PhysicalResourceId"]

    def get_att(name: str, attribute: str) -> Any:
        if fate.get(name) in ("Add", "Replace", "Conditional"):
            guess = predicted.get(name)
            return (
                guess.attributes.get(attribute, Unknown(f"{name}.{attribute}"))
                if guess
                else Unknown(f"{name}.{attribute}")
            )
        return current[name]["Attributes"].get(attribute, Unknown(f"{name}.{attribute}"))

    new.scope.ref, new.scope.get_att = ref, get_att
    old_resources = (old_template or {}).get("Resources", {})
    changes = []
    for logical in new.enabled:
        declared = new.resources[logical]
        handler = HANDLERS[declared["Type"]]
        props = resolve(declared.get("Properties", {}), new.scope)
        predicted[logical] = handler.predict(props)
        change: dict[str, Any] = {
            "LogicalResourceId": logical,
            "ResourceType": declared["Type"],
        }
        if logical not in current:
            fate[logical] = "Add"
            changes.append({**change, "Action": "Add"})
            continue
        found = diff(current[logical], declared["Type"], props)
        if found is None:
            continue
        fate[logical] = {True: "Replace", None: "Conditional", False: "Modify"}[found.replace]
        old_raw = old_resources.get(logical, {}).get("Properties", {})
        details = []
        for name in found.changed:
            raw = declared.get("Properties", {}).get(name)
            cause = None
            if raw == old_raw.get(name):
                cause = _cause(raw, old_values, new_values, fate)
            details.append(_detail(name, handler, props, cause))
        changes.append(
            {
                **change,
                "Action": "Modify",
                "PhysicalResourceId": current[logical]["PhysicalResourceId"],
                "Replacement": {True: "True", None: "Conditional", False: "False"}[found.replace],
                "Scope": ["Properties"],
                "Details": details,
            }
        )
    for logical, entry in current.items():
        if logical not in new.scope.resources:
            changes.append(
                {
                    "LogicalResourceId": logical,
                    "ResourceType": entry["ResourceType"],
                    "Action": "Remove",
                    "PhysicalResourceId": entry.get("PhysicalResourceId"),
                }
            )
    return [{"Type": "Resource", "ResourceChange": c} for c in changes]


def _cause(
    raw: Any, old_values: dict[str, str], new_values: dict[str, str], fate: dict[str, str]
) -> tuple[str, str] | None:
    """Why an unchanged expression now has a new value: a parameter or another resource."""
    for name, attribute in references(raw):
        if name in new_values and old_values.get(name) != new_values[name]:
            return "ParameterReference", name
        if name in fate:
            if attribute is None:
                return "ResourceReference", name
            return "ResourceAttribute", f"{name}.{attribute}"
    return None

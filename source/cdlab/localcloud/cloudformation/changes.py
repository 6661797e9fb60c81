"""What an update does to each resource: nothing, an in-place update, or a replacement.

`diff` decides it for one resource from its old and new resolved properties (a change to a
create-only property replaces the resource, as CloudFormation documents per type). `plan` runs
it over a whole template before anything changes, for a change set: a value that depends on a
resource still to be created is `Unknown`, and the replacement it may cause is "Conditional".
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class _Plan:
    """A change set being worked out, resource by resource in creation order: what happens to
    each one so far, and the Ref and attributes of the new ones, where they can be known."""

    current: dict[str, dict[str, Any]]
    old_resources: dict[str, Any]
    old_values: dict[str, str]
    new_values: dict[str, str]
    # logical id -> "Add" | "Replace" | "Conditional" | "Modify"
    fate: dict[str, str] = field(default_factory=dict)
    predicted: dict[str, Resource | None] = field(default_factory=dict)

    def ref(self, name: str) -> Any:
        if self.fate.get(name) in ("Add", "Replace", "Conditional"):
            guess = self.predicted.get(name)
            return guess.physical_id if guess else Unknown(name)
        return self.current[name]["PhysicalResourceId"]

    def get_att(self, name: str, attribute: str) -> Any:
        if self.fate.get(name) in ("Add", "Replace", "Conditional"):
            guess = self.predicted.get(name)
            return (
                guess.attributes.get(attribute, Unknown(f"{name}.{attribute}"))
                if guess
                else Unknown(f"{name}.{attribute}")
            )
        return self.current[name]["Attributes"].get(attribute, Unknown(f"{name}.{attribute}"))

    def change(self, logical: str, new: Evaluated) -> dict[str, Any] | None:
        """The change ``new`` makes to one of its resources; None if it stays as it is."""
        declared = new.resources[logical]
        handler = HANDLERS[declared["Type"]]
        props = resolve(declared.get("Properties", {}), new.scope)
        self.predicted[logical] = handler.predict(props)
        change: dict[str, Any] = {
            "LogicalResourceId": logical,
            "ResourceType": declared["Type"],
        }
        if logical not in self.current:
            self.fate[logical] = "Add"
            return {**change, "Action": "Add"}
        found = diff(self.current[logical], declared["Type"], props)
        if found is None:
            return None
        self.fate[logical] = {True: "Replace", None: "Conditional", False: "Modify"}[found.replace]
        return {
            **change,
            "Action": "Modify",
            "PhysicalResourceId": self.current[logical]["PhysicalResourceId"],
            "Replacement": {True: "True", None: "Conditional", False: "False"}[found.replace],
            "Scope": ["Properties"],
            "Details": self._details(logical, declared, props, found),
        }

    def _details(
        self, logical: str, declared: dict[str, Any], props: dict[str, Any], found: Diff
    ) -> list[dict[str, Any]]:
        """Each changed property, and what changed it when its expression did not change."""
        handler = HANDLERS[declared["Type"]]
        old_raw = self.old_resources.get(logical, {}).get("Properties", {})
        details = []
        for name in found.changed:
            raw = declared.get("Properties", {}).get(name)
            cause = None
            if raw == old_raw.get(name):
                cause = _cause(raw, self.old_values, self.new_values, self.fate)
            details.append(_detail(name, handler, props, cause))
        return details


def plan(
    current: dict[str, dict[str, Any]],
    old_template: dict[str, Any] | None,
    old_values: dict[str, str],
    new: Evaluated,
    new_values: dict[str, str],
) -> list[dict[str, Any]]:
    """A change set's Changes: the resource changes ``new`` makes to the ``current`` resources."""
    planned = _Plan(current, (old_template or {}).get("Resources", {}), old_values, new_values)
    new.scope.ref, new.scope.get_att = planned.ref, planned.get_att
    changes = []
    for logical in new.enabled:
        change = planned.change(logical, new)
        if change is not None:
            changes.append(change)
    changes += _removals(current, new.scope.resources)
    return [{"Type": "Resource", "ResourceChange": c} for c in changes]


def _removals(current: dict[str, dict[str, Any]], kept: frozenset[str]) -> list[dict[str, Any]]:
    """The current resources the new template no longer has (or whose condition now fails)."""
    return [
        {
            "LogicalResourceId": logical,
            "ResourceType": entry["ResourceType"],
            "Action": "Remove",
            "PhysicalResourceId": entry.get("PhysicalResourceId"),
        }
        for logical, entry in current.items()
        if logical not in kept
    ]


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

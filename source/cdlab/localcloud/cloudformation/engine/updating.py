"""UpdateStack's operation: resources are updated in place or replaced in dependency order, as
the stack policy allows, the rollback triggers watched (:mod:`triggers`).

A replacement creates the new resource first, and the old one is deleted only in the cleanup
phase (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS), so a failure part-way can roll back to resources that
still exist.
"""

from __future__ import annotations

from typing import Any

from cdlab.localcloud.cloudformation import policy, template
from cdlab.localcloud.cloudformation.changes import diff
from cdlab.localcloud.cloudformation.engine.rollback import RollingBack
from cdlab.localcloud.cloudformation.engine.steps import (
    STOPPED,
    OperationFailed,
    failed_to,
    new_entry,
)
from cdlab.localcloud.cloudformation.engine.triggers import RollbackTriggered, watch
from cdlab.localcloud.cloudformation.intrinsics import resolve
from cdlab.localcloud.cloudformation.resources import HANDLERS
from cdlab.localcloud.protocols.errors import AWSError

CUSTOM_NAME = (
    "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
    "Rename {name} and update the stack again."
)


class Updating(RollingBack):
    """UpdateStack's operation, and its end when the local cloud stopped during it."""

    async def _update(self, stack_id: str) -> None:
        doc, evaluated = self._load(stack_id)
        self._stack_status(doc, "UPDATE_IN_PROGRESS", "User Initiated")
        removed = [name for name in doc["_Resources"] if name not in evaluated.scope.resources]
        try:
            await watch(self.moto, doc)
            for logical in evaluated.enabled:
                await self._update_resource(doc, evaluated, logical)
                await watch(self.moto, doc)
            doc["Outputs"] = self._outputs(doc, evaluated)
            for logical in removed:
                self._allowed(doc, doc["_Resources"][logical], "Update:Delete")
            await watch(self.moto, doc, monitoring=True)
        except OperationFailed as e:
            await self._update_failed(doc, failed_to("update", [str(e)]))
            return
        except (AWSError, RollbackTriggered) as e:
            await self._update_failed(doc, str(e))
            return
        for logical in removed:
            doc["_Cleanup"].append({**doc["_Resources"].pop(logical), "_Removed": True})
        doc["_Resources"] = {name: doc["_Resources"][name] for name in evaluated.enabled}
        self._stack_status(doc, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        await self._cleanup(stack_id)

    async def _update_resource(
        self, doc: dict[str, Any], evaluated: template.Evaluated, logical: str
    ) -> None:
        declared = evaluated.resources[logical]
        current = doc["_Resources"].get(logical)
        if current is None:
            entry = new_entry(logical, declared["Type"])
            doc["_Resources"][logical] = entry
            await self._provision(doc, evaluated, entry, "CREATE")
            return
        handler = HANDLERS[declared["Type"]]
        try:
            props = resolve(declared.get("Properties", {}), evaluated.scope)
        except AWSError as e:
            self._status(doc, current, "UPDATE_FAILED", e.message)
            raise OperationFailed(logical) from None
        change = diff(current, declared["Type"], props)
        if change is None:
            return
        self._allowed(doc, current, "Update:Replace" if change.replace else "Update:Modify")
        if change.replace:
            name = handler.name_property
            if (
                name
                and props.get(name) is not None
                and props.get(name) == current["Properties"].get(name)
            ):
                self._status(doc, current, "UPDATE_FAILED", CUSTOM_NAME.format(name=props[name]))
                raise OperationFailed(logical)
            doc["_Pending"] = entry = new_entry(logical, declared["Type"])
            await self._provision(doc, evaluated, entry, "UPDATE")
            doc["_Cleanup"].append(current)
            doc["_Resources"][logical] = entry
            del doc["_Pending"]
            self.stacks.save(doc)
            return
        old = current["Properties"]
        current["Properties"] = props
        self._status(doc, current, "UPDATE_IN_PROGRESS")
        step = handler.update(self._context(doc, logical), self._current(current), old, props)
        resource = await self._call(doc, current, "UPDATE_FAILED", step)
        current["PhysicalResourceId"], current["Attributes"] = (
            resource.physical_id,
            resource.attributes,
        )
        self._status(doc, current, "UPDATE_COMPLETE")

    def _allowed(self, doc: dict[str, Any], entry: dict[str, Any], action: str) -> None:
        """Fail the resource if the stack policy forbids ``action`` on it."""
        reason = policy.denial(
            doc.get("_UpdatePolicy") or doc.get("_StackPolicy"),
            action,
            entry["LogicalResourceId"],
            entry["ResourceType"],
        )
        if reason is not None:
            self._status(doc, entry, "UPDATE_FAILED", reason)
            raise OperationFailed(entry["LogicalResourceId"])

    async def _update_stopped(self, stack_id: str) -> None:
        doc = self.stacks.get(stack_id)
        for entry in [*doc["_Resources"].values(), doc.get("_Pending") or {}]:
            if entry.get("ResourceStatus", "").endswith("_IN_PROGRESS"):
                self._status(doc, entry, "UPDATE_FAILED", STOPPED)
        await self._update_failed(doc, STOPPED)

    async def _update_failed(self, doc: dict[str, Any], reason: str) -> None:
        self._stack_status(doc, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
        await self._rollback_update(doc["StackId"])

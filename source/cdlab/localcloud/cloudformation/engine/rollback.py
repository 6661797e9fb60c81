"""The operations that take resources away or put the previous ones back: DeleteStack (also run
for a failed create with OnFailure DELETE), the rollback of a failed create, an update's cleanup
and the rollback of a failed update.

An update's rollback reverts the in-place changes, then deletes whatever the update created
(UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS); its cleanup deletes what the update replaced or
removed (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from cdlab.localcloud.cloudformation.engine.steps import OperationFailed, Steps, failed_to
from cdlab.localcloud.cloudformation.resources import HANDLERS


class RollingBack(Steps):
    """Delete, the rollbacks and an update's cleanup."""

    async def _delete_resources(
        self,
        doc: dict[str, Any],
        entries: list[dict[str, Any]],
        retain: set[str],
        policy_key: str = "DeletionPolicy",
        remove: bool = True,
    ) -> list[str]:
        """Delete ``entries`` last-created first (keeping those whose ``policy_key`` attribute is
        Retain); the logical ids that failed to delete."""
        failed = []
        for entry in reversed(entries):
            logical = entry["LogicalResourceId"]
            if entry.get("ResourceStatus") in ("DELETE_COMPLETE", "DELETE_SKIPPED"):
                continue  # done before the local cloud stopped
            if entry.get(policy_key) == "Retain" or logical in retain:
                self._status(doc, entry, "DELETE_SKIPPED")
            elif entry.get("PhysicalResourceId") is None:
                self._status(doc, entry, "DELETE_COMPLETE")
            else:
                self._status(doc, entry, "DELETE_IN_PROGRESS")
                handler = HANDLERS[entry["ResourceType"]]
                step = handler.delete(self._context(doc, logical), self._current(entry))
                try:
                    await self._call(doc, entry, "DELETE_FAILED", step)
                except OperationFailed:
                    failed.append(logical)
                    continue
                self._status(doc, entry, "DELETE_COMPLETE")
            if remove and doc["_Resources"].get(logical) is entry:
                del doc["_Resources"][logical]
                self.stacks.save(doc)
        return failed

    async def _delete(
        self, stack_id: str, reason: str = "User Initiated", retain: list[str] | None = None
    ) -> None:
        """DeleteStack's operation, or the delete a failed create asks for with OnFailure DELETE
        (``reason`` then says why the create failed)."""
        doc = self.stacks.get(stack_id)
        self._stack_status(doc, "DELETE_IN_PROGRESS", reason)
        failed = await self._delete_resources(
            doc, list(doc["_Resources"].values()), set(retain or ())
        )
        if failed:
            self._stack_status(doc, "DELETE_FAILED", failed_to("delete", failed))
            return
        doc["DeletionTime"] = time.time()
        doc["_Resources"] = {}
        doc.pop("Outputs", None)
        self._stack_status(doc, "DELETE_COMPLETE")
        for change_set in self.stacks.change_sets(stack_id):
            self.stacks.delete_change_set(change_set["ChangeSetId"])

    async def _rollback_create(self, stack_id: str) -> None:
        doc = self.stacks.get(stack_id)
        failed = await self._delete_resources(doc, list(doc["_Resources"].values()), retain=set())
        doc.pop("Outputs", None)
        if failed:
            self._stack_status(doc, "ROLLBACK_FAILED", failed_to("delete", failed))
            return
        self._stack_status(doc, "ROLLBACK_COMPLETE")

    async def _cleanup(self, stack_id: str) -> None:
        """Delete what the update replaced or removed; the update stands whatever happens."""
        doc = self.stacks.get(stack_id)
        for entry in reversed(doc["_Cleanup"]):
            which = "DeletionPolicy" if entry.get("_Removed") else "UpdateReplacePolicy"
            await self._delete_resources(doc, [entry], set(), policy_key=which, remove=False)
        _finish_update(doc)
        self._stack_status(doc, "UPDATE_COMPLETE")

    async def _rollback_update(self, stack_id: str) -> None:
        """Put the previous template's resources back: revert in-place changes, then delete
        whatever the update created."""
        doc = self.stacks.get(stack_id)
        previous = doc["_Previous"]
        before = previous["Resources"]
        existed = {e.get("PhysicalResourceId") for e in before.values()}
        failed = []
        if doc["StackStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS":
            for logical, old in before.items():
                current = doc["_Resources"].get(logical)
                if current is None or current.get("PhysicalResourceId") != old.get(
                    "PhysicalResourceId"
                ):
                    continue
                if current["Properties"] == old["Properties"]:
                    continue
                handler = HANDLERS[old["ResourceType"]]
                self._status(doc, current, "UPDATE_IN_PROGRESS")
                step = handler.update(
                    self._context(doc, logical),
                    self._current(current),
                    current["Properties"],
                    old["Properties"],
                )
                try:
                    await self._call(doc, current, "UPDATE_FAILED", step)
                except OperationFailed:
                    failed.append(logical)
                    continue
                current["Properties"] = old["Properties"]
                self._status(doc, current, "UPDATE_COMPLETE")
            self._stack_status(doc, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        created = [
            e
            for e in [*doc["_Resources"].values(), doc.get("_Pending") or {}]
            if e.get("PhysicalResourceId") is not None and e["PhysicalResourceId"] not in existed
        ]
        await self._delete_resources(doc, created, retain=set(), remove=False)
        doc["_Resources"] = {
            logical: {**old, **_status_of(doc["_Resources"].get(logical), old)}
            for logical, old in before.items()
        }
        doc["_Template"], doc["_Values"] = previous["Template"], previous["Values"]
        for key in ("Outputs", "Description", "Parameters", "Tags", "RollbackConfiguration"):
            if previous.get(key) is None:
                doc.pop(key, None)
            else:
                doc[key] = previous[key]
        _finish_update(doc)
        if failed:
            self._stack_status(doc, "UPDATE_ROLLBACK_FAILED", failed_to("update", failed))
        else:
            self._stack_status(doc, "UPDATE_ROLLBACK_COMPLETE")


def _status_of(current: dict[str, Any] | None, old: dict[str, Any]) -> dict[str, Any]:
    """The latest status of a restored resource (its events tell what happened to it)."""
    if current is None or current.get("PhysicalResourceId") != old.get("PhysicalResourceId"):
        return {}
    return {k: current[k] for k in ("ResourceStatus", "Timestamp") if k in current}


def _finish_update(doc: dict[str, Any]) -> None:
    for key in ("_Previous", "_Pending", "_UpdatePolicy"):
        doc.pop(key, None)
    doc["_Cleanup"] = []


def snapshot(doc: dict[str, Any]) -> dict[str, Any]:
    """What an update starts from, kept for its rollback."""
    return copy.deepcopy(
        {
            "Template": doc["_Template"],
            "Values": doc["_Values"],
            "Resources": doc["_Resources"],
            "Outputs": doc.get("Outputs", []),
            "Description": doc.get("Description"),
            "Parameters": doc.get("Parameters", []),
            "Tags": doc.get("Tags", []),
            "RollbackConfiguration": doc.get("RollbackConfiguration"),
        }
    )

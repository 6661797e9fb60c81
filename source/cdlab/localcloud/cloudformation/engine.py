"""Stack operations as CloudFormation runs them: create, update, delete, and their rollbacks.

Each operation runs in the background, one at a time per stack, and records every status change
of the stack and of each resource as a stack event. Resources are handled one at a time in
dependency order (CloudFormation runs independent ones in parallel; the order of events is the
only difference).

Update: resources are updated in place or replaced in dependency order; a replacement creates
the new resource first, and the old one is deleted only in the cleanup phase
(UPDATE_COMPLETE_CLEANUP_IN_PROGRESS), so a failure part-way can roll back to resources that
still exist: in-place changes are reverted, then whatever the update created is deleted
(UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS). Everything is written down as it happens, so a
local cloud stopped mid-operation resumes it at the next start by rolling back (or by finishing
a delete or a cleanup). At each start the resources moto held in memory (scalable targets,
scaling policies, alarms) are put back with the properties the stack recorded for them.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Coroutine
from typing import Any

from cdlab.localcloud.cloudformation import policy, template
from cdlab.localcloud.cloudformation.changes import diff
from cdlab.localcloud.cloudformation.intrinsics import resolve
from cdlab.localcloud.cloudformation.resources import HANDLERS, IN_MEMORY
from cdlab.localcloud.cloudformation.resources.base import Context, Resource, ResourceFailed
from cdlab.localcloud.cloudformation.stacks import STACK_TYPE, Stacks
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.protocols.errors import AWSError, ValidationError
from cdlab.localcloud.sagemaker.controlplane import SageMaker

log = logging.getLogger("cdlab.cloudformation")

REPLACING = "Requested update requires the creation of a new physical resource; hence creating one."
CUSTOM_NAME = (
    "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
    "Rename {name} and update the stack again."
)
STOPPED = "The local cloud stopped during the operation."
ROLLED_BACK = {
    "ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE",
}  # fmt: skip
RESUMED = {
    "CREATE_IN_PROGRESS": "create_stopped",
    "ROLLBACK_IN_PROGRESS": "rollback_create",
    "DELETE_IN_PROGRESS": "delete",
    "UPDATE_IN_PROGRESS": "update_stopped",
    "UPDATE_ROLLBACK_IN_PROGRESS": "rollback_update",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "rollback_update",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "cleanup",
}  # stack status left by a stopped local cloud -> the operation that finishes it
# A resource in one of these exists. Deleted ones leave the stack's resources, and one that
# failed (to create, update or delete) may be gone or half changed: the next operation tells.
EXISTS = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


class OperationFailed(Exception):
    """The stack operation cannot go on; the message is the stack's status reason."""


class Engine:
    def __init__(self, stacks: Stacks, sagemaker: SageMaker) -> None:
        self.stacks = stacks
        self.sagemaker = sagemaker
        self.tasks: dict[str, asyncio.Task[None]] = {}

    # ---- running operations --------------------------------------------------------------

    def start(self, doc: dict[str, Any], operation: str, **options: Any) -> asyncio.Task[None]:
        """Run ``operation`` ("create", "update", "delete") on the stack in the background,
        after the one already running on it, if any."""
        key = doc["StackId"]
        previous = self.tasks.get(key)
        coro = getattr(self, f"_{operation}")(key, **options)
        task = asyncio.create_task(self._after(previous, coro))
        self.tasks[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self.tasks.get(key) is done:
                del self.tasks[key]

        task.add_done_callback(forget)
        return task

    @staticmethod
    async def _after(previous: asyncio.Task[None] | None, coro: Coroutine[Any, Any, None]) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            await coro
        except Exception:
            log.exception("stack operation failed unexpectedly")
        finally:
            coro.close()  # not started if this task was cancelled while waiting

    async def resume(self) -> None:
        """Put back the in-memory resources of settled stacks now, before the local cloud
        serves; finish (or roll back) the operations a stopped local cloud left in progress,
        then put back what those leave."""
        docs = self.stacks.all()
        self._reapply_in_memory([doc for doc in docs if doc["StackStatus"] not in RESUMED])
        for doc in docs:
            if doc["StackStatus"] in RESUMED:
                log.warning("resuming %s of stack %s", doc["StackStatus"], doc["StackName"])
                self.start(doc, RESUMED[doc["StackStatus"]])
                self.start(doc, "reapply")

    async def _reapply(self, stack_id: str) -> None:
        self._reapply_in_memory([self.stacks.get(stack_id)])

    def _reapply_in_memory(self, docs: list[dict[str, Any]]) -> None:
        """Put back in moto the existing resources of ``docs`` that moto held in memory only,
        in IN_MEMORY's order across all of them. One that fails is logged and left as it is."""
        lost = sorted(
            (
                (doc, entry)
                for doc in docs
                for entry in doc["_Resources"].values()
                if entry["ResourceType"] in IN_MEMORY and entry.get("ResourceStatus") in EXISTS
            ),
            key=lambda pair: IN_MEMORY.index(pair[1]["ResourceType"]),
        )
        put_back = 0
        for doc, entry in lost:
            logical, kind = entry["LogicalResourceId"], entry["ResourceType"]
            try:
                HANDLERS[kind].reapply(
                    self._context(doc, logical), self._current(entry), entry["Properties"]
                )
            except Exception as e:
                log.error(
                    "could not put back %s %s of stack %s after the restart: %s",
                    kind, logical, doc["StackName"], getattr(e, "message", None) or e,
                    exc_info=not isinstance(e, (ResourceFailed, AWSError)),
                )  # fmt: skip
                continue
            put_back += 1
        if lost:
            log.info("put back %d of %d in-memory stack resources", put_back, len(lost))

    async def shutdown(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    # ---- bookkeeping ---------------------------------------------------------------------

    def _stack_status(self, doc: dict[str, Any], status: str, reason: str | None = None) -> None:
        """Set the stack's status; a completed rollback keeps the reason it rolled back for."""
        doc["StackStatus"] = status
        if reason is not None:
            doc["StackStatusReason"] = reason
        elif status not in ROLLED_BACK:
            doc.pop("StackStatusReason", None)
        if status.startswith(("UPDATE", "DELETE")):
            doc["LastUpdatedTime"] = time.time()
        self.stacks.save(doc)
        self.stacks.add_event(doc, doc["StackName"], STACK_TYPE, status, doc["StackId"], reason)

    def _status(
        self, doc: dict[str, Any], entry: dict[str, Any], status: str, reason: str | None = None
    ) -> None:
        entry["ResourceStatus"] = status
        entry["Timestamp"] = time.time()
        if reason is None:
            entry.pop("ResourceStatusReason", None)
        else:
            entry["ResourceStatusReason"] = reason
        self.stacks.save(doc)
        self.stacks.add_event(
            doc,
            entry["LogicalResourceId"],
            entry["ResourceType"],
            status,
            entry.get("PhysicalResourceId"),
            reason,
        )

    def _load(self, stack_id: str) -> tuple[dict[str, Any], template.Evaluated]:
        doc = self.stacks.get(stack_id)
        return doc, self._evaluate(doc, doc["_Template"], doc["_Values"])

    def _evaluate(
        self, doc: dict[str, Any], body: str, values: dict[str, str]
    ) -> template.Evaluated:
        evaluated = template.evaluate(template.load(body), values, doc["StackName"], doc["StackId"])
        resources = doc["_Resources"]

        def ref(name: str) -> Any:
            return resources[name]["PhysicalResourceId"]

        def get_att(name: str, attribute: str) -> Any:
            return resources[name]["Attributes"][attribute]

        evaluated.scope.ref, evaluated.scope.get_att = ref, get_att
        return evaluated

    def _context(self, doc: dict[str, Any], logical_id: str) -> Context:
        return Context(doc["StackName"], logical_id, self.sagemaker, RequestContext.internal())

    @staticmethod
    def _current(entry: dict[str, Any]) -> Resource:
        return Resource(entry["PhysicalResourceId"], entry.get("Attributes", {}))

    async def _call(
        self, doc: dict[str, Any], entry: dict[str, Any], failed: str, step: Any
    ) -> Any:
        """Await one handler step; a failure marks ``entry`` with ``failed`` and a reason."""
        try:
            return await step
        except (ResourceFailed, AWSError) as e:
            reason = getattr(e, "message", None) or str(e)
        except Exception as e:
            log.exception("resource %s failed", entry["LogicalResourceId"])
            reason = f"Internal failure in the local cloud: {e}"
        self._status(doc, entry, failed, reason)
        raise OperationFailed(entry["LogicalResourceId"])

    # ---- create --------------------------------------------------------------------------

    async def _provision(
        self, doc: dict[str, Any], evaluated: template.Evaluated, entry: dict[str, Any], phase: str
    ) -> None:
        """Create the resource ``entry`` stands for, with ``phase`` CREATE (or UPDATE for the new
        resource of a replacement) in its statuses."""
        logical = entry["LogicalResourceId"]
        declared = evaluated.resources[logical]
        handler = HANDLERS[declared["Type"]]
        self._status(doc, entry, f"{phase}_IN_PROGRESS", REPLACING if phase == "UPDATE" else None)

        async def create() -> Resource:
            props = resolve(declared.get("Properties", {}), evaluated.scope)
            entry["Properties"] = props
            entry.update(
                {k: declared[k] for k in ("DeletionPolicy", "UpdateReplacePolicy") if k in declared}
            )

            def started(resource: Resource) -> None:
                if entry.get("PhysicalResourceId") != resource.physical_id:
                    entry["PhysicalResourceId"] = resource.physical_id
                    entry["Attributes"] = resource.attributes
                    self._status(doc, entry, f"{phase}_IN_PROGRESS", "Resource creation Initiated")

            resource = await handler.create(self._context(doc, logical), props, started)
            started(resource)
            return resource

        await self._call(doc, entry, f"{phase}_FAILED", create())
        self._status(doc, entry, f"{phase}_COMPLETE")

    async def _create(self, stack_id: str) -> None:
        doc, evaluated = self._load(stack_id)
        self._stack_status(doc, "CREATE_IN_PROGRESS", "User Initiated")
        try:
            for logical in evaluated.enabled:
                entry = _entry(logical, evaluated.resources[logical]["Type"])
                doc["_Resources"][logical] = entry
                await self._provision(doc, evaluated, entry, "CREATE")
            doc["Outputs"] = self._outputs(doc, evaluated)
        except OperationFailed as e:
            await self._create_failed(doc, f"The following resource(s) failed to create: [{e}]. ")
            return
        except AWSError as e:
            await self._create_failed(doc, e.message)
            return
        self._stack_status(doc, "CREATE_COMPLETE")

    async def _create_stopped(self, stack_id: str) -> None:
        doc = self.stacks.get(stack_id)
        for entry in doc["_Resources"].values():
            if entry["ResourceStatus"].endswith("_IN_PROGRESS"):
                self._status(doc, entry, "CREATE_FAILED", STOPPED)
        await self._create_failed(doc, STOPPED)

    async def _create_failed(self, doc: dict[str, Any], reason: str) -> None:
        if doc.get("DisableRollback"):
            self._stack_status(doc, "CREATE_FAILED", reason)
            return
        self._stack_status(
            doc, "ROLLBACK_IN_PROGRESS", f"{reason.rstrip()} Rollback requested by user."
        )
        await self._rollback_create(doc["StackId"])

    async def _rollback_create(self, stack_id: str) -> None:
        doc = self.stacks.get(stack_id)
        failed = await self._delete_resources(doc, list(doc["_Resources"].values()), retain=set())
        doc.pop("Outputs", None)
        if failed:
            self._stack_status(doc, "ROLLBACK_FAILED", _failed_to("delete", failed))
            return
        self._stack_status(doc, "ROLLBACK_COMPLETE")
        if doc.get("_OnFailure") == "DELETE":
            await self._delete(stack_id)

    # ---- delete --------------------------------------------------------------------------

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

    async def _delete(self, stack_id: str, retain: list[str] | None = None) -> None:
        doc = self.stacks.get(stack_id)
        self._stack_status(doc, "DELETE_IN_PROGRESS", "User Initiated")
        failed = await self._delete_resources(
            doc, list(doc["_Resources"].values()), set(retain or ())
        )
        if failed:
            self._stack_status(doc, "DELETE_FAILED", _failed_to("delete", failed))
            return
        doc["DeletionTime"] = time.time()
        doc["_Resources"] = {}
        doc.pop("Outputs", None)
        self._stack_status(doc, "DELETE_COMPLETE")
        for change_set in self.stacks.change_sets(stack_id):
            self.stacks.delete_change_set(change_set["ChangeSetId"])

    # ---- update --------------------------------------------------------------------------

    async def _update(self, stack_id: str) -> None:
        doc, evaluated = self._load(stack_id)
        self._stack_status(doc, "UPDATE_IN_PROGRESS", "User Initiated")
        try:
            for logical in evaluated.enabled:
                await self._update_resource(doc, evaluated, logical)
            doc["Outputs"] = self._outputs(doc, evaluated)
        except OperationFailed as e:
            await self._update_failed(doc, _failed_to("update", [str(e)]))
            return
        except AWSError as e:
            await self._update_failed(doc, e.message)
            return
        removed = [name for name in doc["_Resources"] if name not in evaluated.scope.resources]
        try:
            for logical in removed:
                self._allowed(doc, doc["_Resources"][logical], "Update:Delete")
        except OperationFailed as e:
            await self._update_failed(doc, _failed_to("update", [str(e)]))
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
            entry = _entry(logical, declared["Type"])
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
            doc["_Pending"] = entry = _entry(logical, declared["Type"])
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

    async def _cleanup(self, stack_id: str) -> None:
        """Delete what the update replaced or removed; the update stands whatever happens."""
        doc = self.stacks.get(stack_id)
        for entry in reversed(doc["_Cleanup"]):
            which = "DeletionPolicy" if entry.get("_Removed") else "UpdateReplacePolicy"
            await self._delete_resources(doc, [entry], set(), policy_key=which, remove=False)
        _finish_update(doc)
        self._stack_status(doc, "UPDATE_COMPLETE")

    async def _update_stopped(self, stack_id: str) -> None:
        doc = self.stacks.get(stack_id)
        for entry in [*doc["_Resources"].values(), doc.get("_Pending") or {}]:
            if entry.get("ResourceStatus", "").endswith("_IN_PROGRESS"):
                self._status(doc, entry, "UPDATE_FAILED", STOPPED)
        await self._update_failed(doc, STOPPED)

    async def _update_failed(self, doc: dict[str, Any], reason: str) -> None:
        self._stack_status(doc, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
        await self._rollback_update(doc["StackId"])

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
        for key in ("Outputs", "Description", "Parameters", "Tags"):
            if previous.get(key) is None:
                doc.pop(key, None)
            else:
                doc[key] = previous[key]
        _finish_update(doc)
        if failed:
            self._stack_status(doc, "UPDATE_ROLLBACK_FAILED", _failed_to("update", failed))
        else:
            self._stack_status(doc, "UPDATE_ROLLBACK_COMPLETE")

    # ---- outputs -------------------------------------------------------------------------

    def _outputs(self, doc: dict[str, Any], evaluated: template.Evaluated) -> list[dict[str, Any]]:
        outputs = []
        exported = {
            o["ExportName"]: other["StackName"]
            for other in self.stacks.all()
            if other["StackId"] != doc["StackId"] and other["StackStatus"] != "DELETE_COMPLETE"
            for o in other.get("Outputs", [])
            if "ExportName" in o
        }
        for key, output in (evaluated.template.get("Outputs") or {}).items():
            if output.get("Condition") and not evaluated.scope.conditions[output["Condition"]]:
                continue
            value = resolve(output["Value"], evaluated.scope)
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            entry = {"OutputKey": key, "OutputValue": text}
            if "Description" in output:
                entry["Description"] = str(output["Description"])
            export = (output.get("Export") or {}).get("Name")
            if export is not None:
                entry["ExportName"] = name = str(resolve(export, evaluated.scope))
                if name in exported:
                    raise ValidationError(
                        f"Export with name {name} is already exported by stack {exported[name]}"
                    )
            outputs.append(entry)
        return outputs


def _entry(logical: str, resource_type: str) -> dict[str, Any]:
    return {
        "LogicalResourceId": logical,
        "ResourceType": resource_type,
        "Properties": {},
        "Attributes": {},
    }


def _status_of(current: dict[str, Any] | None, old: dict[str, Any]) -> dict[str, Any]:
    """The latest status of a restored resource (its events tell what happened to it)."""
    if current is None or current.get("PhysicalResourceId") != old.get("PhysicalResourceId"):
        return {}
    return {k: current[k] for k in ("ResourceStatus", "Timestamp") if k in current}


def _finish_update(doc: dict[str, Any]) -> None:
    for key in ("_Previous", "_Pending", "_UpdatePolicy"):
        doc.pop(key, None)
    doc["_Cleanup"] = []


def _failed_to(action: str, logical_ids: list[str]) -> str:
    return f"The following resource(s) failed to {action}: [{', '.join(logical_ids)}]. "


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
        }
    )

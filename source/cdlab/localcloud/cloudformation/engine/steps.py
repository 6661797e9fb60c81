"""What every stack operation is made of: recording the statuses and events of the stack and of
each resource, evaluating the stack's template, calling a resource handler, creating one
resource, and the stack's outputs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cdlab.localcloud import latency
from cdlab.localcloud.cloudformation import template
from cdlab.localcloud.cloudformation.intrinsics import resolve
from cdlab.localcloud.cloudformation.resources import HANDLERS
from cdlab.localcloud.cloudformation.resources.base import (
    Context,
    Resource,
    ResourceFailed,
    Services,
)
from cdlab.localcloud.cloudformation.stacks import STACK_TYPE, Stacks
from cdlab.localcloud.context import Principal, RequestContext
from cdlab.localcloud.iam.service_roles import CLOUDFORMATION_SESSION, ServiceRoles, role_session
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import AWSError, ValidationError
from cdlab.localcloud.sagemaker.controlplane import SageMaker
from cdlab.localcloud.state.journal import Journal

log = logging.getLogger("cdlab.cloudformation")

REPLACING = "Requested update requires the creation of a new physical resource; hence creating one."
STOPPED = "The local cloud stopped during the operation."
ROLLED_BACK = {
    "ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE",
}  # fmt: skip


class OperationFailed(Exception):
    """The stack operation cannot go on; the message is the stack's status reason."""


class Steps:
    """The steps the operations share, on the stacks in the Store."""

    def __init__(
        self, stacks: Stacks, sagemaker: SageMaker, moto: MotoState, roles: ServiceRoles
    ) -> None:
        self.stacks = stacks
        self.sagemaker = sagemaker
        self.moto = moto
        self.roles = roles
        self.journal = Journal(stacks.store)  # the handlers' changes in moto, kept in order
        self.services: Services = {}  # the gateway's table, once every provider is made
        self.s3_sync: Callable[[str], Awaitable[None]] | None = None  # the gateway's disk copy

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
        request = RequestContext.of_resource(doc["StackId"])
        principal = acting_principal(doc)
        if principal is not None:
            request = dataclasses.replace(request, principal=principal)
        return Context(
            doc["StackName"],
            logical_id,
            self.sagemaker,
            request,
            self.moto,
            self.roles,
            self.services,
            self.journal,
            self.s3_sync,
        )

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

    # ---- one resource created ------------------------------------------------------------

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

        await latency.pause(latency.current().stack_resource)
        creating = asyncio.ensure_future(create())
        try:
            await self._call(doc, entry, f"{phase}_FAILED", asyncio.shield(creating))
        except asyncio.CancelledError:
            await abandon(creating, entry)
            raise
        self._status(doc, entry, f"{phase}_COMPLETE")

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


def acting_principal(doc: dict[str, Any]) -> Principal | None:
    """Whom a stack's operation acts as: a session of its service role (RoleARN), else the
    caller that started the operation; None for a stack older than this record (the
    account's administrator)."""
    if str(doc.get("RoleARN", "")).count(":") >= 5:  # a malformed one passes only with IAM off
        return role_session(doc["RoleARN"], CLOUDFORMATION_SESSION)
    caller = doc.get("_Caller")
    return Principal.from_doc(caller) if caller else None


async def abandon(creating: asyncio.Future[Resource], entry: dict[str, Any]) -> None:
    """Stop a resource's creation when its operation is cancelled (the stack's timeout, the
    local cloud stopping): a handler that waits for its started resource to stabilize (an
    endpoint's InService) is cancelled; one still making its calls is let finish them, so that
    the resource is recorded and the rollback deletes it rather than leaving it unknown."""
    if entry.get("PhysicalResourceId") is not None:
        creating.cancel()
    await asyncio.wait([creating])
    if not creating.cancelled():
        creating.exception()  # the resource's outcome no longer matters; retrieved, not logged


def new_entry(logical: str, resource_type: str) -> dict[str, Any]:
    """A resource about to be created; ``_Journaled``: its handler's changes in moto are in the
    journal from its creation on (not so for one recorded by an older kit)."""
    return {
        "LogicalResourceId": logical,
        "ResourceType": resource_type,
        "Properties": {},
        "Attributes": {},
        "_Journaled": True,
    }


def failed_to(action: str, logical_ids: list[str]) -> str:
    return f"The following resource(s) failed to {action}: [{', '.join(logical_ids)}]. "

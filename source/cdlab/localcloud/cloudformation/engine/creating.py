"""CreateStack's operation: each resource created in dependency order, the rollback triggers
watched (:mod:`triggers`); a failure rolls the stack back (or, with DisableRollback, leaves it
CREATE_FAILED).
"""

from __future__ import annotations

from typing import Any

from cdlab.localcloud.cloudformation.engine.rollback import RollingBack
from cdlab.localcloud.cloudformation.engine.steps import STOPPED, OperationFailed, new_entry
from cdlab.localcloud.cloudformation.engine.triggers import RollbackTriggered, watch
from cdlab.localcloud.protocols.errors import AWSError


class Creating(RollingBack):
    """CreateStack's operation, and its end when the local cloud stopped during it."""

    async def _create(self, stack_id: str) -> None:
        doc, evaluated = self._load(stack_id)
        self._stack_status(doc, "CREATE_IN_PROGRESS", "User Initiated")
        try:
            await watch(self.moto, doc)
            for logical in evaluated.enabled:
                entry = new_entry(logical, evaluated.resources[logical]["Type"])
                doc["_Resources"][logical] = entry
                await self._provision(doc, evaluated, entry, "CREATE")
                await watch(self.moto, doc)
            doc["Outputs"] = self._outputs(doc, evaluated)
            await watch(self.moto, doc, monitoring=True)
        except OperationFailed as e:
            await self._create_failed(doc, f"The following resource(s) failed to create: [{e}]. ")
            return
        except (AWSError, RollbackTriggered) as e:
            await self._create_failed(doc, str(e))
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

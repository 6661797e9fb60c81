"""CreateStack's operation: each resource created in dependency order, the rollback triggers
watched (:mod:`triggers`), all within the stack's TimeoutInMinutes if it has one; a failure rolls
the stack back (or, with DisableRollback, leaves it CREATE_FAILED).

With OnFailure DELETE a failed create is not rolled back: the stack goes straight to
DELETE_IN_PROGRESS, its reason ending "Delete requested by user." instead of "Rollback requested
by user.", and is deleted as DeleteStack deletes it (DELETE_COMPLETE, or DELETE_FAILED). AWS's
reference names only the choice (OnFailure in
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html); the
sequence and the wording are those of the stack events users report (docker-archive/ecs-plugin#177
and #217, serverless/serverless#13181 on GitHub).

The timeout is CreateStack's: "the amount of time that can pass before the stack status becomes
CREATE_FAILED" (TimeoutInMinutes in
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html), counted
from the stack's creation in cloud minutes (scaled by ``CDLAB_TIME_SCALE``). UpdateStack and
CreateChangeSet take none, so an update is not bounded by it. When it passes, the resource being
created is stopped (:func:`steps.abandon`) and fails with "Resource creation cancelled", and the
stack's reason is "Stack creation time exceeded the specified timeout.", as AWS words them in
the stack events users report (docker-archive/ecs-plugin#177, flynn/flynn#3200,
aws-samples/immersive-media-refarch#7 on GitHub).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cdlab.localcloud import latency
from cdlab.localcloud.cloudformation import template
from cdlab.localcloud.cloudformation.engine.rollback import RollingBack
from cdlab.localcloud.cloudformation.engine.steps import STOPPED, OperationFailed, new_entry
from cdlab.localcloud.cloudformation.engine.triggers import RollbackTriggered, watch
from cdlab.localcloud.protocols.errors import AWSError

TIMED_OUT = "Stack creation time exceeded the specified timeout."
CANCELLED = "Resource creation cancelled"


def time_left(doc: dict[str, Any]) -> float | None:
    """Real seconds left before the stack's TimeoutInMinutes passes; None without one."""
    minutes = doc.get("TimeoutInMinutes")
    if minutes is None:
        return None
    return doc["CreationTime"] + latency.real_seconds(minutes * 60) - time.time()


class Creating(RollingBack):
    """CreateStack's operation, and its end when the local cloud stopped during it."""

    async def _create(self, stack_id: str) -> None:
        doc, evaluated = self._load(stack_id)
        self._stack_status(doc, "CREATE_IN_PROGRESS", "User Initiated")
        try:
            async with asyncio.timeout(time_left(doc)):
                await self._create_resources(doc, evaluated)
        except TimeoutError:
            self._fail_in_progress(doc, CANCELLED)
            await self._create_failed(doc, TIMED_OUT)
            return
        except OperationFailed as e:
            await self._create_failed(doc, f"The following resource(s) failed to create: [{e}]. ")
            return
        except (AWSError, RollbackTriggered) as e:
            await self._create_failed(doc, str(e))
            return
        self._stack_status(doc, "CREATE_COMPLETE")

    async def _create_resources(self, doc: dict[str, Any], evaluated: template.Evaluated) -> None:
        await watch(self.moto, doc)
        for logical in evaluated.enabled:
            entry = new_entry(logical, evaluated.resources[logical]["Type"])
            doc["_Resources"][logical] = entry
            await self._provision(doc, evaluated, entry, "CREATE")
            await watch(self.moto, doc)
        doc["Outputs"] = self._outputs(doc, evaluated)
        await watch(self.moto, doc, monitoring=True)

    def _fail_in_progress(self, doc: dict[str, Any], reason: str) -> None:
        for entry in doc["_Resources"].values():
            if entry["ResourceStatus"].endswith("_IN_PROGRESS"):
                self._status(doc, entry, "CREATE_FAILED", reason)

    async def _create_stopped(self, stack_id: str) -> None:
        doc = self.stacks.get(stack_id)
        self._fail_in_progress(doc, STOPPED)
        await self._create_failed(doc, STOPPED)

    async def _create_failed(self, doc: dict[str, Any], reason: str) -> None:
        if doc.get("DisableRollback"):
            self._stack_status(doc, "CREATE_FAILED", reason)
            return
        if doc.get("_OnFailure") == "DELETE":
            await self._delete(doc["StackId"], f"{reason.rstrip()} Delete requested by user.")
            return
        self._stack_status(
            doc, "ROLLBACK_IN_PROGRESS", f"{reason.rstrip()} Rollback requested by user."
        )
        await self._rollback_create(doc["StackId"])

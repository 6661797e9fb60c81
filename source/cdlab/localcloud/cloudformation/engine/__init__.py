"""Stack operations as CloudFormation runs them: create, update, delete, and their rollbacks.

Each operation runs in the background, one at a time per stack, and records every status change
of the stack and of each resource as a stack event. Resources are handled one at a time in
dependency order (CloudFormation runs independent ones in parallel; the order of events is the
only difference). Everything is written down as it happens, and the handlers' changes in moto
(which keeps them in memory only) are journaled with the clients' requests, so the journal's
replay at start brings back moto's state in the order things happened (a stack's update after a
policy put by hand on its role, and that policy after the stack made the role). A local cloud
stopped mid-operation resumes it at the next start, after the replay, by rolling back (or by
finishing a delete or a cleanup), then puts back what the journal does not keep.

Modules: ``steps`` (what every operation is made of), ``creating``, ``updating``, ``rollback``
(delete, rollbacks and cleanup), ``triggers`` (the rollback triggers' alarms, watched) and
``restart`` (what the journal does not bring back). The Engine here runs the operations.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from cdlab.localcloud.cloudformation.engine.creating import Creating
from cdlab.localcloud.cloudformation.engine.restart import PuttingBack
from cdlab.localcloud.cloudformation.engine.updating import Updating
from cdlab.localcloud.cloudformation.stacks import Stacks
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.sagemaker.controlplane import SageMaker

log = logging.getLogger("cdlab.cloudformation")

RESUMED = {
    "CREATE_IN_PROGRESS": "create_stopped",
    "ROLLBACK_IN_PROGRESS": "rollback_create",
    "DELETE_IN_PROGRESS": "delete",
    "UPDATE_IN_PROGRESS": "update_stopped",
    "UPDATE_ROLLBACK_IN_PROGRESS": "rollback_update",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "rollback_update",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "cleanup",
}  # stack status left by a stopped local cloud -> the operation that finishes it


class Engine(Creating, Updating, PuttingBack):
    """Runs the stack operations in the background, one at a time per stack."""

    def __init__(
        self, stacks: Stacks, sagemaker: SageMaker, moto: MotoState, roles: ServiceRoles
    ) -> None:
        super().__init__(stacks, sagemaker, moto, roles)
        self.tasks: dict[str, asyncio.Task[None]] = {}

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

    async def put_back(self) -> None:
        """Put back what the journal's replay did not bring back of settled stacks (roles of a
        stack an older kit recorded among them), before the local cloud serves and before the
        endpoints that act as those roles come back."""
        docs = self.stacks.all()
        await self._reapply_in_memory([doc for doc in docs if doc["StackStatus"] not in RESUMED])

    async def resume(self) -> None:
        """Finish (or roll back) the operations a stopped local cloud left in progress, then put
        back what those leave."""
        for doc in self.stacks.all():
            if doc["StackStatus"] in RESUMED:
                log.warning("resuming %s of stack %s", doc["StackStatus"], doc["StackName"])
                self.start(doc, RESUMED[doc["StackStatus"]])
                self.start(doc, "reapply")

    async def shutdown(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

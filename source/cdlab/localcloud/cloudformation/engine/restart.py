"""Putting back, at each start, the resources moto held in memory only (scalable targets,
scaling policies, alarms), with the properties and physical ids the stacks recorded for them.
"""

from __future__ import annotations

import logging
from typing import Any

from cdlab.localcloud.cloudformation.engine.steps import Steps
from cdlab.localcloud.cloudformation.resources import HANDLERS, IN_MEMORY
from cdlab.localcloud.cloudformation.resources.base import ResourceFailed
from cdlab.localcloud.protocols.errors import AWSError

log = logging.getLogger("cdlab.cloudformation")

# A resource in one of these exists. Deleted ones leave the stack's resources, and one that
# failed (to create, update or delete) may be gone or half changed: the next operation tells.
EXISTS = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


class PuttingBack(Steps):
    """The in-memory resources put back after a restart."""

    async def _reapply(self, stack_id: str) -> None:
        await self._reapply_in_memory([self.stacks.get(stack_id)])

    async def _reapply_in_memory(self, docs: list[dict[str, Any]]) -> None:
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
                await HANDLERS[kind].reapply(
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

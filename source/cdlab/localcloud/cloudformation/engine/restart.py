"""Putting back, at each start, what moto held in memory for the stacks and the journal does not
bring back: a bucket's configuration (S3 is not journaled, and the disk mirror keeps only part
of it, none for a bucket an older kit mirrored), and the resources of a stack recorded
by an older kit, which did not journal its handlers' changes in moto (they are journaled from
their put-back on). Every other in-memory resource (roles, databases, rules, scalable targets,
scaling policies, alarms) comes back with the journal's replay, in the order things happened
with the clients' own changes: putting it back from the stack's record instead would lose, or
overwrite, a change made by hand to what the stack made.
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


def lost(entry: dict[str, Any]) -> bool:
    """Whether a restart lost the stack resource ``entry`` and the journal does not bring it
    back."""
    kind = entry["ResourceType"]
    return (
        kind in IN_MEMORY
        and entry.get("ResourceStatus") in EXISTS
        and not (HANDLERS[kind].journaled and entry.get("_Journaled"))
    )


class PuttingBack(Steps):
    """The in-memory resources put back after a restart."""

    async def _reapply(self, stack_id: str) -> None:
        await self._reapply_in_memory([self.stacks.get(stack_id)])

    async def _reapply_in_memory(self, docs: list[dict[str, Any]]) -> None:
        """Put back in moto the :func:`lost` resources of ``docs``, in IN_MEMORY's order across
        all of them. One that fails is logged and left as it is."""
        found = sorted(
            ((doc, entry) for doc in docs for entry in doc["_Resources"].values() if lost(entry)),
            key=lambda pair: IN_MEMORY.index(pair[1]["ResourceType"]),
        )
        put_back = 0
        for doc, entry in found:
            logical, kind = entry["LogicalResourceId"], entry["ResourceType"]
            try:
                ctx = self._context(doc, logical)
                ctx.put_back_from = entry["Timestamp"]
                await HANDLERS[kind].reapply(ctx, self._current(entry), entry["Properties"])
            except Exception as e:
                log.error(
                    "could not put back %s %s of stack %s after the restart: %s",
                    kind, logical, doc["StackName"], getattr(e, "message", None) or e,
                    exc_info=not isinstance(e, (ResourceFailed, AWSError)),
                )  # fmt: skip
                continue
            entry["_Journaled"] = True  # its put-back was, and what follows will be
            self.stacks.save(doc)
            put_back += 1
        if found:
            log.info("put back %d of %d in-memory stack resources", put_back, len(found))

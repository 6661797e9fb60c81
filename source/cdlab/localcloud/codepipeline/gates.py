"""SUPERSEDED mode's stage locks, per pipeline: one execution at a time in a stage; an execution
waits at the transition into a stage another one holds, and a newer execution arriving there
supersedes the one waiting
(https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html#concepts-superseded).
An execution at a manual approval holds its stage, so a second upload waits before Approval
while the first waits for its approver, and a third one supersedes the second."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Gates:
    def __init__(self) -> None:
        self.inside: dict[str, str] = {}  # stage -> the execution in it
        self.waiting: dict[str, str] = {}  # stage -> the execution waiting to enter it
        self.changed = asyncio.Condition()

    async def enter(
        self, stage: str, execution_id: str, waits: Callable[[], None] = lambda: None
    ) -> bool:
        """Wait until ``stage`` is free (calling ``waits`` when it starts waiting), then hold
        it; False if superseded meanwhile."""
        async with self.changed:
            if self.inside.get(stage, execution_id) != execution_id:
                self.waiting[stage] = execution_id
                waits()
                self.changed.notify_all()  # the one waiting before is superseded
                await self.changed.wait_for(
                    lambda: stage not in self.inside or self.waiting.get(stage) != execution_id
                )
                if self.waiting.get(stage) != execution_id:
                    return False
                del self.waiting[stage]
            self.inside[stage] = execution_id
            return True

    async def leave(self, execution_id: str, stage: str | None = None) -> None:
        """Free ``stage`` (every stage, if None) that ``execution_id`` holds or waits for."""
        async with self.changed:
            for held in (self.inside, self.waiting):
                for name in [s for s, e in held.items() if e == execution_id]:
                    if stage in (None, name):
                        del held[name]
            self.changed.notify_all()

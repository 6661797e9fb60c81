"""Stacks, their events and change sets, kept in the kit's Store (so they survive a restart).

A stack document holds CloudFormation's public fields plus the kit's own (keys starting with
``_``): the template text, the parameter values, the resources with their physical ids and
resolved properties, and, while an update runs, what the stack was before it. Its termination
protection is a document of its own (:meth:`Stacks.protect`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.protocols.errors import ValidationError, error
from cdlab.localcloud.state.store import Store

STACK, CHANGE_SET = "cloudformation-stack", "cloudformation-change-set"
PROTECTION = "cloudformation-termination-protection"
STACK_TYPE = "AWS::CloudFormation::Stack"
DELETED = "DELETE_COMPLETE"

ChangeSetNotFound = error("ChangeSetNotFound", 404)
AlreadyExistsException = error("AlreadyExistsException")
InvalidChangeSetStatus = error("InvalidChangeSetStatus")

Numbered = tuple[int, dict[str, Any]]
"""A document with its creation number (:meth:`Store.numbered`)."""


def new_arn(ctx: RequestContext, kind: str, name: str) -> str:
    return ctx.arn("cloudformation", f"{kind}/{name}/{uuid.uuid4()}")


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


class Stacks:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- stacks --------------------------------------------------------------------------

    def all(self) -> list[dict[str, Any]]:
        return self.store.all(STACK)

    def numbered(self) -> list[Numbered]:
        """Every stack with its creation number, in creation order (:meth:`Store.numbered`)."""
        return self.store.numbered(STACK)

    def find(self, name_or_id: str) -> dict[str, Any] | None:
        """A stack by ARN (deleted ones too, as CloudFormation keeps them) or by live name."""
        if name_or_id.startswith("arn:"):
            return self.store.get(STACK, name_or_id)
        live = [
            d for d in self.all() if d["StackName"] == name_or_id and d["StackStatus"] != DELETED
        ]
        return live[-1] if live else None

    def get(self, name_or_id: str) -> dict[str, Any]:
        doc = self.find(name_or_id)
        if doc is None:
            raise ValidationError(f"Stack with id {name_or_id} does not exist")
        return doc

    def save(self, doc: dict[str, Any]) -> None:
        self.store.put(STACK, doc["StackId"], doc)

    # ---- termination protection ----------------------------------------------------------

    def protected(self, stack_id: str) -> bool:
        """Whether the stack's termination protection is on (off unless turned on)."""
        found = self.store.get(PROTECTION, stack_id)
        return bool(found and found["Enabled"])

    def protect(self, stack_id: str, enabled: bool) -> None:
        """Turn the stack's termination protection on or off. It is kept apart from the stack's
        document because it can change in any status but a deletion's, and an operation in
        progress holds that document and saves it again and again, which would undo the
        change."""
        self.store.put(PROTECTION, stack_id, {"StackId": stack_id, "Enabled": enabled})

    # ---- events --------------------------------------------------------------------------

    def add_event(
        self,
        stack: dict[str, Any],
        logical_id: str,
        resource_type: str,
        status: str,
        physical_id: str | None = None,
        reason: str | None = None,
        properties: str | None = None,
    ) -> None:
        event = {
            "StackId": stack["StackId"],
            "EventId": str(uuid.uuid4()),
            "StackName": stack["StackName"],
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": physical_id,
            "ResourceType": resource_type,
            "Timestamp": time.time(),
            "ResourceStatus": status,
            "ResourceStatusReason": reason,
            "ResourceProperties": properties,
        }
        event = {k: v for k, v in event.items() if v is not None}
        self.store.put(f"cloudformation-events:{stack['StackId']}", event["EventId"], event)

    def events(self, stack_id: str) -> list[Numbered]:
        """A stack's events with their creation numbers, oldest first."""
        return self.store.numbered(f"cloudformation-events:{stack_id}")

    # ---- change sets ---------------------------------------------------------------------

    def change_sets(self, stack_id: str) -> list[dict[str, Any]]:
        return [c for _, c in self.numbered_change_sets(stack_id)]

    def numbered_change_sets(self, stack_id: str) -> list[Numbered]:
        """A stack's change sets with their creation numbers, oldest first."""
        return [(n, c) for n, c in self.store.numbered(CHANGE_SET) if c["StackId"] == stack_id]

    def change_set(self, name_or_id: str, stack_name: str | None) -> dict[str, Any]:
        if name_or_id.startswith("arn:"):
            found = self.store.get(CHANGE_SET, name_or_id)
        else:
            if not stack_name:
                raise ValidationError(
                    "StackName must be specified if ChangeSetName is not specified as an ARN."
                )
            stack = self.find(stack_name)
            matches = (
                [c for c in self.change_sets(stack["StackId"]) if c["ChangeSetName"] == name_or_id]
                if stack
                else []
            )
            found = matches[-1] if matches else None
        if found is None:
            raise ChangeSetNotFound(f"ChangeSet [{name_or_id}] does not exist")
        return found

    def save_change_set(self, doc: dict[str, Any]) -> None:
        self.store.put(CHANGE_SET, doc["ChangeSetId"], doc)

    def delete_change_set(self, change_set_id: str) -> None:
        self.store.delete(CHANGE_SET, change_set_id)

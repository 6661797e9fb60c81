"""The change set operations that change something: CreateChangeSet, DeleteChangeSet and
ExecuteChangeSet (DescribeChangeSet and ListChangeSets are in :mod:`read_operations`).

ExecuteChangeSet answers once the stack operation settles, or after EXECUTE_LINGER_SECONDS: the
stack is the same either way, but ``aws cloudformation deploy`` polls every 30 s from its first
DescribeStacks (its own delay, not the waiter model's), and locally an operation takes seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import time
from typing import Any

from cdlab.localcloud.cloudformation import template
from cdlab.localcloud.cloudformation.changes import plan
from cdlab.localcloud.cloudformation.provider.inputs import Documents
from cdlab.localcloud.cloudformation.provider.submission import Submission
from cdlab.localcloud.cloudformation.stacks import (
    AlreadyExistsException,
    ChangeSetNotFound,
    InvalidChangeSetStatus,
    new_arn,
)
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.protocols.errors import ValidationError

EXECUTE_LINGER_SECONDS = 20.0
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a "
    "change set."
)


class ChangeSetOperations(Submission):
    """CreateChangeSet, DeleteChangeSet, ExecuteChangeSet."""

    async def create_change_set(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        documents = await Documents.of(self.moto, p)
        kind = p.get("ChangeSetType", "UPDATE")
        if kind not in ("CREATE", "UPDATE"):
            raise ValidationError(f"The local cloud does not provide ChangeSetType {kind}.")
        if kind == "CREATE":
            existing = self.stacks.find(p["StackName"])
            if existing is not None and existing["StackStatus"] != "REVIEW_IN_PROGRESS":
                raise ValidationError(
                    f"Stack [{p['StackName']}] already exists and cannot be created again with "
                    "the changeSet."
                )
            doc = existing or self._new_stack(ctx, p, "REVIEW_IN_PROGRESS")
            current: dict[str, Any] = {}
            old_template, old_values = None, {}
        else:
            doc = self._updatable(p["StackName"], review_is_missing=True)
            current = doc["_Resources"]
            old_template, old_values = template.load(doc["_Template"]), doc["_Values"]
        update, values, evaluated = self._prepare(doc, p, doc.get("_Values"), documents)
        changes = plan(current, old_template, old_values, evaluated, values)
        self._free_name(doc["StackId"], p["ChangeSetName"])
        if kind == "CREATE" and existing is None:
            self.stacks.save(doc)
            self.stacks.add_event(
                doc,
                doc["StackName"],
                "AWS::CloudFormation::Stack",
                "REVIEW_IN_PROGRESS",
                doc["StackId"],
                "User Initiated",
            )
        unchanged = kind == "UPDATE" and not changes and self._unchanged(doc, update, p)
        change_set = {
            "ChangeSetId": new_arn(ctx, "changeSet", p["ChangeSetName"]),
            "ChangeSetName": p["ChangeSetName"],
            "StackId": doc["StackId"],
            "StackName": doc["StackName"],
            "Description": p.get("Description"),
            "Parameters": update["Parameters"],
            "CreationTime": time.time(),
            "ExecutionStatus": "UNAVAILABLE" if unchanged else "AVAILABLE",
            "Status": "FAILED" if unchanged else "CREATE_COMPLETE",
            "StatusReason": NO_CHANGES if unchanged else None,
            "NotificationARNs": p.get("NotificationARNs", []),
            "Capabilities": p.get("Capabilities", []),
            "Tags": p.get("Tags", []),
            "RollbackConfiguration": update["RollbackConfiguration"],
            "Changes": changes,
            "IncludeNestedStacks": False,
            "OnStackFailure": p.get("OnStackFailure") if kind == "CREATE" else None,
            "_Type": kind,
            "_Update": update,
            "_Template": update["_Template"],
            "_Request": {
                k: p[k] for k in ("Tags", "Capabilities", "NotificationARNs", "RoleARN") if k in p
            },
        }
        self.stacks.save_change_set(change_set)
        return {"Id": change_set["ChangeSetId"], "StackId": doc["StackId"]}

    def _free_name(self, stack_id: str, name: str) -> None:
        """Refuse a change set name in use; one that is spent (executed or failed) gives way.

        Locally a deploy takes about a second, and ``aws cloudformation deploy`` names its change
        sets after the current second, so two quick deploys of a stack reuse a name."""
        for other in self.stacks.change_sets(stack_id):
            if other["ChangeSetName"] != name:
                continue
            if other["ExecutionStatus"] in ("AVAILABLE", "EXECUTE_IN_PROGRESS"):
                raise AlreadyExistsException(f"ChangeSet {name} already exists")
            self.stacks.delete_change_set(other["ChangeSetId"])

    def delete_change_set(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        change_set = self.stacks.change_set(p["ChangeSetName"], p.get("StackName"))
        if change_set["ExecutionStatus"] == "EXECUTE_IN_PROGRESS":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set['ChangeSetId']}] cannot be deleted while it is executing."
            )
        self.stacks.delete_change_set(change_set["ChangeSetId"])
        return {}

    async def execute_change_set(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        change_set = self.stacks.change_set(p["ChangeSetName"], p.get("StackName"))
        if change_set["ExecutionStatus"] != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set['ChangeSetId']}] cannot be executed in its current "
                f"status of [{change_set['Status']}]"
            )
        doc = self.stacks.get(change_set["StackId"])
        caller = dataclasses.asdict(ctx.principal)  # whom a stack without a role acts as
        update = {**copy.deepcopy(change_set["_Update"]), "_Caller": caller}
        if change_set["_Type"] == "CREATE":
            if doc["StackStatus"] != "REVIEW_IN_PROGRESS":
                raise InvalidChangeSetStatus(f"Stack [{doc['StackName']}] already exists.")
            doc.update(update, **change_set["_Request"], StackStatus="CREATE_IN_PROGRESS")
            doc.update(_on_failure(change_set.get("OnStackFailure"), p.get("DisableRollback")))
            doc["ChangeSetId"] = change_set["ChangeSetId"]
            self.stacks.save(doc)
            task = self.engine.start(doc, "create")
        else:
            doc = self._updatable(doc["StackId"])
            doc["ChangeSetId"] = change_set["ChangeSetId"]
            request = {**change_set["_Request"], "DisableRollback": p.get("DisableRollback")}
            task = self._begin_update(doc, update, request)
        for other in self.stacks.change_sets(doc["StackId"]):
            if other["ChangeSetId"] != change_set["ChangeSetId"]:
                self.stacks.delete_change_set(other["ChangeSetId"])
        change_set.update(ExecutionStatus="EXECUTE_IN_PROGRESS")
        self.stacks.save_change_set(change_set)
        task.add_done_callback(lambda _t: self._executed(change_set["ChangeSetId"], doc["StackId"]))
        await asyncio.wait([task], timeout=EXECUTE_LINGER_SECONDS)
        return {}

    def _executed(self, change_set_id: str, stack_id: str) -> None:
        status = self.stacks.get(stack_id)["StackStatus"]
        with contextlib.suppress(ChangeSetNotFound):  # the stack may be gone with its change sets
            found = self.stacks.change_set(change_set_id, None)
            failed = status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
            found["ExecutionStatus"] = "EXECUTE_FAILED" if failed else "EXECUTE_COMPLETE"
            self.stacks.save_change_set(found)


def _on_failure(on_stack_failure: str | None, disable_rollback: bool | None) -> dict[str, Any]:
    """What a failed create of a change set's stack does, as the stack document keeps it: the
    change set's OnStackFailure (DO_NOTHING leaves it CREATE_FAILED, ROLLBACK rolls it back,
    DELETE deletes it), which ExecuteChangeSet's DisableRollback must then not be given with,
    else that DisableRollback
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html)."""
    if on_stack_failure is None:
        return {"DisableRollback": bool(disable_rollback), "_OnFailure": None}
    if disable_rollback is not None:
        raise ValidationError(
            "DisableRollback cannot be specified when the change set was created with "
            "OnStackFailure; OnStackFailure decides what a failed create does."
        )
    return {
        "DisableRollback": on_stack_failure == "DO_NOTHING",
        "_OnFailure": "DELETE" if on_stack_failure == "DELETE" else None,
    }

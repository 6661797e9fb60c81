"""The stack operations: CreateStack, UpdateStack, DeleteStack, UpdateTerminationProtection,
SetStackPolicy, GetStackPolicy.

Termination protection is AWS's: set at CreateStack or by UpdateTerminationProtection in any
status but DELETE_IN_PROGRESS and DELETE_COMPLETE, it makes DeleteStack fail and leaves the stack
as it was (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateTerminationProtection.html).

DeleteStack is refused, as on AWS, while an update runs: in UPDATE_IN_PROGRESS, its cleanup, its
rollback and the rollback's cleanup (see BUSY_UPDATING). It is accepted while a create runs (the
delete follows it) and while a delete runs (nothing more to do).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cdlab.localcloud.cloudformation.provider.inputs import Documents, requested_policy
from cdlab.localcloud.cloudformation.provider.submission import Submission
from cdlab.localcloud.cloudformation.stacks import DELETED
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.protocols.errors import ValidationError

DELETING = (DELETED, "DELETE_IN_PROGRESS")
BUSY_UPDATING = (
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
)
"""The statuses in which AWS refuses DeleteStack with "Stack [<stack id>] cannot be deleted while in
status <status>" (a ValidationError), each seen from AWS:
UPDATE_IN_PROGRESS (https://github.com/aws-solutions-library-samples/guidance-for-clickstream-analytics-on-aws/issues/573),
UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (https://github.com/aws-amplify/amplify-backend/pull/2366),
UPDATE_ROLLBACK_IN_PROGRESS (https://github.com/serverless/serverless/issues/6089),
UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS
(https://github.com/vs-yuri-tsai/aws-lights-out-plan/blob/main/docs/deployment-guide.md).
DeleteStack is accepted in CREATE_IN_PROGRESS (a delete submitted during a create,
https://github.com/cloudtools/stacker/issues/422) and REVIEW_IN_PROGRESS
(https://github.com/go-to-k/delstack/pull/646); whether AWS refuses it in ROLLBACK_IN_PROGRESS is
not confirmed, so the local cloud accepts it there and deletes the stack once the rollback ends."""


class StackOperations(Submission):
    """CreateStack, UpdateStack, DeleteStack, UpdateTerminationProtection, SetStackPolicy,
    GetStackPolicy."""

    async def create_stack(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        documents = await Documents.of(self.moto, p)
        doc = self._new_stack(ctx, p, "CREATE_IN_PROGRESS")
        update, _, _ = self._prepare(doc, p, None, documents)
        doc.update(update, _StackPolicy=requested_policy(p, documents))
        self.stacks.save(doc)
        if p.get("EnableTerminationProtection"):
            self.stacks.protect(doc["StackId"], True)
        self.engine.start(doc, "create")
        return {"StackId": doc["StackId"]}

    async def update_stack(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        documents = await Documents.of(self.moto, p)
        doc = self._updatable(p["StackName"])
        update, _, _ = self._prepare(doc, p, doc["_Values"], documents)
        if self._unchanged(doc, update, p):
            raise ValidationError("No updates are to be performed.")
        stack_policy = requested_policy(p, documents)
        if stack_policy is not None:
            doc["_StackPolicy"] = stack_policy
        doc["_UpdatePolicy"] = requested_policy(p, documents, "StackPolicyDuringUpdate")
        doc["_Caller"] = dataclasses.asdict(ctx.principal)
        self._begin_update(doc, update, p)
        return {"StackId": doc["StackId"]}

    def delete_stack(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self.stacks.find(p["StackName"])
        if doc is None or doc["StackStatus"] in DELETING:
            return {}
        if self.stacks.protected(doc["StackId"]):
            raise ValidationError(
                f"Stack [{doc['StackName']}] cannot be deleted while TerminationProtection is "
                "enabled"
            )
        if doc["StackStatus"] in BUSY_UPDATING:
            raise ValidationError(
                f"Stack [{doc['StackId']}] cannot be deleted while in status {doc['StackStatus']}"
            )
        retain = p.get("RetainResources") or []
        if retain and doc["StackStatus"] != "DELETE_FAILED":
            raise ValidationError(
                "Invalid operation on stack: RetainResources may be specified only when the "
                "stack is in the DELETE_FAILED state."
            )
        self.engine.start(doc, "delete", retain=retain)
        return {}

    def update_termination_protection(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        doc = self.stacks.get(p["StackName"])
        if doc["StackStatus"] in DELETING:
            raise ValidationError(
                f"Stack [{doc['StackName']}] is in {doc['StackStatus']} state: termination "
                "protection can be set in any status but DELETE_IN_PROGRESS and DELETE_COMPLETE."
            )
        self.stacks.protect(doc["StackId"], p["EnableTerminationProtection"])
        return {"StackId": doc["StackId"]}

    async def set_stack_policy(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        documents = await Documents.of(self.moto, p)
        doc = self.stacks.get(p["StackName"])
        if doc["StackId"] in self.engine.tasks:
            raise ValidationError(
                f"Stack {doc['StackName']} is in {doc['StackStatus']} state; set its policy once "
                "the operation is over."
            )
        doc["_StackPolicy"] = requested_policy(p, documents)
        self.stacks.save(doc)
        return {}

    def get_stack_policy(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        stack_policy = self.stacks.get(p["StackName"]).get("_StackPolicy")
        return {"StackPolicyBody": json.dumps(stack_policy) if stack_policy else None}

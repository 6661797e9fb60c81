"""What the operations that submit a template share: a request's template, parameters and
rollback configuration checked and evaluated for a stack, a new stack's document, and the start of
an update.

A request is checked completely (template form, resource types, references, parameters and
their constraints) before a stack is created or changed, so a template error is a ValidationError
of the call and leaves every stack as it was, as on AWS. The operation itself then runs in the
background (see :mod:`engine`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from typing import Any

from cdlab.localcloud.cloudformation import template
from cdlab.localcloud.cloudformation.engine import Engine
from cdlab.localcloud.cloudformation.engine.rollback import snapshot
from cdlab.localcloud.cloudformation.provider.inputs import Documents, checked, template_body
from cdlab.localcloud.cloudformation.stacks import AlreadyExistsException, Stacks, new_arn
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationError, error

InsufficientCapabilitiesException = error("InsufficientCapabilitiesException")
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}
ALARM_TRIGGER = "AWS::CloudWatch::Alarm"
ALARM_ARN = re.compile(r"arn:aws[-a-z]*:cloudwatch:[-a-z0-9]+:[0-9]{12}:alarm:.+")


def _masked(declarations: dict[str, Any], values: dict[str, str]) -> list[dict[str, str]]:
    """Parameters as DescribeStacks shows them: NoEcho values masked."""
    return [
        {
            "ParameterKey": k,
            "ParameterValue": template.NO_ECHO_MASK
            if str(declarations[k].get("NoEcho", "")).lower() == "true"
            else v,
        }
        for k, v in values.items()
    ]


def _check_capabilities(parsed: dict[str, Any], given: list[str]) -> None:
    """Refuse a template with IAM resources unless the request acknowledges them:
    CAPABILITY_NAMED_IAM for custom-named ones, else CAPABILITY_IAM (or CAPABILITY_NAMED_IAM)
    (the Capabilities member of
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html)."""
    needed, _ = template.capabilities(parsed)
    if not needed or needed[0] in given or "CAPABILITY_NAMED_IAM" in given:
        return
    raise InsufficientCapabilitiesException(f"Requires capabilities : [{needed[0]}]")


def _check_tags(tags: list[dict[str, str]] | None) -> None:
    """Refuse a stack tag whose key has the prefix AWS keeps for its own tags ("Tags owned by AWS
    have the reserved prefix: aws:",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Tag.html), as
    CreateStack refuses it
    (https://github.com/aws-quickstart/quickstart-amazon-eks/issues/42). Other letter cases
    (``AWS:``) are accepted: whether AWS refuses them on a stack is not confirmed."""
    for tag in tags or []:
        if tag["Key"].startswith("aws:"):
            raise ValidationError("aws: prefixed tag key names are not allowed for external use.")


def _rollback_configuration(p: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """The stack's RollbackConfiguration once the request is made: a request without one keeps
    the stack's; one without RollbackTriggers keeps the stack's triggers, and an empty list
    removes them (RollbackTriggers in
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackConfiguration.html).
    A trigger is a metric alarm: moto, which keeps the alarms, has no composite alarms."""
    given = p.get("RollbackConfiguration")
    if given is None:
        return previous or {}
    triggers = given.get("RollbackTriggers", (previous or {}).get("RollbackTriggers", []))
    for trigger in triggers:
        if trigger["Type"] != ALARM_TRIGGER:
            raise ValidationError(
                f"The local cloud does not watch rollback triggers of type {trigger['Type']}; "
                f"it watches {ALARM_TRIGGER} triggers."
            )
        if not ALARM_ARN.fullmatch(trigger["Arn"]):
            raise ValidationError(
                f"Rollback trigger {trigger['Arn']} is not the ARN of a CloudWatch alarm "
                "(arn:aws:cloudwatch:<region>:<account>:alarm:<name>)."
            )
    monitoring = given.get("MonitoringTimeInMinutes", 0)
    return {"RollbackTriggers": triggers, "MonitoringTimeInMinutes": monitoring}


class Submission:
    """The steps shared by the stack and change set operations."""

    stacks: Stacks
    engine: Engine
    moto: MotoState

    def _prepare(
        self,
        doc: dict[str, Any],
        p: dict[str, Any],
        previous: dict[str, str] | None,
        documents: Documents,
    ) -> tuple[dict[str, Any], dict[str, str], template.Evaluated]:
        """The checked template, parameter values and evaluation a request would give ``doc``:
        the request's own checks (tags, template members) before the template's. UpdateStack
        and CreateChangeSet take a template or UsePreviousTemplate, not both
        (https://github.com/boto/boto/pull/2843)."""
        _check_tags(p.get("Tags"))
        if p.get("UsePreviousTemplate") and "_Template" not in doc:
            raise ValidationError("UsePreviousTemplate can be used only for an existing stack.")
        if p.get("UsePreviousTemplate") and (p.get("TemplateBody") or p.get("TemplateURL")):
            raise ValidationError(
                "You cannot specify both usePreviousTemplate and Template Body/Template URL"
            )
        body = doc["_Template"] if p.get("UsePreviousTemplate") else template_body(p, documents)
        parsed = checked(body)
        _check_capabilities(parsed, p.get("Capabilities") or [])
        values = template.parameter_values(
            parsed.get("Parameters") or {}, p.get("Parameters", []), previous
        )
        evaluated = template.evaluate(parsed, values, doc["StackName"], doc["StackId"])
        doc_update = {
            "_Template": body,
            "_Values": values,
            "Parameters": _masked(parsed.get("Parameters") or {}, values),
            "Description": parsed.get("Description"),
            "RollbackConfiguration": _rollback_configuration(p, doc.get("RollbackConfiguration")),
        }
        return doc_update, values, evaluated

    def _new_stack(self, ctx: RequestContext, p: dict[str, Any], status: str) -> dict[str, Any]:
        name = p["StackName"]
        if self.stacks.find(name) is not None:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        return {
            "StackId": new_arn(ctx, "stack", name),
            "StackName": name,
            "CreationTime": time.time(),
            "StackStatus": status,
            "DisableRollback": bool(p.get("DisableRollback")) or p.get("OnFailure") == "DO_NOTHING",
            "Capabilities": p.get("Capabilities", []),
            "NotificationARNs": p.get("NotificationARNs", []),
            "Tags": p.get("Tags", []),
            **({"RoleARN": p["RoleARN"]} if p.get("RoleARN") else {}),
            **({"TimeoutInMinutes": p["TimeoutInMinutes"]} if "TimeoutInMinutes" in p else {}),
            "_Caller": dataclasses.asdict(ctx.principal),  # whom a stack without a role acts as
            "_OnFailure": p.get("OnFailure"),
            "_Resources": {},
            "_Cleanup": [],
        }

    def _updatable(self, name: str, *, review_is_missing: bool = False) -> dict[str, Any]:
        """The stack ``name`` if it can be updated. One that does not exist is refused as
        UpdateStack refuses it, "Stack [<name>] does not exist"
        (https://github.com/SWO-GS/auto-tag/issues/98), and so is, with ``review_is_missing``
        (CreateChangeSet of type UPDATE), a stack in REVIEW_IN_PROGRESS, which AWS does not count
        as created (https://github.com/boto/boto3/issues/2327)."""
        doc = self.stacks.find(name)
        if doc is None or (review_is_missing and doc["StackStatus"] == "REVIEW_IN_PROGRESS"):
            raise ValidationError(f"Stack [{name}] does not exist")
        if doc["StackStatus"] not in UPDATABLE:
            raise ValidationError(
                f"Stack:{doc['StackId']} is in {doc['StackStatus']} state and can not be updated."
            )
        return doc

    @staticmethod
    def _unchanged(doc: dict[str, Any], update: dict[str, Any], p: dict[str, Any]) -> bool:
        same_template = template.load(update["_Template"]) == template.load(doc["_Template"])
        same_tags = "Tags" not in p or p["Tags"] == doc.get("Tags", [])
        return same_template and update["_Values"] == doc["_Values"] and same_tags

    def _begin_update(
        self, doc: dict[str, Any], update: dict[str, Any], p: dict[str, Any]
    ) -> asyncio.Task[None]:
        if p.get("DisableRollback"):
            raise ValidationError(
                "The local cloud always rolls a failed update back; DisableRollback is available "
                "when a stack is created."
            )
        doc["_Previous"] = snapshot(doc)
        doc.update(update)
        for key in ("Tags", "Capabilities", "NotificationARNs", "RoleARN"):
            if p.get(key) is not None:
                doc[key] = p[key]
        doc["StackStatus"] = "UPDATE_IN_PROGRESS"
        self.stacks.save(doc)
        return self.engine.start(doc, "update")

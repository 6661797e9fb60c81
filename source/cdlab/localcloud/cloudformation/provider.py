"""The CloudFormation API: operations as methods named after it, on stacks kept in the Store.

A request is checked completely (template form, resource types, references, parameters and
their constraints) before a stack is created or changed, so a template error is a ValidationError
of the call and leaves every stack as it was, as on AWS. The operation itself then runs in the
background (see engine.py).

ExecuteChangeSet answers once the stack operation settles, or after EXECUTE_LINGER_SECONDS: the
stack is the same either way, but ``aws cloudformation deploy`` polls every 30 s from its first
DescribeStacks (its own delay, not the waiter model's), and locally an operation takes seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from typing import Any
from urllib.parse import urlparse

from cdlab.localcloud.cloudformation import policy, template, validation
from cdlab.localcloud.cloudformation.changes import plan
from cdlab.localcloud.cloudformation.engine import Engine, snapshot
from cdlab.localcloud.cloudformation.resources import PROVIDED
from cdlab.localcloud.cloudformation.stacks import (
    DELETED,
    AlreadyExistsException,
    ChangeSetNotFound,
    InvalidChangeSetStatus,
    Stacks,
    new_arn,
    public,
)
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.protocols.errors import ValidationError
from cdlab.localcloud.sagemaker import artifacts
from cdlab.localcloud.sagemaker.controlplane import SageMaker
from cdlab.localcloud.state.store import Store

EXECUTE_LINGER_SECONDS = 20.0
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a "
    "change set."
)
PAGE = 100


def _page(items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
    start = int(token or 0)
    rest = items[start + PAGE :]
    return items[start : start + PAGE], (str(start + PAGE) if rest else None)


def _template_body(p: dict[str, Any]) -> str:
    """TemplateBody, or the object TemplateURL names in the local cloud's S3."""
    if p.get("TemplateBody"):
        return p["TemplateBody"]
    if not p.get("TemplateURL"):
        raise ValidationError("Either Template URL or Template Body must be specified.")
    return _s3_text(p["TemplateURL"])


def _policy(p: dict[str, Any], prefix: str = "StackPolicy") -> dict[str, Any] | None:
    """The stack policy a request gives as ``<prefix>Body`` or ``<prefix>URL``, if any."""
    if p.get(f"{prefix}Body"):
        return policy.parse(p[f"{prefix}Body"])
    if p.get(f"{prefix}URL"):
        return policy.parse(_s3_text(p[f"{prefix}URL"]))
    return None


def _s3_text(url: str) -> str:
    """An S3 object's text, named by an s3:// or an https (virtual-host or path-style) URL."""
    parsed = urlparse(url)
    host, path = parsed.hostname or "", parsed.path.lstrip("/")
    if parsed.scheme == "s3":
        bucket, key = host, path
    elif ".s3" in host:
        bucket, key = host.split(".s3", 1)[0], path
    else:
        bucket, _, key = path.partition("/")
    try:
        data = artifacts.read_s3_object(f"s3://{bucket}/{key}")
    except artifacts.ArtifactError as e:
        raise ValidationError(f"{url} is not a supported S3 URL: {e}") from None
    if data is None:
        raise ValidationError(f"The URL must reference a valid S3 object: {url} was not found.")
    return data.decode("utf-8", "replace")


def _checked(body: str, *, provided_only: bool = True) -> dict[str, Any]:
    parsed = template.load(body)
    validation.check(parsed, PROVIDED if provided_only else None)
    return parsed


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


class CloudFormation:
    def __init__(self, store: Store, sagemaker: SageMaker) -> None:
        self.stacks = Stacks(store)
        self.engine = Engine(self.stacks, sagemaker)

    async def resume(self) -> None:
        await self.engine.resume()

    async def shutdown(self) -> None:
        await self.engine.shutdown()

    # ---- helpers -------------------------------------------------------------------------

    def _prepare(
        self, doc: dict[str, Any], p: dict[str, Any], previous: dict[str, str] | None
    ) -> tuple[dict[str, Any], dict[str, str], template.Evaluated]:
        """The checked template, parameter values and evaluation a request would give ``doc``."""
        if p.get("UsePreviousTemplate") and "_Template" not in doc:
            raise ValidationError("UsePreviousTemplate can be used only for an existing stack.")
        body = doc["_Template"] if p.get("UsePreviousTemplate") else _template_body(p)
        parsed = _checked(body)
        values = template.parameter_values(
            parsed.get("Parameters") or {}, p.get("Parameters", []), previous
        )
        evaluated = template.evaluate(parsed, values, doc["StackName"], doc["StackId"])
        doc_update = {
            "_Template": body,
            "_Values": values,
            "Parameters": _masked(parsed.get("Parameters") or {}, values),
            "Description": parsed.get("Description"),
        }
        return doc_update, values, evaluated

    def _new_stack(self, p: dict[str, Any], status: str) -> dict[str, Any]:
        name = p["StackName"]
        if self.stacks.find(name) is not None:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        return {
            "StackId": new_arn("stack", name),
            "StackName": name,
            "CreationTime": time.time(),
            "StackStatus": status,
            "DisableRollback": bool(p.get("DisableRollback")) or p.get("OnFailure") == "DO_NOTHING",
            "Capabilities": p.get("Capabilities", []),
            "NotificationARNs": p.get("NotificationARNs", []),
            "Tags": p.get("Tags", []),
            "EnableTerminationProtection": False,
            "_OnFailure": p.get("OnFailure"),
            "_Resources": {},
            "_Cleanup": [],
        }

    def _updatable(self, name: str) -> dict[str, Any]:
        doc = self.stacks.get(name)
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

    # ---- stacks --------------------------------------------------------------------------

    def create_stack(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._new_stack(p, "CREATE_IN_PROGRESS")
        update, _, _ = self._prepare(doc, p, None)
        doc.update(update, _StackPolicy=_policy(p))
        self.stacks.save(doc)
        self.engine.start(doc, "create")
        return {"StackId": doc["StackId"]}

    def update_stack(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._updatable(p["StackName"])
        update, _, _ = self._prepare(doc, p, doc["_Values"])
        if self._unchanged(doc, update, p):
            raise ValidationError("No updates are to be performed.")
        stack_policy = _policy(p)
        if stack_policy is not None:
            doc["_StackPolicy"] = stack_policy
        doc["_UpdatePolicy"] = _policy(p, "StackPolicyDuringUpdate")
        self._begin_update(doc, update, p)
        return {"StackId": doc["StackId"]}

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
        for key in ("Tags", "Capabilities", "NotificationARNs"):
            if key in p:
                doc[key] = p[key]
        doc["StackStatus"] = "UPDATE_IN_PROGRESS"
        self.stacks.save(doc)
        return self.engine.start(doc, "update")

    def delete_stack(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self.stacks.find(p["StackName"])
        if doc is None or doc["StackStatus"] in (DELETED, "DELETE_IN_PROGRESS"):
            return {}
        retain = p.get("RetainResources") or []
        if retain and doc["StackStatus"] != "DELETE_FAILED":
            raise ValidationError(
                "Invalid operation on stack: RetainResources may be specified only when the "
                "stack is in the DELETE_FAILED state."
            )
        self.engine.start(doc, "delete", retain=retain)
        return {}

    def set_stack_policy(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self.stacks.get(p["StackName"])
        if doc["StackId"] in self.engine.tasks:
            raise ValidationError(
                f"Stack {doc['StackName']} is in {doc['StackStatus']} state; set its policy once "
                "the operation is over."
            )
        doc["_StackPolicy"] = _policy(p)
        self.stacks.save(doc)
        return {}

    def get_stack_policy(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        stack_policy = self.stacks.get(p["StackName"]).get("_StackPolicy")
        return {"StackPolicyBody": json.dumps(stack_policy) if stack_policy else None}

    def describe_stacks(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("StackName"):
            docs = [self.stacks.get(p["StackName"])]
        else:
            docs = [d for d in reversed(self.stacks.all()) if d["StackStatus"] != DELETED]
        page, token = _page(docs, p.get("NextToken"))
        stacks = [
            {**public(d), "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"}} for d in page
        ]
        return {"Stacks": stacks, "NextToken": token}

    def list_stacks(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        wanted = set(p.get("StackStatusFilter") or [])
        keys = (
            "StackId",
            "StackName",
            "CreationTime",
            "LastUpdatedTime",
            "DeletionTime",
            "StackStatus",
            "StackStatusReason",
        )
        summaries = [
            {
                **{k: d[k] for k in keys if k in d},
                "TemplateDescription": d.get("Description"),
                "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
            }
            for d in reversed(self.stacks.all())
            if not wanted or d["StackStatus"] in wanted
        ]
        page, token = _page(summaries, p.get("NextToken"))
        return {"StackSummaries": page, "NextToken": token}

    def describe_stack_events(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self.stacks.get(p["StackName"])
        page, token = _page(list(reversed(self.stacks.events(doc["StackId"]))), p.get("NextToken"))
        return {"StackEvents": page, "NextToken": token}

    def _resources(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "StackName": doc["StackName"],
                "StackId": doc["StackId"],
                **{k: v for k, v in e.items() if k in _RESOURCE_FIELDS},
                "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
            }
            for e in doc["_Resources"].values()
        ]

    def describe_stack_resources(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("StackName"):
            doc = self.stacks.get(p["StackName"])
        elif p.get("PhysicalResourceId"):
            owners = [
                d
                for d in self.stacks.all()
                if any(
                    e.get("PhysicalResourceId") == p["PhysicalResourceId"]
                    for e in d["_Resources"].values()
                )
            ]
            if not owners:
                raise ValidationError(f"Stack for {p['PhysicalResourceId']} does not exist")
            doc = owners[-1]
        else:
            raise ValidationError("Either StackName or PhysicalResourceId must be specified.")
        resources = self._resources(doc)
        if p.get("LogicalResourceId"):
            resources = [r for r in resources if r["LogicalResourceId"] == p["LogicalResourceId"]]
        return {"StackResources": resources}

    def describe_stack_resource(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self.stacks.get(p["StackName"])
        found = [
            r for r in self._resources(doc) if r["LogicalResourceId"] == p["LogicalResourceId"]
        ]
        if not found:
            raise ValidationError(
                f"Resource {p['LogicalResourceId']} does not exist for stack {p['StackName']}"
            )
        return {"StackResourceDetail": {**found[0], "LastUpdatedTimestamp": found[0]["Timestamp"]}}

    def list_stack_resources(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self.stacks.get(p["StackName"])
        summaries = [{**r, "LastUpdatedTimestamp": r["Timestamp"]} for r in self._resources(doc)]
        page, token = _page(summaries, p.get("NextToken"))
        return {"StackResourceSummaries": page, "NextToken": token}

    def list_exports(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        exports = [
            {"ExportingStackId": d["StackId"], "Name": o["ExportName"], "Value": o["OutputValue"]}
            for d in self.stacks.all()
            if d["StackStatus"] != DELETED
            for o in d.get("Outputs", [])
            if "ExportName" in o
        ]
        page, token = _page(exports, p.get("NextToken"))
        return {"Exports": page, "NextToken": token}

    # ---- templates -----------------------------------------------------------------------

    def validate_template(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        parsed = _checked(_template_body(p), provided_only=False)
        capabilities, reason = template.capabilities(parsed)
        return {
            "Parameters": template.parameter_declarations(parsed, detailed=False),
            "Description": parsed.get("Description"),
            "Capabilities": capabilities,
            "CapabilitiesReason": reason,
        }

    def _template_of(self, name: str) -> str:
        doc = self.stacks.get(name)
        if "_Template" not in doc:
            raise ValidationError(
                f"Stack {name} has no template yet (its status is {doc['StackStatus']})."
            )
        return doc["_Template"]

    def get_template_summary(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("StackName"):
            parsed = template.load(self._template_of(p["StackName"]))
        else:
            parsed = _checked(_template_body(p), provided_only=False)
        capabilities, reason = template.capabilities(parsed)
        return {
            "Parameters": template.parameter_declarations(parsed, detailed=True),
            "Description": parsed.get("Description"),
            "Capabilities": capabilities,
            "CapabilitiesReason": reason,
            "ResourceTypes": sorted({r["Type"] for r in parsed["Resources"].values()}),
            "Version": str(parsed.get("AWSTemplateFormatVersion", "2010-09-09")),
        }

    def get_template(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("ChangeSetName"):
            body = self.stacks.change_set(p["ChangeSetName"], p.get("StackName"))["_Template"]
        else:
            body = self._template_of(p["StackName"])
        return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}

    # ---- change sets ---------------------------------------------------------------------

    def create_change_set(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
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
            doc = existing or self._new_stack(p, "REVIEW_IN_PROGRESS")
            current: dict[str, Any] = {}
            old_template, old_values = None, {}
        else:
            doc = self._updatable(p["StackName"])
            current = doc["_Resources"]
            old_template, old_values = template.load(doc["_Template"]), doc["_Values"]
        update, values, evaluated = self._prepare(doc, p, doc.get("_Values"))
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
            "ChangeSetId": new_arn("changeSet", p["ChangeSetName"]),
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
            "Changes": changes,
            "IncludeNestedStacks": False,
            "_Type": kind,
            "_Update": update,
            "_Template": update["_Template"],
            "_Request": {k: p[k] for k in ("Tags", "Capabilities", "NotificationARNs") if k in p},
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

    def describe_change_set(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        change_set = self.stacks.change_set(p["ChangeSetName"], p.get("StackName"))
        return public(change_set)

    def list_change_sets(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self.stacks.get(p["StackName"])
        keys = (
            "StackId",
            "StackName",
            "ChangeSetId",
            "ChangeSetName",
            "ExecutionStatus",
            "Status",
            "StatusReason",
            "CreationTime",
            "Description",
            "IncludeNestedStacks",
        )
        summaries = [
            {k: c[k] for k in keys if c.get(k) is not None}
            for c in self.stacks.change_sets(doc["StackId"])
        ]
        page, token = _page(summaries, p.get("NextToken"))
        return {"Summaries": page, "NextToken": token}

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
        update = copy.deepcopy(change_set["_Update"])
        if change_set["_Type"] == "CREATE":
            if doc["StackStatus"] != "REVIEW_IN_PROGRESS":
                raise InvalidChangeSetStatus(f"Stack [{doc['StackName']}] already exists.")
            doc.update(update, **change_set["_Request"], StackStatus="CREATE_IN_PROGRESS")
            doc["DisableRollback"] = bool(p.get("DisableRollback"))
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


_RESOURCE_FIELDS = {
    "LogicalResourceId",
    "PhysicalResourceId",
    "ResourceType",
    "Timestamp",
    "ResourceStatus",
    "ResourceStatusReason",
}

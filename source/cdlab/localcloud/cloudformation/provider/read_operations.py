"""The operations that read: stacks, their events, resources and exports; templates (validated,
summarized, or a stack's or change set's own); and change sets. Lists come in pages of PAGE.
"""

from __future__ import annotations

from typing import Any, TypeVar

from cdlab.localcloud.cloudformation import template
from cdlab.localcloud.cloudformation.provider.inputs import Documents, checked, template_body
from cdlab.localcloud.cloudformation.stacks import DELETED, Stacks, public
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols import paging
from cdlab.localcloud.protocols.errors import ValidationError

PAGE = 100
Item = TypeVar("Item")


def _page(
    items: list[Item], key: paging.Key[Item], token: str | None, listing: str, newest_first: bool
) -> tuple[list[Item], str | None]:
    """A page of PAGE ``items``; a token this listing did not give is refused."""
    return paging.page(
        items, key, token, listing=listing, size=PAGE, refuse=_invalid, descending=newest_first
    )


def _invalid(token: str) -> Exception:
    """The refusal of a NextToken these listings did not give: ValidationError, the error of
    an input CloudFormation refuses
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html)."""
    return ValidationError(f"{token} is not a valid NextToken")


def _number(item: tuple[int, Any]) -> list[Any]:
    return [item[0]]


_RESOURCE_FIELDS = {
    "LogicalResourceId",
    "PhysicalResourceId",
    "ResourceType",
    "Timestamp",
    "ResourceStatus",
    "ResourceStatusReason",
}


class ReadOperations:
    """Describe, List, Get and ValidateTemplate."""

    stacks: Stacks
    moto: MotoState

    # ---- stacks --------------------------------------------------------------------------

    def describe_stacks(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """The stack named (deleted ones by ARN), or every live stack, newest first."""
        if p.get("StackName"):  # one stack: a page of its own, whose number no token needs
            docs = [(0, self.stacks.get(p["StackName"]))]
        else:
            docs = [(n, d) for n, d in self.stacks.numbered() if d["StackStatus"] != DELETED]
        page, token = _page(docs, _number, p.get("NextToken"), "stacks", newest_first=True)
        stacks = [
            {
                **public(d),
                "EnableTerminationProtection": self.stacks.protected(d["StackId"]),
                "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
            }
            for _, d in page
        ]
        return {"Stacks": stacks, "NextToken": token}

    def list_stacks(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Every stack (deleted ones too) whose status the filter names, newest first."""
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
        docs = [
            (n, d) for n, d in self.stacks.numbered() if not wanted or d["StackStatus"] in wanted
        ]
        page, token = _page(docs, _number, p.get("NextToken"), "stack-summaries", newest_first=True)
        summaries = [
            {
                **{k: d[k] for k in keys if k in d},
                "TemplateDescription": d.get("Description"),
                "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
            }
            for _, d in page
        ]
        return {"StackSummaries": summaries, "NextToken": token}

    def describe_stack_events(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """A stack's events, newest first."""
        stack_id = self.stacks.get(p["StackName"])["StackId"]
        page, token = _page(
            self.stacks.events(stack_id), _number, p.get("NextToken"), f"events/{stack_id}",
            newest_first=True,
        )  # fmt: skip
        return {"StackEvents": [e for _, e in page], "NextToken": token}

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
        page, token = _page(
            list(enumerate(summaries)), _number, p.get("NextToken"),
            f"resources/{doc['StackId']}", newest_first=False,
        )  # fmt: skip
        return {"StackResourceSummaries": [r for _, r in page], "NextToken": token}

    def list_exports(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """The live stacks' exports, oldest stack first, each stack's in its outputs' order."""
        exports = [
            (
                [n, i],
                {
                    "ExportingStackId": d["StackId"],
                    "Name": o["ExportName"],
                    "Value": o["OutputValue"],
                },
            )
            for n, d in self.stacks.numbered()
            if d["StackStatus"] != DELETED
            for i, o in enumerate(d.get("Outputs", []))
            if "ExportName" in o
        ]
        page, token = _page(
            exports, lambda e: e[0], p.get("NextToken"), "exports", newest_first=False
        )
        return {"Exports": [e for _, e in page], "NextToken": token}

    # ---- templates -----------------------------------------------------------------------

    async def validate_template(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        documents = await Documents.of(self.moto, p)
        parsed = checked(template_body(p, documents, single=False), provided_only=False)
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

    async def get_template_summary(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        documents = await Documents.of(self.moto, p)
        if p.get("StackName"):
            parsed = template.load(self._template_of(p["StackName"]))
        else:
            parsed = checked(template_body(p, documents, single=False), provided_only=False)
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
        page, token = _page(
            self.stacks.numbered_change_sets(doc["StackId"]), _number, p.get("NextToken"),
            f"change-sets/{doc['StackId']}", newest_first=False,
        )  # fmt: skip
        return {
            "Summaries": [{k: c[k] for k in keys if c.get(k) is not None} for _, c in page],
            "NextToken": token,
        }

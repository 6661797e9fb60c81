"""SageMaker's stored documents: ARNs, lookups that fail as SageMaker does, List* pages.

A document's keys starting with ``_`` are the kit's own bookkeeping and never leave the local
cloud. An endpoint document keeps a *snapshot* of what each variant serves (image and artifact
digest), so an endpoint outlives the model and config it was made from, as on SageMaker, and
comes back after a restart exactly as it was.
"""

from __future__ import annotations

import time
from typing import Any

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.protocols import paging
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker.artifacts import ArtifactStore
from cdlab.localcloud.state.store import Store

MODEL, CONFIG, ENDPOINT = "model", "endpoint-config", "endpoint"
KIND_LABEL = {MODEL: "model", CONFIG: "endpoint configuration", ENDPOINT: "endpoint"}
CHANGING = ("Creating", "Updating", "SystemUpdating", "RollingBack")  # DeleteEndpoint refuses these
IN_PROGRESS = (*CHANGING, "Deleting")
STARTUP_TIMEOUT = "ContainerStartupHealthCheckTimeoutInSeconds"  # a variant's, in its snapshot

Snapshot = list[dict[str, Any]]
"""What each variant of an endpoint serves: VariantName, ModelName, Image, ArtifactDigest,
ModelDataUrl and ExecutionRoleArn (which its instances fetch the model with), the model
container's Environment (its instances' variables), InstanceType, Weight, Count, its config's
DataCaptureConfig, its RoutingConfig and its ContainerStartupHealthCheckTimeoutInSeconds (each
None without one; these four absent from snapshots made before the kit kept them) (``_Deployed``
in service, ``_Pending`` being deployed)."""


def arn(kind: str, name: str, ctx: RequestContext | None = None) -> str:
    """The ARN of a SageMaker resource; without ``ctx``, in the local cloud's own account and
    default region (for callers outside a request)."""
    return (ctx or RequestContext.internal()).arn("sagemaker", f"{kind}/{name.lower()}")


def endpoint_region(doc: dict[str, Any]) -> str:
    """The region an endpoint document's endpoint is in, from its ARN."""
    return doc["EndpointArn"].split(":")[3]


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document without the kit's own bookkeeping (keys starting with ``_``)."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def paginate(
    items: list[dict[str, Any]],
    params: dict[str, Any],
    key: str,
    name: str,
    status: str | None = None,
) -> dict[str, Any]:
    """SageMaker's List* conventions over summaries whose name and status fields are ``name``
    and ``status``: NameContains, the CreationTime and LastModifiedTime filters, StatusEquals,
    SortBy (Name, CreationTime, Status), SortOrder, MaxResults and NextToken; the page's list
    is under ``key``."""
    if params.get("NameContains"):
        needle = params["NameContains"].lower()
        items = [i for i in items if needle in i[name].lower()]
    for field, test in (
        ("CreationTimeBefore", lambda i, t: i["CreationTime"] < t),
        ("CreationTimeAfter", lambda i, t: i["CreationTime"] > t),
        ("LastModifiedTimeBefore", lambda i, t: i.get("LastModifiedTime", i["CreationTime"]) < t),
        ("LastModifiedTimeAfter", lambda i, t: i.get("LastModifiedTime", i["CreationTime"]) > t),
        ("StatusEquals", lambda i, s: status is not None and i.get(status) == s),
    ):
        if params.get(field) is not None:
            items = [i for i in items if test(i, params[field])]
    sort_by = params.get("SortBy", "CreationTime")
    sort_field = {"Name": name, "Status": status}.get(sort_by, sort_by)
    descending = params.get("SortOrder") != "Ascending"
    # ties keep creation order in both orders; the name makes each key unique
    tie = -1 if descending else 1
    shown, token = paging.page(
        items,
        lambda i: [i.get(sort_field, ""), tie * i["CreationTime"], i[name]],
        params.get("NextToken"),
        listing=f"{key}/{sort_by}",
        size=params.get("MaxResults") or 100,
        refuse=lambda token: ValidationException(f"Invalid pagination token {token!r}."),
        descending=descending,
    )
    return {key: shown, "NextToken": token} if token else {key: shown}


def variant_summaries(snapshot: Snapshot, resolved_at: float) -> list[dict[str, Any]]:
    """DescribeEndpoint's ProductionVariants for a snapshot in service."""
    return [
        {
            "VariantName": s["VariantName"],
            "DeployedImages": [
                {
                    "SpecifiedImage": s["Image"],
                    "ResolvedImage": f"{s['Image'].split(':')[0]}@sha256:{s['ArtifactDigest']}",
                    "ResolutionTime": resolved_at,
                }
            ],
            "CurrentWeight": s["Weight"],
            "DesiredWeight": s["Weight"],
            "CurrentInstanceCount": s["Count"],
            "DesiredInstanceCount": s["Count"],
            **({"RoutingConfig": s["RoutingConfig"]} if s.get("RoutingConfig") else {}),
        }
        for s in snapshot
    ]


class Documents:
    """Models, endpoint configs and endpoints in the store, and the artifacts they keep."""

    def __init__(self, store: Store, artifact_store: ArtifactStore) -> None:
        self.store = store
        self.artifacts = artifact_store

    def get(self, ctx: RequestContext, kind: str, name: str) -> dict[str, Any]:
        doc = self.store.get(kind, name)
        if doc is None:
            raise ValidationException(
                f'Could not find {KIND_LABEL[kind]} "{arn(kind, name, ctx)}".'
            )
        return doc

    def absent(self, ctx: RequestContext, kind: str, name: str) -> None:
        if self.store.get(kind, name) is not None:
            raise ValidationException(
                f'Cannot create already existing {KIND_LABEL[kind]} "{arn(kind, name, ctx)}".'
            )

    def endpoint(self, name: str) -> dict[str, Any] | None:
        return self.store.get(ENDPOINT, name)

    def save_endpoint(self, doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """Apply ``changes`` (None removes a key), stamp LastModifiedTime and store."""
        doc.update(changes)
        for key in [k for k, v in changes.items() if v is None]:
            del doc[key]
        doc["LastModifiedTime"] = time.time()
        self.store.put(ENDPOINT, doc["EndpointName"], doc)
        return doc

    def back_in_service(self, doc: dict[str, Any], reason: str) -> None:
        """The endpoint InService on its deployed configuration, nothing pending: an update that
        did not complete, and why."""
        self.save_endpoint(
            doc,
            EndpointStatus="InService",
            FailureReason=reason,
            PendingDeploymentSummary=None,
            _Pending=None,
            _PendingConfigName=None,
        )

    def forget_unused_artifacts(self) -> None:
        """Drop the artifacts no model and no endpoint's snapshot refers to any more."""
        in_use = {d["_ArtifactDigest"] for d in self.store.all(MODEL) if d.get("_ArtifactDigest")}
        for endpoint in self.store.all(ENDPOINT):
            for snapshot in (endpoint.get("_Deployed") or []) + (endpoint.get("_Pending") or []):
                in_use.add(snapshot["ArtifactDigest"])
        self.artifacts.forget_unused(in_use)

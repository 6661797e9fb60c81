"""What automatic scaling reads and changes on SageMaker: a variant's instance count."""

from __future__ import annotations

import asyncio
from typing import Protocol

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.sagemaker.documents import Documents
from cdlab.localcloud.sagemaker.endpoints import Endpoints
from cdlab.localcloud.sagemaker.lifecycle import Lifecycle

CAPACITY_POLL_SECONDS = 0.05


class Capacity(Protocol):
    """The autoscaler's view of SageMaker."""

    def variant_capacity(self, endpoint: str, variant: str) -> int | None: ...

    async def set_capacity(self, endpoint: str, variant: str, count: int) -> None: ...

    def failure_reason(self, endpoint: str) -> str: ...


class EndpointCapacity:
    def __init__(self, docs: Documents, endpoints: Endpoints, lifecycle: Lifecycle) -> None:
        self.docs = docs
        self.endpoints = endpoints
        self.lifecycle = lifecycle

    def variant_capacity(self, endpoint: str, variant: str) -> int | None:
        """The instance count of an in-service endpoint's variant (None otherwise)."""
        doc = self.docs.endpoint(endpoint)
        if doc is None or doc["EndpointStatus"] != "InService":
            return None
        counts = {s["VariantName"]: s["Count"] for s in doc.get("_Deployed") or []}
        return counts.get(variant)

    def failure_reason(self, endpoint: str) -> str:
        doc = self.docs.endpoint(endpoint)
        return (doc or {}).get("FailureReason", "")

    async def set_capacity(self, endpoint: str, variant: str, count: int) -> None:
        """Change a variant's instance count (as automatic scaling does); returns once the
        endpoint is InService on it."""
        self.endpoints.update_endpoint_weights_and_capacities(
            RequestContext.internal(),
            {
                "EndpointName": endpoint,
                "DesiredWeightsAndCapacities": [
                    {"VariantName": variant, "DesiredInstanceCount": count}
                ],
            },
        )
        task = self.lifecycle.task(endpoint)
        while task is not None and not task.done():  # InService again: removed ones may drain
            doc = self.docs.endpoint(endpoint)
            if doc is None or doc["EndpointStatus"] != "Updating":
                return
            await asyncio.sleep(CAPACITY_POLL_SECONDS)

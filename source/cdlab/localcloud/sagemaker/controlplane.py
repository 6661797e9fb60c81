"""SageMaker's endpoint side, assembled: the operations on models, endpoint configs and
endpoints (within the account's instance quotas, if any), the endpoints' lifecycle, and the
capacity automatic scaling changes."""

from __future__ import annotations

from dataclasses import dataclass

from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.sagemaker.artifacts import ArtifactStore
from cdlab.localcloud.sagemaker.capacity import EndpointCapacity
from cdlab.localcloud.sagemaker.documents import Documents
from cdlab.localcloud.sagemaker.endpointconfigs import EndpointConfigs
from cdlab.localcloud.sagemaker.endpoints import Endpoints
from cdlab.localcloud.sagemaker.instances import InstanceLauncher
from cdlab.localcloud.sagemaker.lifecycle import Lifecycle
from cdlab.localcloud.sagemaker.models import Models
from cdlab.localcloud.sagemaker.quotas import Quotas
from cdlab.localcloud.sagemaker.router import Router
from cdlab.localcloud.state.store import Store


@dataclass(frozen=True)
class SageMaker:
    models: Models
    endpoint_configs: EndpointConfigs
    endpoints: Endpoints
    lifecycle: Lifecycle
    capacity: EndpointCapacity

    @classmethod
    def assemble(
        cls,
        store: Store,
        artifact_store: ArtifactStore,
        launcher: InstanceLauncher,
        router: Router,
        moto: MotoState,
        roles: ServiceRoles,
        limits: Quotas | None = None,
    ) -> SageMaker:
        docs = Documents(store, artifact_store)
        lifecycle = Lifecycle(docs, launcher, router, roles)
        endpoints = Endpoints(docs, lifecycle, moto, limits)
        return cls(
            Models(docs, artifact_store, moto, roles),
            EndpointConfigs(docs),
            endpoints,
            lifecycle,
            EndpointCapacity(docs, endpoints, lifecycle),
        )

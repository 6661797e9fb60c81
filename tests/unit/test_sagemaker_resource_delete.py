"""The local CloudFormation's deletion of SageMaker resources, its handlers driven directly on the
endpoints of :mod:`tests.unit.test_delete_endpoint_crash` (a state store, moto, the lifecycle;
no instance runs): an AWS::SageMaker::Endpoint whose endpoint stays Deleting (its deletion
failing) fails the resource once the handler's wait (``DELETED_WAIT`` cloud seconds) has passed,
instead of waiting for good; a model's or endpoint config's deletion whose operation is a
coroutine is awaited."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from cdlab.localcloud.cloudformation.resources.base import Context, Resource, ResourceFailed
from cdlab.localcloud.cloudformation.resources.sagemaker import Endpoint, Model
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.iam.service_roles import ServiceRoles
from tests.unit.test_delete_endpoint_crash import NAME, Cloud, endpoint_arn, scale


def handler_context(cloud: Cloud) -> Context:
    """What a stack's handler runs with, its SageMaker being the cloud's endpoints only."""
    return Context(
        stack_name="stack",
        logical_id="Endpoint",
        sagemaker=cast(Any, SimpleNamespace(endpoints=cloud.endpoints)),
        request=RequestContext.internal(),
        moto=cloud.moto,
        roles=ServiceRoles(None),
        services={},
        journal=cloud.journal,
    )


def test_an_endpoint_left_deleting_fails_the_resource_after_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every deletion of the endpoint fails (its last step raising): the handler's DeleteEndpoint
    is accepted, the endpoint stays Deleting, and once the wait has passed (30 cloud minutes,
    a blink at this time scale) the resource fails saying so."""
    monkeypatch.delenv("CDLAB_LATENCY", raising=False)
    monkeypatch.setenv("CDLAB_TIME_SCALE", "1000000")
    cloud = Cloud.start(tmp_path)
    try:
        asyncio.run(scale(cloud))
        reason = asyncio.run(_delete_failing(cloud))
        assert reason == (
            f'Resource handler returned message: "Endpoint {NAME} is still Deleting 30 minutes '
            'after DeleteEndpoint; delete the stack again to ask for its deletion again" '
            "(HandlerErrorCode: NotStabilized)"
        )
        assert cloud.held()[0] == "Deleting"
    finally:
        cloud.stop()


async def _delete_failing(cloud: Cloud) -> str:
    """The Endpoint handler's deletion, every deletion of the endpoint failing; the reason the
    resource failed with. Bounded, so that a handler that waits for good fails the test."""

    async def failing(name: str) -> None:
        raise RuntimeError("the targets could not be read")

    cloud.lifecycle.on_delete = failing
    resource = Resource(endpoint_arn(cloud), {"EndpointName": NAME})
    with pytest.raises(ResourceFailed) as failed:
        async with asyncio.timeout(60):  # a guard against a wait for good, not a measure
            await Endpoint().delete(handler_context(cloud), resource)
    await cloud.settled()
    return str(failed.value)


DELETED: list[str] = []  # the models AsyncModel's operation deleted


class AsyncModel(Model):
    """A model whose delete operation is a coroutine (as Endpoint's DeleteEndpoint is)."""

    @staticmethod
    def operations(sagemaker: Any) -> tuple[Any, Any]:
        async def delete(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(0)
            DELETED.append(p["ModelName"])
            return {}

        return None, delete


def test_a_named_resources_delete_awaits_a_coroutine_operation(tmp_path: Path) -> None:
    """The base handler's delete awaits an operation that is a coroutine, as its create does:
    the deletion has run when the handler returns."""
    cloud = Cloud.start(tmp_path)
    try:
        resource = Resource("arn:model", {"ModelName": "m"})
        asyncio.run(AsyncModel().delete(handler_context(cloud), resource))
        assert DELETED == ["m"]
    finally:
        cloud.stop()

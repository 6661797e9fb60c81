"""DeleteEndpoint and the endpoint's variants registered for automatic scaling.

"If you delete an endpoint, Application Auto Scaling checks to see whether any of the models on
that endpoint are targets for auto scaling. If any are and you have permission to deregister the
model, Application Auto Scaling deregisters those models as scalable targets without notifying
you. If you use a custom permission policy that doesn't provide permission for the
DeregisterScalableTarget action, you must request access to this action before deleting the
endpoint" (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-delete-with-scaling.html).

So DeleteEndpoint deregisters each of its variants' scalable targets (which deletes their
policies, their alarms and scheduled actions with them, see
:mod:`cdlab.localcloud.moto.deregistration`), journaled as the kit's other changes to moto are,
so a restart does not bring them back. A caller IAM enforcement does not allow
``application-autoscaling:DeregisterScalableTarget`` is refused the deletion, nothing changed,
with ``AccessDeniedException`` in IAM's usual words (the guide says the permission is needed, not
how SageMaker words its refusal).
"""

from __future__ import annotations

import contextlib

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.moto.scalingerrors import ObjectNotFoundException
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import error
from cdlab.localcloud.state.journal import Journal

NAMESPACE, DIMENSION = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
AccessDeniedException = error("AccessDeniedException")

Target = tuple[str, str, str]  # (ServiceNamespace, ResourceId, ScalableDimension)


async def variant_targets(moto: MotoState, endpoint: str) -> list[Target]:
    """The scalable targets registered for the endpoint's variants."""
    targets, _ = await moto.run(moto.target_tracking, DIMENSION)
    prefix = f"endpoint/{endpoint}/variant/"
    return [
        (NAMESPACE, t.resource_id, DIMENSION)
        for t in targets
        if t.service_namespace == NAMESPACE and t.resource_id.startswith(prefix)
    ]


async def deregister_variants(
    ctx: RequestContext, endpoint: str, moto: MotoState, journal: Journal, roles: ServiceRoles
) -> None:
    """Deregister the endpoint's variants' scalable targets, as the caller; refuse the caller
    IAM does not allow to deregister one (``AccessDeniedException``), before any is."""
    targets = await variant_targets(moto, endpoint)
    for namespace, resource_id, dimension in targets:
        members = {
            "ServiceNamespace": namespace,
            "ResourceId": resource_id,
            "ScalableDimension": dimension,
        }
        call = Call("application-autoscaling", "DeregisterScalableTarget", members)
        denial = await roles.denial_as(ctx.principal, call, ctx.region)
        if denial is not None:
            raise AccessDeniedException(denial.message())
    for target in targets:
        with contextlib.suppress(ObjectNotFoundException):  # deregistered meanwhile
            await journal.change(moto, MotoState.deregister_scalable_target, *target)

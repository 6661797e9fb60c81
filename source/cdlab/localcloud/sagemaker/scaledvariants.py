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

The refusal is decided before anything changes, and before DeleteEndpoint's refusal of an
endpoint in progress (Creating, Updating, SystemUpdating, RollingBack): authorization comes
first. The endpoint is then saved Deleting before any target is deregistered, its lifecycle step
under way cancelled in the same go (no await between: a step left running could save it again
during the deregistration), and its deletion deregisters what is left before it forgets the
endpoint
(:meth:`Endpoints.delete_endpoint`). So once saved Deleting the endpoint stays Deleting until it
is forgotten, and a crash at any point leaves either the endpoint as it was, targets and all, or
an endpoint Deleting, which the restart deletes, its targets with it: never an endpoint back
InService without its targets, nor targets outliving their endpoint.
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


async def refuse_denied(ctx: RequestContext, targets: list[Target], roles: ServiceRoles) -> None:
    """Refuse the caller IAM does not allow to deregister one of ``targets``
    (``AccessDeniedException``): decided before anything changes, so a refused DeleteEndpoint
    changes nothing."""
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


async def deregister(moto: MotoState, journal: Journal, targets: list[Target]) -> None:
    """Deregister ``targets``, each journaled, so a restart does not bring it back; one
    deregistered meanwhile (by a client, or by the deletion's own pass) is skipped."""
    for target in targets:
        with contextlib.suppress(ObjectNotFoundException):
            await journal.change(moto, MotoState.deregister_scalable_target, *target)

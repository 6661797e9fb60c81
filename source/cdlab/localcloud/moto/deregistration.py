"""DeregisterScalableTarget deletes what the target had, as Application Auto Scaling does.

On AWS, deregistering a scalable target deletes its scaling policies and scheduled actions
(https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DeregisterScalableTarget.html,
https://docs.aws.amazon.com/autoscaling/application/userguide/delete-scheduled-action.html), and
deleting a target tracking policy deletes the alarms made for it
(https://docs.aws.amazon.com/autoscaling/application/userguide/delete-target-tracking-policy.html).
Moto deletes only the target: its policies stay listed, their alarms in CloudWatch, and its
scheduled actions stay too.

Every way the kit deregisters a target ends in moto's
``ApplicationAutoscalingBackend.deregister_scalable_target``: DeregisterScalableTarget through
moto's server app, its replay from the journal at a restart, and CloudFormation deleting an
``AWS::ApplicationAutoScaling::ScalableTarget`` (``MotoState.deregister_scalable_target``, also
journaled), and DeleteEndpoint deregistering the endpoint's variants
(:mod:`cdlab.localcloud.sagemaker.scaledvariants`). :func:`install` wraps it (:mod:`wrapping`),
so each deletes the same things, and a replay deletes what the policies were given since (their
alarms) as the first run did. A target that is not registered is refused with AWS's
``ObjectNotFoundException`` (:mod:`scalingerrors`), where moto answered a ValidationException.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cdlab.localcloud.moto.scalingerrors import registered, target_not_found
from cdlab.localcloud.moto.wrapping import wrap_once

if TYPE_CHECKING:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend


def install() -> None:
    """Wrap moto's DeregisterScalableTarget so that it refuses a target not registered and
    deletes a registered one's policies (their alarms with them) and scheduled actions."""
    # imported here, as MotoState does: it pulls in moto's EC2 and ECS
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

    wrap_once(ApplicationAutoscalingBackend, "deregister_scalable_target", _deleting_owned)


def _deleting_owned(deregister: Callable[..., None]) -> Callable[..., None]:
    def deregister_scalable_target(
        backend: ApplicationAutoscalingBackend, namespace: str, r_id: str, dimension: str
    ) -> None:
        if not registered(backend, namespace, r_id, dimension):
            raise target_not_found(namespace, r_id, dimension)
        deregister(backend, namespace, r_id, dimension)
        delete_owned(backend, namespace, r_id, dimension)

    return deregister_scalable_target


def delete_owned(
    backend: ApplicationAutoscalingBackend, namespace: str, resource_id: str, dimension: str
) -> None:
    """Delete the scaling policies and scheduled actions of one target, as DeleteScalingPolicy
    and DeleteScheduledAction do (a policy's alarms go with it)."""
    target = (namespace, resource_id, dimension)
    for policy in list(backend.policies.values()):
        if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == target:
            backend.delete_scaling_policy(policy.policy_name, *target)
    for action in list(backend.scheduled_actions):
        if (action.service_namespace, action.resource_id, action.scalable_dimension) == target:
            backend.delete_scheduled_action(
                namespace, action.scheduled_action_name, resource_id, dimension
            )

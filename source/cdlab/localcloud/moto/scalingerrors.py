"""Application Auto Scaling's refusals that moto does not make, in AWS's codes: what the
corrections of :mod:`scalingrules` and :mod:`deregistration` raise, and how they look a scalable
target up in moto's backend.

``ObjectNotFoundException``: "For any operation that depends on the existence of a scalable
target, this exception is thrown if the scalable target with the specified service namespace,
resource ID, and scalable dimension does not exist. For any operation that deletes or
deregisters a resource, this exception is thrown if the resource cannot be found"
(https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PutScalingPolicy.html,
https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DeregisterScalableTarget.html).
Moto has no such class; it answers a missing target or policy with a ValidationException, or not
at all. The wording of a target not registered is AWS's as its users quote it
(https://github.com/ansible/ansible/pull/35632); that of a target or policy not found is moto's
(AWS's is not documented); that of a scheduled action not found follows them (the kit's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moto.core.exceptions import JsonRESTError

if TYPE_CHECKING:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

# AWS's answer to a resource id that does not fit its namespace and dimension, as moto words it
# and AWS's users quote it (https://github.com/pulumi/pulumi-policy-aws/issues/11)
UNSUPPORTED = "Unsupported service namespace, resource type or scalable dimension"


class ObjectNotFoundException(JsonRESTError):
    """Application Auto Scaling's ObjectNotFoundException (HTTP 400), which moto lacks."""

    def __init__(self, message: str) -> None:
        super().__init__("ObjectNotFoundException", message)


def validation(message: str) -> JsonRESTError:
    """Moto's own ValidationException of Application Auto Scaling, saying ``message``."""
    # imported here, as MotoState does: the package pulls in moto's EC2 and ECS
    from moto.applicationautoscaling.exceptions import AWSValidationException

    return AWSValidationException(message)


def found_target(
    backend: ApplicationAutoscalingBackend, namespace: str, resource_id: str, dimension: str
) -> Any:
    """Moto's registered scalable target, or None (moto keys its targets by dimension and
    resource id; the namespace is checked too)."""
    found = backend.targets.get(dimension, {}).get(resource_id)
    return found if found is not None and found.service_namespace == namespace else None


def registered(
    backend: ApplicationAutoscalingBackend, namespace: str, resource_id: str, dimension: str
) -> bool:
    """Whether the scalable target is registered."""
    return found_target(backend, namespace, resource_id, dimension) is not None


def _naming(namespace: str, resource_id: str, dimension: str) -> str:
    return (
        f"service namespace: {namespace}, resource ID: {resource_id}, "
        f"scalable dimension: {dimension}"
    )


def target_not_registered(
    namespace: str, resource_id: str, dimension: str
) -> ObjectNotFoundException:
    """PutScalingPolicy's and PutScheduledAction's refusal of a target not registered."""
    return ObjectNotFoundException(
        f"No scalable target registered for {_naming(namespace, resource_id, dimension)}"
    )


def target_not_found(namespace: str, resource_id: str, dimension: str) -> ObjectNotFoundException:
    """DeregisterScalableTarget's refusal of a target not registered."""
    return ObjectNotFoundException(
        f"No scalable target found for {_naming(namespace, resource_id, dimension)}"
    )


def policy_not_found(
    name: str, namespace: str, resource_id: str, dimension: str
) -> ObjectNotFoundException:
    """DeleteScalingPolicy's refusal of a policy the target does not have."""
    return ObjectNotFoundException(
        f"No scaling policy found for {_naming(namespace, resource_id, dimension)}, "
        f"policy name: {name}"
    )


def action_not_found(
    name: str, namespace: str, resource_id: str, dimension: str
) -> ObjectNotFoundException:
    """DeleteScheduledAction's refusal of a scheduled action the target does not have."""
    return ObjectNotFoundException(
        f"No scheduled action found for {_naming(namespace, resource_id, dimension)}, "
        f"scheduled action name: {name}"
    )

"""Application Auto Scaling's rules that moto does not enforce, enforced on moto's own methods.

What moto accepted and AWS refuses (https://docs.aws.amazon.com/autoscaling/application/APIReference/):

- RegisterScalableTarget of a new target without MinCapacity or MaxCapacity ("When you register
  a new scalable target, you must specify values for the minimum and maximum capacity",
  API_RegisterScalableTarget.html): moto kept a target without bounds, which the kit's
  autoscaler read as 0. An update may leave them out (it keeps the target's); the capacities the
  target ends with may not have the maximum below the minimum (``ValidationException``
  "Maximum capacity cannot be less than minimum capacity", as a Terraform deployment quotes
  AWS's answer: https://github.com/glg-public/gds-cc-screamer/blob/16dccbf6020cc2c40f11bc6e2917ab154970a761/checks/validate-capacity.js).
  A resource id that does not fit its dimension (``endpoint/x`` for a SageMaker variant) is
  refused with moto's own ``Unsupported service namespace, resource type or scalable
  dimension``; moto failed on it with an IndexError (an HTTP 500).
- PutScalingPolicy and PutScheduledAction on a target not registered: ``ObjectNotFoundException``
  (API_PutScalingPolicy.html, API_PutScheduledAction.html); moto kept a policy that never scaled.
- PutScalingPolicy creating a policy without the configuration its type needs
  (TargetTrackingScalingPolicyConfiguration "is required if you are creating a policy and the
  policy type is TargetTrackingScaling", StepScalingPolicyConfiguration likewise for
  StepScaling, API_PutScalingPolicy.html): ``ValidationException``. Moto hands the backend one
  configuration, whichever was given; a target tracking one is told by its TargetValue, a
  member botocore's model requires of it.
- PutScalingPolicy naming a ``PredefinedMetricType`` the target's scalable dimension does not
  take (an ECS or serverless type on a variant on instances): ``ValidationException``, "Scalable
  dimension ... only supports the following predefined metric types: ..." (:mod:`metrictypes`,
  which says where the words and the lists come from); moto kept it, and the autoscaler scaled
  the variant on its invocations whatever the type named. Checked on any configuration given,
  a new policy's or an update's, before the target is looked up (the order is the kit's).
- PutScalingPolicy with a target tracking configuration that names no metric (neither
  ``PredefinedMetricSpecification`` nor ``CustomizedMetricSpecification``), or a
  ``ResourceLabel`` on a predefined type other than ``ALBRequestCountPerTarget``:
  ``ValidationException`` (:mod:`metrictypes` says where the rules and the words come from);
  moto kept such a policy, which tracked nothing. Checked as the type is, first the metric, then
  its type, then the label.
- DeleteScalingPolicy and DeleteScheduledAction of one the target does not have:
  ``ObjectNotFoundException`` (moto answered a ValidationException, and ``{}``).

Every way in ends in these methods (moto's server app, the journal's replay, a stack's
resources), so each is refused alike. A request refused is not journaled; one an older kit
journaled that these rules now refuse is logged and skipped at the replay, as any replay
failure is (:meth:`cdlab.localcloud.state.journal.Journal.replay`), and the cloud starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cdlab.localcloud.moto.metrictypes import (
    check_metric_type,
    check_resource_label,
    check_tracked_metric,
)
from cdlab.localcloud.moto.scalingerrors import (
    UNSUPPORTED,
    action_not_found,
    found_target,
    policy_not_found,
    registered,
    target_not_registered,
    validation,
)
from cdlab.localcloud.moto.wrapping import wrap_once

if TYPE_CHECKING:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

SAGEMAKER_VARIANT = "sagemaker:variant:DesiredInstanceCount"
CAPACITIES_REQUIRED = "MinCapacity and MaxCapacity are required to register a new scalable target"
MAX_BELOW_MIN = "Maximum capacity cannot be less than minimum capacity"
CONFIGURATION_REQUIRED = (
    "{member} is required if you are creating a policy and the policy type is {policy_type}"
)


def install() -> None:
    # imported here, as MotoState does: it pulls in moto's EC2 and ECS
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

    backend = ApplicationAutoscalingBackend
    wrap_once(backend, "register_scalable_target", _checked_registration)
    wrap_once(backend, "put_scaling_policy", _checked_policy)
    wrap_once(backend, "put_scheduled_action", _on_registered_target)
    wrap_once(backend, "delete_scaling_policy", _deleting_a_policy_it_has)
    wrap_once(backend, "delete_scheduled_action", _deleting_an_action_it_has)


def _checked_registration(register: Callable[..., Any]) -> Callable[..., Any]:
    def register_scalable_target(
        backend: ApplicationAutoscalingBackend,
        namespace: str,
        r_id: str,
        dimension: str,
        min_capacity: int | None,
        max_capacity: int | None,
        role_arn: str | None,
        suspended_state: Any,
    ) -> Any:
        if dimension.partition(":")[0] != namespace or (
            dimension == SAGEMAKER_VARIANT and not _variant_id(r_id)
        ):
            raise validation(UNSUPPORTED)
        existing = found_target(backend, namespace, r_id, dimension)
        _check_capacities(existing, min_capacity, max_capacity)
        try:
            return register(
                backend, namespace, r_id, dimension, min_capacity, max_capacity, role_arn,
                suspended_state,
            )  # fmt: skip
        except (IndexError, ValueError):  # moto's own check could not split the resource id
            raise validation(UNSUPPORTED) from None

    return register_scalable_target


def _variant_id(resource_id: str) -> bool:
    """Whether ``resource_id`` is a SageMaker variant's: ``endpoint/<endpoint>/variant/<variant>``
    (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html)."""
    parts = resource_id.split("/")
    return len(parts) == 4 and parts[0] == "endpoint" and parts[2] == "variant" and all(parts)


def _check_capacities(existing: Any, min_capacity: int | None, max_capacity: int | None) -> None:
    """A new target (``existing`` None) needs both capacities; the ones a target ends with
    (those given, else those it has) may not have the maximum below the minimum."""
    if existing is None and (min_capacity is None or max_capacity is None):
        raise validation(CAPACITIES_REQUIRED)
    low = min_capacity if min_capacity is not None else getattr(existing, "min_capacity", None)
    high = max_capacity if max_capacity is not None else getattr(existing, "max_capacity", None)
    if low is not None and high is not None and int(high) < int(low):
        raise validation(MAX_BELOW_MIN)


def _checked_policy(put: Callable[..., Any]) -> Callable[..., Any]:
    def put_scaling_policy(
        backend: ApplicationAutoscalingBackend,
        policy_name: str,
        service_namespace: str,
        resource_id: str,
        scalable_dimension: str,
        policy_body: dict[str, Any] | None,
        policy_type: str | None,
    ) -> Any:
        target = (service_namespace, resource_id, scalable_dimension)
        if not _has_policy(backend, policy_name, *target):
            _check_configuration(policy_type, policy_body)
        check_tracked_metric(policy_body)
        check_metric_type(scalable_dimension, policy_body)
        check_resource_label(policy_body)
        if not registered(backend, *target):
            raise target_not_registered(*target)
        return put(backend, policy_name, *target, policy_body, policy_type)

    return put_scaling_policy


def _check_configuration(policy_type: str | None, body: dict[str, Any] | None) -> None:
    """A new policy of a type needs that type's configuration (moto's ``body``: the step scaling
    one if given, else the target tracking one)."""
    tracking = isinstance(body, dict) and "TargetValue" in body
    if policy_type == "TargetTrackingScaling" and not tracking:
        member = "TargetTrackingScalingPolicyConfiguration"
    elif policy_type == "StepScaling" and (body is None or tracking):
        member = "StepScalingPolicyConfiguration"
    else:
        return
    raise validation(CONFIGURATION_REQUIRED.format(member=member, policy_type=policy_type))


def _has_policy(
    backend: ApplicationAutoscalingBackend, name: str, namespace: str, r_id: str, dimension: str
) -> bool:
    return any(
        (p.policy_name, p.service_namespace, p.resource_id, p.scalable_dimension)
        == (name, namespace, r_id, dimension)
        for p in backend.policies.values()
    )


def _on_registered_target(put: Callable[..., None]) -> Callable[..., None]:
    def put_scheduled_action(
        backend: ApplicationAutoscalingBackend,
        service_namespace: str,
        schedule: str,
        timezone: str,
        scheduled_action_name: str,
        resource_id: str,
        scalable_dimension: str,
        start_time: str,
        end_time: str,
        scalable_target_action: Any,
    ) -> None:
        if not registered(backend, service_namespace, resource_id, scalable_dimension):
            raise target_not_registered(service_namespace, resource_id, scalable_dimension)
        put(
            backend, service_namespace, schedule, timezone, scheduled_action_name, resource_id,
            scalable_dimension, start_time, end_time, scalable_target_action,
        )  # fmt: skip

    return put_scheduled_action


def _deleting_a_policy_it_has(delete: Callable[..., None]) -> Callable[..., None]:
    def delete_scaling_policy(
        backend: ApplicationAutoscalingBackend,
        policy_name: str,
        service_namespace: str,
        resource_id: str,
        scalable_dimension: str,
    ) -> None:
        target = (service_namespace, resource_id, scalable_dimension)
        if not _has_policy(backend, policy_name, *target):
            raise policy_not_found(policy_name, *target)
        delete(backend, policy_name, *target)

    return delete_scaling_policy


def _deleting_an_action_it_has(delete: Callable[..., None]) -> Callable[..., None]:
    def delete_scheduled_action(
        backend: ApplicationAutoscalingBackend,
        service_namespace: str,
        scheduled_action_name: str,
        resource_id: str,
        scalable_dimension: str,
    ) -> None:
        held = (service_namespace, scheduled_action_name, resource_id, scalable_dimension)
        if not any(
            (a.service_namespace, a.scheduled_action_name, a.resource_id, a.scalable_dimension)
            == held
            for a in backend.scheduled_actions
        ):
            raise action_not_found(
                scheduled_action_name, service_namespace, resource_id, scalable_dimension
            )
        delete(backend, *held)

    return delete_scheduled_action

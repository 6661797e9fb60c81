"""Deregistering a scalable target in moto deletes its scaling policies (and the alarms target
tracking made for them) and scheduled actions, as on AWS; another target keeps its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cdlab.localcloud.autoscaling.autoscaler import DIMENSION, Autoscaler
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.store import Store

ENDPOINTS = ("deregistered", "kept")
CAPACITY = {"min_capacity": 1, "max_capacity": 2, "role_arn": None, "suspended_state": None}


def target(endpoint: str) -> tuple[str, str, str]:
    return "sagemaker", f"endpoint/{endpoint}/variant/AllTraffic", DIMENSION


def scale(moto: MotoState, autoscaler: Autoscaler, endpoint: str) -> None:
    """Register the endpoint's target and give it a target tracking policy, with its alarms,
    and a scheduled action."""
    namespace, resource_id, dimension = target(endpoint)
    moto.register_scalable_target(*target(endpoint), **CAPACITY)
    arn = moto.put_scaling_policy(
        policy_name="tracked",
        service_namespace=namespace,
        resource_id=resource_id,
        scalable_dimension=dimension,
        policy_type="TargetTrackingScaling",
        policy_body={
            "TargetValue": 10,
            "CustomizedMetricSpecification": {
                "Namespace": "CDLab/Tests", "MetricName": endpoint, "Statistic": "Average"
            },
        },
    )  # fmt: skip
    assert len(asyncio.run(autoscaler.policy_alarms(arn))) == 2
    moto.call(
        moto.autoscaling_backend().put_scheduled_action,
        namespace, "cron(0 2 * * ? *)", None, "nightly", resource_id, dimension, None, None,
        {"MinCapacity": 1, "MaxCapacity": 1},
    )  # fmt: skip


def held(moto: MotoState) -> dict[str, tuple[int, int, int]]:
    """On moto's thread: each endpoint's count of policies, scheduled actions and alarms."""
    backend, cloudwatch = moto.autoscaling_backend(), moto.cloudwatch_backend()
    return {
        endpoint: (
            sum(p.resource_id == target(endpoint)[1] for p in backend.policies.values()),
            sum(a.resource_id == target(endpoint)[1] for a in backend.scheduled_actions),
            sum(f"endpoint/{endpoint}/" in name for name in cloudwatch.alarms),
        )
        for endpoint in ENDPOINTS
    }


def test_deregistering_deletes_the_targets_policies_alarms_and_scheduled_actions(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    moto = MotoState("333333333333", "us-east-1")  # an account of its own: backends are global
    autoscaler = Autoscaler(metrics=None, capacity=None, store=store, moto=moto)
    try:
        for endpoint in ENDPOINTS:
            scale(moto, autoscaler, endpoint)
        assert moto.call(held, moto) == {endpoint: (1, 1, 2) for endpoint in ENDPOINTS}
        moto.deregister_scalable_target(*target("deregistered"))
        assert moto.call(held, moto) == {"deregistered": (0, 0, 0), "kept": (1, 1, 2)}
        assert moto.call(moto.stale_policy_alarms) == []
    finally:
        moto.call(_forget, moto)
        moto.shutdown()
        store.close()


def _forget(moto: MotoState) -> None:
    """On moto's thread: what the test made (moto's backends outlive it)."""
    backend = moto.autoscaling_backend()
    for endpoint in ENDPOINTS:
        if target(endpoint)[1] in backend.targets.get(DIMENSION, {}):
            moto.deregister_scalable_target(*target(endpoint))

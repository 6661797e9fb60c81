"""A target tracking policy's alarms are journaled: a restart's replay brings back the same ones,
listed by their policy, and the autoscaler makes no new pair; a replaced policy's old ones are
stale."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from cdlab.localcloud.autoscaling.autoscaler import DIMENSION, Autoscaler
from cdlab.localcloud.moto.bridge import MotoBridge
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.journal import KIND, Journal
from cdlab.localcloud.state.store import Store

RESOURCE = ("sagemaker", "endpoint/journaled/variant/AllTraffic", DIMENSION)
CAPACITY = {"min_capacity": 1, "max_capacity": 2, "role_arn": None, "suspended_state": None}


def policy(target: float) -> dict:
    """PutScalingPolicy's parameters (moto's names) of target tracking policy ``tracked``."""
    namespace, resource_id, dimension = RESOURCE
    return {
        "policy_name": "tracked",
        "service_namespace": namespace,
        "resource_id": resource_id,
        "scalable_dimension": dimension,
        "policy_type": "TargetTrackingScaling",
        "policy_body": {
            "TargetValue": target,
            "CustomizedMetricSpecification": {
                "Namespace": "CDLab/Tests", "MetricName": "Queue", "Statistic": "Average"
            },
        },
    }  # fmt: skip


def test_a_policys_alarms_come_back_from_the_journal_with_their_names(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    moto = MotoState("222222222222", "us-east-1")  # an account of its own: backends are global
    autoscaler = Autoscaler(metrics=None, capacity=None, store=store, moto=moto)
    journal, cloudwatch = Journal(store), moto.cloudwatch_backend()
    try:
        moto.call(journal.call, moto, MotoState.register_scalable_target, RESOURCE, CAPACITY)
        arn = moto.call(journal.call, moto, MotoState.put_scaling_policy, (), policy(10))
        alarms = asyncio.run(autoscaler.policy_alarms(arn))
        names = sorted(a["AlarmName"] for a in alarms)
        assert len(names) == 2

        # What a restart loses (moto deletes the policy's alarms with it), and the replay.
        moto.call(moto.delete_scaling_policy, "tracked", *RESOURCE)
        moto.call(moto.deregister_scalable_target, *RESOURCE)
        assert moto.call(lambda: sorted(cloudwatch.alarms)) == []
        assert journal.replay(MotoBridge(moto)) == len(store.all(KIND)) == 3
        restarted = Autoscaler(metrics=None, capacity=None, store=store, moto=moto)
        assert asyncio.run(restarted.policy_alarms(arn)) == alarms
        assert moto.call(lambda: sorted(cloudwatch.alarms)) == names
        assert len(store.all(KIND)) == 3  # no new pair put

        # Put again under its name: a new policy, with a new pair; the old pair is stale.
        renewed = moto.call(journal.call, moto, MotoState.put_scaling_policy, (), policy(20))
        new_pair = {a["AlarmName"] for a in asyncio.run(restarted.policy_alarms(renewed))}
        assert len(new_pair) == 2 and not new_pair & set(names)
        assert moto.call(moto.stale_policy_alarms) == names
    finally:
        moto.call(_forget, moto)
        moto.shutdown()
        store.close()


def _forget(moto: MotoState) -> None:
    """On moto's thread: what the test made, as far as it did (moto's backends outlive it)."""
    with contextlib.suppress(Exception):
        moto.delete_scaling_policy("tracked", *RESOURCE)
    with contextlib.suppress(Exception):
        moto.deregister_scalable_target(*RESOURCE)
    cloudwatch = moto.cloudwatch_backend()
    cloudwatch.delete_alarms(list(cloudwatch.alarms))

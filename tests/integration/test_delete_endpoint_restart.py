"""DeleteEndpoint deregisters the endpoint's scaled variants, and a restart keeps it so: after a
stop and start (and a SIGKILL) the endpoint, its scalable target, the target's scaling policy
and the alarms target tracking made for it stay gone. An endpoint a crash left Deleting (saved
so by DeleteEndpoint, its targets not yet deregistered) is deleted at the restart, its targets,
policy and alarms with it."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest

from cdlab.localcloud import control
from tests.integration.private_cloud import PrivateCloud
from tests.integration.scaled import pressure_policy, variant_target
from tests.polling import poll

pytestmark = pytest.mark.slow

Scaling = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
NONE: Scaling = ((), (), ())


def scaled(private: PrivateCloud, endpoint: str) -> Scaling:
    """An endpoint InService whose AllTraffic variant is registered, with a target tracking
    policy and its two alarms; what it has (:func:`scaling`)."""
    private.deploy(endpoint, count=1)
    autoscaling, resource = private.client("application-autoscaling"), variant_target(endpoint)
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    high, low = pressure_policy(autoscaling, resource, "pressure")
    found = scaling(private, endpoint)
    assert found == ((resource["ResourceId"],), ("pressure",), tuple(sorted((high, low))))
    return found


def scaling(private: PrivateCloud, endpoint: str) -> Scaling:
    """The endpoint's AllTraffic variant's scalable target, its policies and target tracking's
    alarms for them, by name."""
    autoscaling, resource = private.client("application-autoscaling"), variant_target(endpoint)
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource["ResourceId"]]
    )["ScalableTargets"]
    policies = autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"]
    prefix = f"TargetTracking-{resource['ResourceId']}-"
    alarms = private.client("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    return (
        tuple(t["ResourceId"] for t in targets),
        tuple(p["PolicyName"] for p in policies),
        tuple(sorted(a["AlarmName"] for a in alarms)),
    )


def gone(private: PrivateCloud, endpoint: str) -> bool:
    """Whether DescribeEndpoint no longer finds the endpoint."""
    sm = private.client("sagemaker")
    try:
        sm.describe_endpoint(EndpointName=endpoint)
    except sm.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "ValidationException"
        return True
    return False


def test_a_deleted_endpoints_scaling_does_not_come_back_after_a_restart(
    private: PrivateCloud,
) -> None:
    private.up()
    scaled(private, "deleted")
    private.client("sagemaker").delete_endpoint(EndpointName="deleted")
    assert scaling(private, "deleted") == NONE
    private.client("sagemaker").get_waiter("endpoint_deleted").wait(
        EndpointName="deleted", WaiterConfig={"Delay": 1}
    )

    assert control.down(private.home)
    private.up()
    assert gone(private, "deleted") and scaling(private, "deleted") == NONE

    private.kill()
    private.up()
    assert gone(private, "deleted") and scaling(private, "deleted") == NONE


def test_an_endpoint_a_crash_left_deleting_is_deleted_with_its_scaling_at_restart(
    private: PrivateCloud,
) -> None:
    """The state on disk of a kill right after DeleteEndpoint saved the endpoint Deleting,
    before it deregistered the targets: made by stopping the cloud and setting the status in
    its state store (the kill itself falls between two statements of one request)."""
    private.up()
    held = scaled(private, "cut")
    assert control.down(private.home)
    with contextlib.closing(sqlite3.connect(private.home / "state.db")) as db, db:
        [(text,)] = db.execute("SELECT doc FROM docs WHERE kind = 'endpoint' AND key = 'cut'")
        doc = {**json.loads(text), "EndpointStatus": "Deleting"}
        db.execute(
            "UPDATE docs SET doc = ? WHERE kind = 'endpoint' AND key = 'cut'", (json.dumps(doc),)
        )

    private.up()
    # the replay brought the target back; the resumed deletion deregisters it
    assert scaling(private, "cut") in (held, NONE)
    poll(lambda: gone(private, "cut"), timeout=60, what="the endpoint left Deleting to be gone")
    assert scaling(private, "cut") == NONE

    assert control.down(private.home)
    private.up()
    assert gone(private, "cut") and scaling(private, "cut") == NONE

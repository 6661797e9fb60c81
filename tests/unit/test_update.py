"""Blue/green traffic plans and their limits, and an update's phases (no cloud needed)."""

from __future__ import annotations

import asyncio

import pytest

from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker import update
from cdlab.localcloud.sagemaker.artifacts import ArtifactStore
from cdlab.localcloud.sagemaker.documents import Documents
from cdlab.localcloud.sagemaker.fleet import endpoint_route
from cdlab.localcloud.sagemaker.instances import InstanceFailed
from cdlab.localcloud.sagemaker.router import EndpointRoute
from cdlab.localcloud.state.store import Store


def policy(kind: str, unit: str | None = None, value: int = 0) -> dict:
    routing: dict = {"Type": kind}
    if unit is not None:
        routing["CanarySize" if kind == "CANARY" else "LinearStepSize"] = {
            "Type": unit,
            "Value": value,
        }
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}}


@pytest.mark.parametrize(
    ("deployment", "fleet", "steps"),
    [
        ({}, 3, [1.0]),
        (policy("ALL_AT_ONCE"), 2, [1.0]),
        (policy("CANARY", "INSTANCE_COUNT", 1), 4, [0.25, 1.0]),
        (policy("CANARY", "CAPACITY_PERCENT", 10), 4, [0.25, 1.0]),  # at least one instance
        (policy("LINEAR", "INSTANCE_COUNT", 1), 3, [1 / 3, 2 / 3, 1.0]),
        (policy("LINEAR", "CAPACITY_PERCENT", 40), 5, [0.4, 0.8, 1.0]),
    ],
)
def test_traffic_steps_end_with_all_traffic_on_the_new_fleet(deployment, fleet, steps) -> None:
    update.validate(deployment, fleet, {})
    assert update.traffic_steps(deployment, fleet) == pytest.approx(steps)


@pytest.mark.parametrize(
    ("deployment", "fleet", "message"),
    [
        (policy("CANARY", "INSTANCE_COUNT", 2), 3, "at most 50%"),
        (policy("CANARY", "CAPACITY_PERCENT", 51), 10, "at most 50%"),
        (policy("LINEAR", "CAPACITY_PERCENT", 9), 10, "between 10% and 50%"),
        (policy("LINEAR", "INSTANCE_COUNT", 2), 3, "between 10% and 50%"),
        (policy("LINEAR"), 3, "LinearStepSize must be specified"),
        ({"RollingUpdatePolicy": {}}, 3, "RollingUpdatePolicy"),
    ],
)
def test_sizes_out_of_limits_are_refused(deployment, fleet, message) -> None:
    with pytest.raises(ValidationException, match=message):
        update.validate(deployment, fleet, {})


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        (
            policy("CANARY", "CAPACITY_PERCENT", 51),
            "at most 50% of the variants' total instance count\\.$",
        ),
        (policy("LINEAR", "CAPACITY_PERCENT", 9), "between 10% and 50%"),
        (policy("LINEAR"), "LinearStepSize must be specified"),
        ({"RollingUpdatePolicy": {}}, "RollingUpdatePolicy"),
    ],
)
def test_with_no_fleet_yet_what_does_not_depend_on_one_is_refused(deployment, message) -> None:
    """CreateEndpoint's DeploymentConfig deploys no fleet yet (``count`` None)."""
    with pytest.raises(ValidationException, match=message):
        update.validate(deployment, None, {})


def test_with_no_fleet_yet_sizes_in_instances_are_left_to_the_update() -> None:
    update.validate(policy("CANARY", "INSTANCE_COUNT", 5), None, {})
    update.validate(policy("LINEAR", "INSTANCE_COUNT", 5), None, {})


def test_bake_time_and_deadline_follow_the_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    deployment = policy("CANARY", "INSTANCE_COUNT", 1)
    deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"] = (
        600
    )
    assert update.bake_seconds(deployment) == 10
    assert update.deadline({}) == float("inf")


# ---- an update's phases, against a fake lifecycle (no instances, no router) ----------------


class FakeFleets:
    """Records what an update asks of the lifecycle; its instances are plain strings."""

    def __init__(self, start_error: str | None = None, unwatched: str | None = None) -> None:
        self.start_error = start_error
        self.unwatched = unwatched  # why the new roles may not watch the alarms, if they may not
        self.watched: list[list[str]] = []
        self.in_service = {"A": ["blue-1", "blue-2"]}
        self.routes: list[EndpointRoute] = []
        self.stopped: list[list[str]] = []

    def current(self, name: str) -> dict:
        return self.in_service

    async def unwatchable(self, name: str, snapshot: list, alarms: list[str]) -> str | None:
        self.watched.append(alarms)
        return self.unwatched

    async def start(self, name: str, snapshot: list) -> dict:
        if self.start_error is not None:
            raise InstanceFailed(self.start_error)
        return {s["VariantName"]: [f"green-{n}" for n in range(s["Count"])] for s in snapshot}

    async def stop(self, instances: list, drain_seconds: float = 60.0) -> None:
        self.stopped.append(list(instances))

    def route(self, route: EndpointRoute) -> None:
        self.routes.append(route)

    def serve(self, name: str, snapshot: list, fleet: dict) -> None:
        self.in_service = fleet
        self.routes.append(endpoint_route(name, snapshot, fleet, "us-east-1"))


def variant(count: int, digest: str) -> dict:
    return {
        "VariantName": "A",
        "ModelName": f"m-{digest}",
        "Image": "fm:latest",
        "ArtifactDigest": digest,
        "InstanceType": "ml.m5.large",
        "Weight": 1.0,
        "Count": count,
    }


def test_a_rollback_alarm_that_does_not_exist_is_refused() -> None:
    deployment = policy("ALL_AT_ONCE")
    deployment["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": "errors"}]}
    with pytest.raises(ValidationException, match="alarm errors in AutoRollbackConfiguration"):
        update.validate(deployment, 2, {"other": "OK"})
    update.validate(deployment, 2, {"errors": "OK"})


def run_update(tmp_path, fleets: FakeFleets, moto: MotoState, deployment: dict | None) -> dict:
    """Update endpoint ``e`` (two instances in service) to four new instances; its document."""
    docs = Documents(Store(tmp_path / "state.db"), ArtifactStore(tmp_path / "artifacts"))
    doc = {
        "EndpointName": "e",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:000000000000:endpoint/e",
        "EndpointConfigName": "old",
        "EndpointStatus": "InService",
        "CreationTime": 0.0,
        "_Deployed": [variant(2, "blue")],
    }
    docs.save_endpoint(doc)
    endpoint_update = update.EndpointUpdate(docs, fleets, moto, "e", deployment)
    names = update.alarm_names(deployment or {})
    endpoint_update.begin(doc, "new", [variant(4, "green")], moto.alarm_states(names))
    assert docs.endpoint("e")["EndpointStatus"] == "Updating"
    asyncio.run(endpoint_update.run())
    updated = docs.endpoint("e")
    docs.store.close()
    return updated


def test_a_canary_update_shifts_traffic_in_steps_then_switches_and_drains_the_old_fleet(
    tmp_path, moto: MotoState
) -> None:
    fleets = FakeFleets()
    doc = run_update(tmp_path, fleets, moto, policy("CANARY", "INSTANCE_COUNT", 1))
    assert [r.green_share for r in fleets.routes] == [0.25, 1.0, 0.0]
    assert fleets.routes[0].green.variants[0].instances == tuple(f"green-{n}" for n in range(4))
    assert fleets.routes[-1].variants[0].instances == fleets.routes[0].green.variants[0].instances
    assert fleets.stopped == [["blue-1", "blue-2"]]
    assert doc["EndpointStatus"] == "InService"
    assert doc["EndpointConfigName"] == "new"
    assert doc["_Deployed"] == [variant(4, "green")]
    assert "PendingDeploymentSummary" not in doc
    assert doc["LastDeploymentConfig"] == policy("CANARY", "INSTANCE_COUNT", 1)


def test_a_new_fleet_that_fails_to_start_leaves_the_old_one_serving(
    tmp_path, moto: MotoState
) -> None:
    fleets = FakeFleets(start_error="exited with code 1")
    doc = run_update(tmp_path, fleets, moto, None)
    assert fleets.routes == [] and fleets.stopped == []
    assert fleets.in_service == {"A": ["blue-1", "blue-2"]}
    assert doc["EndpointStatus"] == "InService"
    assert doc["EndpointConfigName"] == "old"
    assert doc["FailureReason"] == (
        "The update failed and the endpoint was rolled back: exited with code 1"
    )
    assert "_Pending" not in doc and "PendingDeploymentSummary" not in doc


def test_alarms_the_new_roles_may_not_watch_roll_the_update_back_before_it_starts(
    tmp_path, moto: MotoState, moto_client
) -> None:
    moto_client("cloudwatch").put_metric_alarm(
        AlarmName="unwatched", Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    deployment = policy("LINEAR", "INSTANCE_COUNT", 1)
    deployment["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": "unwatched"}]}
    fleets = FakeFleets(start_error="never started", unwatched="the role may not watch them")
    doc = run_update(tmp_path, fleets, moto, deployment)
    assert fleets.watched == [["unwatched"]]
    assert fleets.routes == [] and fleets.stopped == []
    assert doc["EndpointStatus"] == "InService" and doc["EndpointConfigName"] == "old"
    assert doc["FailureReason"] == (
        "The update failed and the endpoint was rolled back: the role may not watch them"
    )


def test_an_alarm_during_the_bake_sends_the_traffic_back_and_stops_the_new_fleet(
    tmp_path, moto: MotoState, moto_client
) -> None:
    cloudwatch = moto_client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="errors", Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName="errors", StateValue="ALARM", StateReason="test")
    deployment = policy("LINEAR", "INSTANCE_COUNT", 1)
    deployment["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": "errors"}]}
    fleets = FakeFleets()
    doc = run_update(tmp_path, fleets, moto, deployment)
    assert [r.green_share for r in fleets.routes] == [0.25, 0.0]
    assert fleets.routes[-1].green is None
    assert fleets.routes[-1].variants[0].instances == ("blue-1", "blue-2")
    assert fleets.stopped == [[f"green-{n}" for n in range(4)]]
    assert doc["EndpointStatus"] == "InService"
    assert doc["EndpointConfigName"] == "old"
    assert doc["_Deployed"] == [variant(2, "blue")]
    assert doc["FailureReason"].endswith("the alarm errors went into ALARM state")

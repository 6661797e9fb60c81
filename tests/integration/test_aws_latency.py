"""The notebooks' helpers against a local cloud that takes AWS's time (``CDLAB_LATENCY=aws``) at
``CDLAB_TIME_SCALE=60``: their waits, sized in cloud time for AWS, outlast what AWS takes, where
the values the notebooks had before did not."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from cdlab import load, notebook
from cdlab.localcloud.latency import AWS
from cdlab.notebook import clock
from tests.conftest import instance_pids, small_model
from tests.integration.scaled import (
    FEATURES,
    TIME_SCALE,
    ScaledCloud,
    faulty_model,
    scaled_cloud,
    track_invocations,
)
from tests.integration.test_safe_deployments import blue_green, serves
from tests.polling import poll

pytestmark = pytest.mark.slow

SCALE = float(TIME_SCALE)
MINUTE = 60.0
BODIES = load.sample_bodies(FEATURES, count=8, seed=3)
BODY = BODIES[0]


@pytest.fixture(scope="module")
def slow_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory, latency="aws")


@pytest.fixture
def kernel(slow_cloud: ScaledCloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScaledCloud]:
    """This process's environment as ``cdlab.target.ready`` sets a notebook kernel's."""
    for key, value in slow_cloud.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CDLAB_TARGET", "local")
    yield slow_cloud


def cloud_seconds(real: float) -> float:
    return real * SCALE


def test_an_endpoint_takes_awss_minutes_and_the_cloud_says_its_profile(kernel) -> None:
    started = time.monotonic()
    kernel.endpoint("slow", small_model(1, feature_dim=FEATURES))
    assert cloud_seconds(time.monotonic() - started) >= AWS.endpoint_instances
    assert clock.scale() == SCALE


def test_traffic_lasts_through_a_blue_green_update(kernel) -> None:
    """Notebook 04: the traffic must still run when the new fleet takes over."""
    name = kernel.endpoint("bg", small_model(1, feature_dim=FEATURES))
    sm = kernel.client("sagemaker")
    new_config = kernel.config("bg", small_model(2, feature_dim=FEATURES), 1)
    with notebook.Traffic(name, BODY, rate=40) as traffic:
        time.sleep(0.5)
        updated_at = traffic.now()
        sm.update_endpoint(EndpointName=name, EndpointConfigName=new_config)
        kernel.wait(name, timeout=clock.real(clock.deployment()))
        in_service = traffic.now()
        time.sleep(0.5)
    answers = traffic.frame()
    assert cloud_seconds(in_service - updated_at) >= AWS.endpoint_instances
    assert answers["error"].isna().all(), answers["error"].value_counts()
    assert answers["time"].max() > in_service  # the new fleet answered under the traffic
    assert traffic.limit == clock.real(clock.TRAFFIC_LIMIT)


def test_a_linear_deployment_ends_within_the_sized_wait(kernel) -> None:
    """Notebook 07's linear update: two steps of a 3-minute bake after the new fleet starts take
    longer than the 12 minutes the notebook used to wait."""
    name = kernel.endpoint("lin", small_model(1, feature_dim=FEATURES), instances=2)
    sm = kernel.client("sagemaker")
    new_config = kernel.config("lin", small_model(2, feature_dim=FEATURES), 2)
    bake = 3 * MINUTE
    routing = {"Type": "LINEAR", "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1}}
    started = time.monotonic()
    sm.update_endpoint(
        EndpointName=name,
        EndpointConfigName=new_config,
        DeploymentConfig=blue_green(routing, bake=int(bake)),
    )
    seen = notebook.watch_endpoint(
        name,
        started,
        lambda d: d["EndpointStatus"] == "InService",
        timeout=clock.real(clock.deployment(2 * bake)),
    )
    assert seen["status"].iloc[-1] == "InService"
    assert seen["config"].iloc[-1] == new_config
    assert cloud_seconds(seen["time"].iloc[-1]) > 4 * bake  # the notebook's old timeout


def test_a_failing_canary_trips_its_alarm_under_the_helpers_traffic(kernel) -> None:
    """Notebook 07's canary: the traffic still runs when the canary serves, after the new fleet's
    minutes of provisioning, so the alarm fires and the update rolls back."""
    name = kernel.endpoint("can", small_model(1, feature_dim=FEATURES), instances=2)
    sm, cloudwatch = kernel.client("sagemaker"), kernel.client("cloudwatch")
    alarm = f"{name}-5xx"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm, Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": name},
                    {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )  # fmt: skip
    broken = kernel.config("can", faulty_model(3, broken_features=list(range(FEATURES))), 2)
    bake = 10 * MINUTE
    routing = {"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}
    with notebook.Traffic(name, BODY, rate=40) as traffic:
        sm.update_endpoint(
            EndpointName=name,
            EndpointConfigName=broken,
            DeploymentConfig=blue_green(routing, [alarm], bake=int(bake)),
        )
        seen = notebook.watch_endpoint(
            name,
            traffic.started,
            lambda d: d["EndpointStatus"] == "InService",
            timeout=clock.real(clock.deployment(bake)),
            alarm=alarm,
        )
    answers = traffic.frame()
    final = sm.describe_endpoint(EndpointName=name)
    assert "ALARM" in set(seen["alarm"])
    assert final["EndpointConfigName"] != broken and "rolled back" in final["FailureReason"]
    failed = answers[answers["error"].notna()]
    assert len(failed) > 0 and cloud_seconds(failed["time"].min()) >= AWS.endpoint_instances


def test_scale_out_and_in_end_within_the_sized_waits(kernel) -> None:
    """Notebook 06: a scale-in needs 15 low minutes, the cooldown and the instances' removal."""
    name = kernel.endpoint("scl", small_model(1, feature_dim=FEATURES))
    track_invocations(kernel.client("application-autoscaling"), name, 3, 20)
    stop = threading.Event()
    worker = threading.Thread(
        target=load.run,
        args=(name,),
        kwargs={"rate": 50, "duration": 120, "bodies": BODIES, "stop": stop},
    )
    started = time.monotonic()
    worker.start()
    try:
        busy = notebook.watch_endpoint(
            name, started, lambda d: d["ProductionVariants"][0]["CurrentInstanceCount"] >= 3,
            timeout=clock.real(clock.scale_out()),
        )  # fmt: skip
    finally:
        stop.set()
        worker.join()
    quiet = notebook.watch_endpoint(
        name, time.monotonic(), lambda d: d["ProductionVariants"][0]["CurrentInstanceCount"] == 1,
        timeout=clock.real(clock.scale_in(cooldown_seconds=120)),
    )  # fmt: skip
    assert busy["instances"].iloc[-1] >= 3
    assert quiet["instances"].iloc[-1] == 1
    # Low datapoints may start while the load still runs (3 instances share it), so the wait
    # after the load stops holds at least the instances' removal.
    assert cloud_seconds(quiet["time"].iloc[-1]) >= AWS.capacity_change


def test_an_instance_that_dies_while_its_variant_grows_is_replaced_and_served(kernel) -> None:
    """An instance dies while its variant is given one more (AWS's minutes of a capacity
    change): the variant ends with its replacement and the added instance, both routed to, and
    deleting the endpoint stops every one of them (a replacement used to be left out of the
    grown fleet, running unrouted until the cloud stopped)."""
    name = kernel.endpoint("grow", small_model(1, feature_dim=FEATURES), instances=2)
    sm = kernel.client("sagemaker")

    def instances() -> set[int]:
        return set(instance_pids(kernel.cloud.pid, name))

    old = instances()
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
    )
    os.kill(min(old), signal.SIGKILL)
    assert kernel.wait(name)["EndpointStatus"] == "InService"
    started = poll(
        lambda: instances() - old,
        until=lambda pids: len(pids) == 2,
        what="the added instance and the replacement running",
    )
    for pid in started:
        serves(kernel, name, pid)
    sm.delete_endpoint(EndpointName=name)
    poll(instances, until=lambda pids: not pids, timeout=60, what="every instance stopped")

"""SageMaker endpoint behaviour of the local cloud, through boto3, against real instances."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.conftest import children_with_pids, instance_pids, small_model
from tests.polling import poll

ROW = np.eye(20, dtype=np.float32)[3]
BODY = json.dumps({"instances": [{"features": ROW.tolist()}]})
ONE_VARIANT = {"AllTraffic": (1, 1, 1)}


def score(seed: int) -> float:
    return small_model(seed).predict(ROW[None, :])[0]["score"]


def invoke(runtime, endpoint: str, **extra: str) -> tuple[str, float]:
    r = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=BODY, **extra
    )
    return r["InvokedProductionVariant"], json.loads(r["Body"].read())["predictions"][0]["score"]


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_endpoint_lifecycle_creating_inservice_deleting(sm, deploy) -> None:
    name = deploy("life", {"AllTraffic": (1, 1, 2)})
    described = sm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    [variant] = described["ProductionVariants"]
    assert variant["CurrentInstanceCount"] == 2 and variant["CurrentWeight"] == 1.0
    assert described["EndpointArn"].endswith(f":endpoint/{name.lower()}")
    assert name in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]

    def listed(**filters) -> bool:
        return name in [e["EndpointName"] for e in sm.list_endpoints(**filters)["Endpoints"]]

    before = described["LastModifiedTime"] - timedelta(seconds=1)
    assert listed(StatusEquals="InService") and not listed(StatusEquals="Failed")
    assert listed(LastModifiedTimeAfter=before) and not listed(LastModifiedTimeBefore=before)
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name)
    code, message = error_of(sm.describe_endpoint, EndpointName=name)
    assert code == "ValidationException" and "Could not find endpoint" in message


@pytest.mark.slow  # an update through its termination wait (seconds), out of test-fast
def test_deleting_an_endpoint_in_its_old_fleets_termination_wait_stops_that_fleet_too(
    sm, deploy, cloud
) -> None:
    """A blue/green UpdateEndpoint puts the new fleet InService, then keeps the old one running
    for TerminationWaitInSeconds. DeleteEndpoint then (the local cloud's endpoint is InService and
    accepts it; whether AWS's is, or is still Updating and refuses it, is unconfirmed: see
    docs/aws-compatibility.md) stops the old fleet as well as the new one: the old fleet used to
    run on, unrouted, until the cloud stopped."""
    name = deploy("oldfleet", ONE_VARIANT)
    old = set(instance_pids(cloud.pid, name))
    config = deploy.config("oldfleet", {"AllTraffic": (2, 1, 1)})
    sm.update_endpoint(
        EndpointName=name,
        EndpointConfigName=config,
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                "TerminationWaitInSeconds": 3600,
            }
        },
    )
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)
    assert sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == config
    assert old and old <= set(instance_pids(cloud.pid, name))  # waiting out its termination
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name)
    poll(
        lambda: instance_pids(cloud.pid, name),
        until=lambda pids: not pids,
        timeout=30,
        what=f"every instance of {name} stopped",
    )


@pytest.mark.slow
def test_instances_are_processes_named_after_their_endpoint(deploy, cloud) -> None:
    name = deploy("ps", {"AllTraffic": (1, 1, 2)})
    mine = [
        c
        for _, c in children_with_pids(cloud.pid)
        if name.encode() in c and b"cdlab.fm.serve_container" in c
    ]
    assert len(mine) == 2
    assert all(b"AllTraffic" in c and b"--instance" in c for c in mine)


@pytest.mark.slow
def test_update_endpoint_drops_no_request_and_serves_the_new_model(sm, runtime, deploy) -> None:
    name = deploy("bg", {"AllTraffic": (1, 1, 2)})
    new_config = deploy.config("bg", {"AllTraffic": (2, 1, 2)})
    results: list[tuple[float, float, float]] = []
    failures: list[Exception] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                _, s = invoke(runtime, name)
            except Exception as e:
                failures.append(e)
                continue
            results.append((started, time.monotonic(), s))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        sm.update_endpoint(EndpointName=name, EndpointConfigName=new_config)
        assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating"
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    old, new = score(1), score(2)
    assert {s for _, _, s in results} == {old, new}
    first_new = min(end for _, end, s in results if s == new)
    assert all(s == new for start, _, s in results if start > first_new)
    assert sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == new_config


@pytest.mark.slow
def test_two_variants_split_traffic_by_weight_then_follow_a_swap(sm, runtime, deploy) -> None:
    name = deploy("split", {"model1-traffic": (1, 95, 1), "model2-traffic": (2, 5, 1)})

    def observed(n: int) -> Counter[str]:
        with ThreadPoolExecutor(8) as pool:
            return Counter(v for v, _ in pool.map(lambda _: invoke(runtime, name), range(n)))

    def assert_share(counts: Counter[str], variant: str, p: float) -> None:
        n = sum(counts.values())
        tolerance = 4 * (n * p * (1 - p)) ** 0.5
        assert abs(counts[variant] - n * p) <= tolerance, counts

    assert_share(observed(2000), "model2-traffic", 0.05)
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[
            {"VariantName": "model1-traffic", "DesiredWeight": 5},
            {"VariantName": "model2-traffic", "DesiredWeight": 95},
        ],
    )
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)
    assert_share(observed(2000), "model2-traffic", 0.95)
    assert invoke(runtime, name, TargetVariant="model1-traffic") == ("model1-traffic", score(1))


@pytest.mark.slow
def test_capacity_changes_start_and_stop_instances(sm, runtime, deploy) -> None:
    name = deploy("cap", {"AllTraffic": (1, 1, 1)})
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
    )
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)
    [variant] = sm.describe_endpoint(EndpointName=name)["ProductionVariants"]
    assert variant["CurrentInstanceCount"] == 3
    assert invoke(runtime, name) == ("AllTraffic", score(1))


@pytest.mark.slow
def test_failed_new_fleet_rolls_back_to_the_old_config(
    sm, runtime, deploy, s3, bucket, fm_image
) -> None:
    name = deploy("rb", {"AllTraffic": (1, 1, 1)})
    old_config = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    s3.put_object(Bucket=bucket, Key="broken/model.tar.gz", Body=b"not a tar archive")
    sm.create_model(
        ModelName=f"{name}-broken",
        PrimaryContainer={"Image": fm_image, "ModelDataUrl": f"s3://{bucket}/broken/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-broken",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": f"{name}-broken",
             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )  # fmt: skip
    sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-broken")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)
    described = sm.describe_endpoint(EndpointName=name)
    assert described["EndpointConfigName"] == old_config
    assert "rolled back" in described["FailureReason"]
    assert (
        'Failed to extract model data archive for container "container_1" from URL '
        f'"s3://{bucket}/broken/model.tar.gz". Please ensure that the object located at the URL '
        "is a valid tar.gz archive. model artifact is not a readable tar.gz archive"
    ) in described["FailureReason"]
    assert invoke(runtime, name) == ("AllTraffic", score(1))


def shipped(logs, group: str) -> list[str]:
    """The messages of log group ``group`` (none while it does not exist)."""
    try:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def failure_reason(sm, name: str, image: str, model_data_url: str) -> str:
    """The FailureReason of endpoint ``name``, created with one instance of a model of ``image``
    and ``model_data_url`` and expected to fail."""
    sm.create_model(
        ModelName=name, PrimaryContainer={"Image": image, "ModelDataUrl": model_data_url}
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name,
             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    with pytest.raises(Exception, match="Failed"):
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name)
    described = sm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "Failed"
    return described["FailureReason"]


def test_unknown_image_fails_the_endpoint_with_a_reason(sm, upload_model) -> None:
    image = "123.dkr.ecr.amazonaws.com/algo"
    assert image in failure_reason(sm, "unknown-image", image, upload_model(1))
    sm.delete_endpoint(EndpointName="unknown-image")


def test_a_container_that_exits_before_its_ping_fails_as_sagemaker_words_it(
    sm, s3, logs, bucket, fm_image
) -> None:
    """A readable archive without a model in it: the container starts, exits, and never passes
    its ping; the reason is SageMaker's sentence, then the instance's exit and last log line,
    and that line is in CloudWatch Logs, where the sentence sends the reader, however short the
    instance's life."""
    name = "no-model-inside"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        readme = b"not a model"
        member = tarfile.TarInfo("README.txt")
        member.size = len(readme)
        tar.addfile(member, io.BytesIO(readme))
    s3.put_object(Bucket=bucket, Key=f"{name}/model.tar.gz", Body=archive.getvalue())
    reason = failure_reason(sm, name, fm_image, f"s3://{bucket}/{name}/model.tar.gz")
    assert reason.startswith(
        "The primary container for production variant AllTraffic did not pass the ping health "
        "check. Please check CloudWatch logs for this endpoint. Instance i-"
    )
    assert "exited with code" in reason
    poll(
        lambda: shipped(logs, f"/aws/sagemaker/Endpoints/{name}"),
        until=lambda messages: any(message in reason for message in messages),
        what="the instance's last log line in CloudWatch Logs",
    )
    sm.delete_endpoint(EndpointName=name)


def test_an_instance_that_cannot_start_fails_the_endpoint_with_a_reason(
    sm, cloud, upload_model, fm_image
) -> None:
    """Not only a bad artifact or image: any failure to start an instance (here its log
    directory's path is a file) fails the endpoint, instead of leaving it Creating."""
    name = "no-log-dir"
    logs = cloud.home / "logs" / "endpoints"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / name).write_text("a file where the endpoint's log directory goes")
    try:
        reason = failure_reason(sm, name, fm_image, upload_model(1))
        assert "of variant AllTraffic could not start" in reason
        assert "Not a directory" in reason
    finally:  # the shared cloud serves the other tests: nothing of this one stays
        (logs / name).unlink()
        sm.delete_endpoint(EndpointName=name)
        sm.delete_endpoint_config(EndpointConfigName=name)
        sm.delete_model(ModelName=name)


def test_a_variants_routing_config_is_kept_and_served(sm, runtime, deploy) -> None:
    routing = {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    name = deploy("lor", {"AllTraffic": (1, 1, 2)}, variant_params={"RoutingConfig": routing})
    [variant] = sm.describe_endpoint(EndpointName=name)["ProductionVariants"]
    assert variant["RoutingConfig"] == routing
    assert [invoke(runtime, name) for _ in range(4)] == [("AllTraffic", score(1))] * 4
    plain = deploy("random", {"AllTraffic": (1, 1, 1)})
    [variant] = sm.describe_endpoint(EndpointName=plain)["ProductionVariants"]
    assert "RoutingConfig" not in variant  # none was given: SageMaker's default, RANDOM


@pytest.mark.parametrize(
    ("member", "value"),
    [
        (
            "ShadowProductionVariants",
            [{"VariantName": "shadow", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        ),
        ("AsyncInferenceConfig", {"OutputConfig": {"S3OutputPath": "s3://bkt/async-out"}}),
        (
            "ExplainerConfig",
            {
                "ClarifyExplainerConfig": {
                    "ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": "0"}}
                }
            },
        ),
    ],
)
def test_kinds_of_inference_the_local_cloud_does_not_run_are_refused(
    sm, deploy, member: str, value: object
) -> None:
    config = sm.describe_endpoint_config(EndpointConfigName=deploy.config("notrun", ONE_VARIANT))
    variants = config["ProductionVariants"]
    if member == "ShadowProductionVariants":
        value = [{**value[0], "ModelName": variants[0]["ModelName"]}]  # type: ignore[index]
    code, message = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=f"{config['EndpointConfigName']}-{member.lower()}",
        ProductionVariants=variants,
        **{member: value},
    )
    assert code == "ValidationException"
    assert message.startswith(f"{member} is not available in the local cloud")

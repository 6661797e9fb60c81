"""The account's SageMaker instance quotas, opt-in (``CDLAB_SAGEMAKER_QUOTAS``): a call that would
take the account over one is refused with AWS's ``ResourceLimitExceeded`` and its words, nothing
changed; an automatic scale-out over one is a failed scaling activity, the endpoint unchanged.
Every endpoint's instances of the type count, the new fleet of a blue/green update in flight
beside the old one included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.aws_errors import refused
from tests.conftest import free_port, small_model
from tests.integration.scaled import (
    BUCKET,
    FEATURES,
    ScaledCloud,
    pressure_policy,
    scaled_cloud,
    variant_target,
)
from tests.polling import poll
from tests.roles import make_execution_roles, role_arn
from tests.unit.test_train_container import HYPERPARAMETERS, dataset, recordio

pytestmark = pytest.mark.slow

QUOTAS = "ml.m5.large for endpoint usage=3, ml.c5.xlarge for training job usage=1"
ENDPOINTS = "ml.m5.large for endpoint usage"
TRAINING = "ml.c5.xlarge for training job usage"
MODEL = small_model(11, feature_dim=FEATURES)


def over(quota: str, limit: int, used: int, delta: int) -> tuple[str, str, int]:
    """AWS's refusal of a request for ``delta`` more instances with ``used`` in use."""
    return (
        "ResourceLimitExceeded",
        f"The account-level service limit '{quota}' is {limit} Instances, with current "
        f"utilization of {used} Instances and a request delta of {delta} Instances. Please use "
        "AWS Service Quotas to request an increase for this quota. If AWS Service Quotas is not "
        "available, contact AWS support to request an increase for this quota.",
        400,
    )


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory, settings={"CDLAB_SAGEMAKER_QUOTAS": QUOTAS})


@pytest.fixture
def sm(scaled: ScaledCloud) -> Iterator:
    """SageMaker; after the test, its endpoints deleted and gone, so the next one starts with
    no instance in use."""
    client = scaled.client("sagemaker")
    yield client
    for endpoint in client.list_endpoints()["Endpoints"]:
        name = scaled.wait(endpoint["EndpointName"])["EndpointName"]
        client.delete_endpoint(EndpointName=name)
    poll(lambda: client.list_endpoints()["Endpoints"], until=lambda left: not left, timeout=60)


def test_create_endpoint_over_the_quota_is_refused_counting_every_endpoint(
    scaled: ScaledCloud, sm
) -> None:
    """A config of 4 instances is refused with none in use; with an endpoint of 2 in service, one
    of 2 is refused and one of 1 (the quota exactly) is made. A refused one does not exist."""
    four = scaled.config("create", MODEL, 4)
    assert refused(sm.create_endpoint, EndpointName="four", EndpointConfigName=four) == over(
        ENDPOINTS, 3, 0, 4
    )
    assert sm.list_endpoints()["Endpoints"] == []
    scaled.endpoint("create", MODEL, instances=2)
    two = scaled.config("create", MODEL, 2)
    assert refused(sm.create_endpoint, EndpointName="two", EndpointConfigName=two) == over(
        ENDPOINTS, 3, 2, 2
    )
    code, message, _ = refused(sm.describe_endpoint, EndpointName="two")
    assert (code, "Could not find endpoint" in message) == ("ValidationException", True)
    last = scaled.endpoint("create", MODEL, instances=1)
    assert sm.describe_endpoint(EndpointName=last)["EndpointStatus"] == "InService"


def test_update_endpoint_needs_room_for_the_new_fleet_beside_the_old_one(
    scaled: ScaledCloud, sm
) -> None:
    """Blue/green: an update of an endpoint of 2 to a config of 2 asks for 2 more (4 at its peak)
    and is refused, the endpoint as it was; one to a config of 1 fits, and while its new fleet
    bakes beside the old one, all 3 count: another endpoint of 1 is refused until it is done."""
    name = scaled.endpoint("update", MODEL, instances=2)
    before = sm.describe_endpoint(EndpointName=name)
    two = scaled.config("update", MODEL, 2)
    assert refused(sm.update_endpoint, EndpointName=name, EndpointConfigName=two) == over(
        ENDPOINTS, 3, 2, 2
    )
    assert sm.describe_endpoint(EndpointName=name) == before

    one = scaled.config("update", MODEL, 1)
    baking = {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600}}
    sm.update_endpoint(
        EndpointName=name,
        EndpointConfigName=one,
        DeploymentConfig={"BlueGreenUpdatePolicy": baking},
    )
    poll(
        lambda: sm.describe_endpoint(EndpointName=name).get("PendingDeploymentSummary"),
        until=lambda pending: (
            pending and pending["ProductionVariants"][0]["VariantStatus"][0]["Status"] == "Baking"
        ),
        what=f"{name}'s new fleet to bake",
    )
    other = scaled.config("update", MODEL, 1)
    assert refused(sm.create_endpoint, EndpointName="other", EndpointConfigName=other) == over(
        ENDPOINTS, 3, 3, 1
    )
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating"  # in flight
    assert scaled.wait(name)["EndpointConfigName"] == one
    sm.create_endpoint(EndpointName="other", EndpointConfigName=other)  # the old fleet is gone
    assert scaled.wait("other")["EndpointStatus"] == "InService"


def test_update_endpoint_weights_and_capacities_asks_for_the_instances_it_adds(
    scaled: ScaledCloud, sm
) -> None:
    """From 1 instance, 4 asks for 3 more and is refused, the endpoint as it was; 3 fits."""
    name = scaled.endpoint("capacity", MODEL, instances=1)
    before = sm.describe_endpoint(EndpointName=name)
    desired = [{"VariantName": "AllTraffic", "DesiredInstanceCount": 4}]
    assert refused(
        sm.update_endpoint_weights_and_capacities,
        EndpointName=name,
        DesiredWeightsAndCapacities=desired,
    ) == over(ENDPOINTS, 3, 1, 3)
    assert sm.describe_endpoint(EndpointName=name) == before
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
    )
    [variant] = scaled.wait(name)["ProductionVariants"]
    assert variant["CurrentInstanceCount"] == 3


def test_a_scale_out_over_the_quota_is_a_failed_scaling_activity(scaled: ScaledCloud, sm) -> None:
    """Target tracking asks for 4 instances (its MaxCapacity) from 1: the change is refused as
    UpdateEndpointWeightsAndCapacities is, the activity Failed with SageMaker's reason, and the
    endpoint keeps its one instance."""
    name = scaled.endpoint("scaleout", MODEL, instances=1)
    autoscaling, cloudwatch = scaled.client("application-autoscaling"), scaled.client("cloudwatch")
    resource = variant_target(name)
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=4)
    high, _ = pressure_policy(autoscaling, resource, "pressure")  # target 10

    def pressed() -> list[dict]:
        """Put the policy's metric far over its target, the high alarm in ALARM; the
        target's scaling activities."""
        cloudwatch.put_metric_data(
            Namespace="CDLab/Tests", MetricData=[{"MetricName": "pressure", "Value": 100}]
        )
        cloudwatch.set_alarm_state(AlarmName=high, StateValue="ALARM", StateReason="a test")
        return autoscaling.describe_scaling_activities(
            ServiceNamespace="sagemaker", ResourceId=resource["ResourceId"]
        )["ScalingActivities"]

    found = poll(
        pressed,
        until=lambda activities: activities and activities[-1]["StatusCode"] != "InProgress",
        timeout=60,
        interval=0.2,
        what=f"a scale-out activity of {name}",
    )
    first = found[-1]
    assert first["Description"] == "Setting desired instance count to 4."
    assert (first["StatusCode"], first["StatusMessage"]) == (
        "Failed",
        f"Failed to set desired instance count to 4. Reason: {over(ENDPOINTS, 3, 1, 3)[1]}",
    )
    described = sm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    [variant] = described["ProductionVariants"]
    assert variant["CurrentInstanceCount"] == variant["DesiredInstanceCount"] == 1


def test_create_training_job_over_the_quota_is_refused(scaled: ScaledCloud) -> None:
    """2 ml.c5.xlarge are refused with none in use; with a job of 1 in progress, another of 1 is
    refused too. A refused job does not exist."""
    make_execution_roles(scaled.client("iam"))
    scaled.client("s3").put_object(
        Bucket=BUCKET, Key="quota-train/part-0.rec", Body=recordio(*dataset(200, 1))
    )
    sm = scaled.client("sagemaker")

    def job(name: str, count: int, epochs: str) -> dict:
        return {
            "TrainingJobName": name,
            "RoleArn": role_arn("cdlab-training"),
            "AlgorithmSpecification": {
                "TrainingImage": fm_image_uri(scaled.env["AWS_DEFAULT_REGION"]),
                "TrainingInputMode": "File",
            },
            "HyperParameters": HYPERPARAMETERS | {"epochs": epochs},
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/quota-train/",
                        }
                    },
                    "ContentType": "application/x-recordio-protobuf",
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/quota-output/"},
            "ResourceConfig": {
                "InstanceType": "ml.c5.xlarge",
                "InstanceCount": count,
                "VolumeSizeInGB": 5,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        }

    assert refused(sm.create_training_job, **job("two", 2, "1")) == over(TRAINING, 1, 0, 2)
    sm.create_training_job(**job("running", 1, "1000000"))
    try:
        assert refused(sm.create_training_job, **job("second", 1, "1")) == over(TRAINING, 1, 1, 1)
        names = [j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]]
        assert names == ["running"]
    finally:
        sm.stop_training_job(TrainingJobName="running")
        poll(
            lambda: sm.describe_training_job(TrainingJobName="running")["TrainingJobStatus"],
            until=lambda status: status == "Stopped",
            timeout=60,
            what="the running job to stop",
        )


def test_a_running_cloud_is_handed_out_only_with_the_quotas_asked_for(
    scaled: ScaledCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As with its time scale: `cdlab local up` or a notebook's ``target.ready`` asking for other
    quotas than the running cloud enforces is told so, not handed a cloud without them."""
    for name in ("CDLAB_TIME_SCALE", "CDLAB_LATENCY"):
        monkeypatch.delenv(name, raising=False)
    home, port = scaled.cloud.home, scaled.cloud.port
    same = "ml.c5.xlarge for training job usage=1,ml.m5.large  for endpoint usage = 3"
    monkeypatch.setenv("CDLAB_SAGEMAKER_QUOTAS", same)
    assert control.up(home, port).pid == scaled.cloud.pid
    monkeypatch.setenv("CDLAB_SAGEMAKER_QUOTAS", "ml.m5.large for endpoint usage=4")
    with pytest.raises(control.CloudError) as info:
        control.up(home, port)
    assert (
        "already runs with SageMaker instance quotas ml.c5.xlarge for training job usage=1,"
        "ml.m5.large for endpoint usage=3, not the SageMaker instance quotas ml.m5.large for "
        "endpoint usage=4 asked for (CDLAB_SAGEMAKER_QUOTAS)"
    ) in str(info.value)


def test_a_malformed_setting_stops_the_cloud_from_starting(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quota the local cloud would not enforce is a mistake said at once, not ignored."""
    monkeypatch.setenv("CDLAB_SAGEMAKER_QUOTAS", "ml.m5.large for endpoints=4")
    home = tmp_path_factory.mktemp("cdlab-bad-quotas")
    try:
        with pytest.raises(control.CloudError) as info:
            control.up(home, free_port(), with_parent=True)
    finally:
        control.down(home)
    assert "CDLAB_SAGEMAKER_QUOTAS: 'ml.m5.large for endpoints=4' names no quota" in str(info.value)

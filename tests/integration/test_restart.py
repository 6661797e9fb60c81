"""Nothing is lost: a local cloud stopped and started again serves the same endpoints."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import boto3
import pytest

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.images import fm_image_uri
from cdlab.localcloud.state.store import Store
from tests.conftest import free_port, instance_pids, small_model
from tests.integration.private_cloud import PrivateCloud, Traffic
from tests.integration.test_container_environment import environ
from tests.polling import poll

pytestmark = pytest.mark.slow


def clients(home, port, monkeypatch):
    for key, value in control.client_environment(home, port).items():
        monkeypatch.setenv(key, value)
    session = boto3.Session()
    return session.client("sagemaker"), session.client("sagemaker-runtime"), session.client("s3")


def test_endpoints_come_back_after_down_and_up(tmp_path, monkeypatch) -> None:
    home, port = tmp_path / "home", free_port()
    control.up(home, port, with_parent=True)
    try:
        sm, runtime, s3 = clients(home, port, monkeypatch)
        create_kept_endpoint(sm, s3)
        body = json.dumps({"instances": [{"features": [1.0] + [0.0] * 19}]})
        before = runtime.invoke_endpoint(
            EndpointName="kept", Body=body, ContentType="application/json"
        )["Body"].read()

        assert control.down(home)
        cloud = control.up(home, port, with_parent=True)
        sm, runtime, _ = clients(home, port, monkeypatch)
        sm.get_waiter("endpoint_in_service").wait(EndpointName="kept")
        after = runtime.invoke_endpoint(
            EndpointName="kept", Body=body, ContentType="application/json"
        )["Body"].read()
        assert after == before
        pids = instance_pids(cloud.pid, "kept")
        assert [environ(pid).get("CDLAB_TEST_MARKER") for pid in pids] == ["kept", "kept"]
        assert sm.describe_model(ModelName="kept")["ModelName"] == "kept"
        assert (
            sm.describe_endpoint_config(EndpointConfigName="kept")["ProductionVariants"][0][
                "InitialInstanceCount"
            ]
            == 2
        )
        [variant] = sm.describe_endpoint(EndpointName="kept")["ProductionVariants"]
        assert variant["CurrentInstanceCount"] == 2

        assert control.down(home)
        forget_snapshot_environment(home, "kept")  # as a kit that kept none saved it
        control.up(home, port, with_parent=True)
        sm, runtime, _ = clients(home, port, monkeypatch)
        sm.get_waiter("endpoint_in_service").wait(EndpointName="kept")
        again = runtime.invoke_endpoint(
            EndpointName="kept", Body=body, ContentType="application/json"
        )["Body"].read()
        assert again == before
    finally:
        control.down(home)


def create_kept_endpoint(sm, s3) -> None:
    """Endpoint ``kept``: two instances of a model whose container has an Environment."""
    s3.create_bucket(Bucket="restart")
    s3.put_object(Bucket="restart", Key="m.tar.gz", Body=artifact_bytes(small_model(7)))
    sm.create_model(
        ModelName="kept",
        PrimaryContainer={
            "Image": fm_image_uri("us-east-1"),
            "ModelDataUrl": "s3://restart/m.tar.gz",
            "Environment": {"CDLAB_TEST_MARKER": "kept"},
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName="kept",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "kept",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName="kept", EndpointConfigName="kept")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="kept")


def forget_snapshot_environment(home, endpoint: str) -> None:
    """Remove the Environment from the stored snapshot of a stopped cloud's ``endpoint``."""
    store = Store(home / "state.db")
    try:
        doc = store.get("endpoint", endpoint)
        assert doc is not None
        for variant in doc["_Deployed"]:
            del variant["Environment"]
        store.put("endpoint", endpoint, doc)
    finally:
        store.close()


POLICY = {
    "TargetValue": 1.0,  # far below any load: the first high alarm scales out
    "PredefinedMetricSpecification": {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    },
    "ScaleOutCooldown": 600,
    "ScaleInCooldown": 600,
}
SCALABLE = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": "endpoint/scaled/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}
ROLE_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
     "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
)  # fmt: skip


def journaled(home) -> int:
    with contextlib.closing(sqlite3.connect(home / "state.db")) as db:
        return db.execute("SELECT COUNT(*) FROM docs WHERE kind = 'moto-journal'").fetchone()[0]


def test_what_moto_holds_and_the_scaling_story_survive_a_crash(tmp_path, monkeypatch) -> None:
    """Roles, Glue tables, log groups, alarms, scaling targets and policies are moto's, in
    memory: the journal brings them back after a SIGKILL, deletes included, and the scaling
    activities come back from the state store."""
    monkeypatch.setenv("CDLAB_TIME_SCALE", "60")
    cloud = PrivateCloud(tmp_path / "home", free_port(), monkeypatch)
    try:
        cloud.up()
        iam, glue, logs = cloud.client("iam"), cloud.client("glue"), cloud.client("logs")
        cloudwatch, scaling = cloud.client("cloudwatch"), cloud.client("application-autoscaling")
        iam.create_role(RoleName="kept", AssumeRolePolicyDocument=ROLE_POLICY)
        iam.create_role(RoleName="deleted", AssumeRolePolicyDocument=ROLE_POLICY)
        iam.delete_role(RoleName="deleted")
        glue.create_database(DatabaseInput={"Name": "kept_db"})
        glue.create_table(DatabaseName="kept_db", TableInput={"Name": "ratings"})
        logs.create_log_group(logGroupName="/kept")
        cloudwatch.put_metric_alarm(
            AlarmName="kept", Namespace="AWS/SageMaker", MetricName="Invocations",
            Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
        before = journaled(cloud.home)
        with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName="kept", AssumeRolePolicyDocument=ROLE_POLICY)
        cloudwatch.describe_alarms()
        cloudwatch.put_metric_data(
            Namespace="Lab", MetricData=[{"MetricName": "x", "Value": 1.0}]
        )  # fmt: skip
        assert journaled(cloud.home) == before  # refusals, reads and datapoints are not kept

        cloud.deploy("scaled", count=1)
        scaling.register_scalable_target(**SCALABLE, MinCapacity=1, MaxCapacity=2)
        scaling.put_scaling_policy(
            PolicyName="kept", PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=POLICY, **SCALABLE,
        )  # fmt: skip
        with Traffic(cloud, "scaled", threads=2):
            poll(
                lambda: [a["StatusCode"] for a in activities(cloud)],
                until=lambda codes: codes == ["Successful"],
                timeout=60,
                what="a successful scale-out",
            )
        story = activities(cloud)
        role_id = iam.get_role(RoleName="kept")["Role"]["RoleId"]
        [policy] = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")[
            "ScalingPolicies"
        ]
        policy_arn = policy["PolicyARN"]

        cloud.kill()
        cloud.up()
        iam = cloud.client("iam")
        assert iam.get_role(RoleName="kept")["Role"]["RoleId"] == role_id  # the same role
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName="deleted")
        table = cloud.client("glue").get_table(DatabaseName="kept_db", Name="ratings")
        assert table["Table"]["Name"] == "ratings"
        groups = cloud.client("logs").describe_log_groups(logGroupNamePrefix="/kept")
        assert [g["logGroupName"] for g in groups["logGroups"]] == ["/kept"]
        alarms = cloud.client("cloudwatch").describe_alarms(AlarmNames=["kept"])["MetricAlarms"]
        assert [a["Threshold"] for a in alarms] == [1.0]
        scaling = cloud.client("application-autoscaling")
        targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")
        assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets["ScalableTargets"]] == [
            (1, 2)
        ]
        service_role = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
        role_arn = iam.get_role(RoleName=service_role)["Role"]["Arn"]  # made again after a replay
        assert [t["RoleARN"] for t in targets["ScalableTargets"]] == [role_arn]
        [policy] = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")[
            "ScalingPolicies"
        ]
        assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 1.0
        assert policy["PolicyARN"] == policy_arn  # moto drew its uuid from the same seed
        assert activities(cloud) == story
    finally:
        control.down(cloud.home)


def activities(cloud: PrivateCloud) -> list[dict]:
    scaling = cloud.client("application-autoscaling")
    return scaling.describe_scaling_activities(ServiceNamespace="sagemaker")["ScalingActivities"]


def test_the_state_an_alarm_was_evaluated_to_comes_back_after_a_crash(private) -> None:
    """On a metric a client puts, whose datapoints a restart does not keep: the alarm comes back
    in the state the evaluation set, not in a new alarm's INSUFFICIENT_DATA."""
    private.patch.setenv("CDLAB_TIME_SCALE", "60")
    private.up()
    cloudwatch = private.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="quality", Namespace="CDLab/Tests", MetricName="MatchRate",
        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=0.8,
        ComparisonOperator="LessThanThreshold",
    )  # fmt: skip
    cloudwatch.put_metric_data(
        Namespace="CDLab/Tests", MetricData=[{"MetricName": "MatchRate", "Value": 0.5}]
    )
    evaluated = poll(
        lambda: cloudwatch.describe_alarms(AlarmNames=["quality"])["MetricAlarms"][0],
        until=lambda alarm: alarm["StateValue"] == "ALARM",
        timeout=30,
        what="the alarm to be evaluated to ALARM",
    )
    private.kill()
    private.up()
    [after] = private.client("cloudwatch").describe_alarms(AlarmNames=["quality"])["MetricAlarms"]
    assert (after["StateValue"], after["StateReason"]) == ("ALARM", evaluated["StateReason"])

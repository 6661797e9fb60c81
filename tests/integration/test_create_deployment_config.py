"""CreateEndpoint's DeploymentConfig: kept as the endpoint's LastDeploymentConfig (across a
restart too), deployed with by an UpdateEndpoint that retains it, its alarms watched; and refused
at create where the local cloud would refuse it for an update, with the same words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.conftest import small_model
from tests.integration.scaled import FEATURES, ScaledCloud, scaled_cloud
from tests.integration.test_safe_deployments import blue_green, sized, steps_seen, watch_update
from tests.polling import poll

pytestmark = pytest.mark.slow

LINEAR = blue_green(sized("LINEAR", "INSTANCE_COUNT", 1), bake=120)  # 2 s a step here
HALF_THEN_ALL = [f"{p}% of the traffic is on the new fleet" for p in (50, 100)]


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory)


def tripwire(scaled: ScaledCloud, name: str) -> str:
    """An alarm on a metric nobody writes: it changes state only when set by hand."""
    scaled.client("cloudwatch").put_metric_alarm(
        AlarmName=name, Namespace="CDLab/Tests", MetricName="Tripwire", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    return name


def retained_update(scaled: ScaledCloud, name: str, instances: int) -> str:
    """UpdateEndpoint to a new config of ``instances`` instances, retaining the deployment
    config; the new config's name."""
    config = scaled.config(name, small_model(2, feature_dim=FEATURES), instances)
    scaled.client("sagemaker").update_endpoint(
        EndpointName=name, EndpointConfigName=config, RetainDeploymentConfig=True
    )
    return config


def test_create_endpoint_keeps_its_deployment_config_as_the_last_one(scaled: ScaledCloud) -> None:
    deployment = blue_green(
        sized("CANARY", "INSTANCE_COUNT", 1), alarms=[tripwire(scaled, "kept-tripwire")], bake=600
    )
    name = scaled.endpoint(
        "kept", small_model(1, feature_dim=FEATURES), DeploymentConfig=deployment
    )
    described = scaled.client("sagemaker").describe_endpoint(EndpointName=name)
    assert described["LastDeploymentConfig"] == deployment


def test_a_retained_update_deploys_in_the_created_configs_steps(scaled: ScaledCloud) -> None:
    name = scaled.endpoint("steps", small_model(1, feature_dim=FEATURES), DeploymentConfig=LINEAR)
    config = retained_update(scaled, name, instances=2)
    seen = watch_update(scaled, name)
    assert steps_seen(seen) == HALF_THEN_ALL, "not all at once: one linear step at a time"
    final = seen[-1]
    assert final["EndpointStatus"] == "InService" and final["EndpointConfigName"] == config
    assert final["LastDeploymentConfig"] == LINEAR


def test_a_retained_update_watches_the_created_configs_alarms(scaled: ScaledCloud) -> None:
    alarm = tripwire(scaled, "watched-tripwire")
    deployment = blue_green(sized("CANARY", "INSTANCE_COUNT", 1), alarms=[alarm], bake=1800)
    name = scaled.endpoint(
        "watched", small_model(1, feature_dim=FEATURES), instances=2, DeploymentConfig=deployment
    )
    sm = scaled.client("sagemaker")
    old_config = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    retained_update(scaled, name, instances=2)

    def status() -> str | None:
        pending = sm.describe_endpoint(EndpointName=name).get("PendingDeploymentSummary", {})
        variants = pending.get("ProductionVariants", [])
        return variants[0]["VariantStatus"][0]["Status"] if variants else None

    poll(status, until=lambda s: s == "Baking", what="the retained canary baking")
    scaled.client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="tripped by the test"
    )
    final = watch_update(scaled, name)[-1]
    assert final["EndpointStatus"] == "InService" and final["EndpointConfigName"] == old_config
    assert alarm in final["FailureReason"] and "rolled back" in final["FailureReason"]


def test_the_created_deployment_config_survives_a_restart(scaled: ScaledCloud) -> None:
    name = scaled.endpoint("restart", small_model(1, feature_dim=FEATURES), DeploymentConfig=LINEAR)
    scaled.restart()
    described = scaled.wait(name)
    assert described["EndpointStatus"] == "InService"
    assert described["LastDeploymentConfig"] == LINEAR
    retained_update(scaled, name, instances=2)
    assert steps_seen(watch_update(scaled, name)) == HALF_THEN_ALL


ROLLING = {
    "RollingUpdatePolicy": {
        "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
        "WaitIntervalInSeconds": 60,
    }
}
NAMELESS_ALARM = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}, {}]}}


@pytest.fixture(scope="module")
def existing(scaled: ScaledCloud) -> tuple[str, str]:
    """An endpoint InService and a config to update it to: where UpdateEndpoint's refusals are
    read, to compare CreateEndpoint's with."""
    name = scaled.endpoint("existing", small_model(1, feature_dim=FEATURES))
    return name, scaled.config("existing", small_model(2, feature_dim=FEATURES), instances=2)


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        (ROLLING, "RollingUpdatePolicy is not available locally"),
        (blue_green({"Type": "ALL_AT_ONCE"}, ["no-such-alarm"]), "no-such-alarm"),
        (blue_green({"Type": "CANARY"}), "CanarySize must be specified"),
        (NAMELESS_ALARM, "autoRollbackConfiguration.alarms.2.member.alarmName"),
    ],
)
def test_a_deployment_config_refused_for_an_update_is_refused_at_create(
    scaled: ScaledCloud, existing: tuple[str, str], deployment: dict, message: str
) -> None:
    sm = scaled.client("sagemaker")
    sm.meta.config.parameter_validation = False  # botocore lets the nameless alarm through
    config = scaled.config("refused", small_model(1, feature_dim=FEATURES), instances=1)
    name = f"refused-{next(scaled.names)}"
    with pytest.raises(ClientError) as created:
        sm.create_endpoint(
            EndpointName=name, EndpointConfigName=config, DeploymentConfig=deployment
        )
    with pytest.raises(ClientError) as updated:
        sm.update_endpoint(
            EndpointName=existing[0], EndpointConfigName=existing[1], DeploymentConfig=deployment
        )
    assert created.value.response["Error"] == updated.value.response["Error"]
    assert created.value.response["Error"]["Code"] == "ValidationException"
    assert message in created.value.response["Error"]["Message"]
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sm.describe_endpoint(EndpointName=name)

"""Blue/green deployments with canary and linear traffic shifting, baking and auto-rollback on
CloudWatch alarms, at ``CDLAB_TIME_SCALE=60``, under load: no request is lost at any step."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from cdlab import load, notebook
from tests.conftest import instance_pids, small_model
from tests.integration.scaled import FEATURES, IN_PROGRESS, ScaledCloud, faulty_model, scaled_cloud
from tests.integration.test_endpoints import invoke
from tests.polling import poll

pytestmark = pytest.mark.slow

BROKEN = [0, 1, 2, 3]  # the faulty model's NaN weights: rows setting one of these get a 500


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory)


def blue_green(routing: dict, alarms: list[str] = (), bake: int = 0) -> dict:
    config = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {**routing,
              "WaitIntervalInSeconds": bake}, "TerminationWaitInSeconds": 0}}  # fmt: skip
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def under_load(scaled: ScaledCloud, name: str, watch: Callable[[], None]) -> load.Report:
    """Run ``watch`` while 40 requests a second go to the endpoint; the load's report."""
    stop = threading.Event()
    reports: list[load.Report] = []
    bodies = load.sample_bodies(FEATURES, count=64, seed=1)
    worker = threading.Thread(
        target=lambda: reports.append(
            load.run(name, rate=40, duration=60, bodies=bodies, stop=stop)
        )
    )
    worker.start()
    try:
        time.sleep(0.5)
        watch()
        time.sleep(0.5)
    finally:
        stop.set()
        worker.join()
    return reports[0]


def watch_update(scaled: ScaledCloud, name: str, alarm: str | None = None) -> list[dict]:
    """Poll DescribeEndpoint (and the alarm) until the update ends; what was seen, in order."""
    sm, cloudwatch = scaled.client("sagemaker"), scaled.client("cloudwatch")
    seen: list[dict] = []

    def observe() -> dict:
        described = sm.describe_endpoint(EndpointName=name)
        if alarm is not None:
            [state] = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
            described["_alarm"] = state["StateValue"]
        seen.append(described)
        return described

    poll(
        observe,
        until=lambda described: described["EndpointStatus"] not in IN_PROGRESS,
        timeout=120,
        what=f"the update of {name} to end",
    )
    return seen


def steps_seen(seen: list[dict]) -> list[str]:
    """The deployment steps (their StatusMessage) in what ``watch_update`` saw, each once."""
    steps: list[str] = []
    for d in seen:
        for variant in d.get("PendingDeploymentSummary", {}).get("ProductionVariants", []):
            message = variant["VariantStatus"][0].get("StatusMessage", "")
            if message and (not steps or steps[-1] != message):
                steps.append(message)
    return steps


def test_a_canary_that_fails_trips_the_alarm_and_rolls_back(
    scaled: ScaledCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in scaled.env.items():
        monkeypatch.setenv(key, value)
    name = scaled.endpoint("canary", small_model(1, feature_dim=FEATURES), instances=2)
    sm = scaled.client("sagemaker")
    old_config = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    alarm = f"{name}-5xx"
    scaled.client("cloudwatch").put_metric_alarm(
        AlarmName=alarm, Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": name},
                    {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    new_config = scaled.config("canary", faulty_model(2, BROKEN), instances=2)
    seen: list[dict] = []

    def update() -> None:
        sm.update_endpoint(
            EndpointName=name,
            EndpointConfigName=new_config,
            DeploymentConfig=blue_green(
                sized("CANARY", "INSTANCE_COUNT", 1),
                alarms=[alarm],
                bake=600,  # ten minutes: ten seconds here, cut short by the alarm
            ),
        )
        seen.extend(watch_update(scaled, name, alarm))

    started = time.monotonic()
    report = under_load(scaled, name, update)
    elapsed = time.monotonic() - started

    updating = [d for d in seen if d["EndpointStatus"] == "Updating"]
    assert updating and all(d["EndpointConfigName"] == old_config for d in updating)
    assert any(d.get("PendingDeploymentSummary", {}).get("EndpointConfigName") == new_config
               for d in updating)  # fmt: skip
    assert "ALARM" in [d["_alarm"] for d in seen]
    final = seen[-1]
    assert final["EndpointStatus"] == "InService" and final["EndpointConfigName"] == old_config
    assert alarm in final["FailureReason"] and "rolled back" in final["FailureReason"]
    assert elapsed < 10, "the alarm, not the ten-minute bake, ended the canary"
    # Nothing lost: every request was answered, the canary's faults as ModelError (HTTP 424).
    assert report.lost == 0 and set(report.errors) <= {"ModelError"}, report.summary()
    assert report.sent == report.ok + report.errors["ModelError"]
    assert 0 < report.errors["ModelError"] < report.sent / 2
    # The old model serves every row again, those the canary failed on included.
    body = json.dumps({"instances": [{"data": {"features": {"keys": [0], "shape": [FEATURES],
                                                             "values": [1.0]}}}]})  # fmt: skip
    runtime = scaled.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType="application/json")
    assert json.loads(answer["Body"].read())["predictions"][0]["score"] > 0


def test_a_healthy_linear_deployment_shifts_traffic_in_steps(
    scaled: ScaledCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in scaled.env.items():
        monkeypatch.setenv(key, value)
    name = scaled.endpoint("linear", small_model(1, feature_dim=FEATURES), instances=1)
    sm = scaled.client("sagemaker")
    new_config = scaled.config("linear", small_model(2, feature_dim=FEATURES), instances=3)
    seen: list[dict] = []

    def update() -> None:
        sm.update_endpoint(
            EndpointName=name,
            EndpointConfigName=new_config,
            DeploymentConfig=blue_green(
                sized("LINEAR", "INSTANCE_COUNT", 1),
                bake=120,  # 2 s a step at the scaled cloud's time: polls see each under load
            ),
        )
        seen.extend(watch_update(scaled, name))

    report = under_load(scaled, name, update)
    assert steps_seen(seen) == [f"{p}% of the traffic is on the new fleet" for p in (33, 67, 100)]
    final = seen[-1]
    assert final["EndpointStatus"] == "InService" and final["EndpointConfigName"] == new_config
    assert "FailureReason" not in final
    assert report.failed == 0, report.summary()


def test_the_notebooks_watch_sees_each_linear_step_bake_by_its_status(
    scaled: ScaledCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notebook 07 tells a linear deployment's steps by the new variant's Status, which AWS
    always sets (one Baking, with its own StartTime, per step), not by its StatusMessage, which
    AWS may leave out."""
    for key, value in scaled.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CDLAB_TARGET", "local")
    name = scaled.endpoint("watched", small_model(1, feature_dim=FEATURES), instances=1)
    new_config = scaled.config("watched", small_model(2, feature_dim=FEATURES), instances=2)
    scaled.client("sagemaker").update_endpoint(
        EndpointName=name,
        EndpointConfigName=new_config,
        DeploymentConfig=blue_green(sized("LINEAR", "INSTANCE_COUNT", 1), bake=120),
    )
    seen = notebook.watch_endpoint(
        name, time.monotonic(), lambda d: d["EndpointStatus"] not in IN_PROGRESS, timeout=60
    )
    assert seen["status"].iloc[-1] == "InService"
    assert set(seen["variant_status"]) <= {"Creating", "ActivatingTraffic", "Baking", ""}
    assert seen.loc[seen["variant_status"] == "Baking", "since"].nunique() == 2


def sized(kind: str, unit: str, value: int) -> dict:
    key = "CanarySize" if kind == "CANARY" else "LinearStepSize"
    return {"Type": kind, key: {"Type": unit, "Value": value}}


@pytest.fixture(scope="module")
def validated(scaled: ScaledCloud) -> tuple[str, str]:
    """An endpoint and a four-instance config to update it to."""
    name = scaled.endpoint("validated", small_model(1, feature_dim=FEATURES))
    return name, scaled.config("validated", small_model(2, feature_dim=FEATURES), instances=4)


@pytest.mark.parametrize(
    ("routing", "alarms", "message"),
    [
        (sized("CANARY", "INSTANCE_COUNT", 3), [], "at most 50%"),
        (sized("CANARY", "CAPACITY_PERCENT", 60), [], "at most 50%"),
        (sized("LINEAR", "CAPACITY_PERCENT", 60), [], "10% and 50%"),
        (sized("LINEAR", "INSTANCE_COUNT", 3), [], "10% and 50%"),
        ({"Type": "CANARY"}, [], "CanarySize must be specified"),
        ({"Type": "ALL_AT_ONCE"}, ["no-such-alarm"], "no-such-alarm"),
    ],
)  # fmt: skip
def test_deployment_configs_are_validated(
    scaled: ScaledCloud, validated: tuple[str, str], routing, alarms, message
) -> None:
    name, config = validated
    sm = scaled.client("sagemaker")
    with pytest.raises(ClientError) as info:
        sm.update_endpoint(EndpointName=name, EndpointConfigName=config,
                           DeploymentConfig=blue_green(routing, alarms))  # fmt: skip
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert message in info.value.response["Error"]["Message"]
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"


def test_a_rollback_alarm_without_a_name_is_refused_not_a_crash(
    scaled: ScaledCloud, validated: tuple[str, str]
) -> None:
    """botocore's model leaves AlarmName optional, so only the cloud can refuse ``[{}]``
    (a fuzzed request once made it fail with InternalFailure)."""
    name, config = validated
    sm = scaled.client("sagemaker")
    sm.meta.config.parameter_validation = False
    deployment = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}, {}]}}
    with pytest.raises(ClientError) as info:
        sm.update_endpoint(
            EndpointName=name, EndpointConfigName=config, DeploymentConfig=deployment
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "autoRollbackConfiguration.alarms.2.member.alarmName" in str(info.value)
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"


def test_an_old_instance_that_dies_during_a_canary_is_replaced_and_the_split_holds(
    scaled: ScaledCloud,
) -> None:
    """While a canary bakes, an instance of the old fleet dies: it is replaced, and the canary
    keeps its share of the traffic (the replacement used to route everything back to the old
    fleet, so the bake watched no new traffic), then the deployment completes."""
    name = scaled.endpoint("split", small_model(1, feature_dim=FEATURES), instances=2)
    sm, runtime = scaled.client("sagemaker"), scaled.client("sagemaker-runtime")

    def score() -> float:
        return invoke(runtime, name)[1]

    def instances() -> set[int]:
        return set(instance_pids(scaled.cloud.pid, name))

    old_score, old_fleet = score(), instances()
    new_config = scaled.config("split", small_model(2, feature_dim=FEATURES), instances=2)
    sm.update_endpoint(
        EndpointName=name,
        EndpointConfigName=new_config,
        DeploymentConfig=blue_green(sized("CANARY", "INSTANCE_COUNT", 1), bake=1800),
    )

    def step() -> dict | None:
        """The deployment's status (Baking, its message, since when), None when there is none."""
        described = sm.describe_endpoint(EndpointName=name)
        pending = described.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
        return pending[0]["VariantStatus"][0] if pending else None

    canary = poll(step, until=lambda s: s and s["Status"] == "Baking", what="the canary baking")
    new_fleet = instances() - old_fleet
    assert len(new_fleet) == 2
    killed = min(old_fleet)
    os.kill(killed, signal.SIGKILL)
    [replacement] = poll(
        lambda: instances() - old_fleet - new_fleet,
        until=lambda pids: len(pids) == 1,
        what="the old fleet's instance replaced",
    )
    serves(scaled, name, replacement)
    scores = [score() for _ in range(60)]
    assert step() == canary, "the canary's bake ended before the answers were in"
    on_new_fleet = [s for s in scores if s != pytest.approx(old_score)]
    assert len(on_new_fleet) >= 10, f"{len(on_new_fleet)} of 60 answers from the canary"
    final = watch_update(scaled, name)[-1]
    assert final["EndpointStatus"] == "InService" and final["EndpointConfigName"] == new_config
    poll(
        instances,
        until=lambda pids: pids == new_fleet,
        what="the old fleet, its replacement too, stopped",
    )


def serves(scaled: ScaledCloud, name: str, pid: int) -> None:
    """Wait until the instance process ``pid`` has answered an invocation (routed to): its log
    stream in CloudWatch Logs shows a refusal of one of the malformed ones sent meanwhile."""
    args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    stream = f"AllTraffic/{args[args.index('--instance') + 1]}"
    runtime, logs = scaled.client("sagemaker-runtime"), scaled.client("logs")

    def refused_there() -> bool:
        with pytest.raises(ClientError, match="ModelError"):
            runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body=b"{")
        return bool(
            logs.filter_log_events(
                logGroupName=f"/aws/sagemaker/Endpoints/{name}",
                logStreamNames=[stream],
                filterPattern='"invocation refused"',
            )["events"]
        )

    poll(refused_there, until=bool, what=f"instance {stream} serving")

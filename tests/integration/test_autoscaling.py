"""Automatic scaling at ``CDLAB_TIME_SCALE=60``: target tracking on invocations per instance
takes a variant out under load and back in when the load stops, with real instances; a triggered
alarm that cannot scale is a not scaled activity, listed only when asked for."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from cdlab import load
from cdlab.localcloud import control
from tests.conftest import small_model
from tests.integration.scaled import (
    FEATURES,
    ScaledCloud,
    policy_alarms,
    pressure_policy,
    scaled_cloud,
    track_invocations,
    variant_target,
)
from tests.polling import poll

pytestmark = pytest.mark.slow

TARGET = 20  # invocations per instance per (scaled) minute, i.e. per real second at scale 60
LOAD = 2.5 * TARGET  # ceil(2.5) = 3 instances, with room for a busy machine's jitter
MAX = 5
SERVICE_LINKED_ROLE = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory)


def instance_count(scaled: ScaledCloud, name: str) -> int:
    described = scaled.client("sagemaker").describe_endpoint(EndpointName=name)
    [variant] = described["ProductionVariants"]
    return variant["CurrentInstanceCount"]


def test_the_decks_commands_register_a_target_and_a_cpu_policy(scaled: ScaledCloud) -> None:
    resource = ["--service-namespace", "sagemaker", "--resource-id",
                "endpoint/my-endpoint/variant/model2",
                "--scalable-dimension", "sagemaker:variant:DesiredInstanceCount"]  # fmt: skip
    scaled.aws("application-autoscaling", "register-scalable-target", *resource,
               "--min-capacity", "2", "--max-capacity", "5")  # fmt: skip
    policy = {
        "TargetValue": 50,
        "CustomizedMetricSpecification": {
            "MetricName": "CPUUtilization",
            "Namespace": "/aws/sagemaker/Endpoints",
            "Dimensions": [
                {"Name": "EndpointName", "Value": "my-endpoint"},
                {"Name": "VariantName", "Value": "model2"},
            ],
            "Statistic": "Average",
            "Unit": "Percent",
        },
    }
    put = scaled.aws("application-autoscaling", "put-scaling-policy",
                     "--policy-name", "model2-scaling", *resource,
                     "--policy-type", "TargetTrackingScaling",
                     "--target-tracking-scaling-policy-configuration",
                     json.dumps(policy))  # fmt: skip
    # As on AWS, the answer lists the two alarms target tracking made, there in CloudWatch.
    alarms = json.loads(put.stdout)["Alarms"]
    names = [a["AlarmName"] for a in alarms]
    prefix = "TargetTracking-endpoint/my-endpoint/variant/model2-Alarm"
    assert [name.removeprefix(prefix).split("-")[0] for name in names] == ["High", "Low"]
    assert all(a["AlarmARN"].endswith(f":alarm:{a['AlarmName']}") for a in alarms)
    described_alarms = json.loads(
        scaled.aws("cloudwatch", "describe-alarms", "--alarm-names", *names).stdout
    )["MetricAlarms"]  # fmt: skip
    assert {a["AlarmName"]: a["Threshold"] for a in described_alarms} == dict(
        zip(names, [50.0, 45.0], strict=True)
    )
    described = json.loads(
        scaled.aws("application-autoscaling", "describe-scaling-policies",
                   "--service-namespace", "sagemaker").stdout
    )["ScalingPolicies"]  # fmt: skip
    [mine] = [p for p in described if p["PolicyName"] == "model2-scaling"]
    assert mine["TargetTrackingScalingPolicyConfiguration"] == policy
    assert mine["Alarms"] == alarms
    targets = json.loads(
        scaled.aws("application-autoscaling", "describe-scalable-targets",
                   "--service-namespace", "sagemaker").stdout
    )["ScalableTargets"]  # fmt: skip
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(2, 5)]
    # The first registration made the service-linked role the target acts as, as on AWS.
    role = json.loads(
        scaled.aws("iam", "get-role", "--role-name", SERVICE_LINKED_ROLE).stdout
    )["Role"]  # fmt: skip
    assert role["Path"] == "/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    assert [t["RoleARN"] for t in targets] == [role["Arn"]]
    scaled.aws("application-autoscaling", "deregister-scalable-target", *resource)


def test_load_scales_out_to_three_and_back_in_after_it_stops(
    scaled: ScaledCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = scaled.endpoint("scale", small_model(1, feature_dim=FEATURES))
    autoscaling = scaled.client("application-autoscaling")
    resource = track_invocations(autoscaling, name, MAX, TARGET)
    for key, value in scaled.env.items():
        monkeypatch.setenv(key, value)
    stop = threading.Event()
    reports: list[load.Report] = []
    bodies = load.sample_bodies(FEATURES)
    worker = threading.Thread(
        target=lambda: reports.append(
            load.run(name, rate=LOAD, duration=60, bodies=bodies, stop=stop)
        )
    )
    worker.start()
    try:
        # Three instances meet the target; on 2 cores, a burst while new instances start can carry
        # a step past 3 (2 -> 4, say), never past the max.
        poll(
            lambda: instance_count(scaled, name),
            until=lambda count: count >= 3,
            timeout=30,
            interval=0.1,
            what=f"{name} to scale out to 3 instances",
        )
        time.sleep(3)  # the load goes on: the count stays within [3, MAX]
        assert 3 <= instance_count(scaled, name) <= MAX
    except AssertionError as failure:  # say whether the load itself kept its rate
        stop.set()
        worker.join()
        load_was = "; ".join(r.summary() for r in reports) or "no report"
        raise AssertionError(f"{failure} (the load: {load_was})") from None
    finally:
        stop.set()
        worker.join()
    poll(
        lambda: instance_count(scaled, name),
        until=lambda count: count == 1,
        timeout=40,
        interval=0.1,
        what=f"{name} to scale back in to 1 instance",
    )

    [report] = reports
    assert report.sent > 0 and report.failed == 0, report.summary()
    activities = poll(  # the last scale-in may still be ending as the count is read
        lambda: autoscaling.describe_scaling_activities(
            ServiceNamespace="sagemaker", ResourceId=resource["ResourceId"]
        )["ScalingActivities"],
        until=lambda found: found[0]["StatusCode"] != "InProgress",
        what="the last scaling activity to end",
    )
    # The story, oldest first: scale-outs on the high alarm (a slow period can make the first step
    # 1 -> 2), rising to 3 or more within the max, then scale-ins on the low alarm (a partial last
    # minute of load can make the first step 3 -> 2), the last one to 1.
    story = list(reversed(activities))
    highs = ["AlarmHigh" in a["Cause"] for a in story]
    scale_outs, scale_ins = story[: highs.index(False)], story[highs.index(False) :]
    assert scale_outs and all("AlarmHigh" in a["Cause"] for a in scale_outs), story
    assert scale_ins and all("AlarmLow" in a["Cause"] for a in scale_ins), story
    counts = [int(a["Description"].removesuffix(".").rsplit(" ", 1)[1]) for a in scale_outs]
    assert counts == sorted(counts) and 3 <= counts[-1] <= MAX, story
    scale_out, scale_in = scale_outs[-1], scale_ins[-1]
    assert "policy invocations" in scale_out["Cause"]
    assert scale_in["Description"] == "Setting desired instance count to 1."
    assert {a["StatusCode"] for a in activities} == {"Successful"}
    assert scale_outs[-1]["EndTime"] <= scale_ins[0]["StartTime"]
    [variant] = scaled.client("sagemaker").describe_endpoint(EndpointName=name)[
        "ProductionVariants"
    ]
    assert variant["DesiredInstanceCount"] == variant["CurrentInstanceCount"] == 1

    # Each instance that served has its log stream, the removed ones to their last line.
    logs = scaled.client("logs")
    group = f"/aws/sagemaker/Endpoints/{name}"

    def last_lines() -> list[str]:
        """Each log stream's last line."""
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        events = [
            logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
            for s in streams
        ]
        return [e[-1]["message"] for e in events]

    poll(
        last_lines,
        until=lambda lines: len(lines) >= 3 and sum(x.endswith("stopped") for x in lines) >= 2,
        what="three instances' log streams, the removed ones to their last line",
    )

    # The policy's two alarms are in CloudWatch, as target tracking makes them.
    [policy] = autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=resource["ResourceId"]
    )["ScalingPolicies"]
    high, low = [a["AlarmName"] for a in policy["Alarms"]]
    assert high in scale_out["Cause"] and low in scale_in["Cause"]
    described = scaled.client("cloudwatch").describe_alarms(AlarmNames=[high, low])
    thresholds = {a["AlarmName"]: a["Threshold"] for a in described["MetricAlarms"]}
    assert thresholds == {high: TARGET, low: 0.9 * TARGET}


def test_an_update_resets_a_scaled_variant_unless_retained_and_keeps_its_instance_type(
    scaled: ScaledCloud,
) -> None:
    """UpdateEndpoint deploys the new config's InitialInstanceCount over what autoscaling (or a
    resize) set, unless RetainAllVariantProperties; a scaled variant's instance type is fixed."""
    model = small_model(2, feature_dim=FEATURES)
    name = scaled.endpoint("retain", model)
    sm = scaled.client("sagemaker")
    scaled.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{name}/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=3,
    )
    sm.update_endpoint_weights_and_capacities(  # what a scale-out does
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    )
    scaled.wait(name)
    assert instance_count(scaled, name) == 2

    sm.update_endpoint(
        EndpointName=name,
        EndpointConfigName=scaled.config("retain", model, 1),
        RetainAllVariantProperties=True,
    )
    scaled.wait(name)
    assert instance_count(scaled, name) == 2
    sm.update_endpoint(EndpointName=name, EndpointConfigName=scaled.config("retain", model, 1))
    scaled.wait(name)
    assert instance_count(scaled, name) == 1

    bigger = scaled.config("retain", model, 1)
    described = sm.describe_endpoint_config(EndpointConfigName=bigger)["ProductionVariants"][0]
    sm.create_endpoint_config(
        EndpointConfigName=f"{bigger}-xl",
        ProductionVariants=[{**described, "InstanceType": "ml.m5.xlarge"}],
    )
    with pytest.raises(sm.exceptions.ClientError) as refused:
        sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{bigger}-xl")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "registered for automatic scaling" in refused.value.response["Error"]["Message"]
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"


def test_a_triggered_alarm_at_a_bound_is_a_not_scaled_activity_listed_only_when_asked(
    scaled: ScaledCloud,
) -> None:
    """At MaxCapacity (= MinCapacity) a high alarm in ALARM records AlreadyAtMaxCapacity and a
    low one AlreadyAtMinCapacity, once per policy and reason, kept across a restart; listed
    only with IncludeNotScaledActivities."""
    name = scaled.endpoint("notscaled", small_model(3, feature_dim=FEATURES))
    autoscaling = scaled.client("application-autoscaling")
    resource = variant_target(name)
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=1)
    pressure_high, _ = pressure_policy(autoscaling, resource, "pressure")
    _, quiet_low = pressure_policy(autoscaling, resource, "quiet")

    def listed(**include: bool) -> list[dict]:
        return autoscaling.describe_scaling_activities(
            ServiceNamespace="sagemaker", ResourceId=resource["ResourceId"], **include
        )["ScalingActivities"]

    def codes() -> list[str]:
        return [r["Code"] for a in listed(IncludeNotScaledActivities=True)
                for r in a.get("NotScaledReasons", [])]  # fmt: skip

    def set_alarm(alarm: str) -> None:
        scaled.client("cloudwatch").set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="a test triggers the policy"
        )

    without = listed()
    set_alarm(pressure_high)
    [not_scaled] = poll(
        lambda: listed(IncludeNotScaledActivities=True),
        what="a not scaled activity for the high alarm at MaxCapacity",
    )
    assert not_scaled["StatusCode"] == "Failed"
    assert not_scaled["Description"] == "Attempting to scale due to alarm triggered"
    assert not_scaled["Cause"] == (
        f"monitor alarm {pressure_high} in state ALARM triggered policy pressure"
    )
    assert not_scaled["NotScaledReasons"] == [{"Code": "AlreadyAtMaxCapacity", "MaxCapacity": 1}]
    assert listed() == without == []
    assert listed(IncludeNotScaledActivities=False) == without

    # The high alarm stays in ALARM; the pass that records the low alarm's reason evaluates it
    # again, and it is not recorded twice.
    set_alarm(quiet_low)
    poll(codes, until=lambda found: "AlreadyAtMinCapacity" in found, what="AlreadyAtMinCapacity")
    assert sorted(codes()) == ["AlreadyAtMaxCapacity", "AlreadyAtMinCapacity"]

    # Kept across a restart, and still once per policy and reason: the policy's alarms come back
    # and are triggered again, and a new policy's reason shows that a pass evaluated them.
    before = listed(IncludeNotScaledActivities=True)
    scaled.restart()
    autoscaling = scaled.client("application-autoscaling")
    assert listed(IncludeNotScaledActivities=True) == before
    assert listed() == []
    set_alarm(policy_alarms(autoscaling, resource, "pressure")[0])
    set_alarm(pressure_policy(autoscaling, resource, "spare")[0])
    poll(
        lambda: [a["Cause"] for a in listed(IncludeNotScaledActivities=True)],
        until=lambda causes: any(c.endswith("policy spare") for c in causes),
        what="the new policy's not scaled activity after the restart",
    )
    assert sorted(codes()) == ["AlreadyAtMaxCapacity"] * 2 + ["AlreadyAtMinCapacity"]
    assert listed() == []


def test_a_policys_alarms_keep_their_names_and_state_across_a_restart(
    scaled: ScaledCloud,
) -> None:
    """A target tracking policy's alarms stay as they were made until the policy changes, as on
    AWS: after a restart DescribeScalingPolicies and DescribeAlarms list the same two alarms,
    the autoscaler acts on them (no new pair is made), and a client's SetAlarmState holds; a
    policy replaced before or after the restart has only its new pair, the old one deleted."""
    name = scaled.endpoint("keptalarms", small_model(5, feature_dim=FEATURES))
    autoscaling = scaled.client("application-autoscaling")
    resource = variant_target(name)
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=1)
    kept_high, kept_low = pressure_policy(autoscaling, resource, "kept")
    pressure_policy(autoscaling, resource, "replaced")
    replaced = pressure_policy(autoscaling, resource, "replaced", target=20)  # a new pair
    cloudwatch = scaled.client("cloudwatch")
    cloudwatch.set_alarm_state(
        AlarmName=kept_high, StateValue="ALARM", StateReason="a test triggers the policy"
    )

    def tracking_alarms() -> dict[str, str]:
        """The endpoint's target tracking alarms in CloudWatch, and their states."""
        prefix = f"TargetTracking-{resource['ResourceId']}-"
        found = cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
        return {a["AlarmName"]: a["StateValue"] for a in found}

    def policies_alarms() -> dict[str, tuple[str, ...]]:
        """Each of the endpoint's policies' alarms, as DescribeScalingPolicies lists them."""
        described = autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"]
        return {p["PolicyName"]: tuple(a["AlarmName"] for a in p["Alarms"]) for p in described}

    scaled.restart()
    autoscaling = scaled.client("application-autoscaling")
    cloudwatch = scaled.client("cloudwatch")
    assert policies_alarms() == {"kept": (kept_high, kept_low), "replaced": replaced}
    assert tracking_alarms()[kept_high] == "ALARM"

    # The autoscaler acts on the same alarms: the low one (the high one quiet again) triggers a
    # not scaled activity naming it, and once it has, CloudWatch holds the policies' alarms and
    # no others.
    for alarm, state in ((kept_high, "OK"), (kept_low, "ALARM")):
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue=state, StateReason="a test")
    poll(
        lambda: [
            a["Cause"]
            for a in autoscaling.describe_scaling_activities(
                ServiceNamespace="sagemaker",
                ResourceId=resource["ResourceId"],
                IncludeNotScaledActivities=True,
            )["ScalingActivities"]
        ],
        until=lambda causes: (
            f"monitor alarm {kept_low} in state ALARM triggered policy kept" in causes
        ),
        what="a not scaled activity on the kept low alarm after the restart",
    )
    assert policies_alarms() == {"kept": (kept_high, kept_low), "replaced": replaced}
    assert set(tracking_alarms()) == {kept_high, kept_low, *replaced}

    # Replaced after the restart: its old pair is deleted, a new one made.
    renewed = pressure_policy(autoscaling, resource, "kept", target=30)
    assert not {kept_high, kept_low} & set(renewed)
    poll(
        tracking_alarms,
        until=lambda found: set(found) == {*renewed, *replaced},
        what="the replaced policy's old alarms to be deleted",
    )
    assert policies_alarms() == {"kept": renewed, "replaced": replaced}


def test_a_customized_metric_a_client_puts_scales_the_variant_out(scaled: ScaledCloud) -> None:
    """A target tracking policy on a metric only a client puts (PutMetricData): its high alarm
    goes into ALARM on those datapoints and the autoscaler reads the same ones to size the
    variant, as AWS does for a CustomizedMetricSpecification."""
    name = scaled.endpoint("custom", small_model(4, feature_dim=FEATURES))
    autoscaling = scaled.client("application-autoscaling")
    resource = variant_target(name)
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=3)
    dimensions = [{"Name": "EndpointName", "Value": name}]
    autoscaling.put_scaling_policy(
        PolicyName="backlog",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 10,
            "CustomizedMetricSpecification": {
                "Namespace": "CDLab/Tests", "MetricName": "Backlog", "Dimensions": dimensions,
                "Statistic": "Average", "Unit": "Count",
            },
        },
        **resource,
    )  # fmt: skip
    high, _ = policy_alarms(autoscaling, resource, "backlog")
    cloudwatch = scaled.client("cloudwatch")

    def put_backlog_and_count() -> int:
        """Put a backlog far above the target (every period the alarm looks at gets one, for
        as long as the poll lasts); the variant's instances."""
        cloudwatch.put_metric_data(
            Namespace="CDLab/Tests",
            MetricData=[
                {"MetricName": "Backlog", "Dimensions": dimensions, "Value": 100, "Unit": "Count"}
            ],
        )
        return instance_count(scaled, name)

    poll(
        put_backlog_and_count,
        until=lambda count: count > 1,
        timeout=60,
        interval=0.2,
        what=f"{name} to scale out on the backlog a client puts",
    )
    [activity, *_] = autoscaling.describe_scaling_activities(
        ServiceNamespace="sagemaker", ResourceId=resource["ResourceId"]
    )["ScalingActivities"]
    assert activity["Cause"].startswith(
        f"monitor alarm {high} in state ALARM triggered policy backlog"
    ), activity
    assert activity["Description"] == "Setting desired instance count to 3.", activity


def test_a_metric_stat_query_is_tracked_and_metric_math_is_kept_without_alarms(
    scaled: ScaledCloud,
) -> None:
    """The math form of a CustomizedMetricSpecification: one MetricStat query is the series it
    names (the policy's alarms watch it); an Expression, which the local cloud does not
    evaluate, is kept without alarms rather than failing PutScalingPolicy."""
    autoscaling = scaled.client("application-autoscaling")
    resource = variant_target("math-form")
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    stat = {
        "Metric": {"Namespace": "CDLab/Tests", "MetricName": "Queue", "Dimensions": []},
        "Stat": "Maximum",
    }

    def put(name: str, queries: list[dict[str, object]]) -> list[dict[str, str]]:
        return autoscaling.put_scaling_policy(
            PolicyName=name, PolicyType="TargetTrackingScaling", **resource,
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 5, "CustomizedMetricSpecification": {"Metrics": queries},
            },
        )["Alarms"]  # fmt: skip

    try:
        alarms = put("one-stat", [{"Id": "m1", "MetricStat": stat, "ReturnData": True}])
        described = scaled.client("cloudwatch").describe_alarms(
            AlarmNames=[a["AlarmName"] for a in alarms]
        )["MetricAlarms"]
        assert (
            sorted((a["Namespace"], a["MetricName"], a["Statistic"]) for a in described)
            == [("CDLab/Tests", "Queue", "Maximum")] * 2
        )
        math = [
            {"Id": "m1", "MetricStat": stat, "ReturnData": False},
            {"Id": "e1", "Expression": "m1 * 2", "ReturnData": True},
        ]
        assert put("math", math) == []
    finally:
        for name in ("one-stat", "math"):
            with contextlib.suppress(ClientError):
                autoscaling.delete_scaling_policy(PolicyName=name, **resource)
        autoscaling.deregister_scalable_target(**resource)


def test_a_concurrent_requests_policy_tracks_that_metric_which_is_not_emitted_here(
    scaled: ScaledCloud,
) -> None:
    """SageMakerVariantConcurrentRequestsPerModelHighResolution tracks the variant's
    ConcurrentRequestsPerModel, which the local cloud does not emit: its alarms see no data, and
    invocations far over its target leave the variant as it is (it was scaled on them); the
    cloud's log says why, once."""
    name = scaled.endpoint("concurrent", small_model(5, feature_dim=FEATURES))
    autoscaling = scaled.client("application-autoscaling")
    resource = variant_target(name)
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=2)
    alarms = autoscaling.put_scaling_policy(
        PolicyName="concurrency",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 1.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"
            },
            "ScaleOutCooldown": 0,
        },
        **resource,
    )["Alarms"]
    cloudwatch = scaled.client("cloudwatch")
    names = [a["AlarmName"] for a in alarms]
    dimensions = [
        {"Name": "EndpointName", "Value": name},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert [
        (a["Namespace"], a["MetricName"], a["Dimensions"])
        for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    ] == [("AWS/SageMaker", "ConcurrentRequestsPerModel", dimensions)] * 2

    # about 5 invocations per instance per (scaled) minute for 6 minutes: 5 times the target
    runtime = scaled.client("sagemaker-runtime")
    [body] = load.sample_bodies(FEATURES, count=1)
    until = time.monotonic() + 6
    while time.monotonic() < until:
        runtime.invoke_endpoint(EndpointName=name, ContentType="application/json", Body=body)
        time.sleep(0.2)
    time.sleep(2)  # two more evaluations
    assert instance_count(scaled, name) == 1
    assert (
        autoscaling.describe_scaling_activities(
            ServiceNamespace="sagemaker", ResourceId=resource["ResourceId"]
        )["ScalingActivities"]
        == []
    )
    states = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert {a["StateValue"] for a in states} == {"INSUFFICIENT_DATA"}
    log = control.log_file(scaled.cloud.home).read_text(errors="replace")
    said = (
        "policy concurrency tracks ConcurrentRequestsPerModel, which the local cloud does not emit"
    )
    assert log.count(said) == 1, said

"""Automatic scaling and canary rollback figures at CDLAB_TIME_SCALE=60 (a minute per second).

Prints the seconds from load start to the first scale-out (decision and instances in service),
from load stop to the scale-in, and from a canary's 5XX alarm going to ALARM to the endpoint back
InService on its old config. Target tracking needs 3 high one-minute datapoints to scale out and
15 low ones to scale in, so the floor is about 3 s and 15 s at scale 60.
Run: ``.venv/bin/python benchmarks/bench_autoscaling.py``.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import numpy as np
from bench_local_cloud import discard

from cdlab import load, target
from cdlab.fm.model import FMModel, artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.images import fm_image_uri

SCALE = 60
FEATURES = 20
TARGET = 20  # invocations per instance per (scaled) minute


def model(seed: int, broken: list[int] = ()) -> FMModel:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=FEATURES).astype(np.float32)
    w[list(broken)] = np.nan
    V = rng.normal(scale=0.5, size=(FEATURES, 4)).astype(np.float32)
    return FMModel(float(rng.normal()), w, V, "binary_classifier")


def until(condition: Callable[[], bool], timeout: float = 120.0) -> float:
    """The monotonic time ``condition`` first held (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.02)
    raise TimeoutError("the condition did not hold in time")


def deploy(sm, s3, name: str, seed: int, count: int, broken: list[int] = ()) -> str:
    s3.put_object(Bucket="bench", Key=f"{name}.tar.gz", Body=artifact_bytes(model(seed, broken)))
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": fm_image_uri(os.environ["AWS_DEFAULT_REGION"]),
            "ModelDataUrl": f"s3://bench/{name}.tar.gz",
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name,
                             "InitialInstanceCount": count, "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    return name


def count(sm, name: str) -> int:
    return sm.describe_endpoint(EndpointName=name)["ProductionVariants"][0]["CurrentInstanceCount"]


def in_service(sm, name: str) -> bool:
    return sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"


def background_load(name: str, rate: float, stop: threading.Event) -> threading.Thread:
    bodies = load.sample_bodies(FEATURES)
    worker = threading.Thread(
        target=load.run, args=(name,), kwargs={"rate": rate, "duration": 600, "bodies": bodies,
                                               "stop": stop}
    )  # fmt: skip
    worker.start()
    return worker


def scaling(sm, s3, autoscaling) -> tuple[float, float, float]:
    sm.create_endpoint(EndpointName="scale", EndpointConfigName=deploy(sm, s3, "scale", 1, 1))
    until(lambda: in_service(sm, "scale"))
    resource = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/scale/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=4)
    autoscaling.put_scaling_policy(
        PolicyName="invocations",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": TARGET,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 120,
        },
        **resource,
    )

    def activities() -> list[dict]:
        return autoscaling.describe_scaling_activities(ServiceNamespace="sagemaker")[
            "ScalingActivities"
        ]

    stop = threading.Event()
    started = time.monotonic()
    worker = background_load("scale", 2.7 * TARGET, stop)
    try:
        decided = until(lambda: len(activities()) >= 1)
        served = until(lambda: count(sm, "scale") == 3)
    finally:
        stop.set()
        worker.join()
    stopped = time.monotonic()
    scaled_in = until(lambda: count(sm, "scale") == 1)
    return decided - started, served - started, scaled_in - stopped


def rollback(sm, s3, cloudwatch) -> float:
    sm.create_endpoint(EndpointName="canary", EndpointConfigName=deploy(sm, s3, "blue", 1, 2))
    until(lambda: in_service(sm, "canary"))
    cloudwatch.put_metric_alarm(
        AlarmName="canary-5xx", Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": "canary"},
                    {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    deploy(sm, s3, "green", 2, 2, broken=[0, 1, 2, 3])
    stop = threading.Event()
    worker = background_load("canary", 40, stop)
    try:
        sm.update_endpoint(
            EndpointName="canary",
            EndpointConfigName="green",
            DeploymentConfig={
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                        "WaitIntervalInSeconds": 600,
                    }
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "canary-5xx"}]},
            },
        )
        alarmed = until(
            lambda: (
                cloudwatch.describe_alarms(AlarmNames=["canary-5xx"])["MetricAlarms"][0][
                    "StateValue"
                ]
                == "ALARM"
            )
        )
        back = until(lambda: in_service(sm, "canary"))
    finally:
        stop.set()
        worker.join()
    return back - alarmed


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="cdlab-bench-scaling-"))
    port = control.free_port()
    os.environ["CDLAB_TIME_SCALE"] = str(SCALE)
    target.ready("local", home=home, port=port)
    try:
        sm, s3 = boto3.client("sagemaker"), boto3.client("s3")
        s3.create_bucket(Bucket="bench")
        decided, served, scaled_in = scaling(sm, s3, boto3.client("application-autoscaling"))
        rolled_back = rollback(sm, s3, boto3.client("cloudwatch"))
    finally:
        discard(home)
    print(f"time scale {SCALE}: one CloudWatch minute = {60 / SCALE:g} s; target {TARGET}/instance")
    print(
        f"load start -> scale-out decided:           {decided:6.2f} s  (floor ~3 s: 3 datapoints)"
    )
    print(f"load start -> 3 instances in service:      {served:6.2f} s")
    print(f"load stop  -> scaled in to 1 instance:     {scaled_in:6.2f} s  (floor ~15 s)")
    print(f"5XX alarm in ALARM -> rolled back, InService: {rolled_back:6.2f} s")


if __name__ == "__main__":
    main()

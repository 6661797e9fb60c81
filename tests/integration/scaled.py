"""A private local cloud at ``CDLAB_TIME_SCALE=60`` (a CloudWatch minute lasts a second), with
clients and deploy helpers for the metrics, autoscaling and safe-deployment tests.

Each test module makes a module-scoped fixture of ``scaled_cloud``: one cloud per module, always
stopped after."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from cdlab.fm.model import FMModel, artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.conftest import AWS_CLI, free_port, small_model
from tests.polling import poll

TIME_SCALE = "60"
FEATURES = 20
BUCKET = "cdlab-scaled"
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack")


@dataclass
class ScaledCloud:
    cloud: control.Cloud
    env: dict[str, str]
    latency: str
    names: Iterator[int] = field(default_factory=count)
    settings: Mapping[str, str] = field(default_factory=dict)  # the cloud's own, as started

    def client(self, service: str):
        return boto3.Session(
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_DEFAULT_REGION"],
        ).client(service, endpoint_url=self.env["AWS_ENDPOINT_URL"])

    def aws(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The AWS CLI against this cloud; fails the test if the command fails."""
        result = subprocess.run(
            [AWS_CLI, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"aws {' '.join(args)} failed:\n{result.stderr}"
        return result

    def model(self, prefix: str, model: FMModel) -> str:
        """Upload ``model`` and create a SageMaker model for it; returns its name."""
        name = f"{prefix}-m{next(self.names)}"
        s3 = self.client("s3")
        s3.put_object(Bucket=BUCKET, Key=f"{name}/model.tar.gz", Body=artifact_bytes(model))
        self.client("sagemaker").create_model(
            ModelName=name,
            PrimaryContainer={
                "Image": fm_image_uri(self.env["AWS_DEFAULT_REGION"]),
                "ModelDataUrl": f"s3://{BUCKET}/{name}/model.tar.gz",
            },
        )
        return name

    def config(self, prefix: str, model: FMModel, instances: int) -> str:
        name = f"{prefix}-c{next(self.names)}"
        self.client("sagemaker").create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": self.model(prefix, model),
                    "InitialInstanceCount": instances,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        return name

    def endpoint(self, prefix: str, model: FMModel, instances: int = 1, **create: Any) -> str:
        """An endpoint InService, made with CreateEndpoint's other members ``create``."""
        name = f"{prefix}-{next(self.names)}"
        sm = self.client("sagemaker")
        sm.create_endpoint(
            EndpointName=name, EndpointConfigName=self.config(prefix, model, instances), **create
        )
        assert self.wait(name)["EndpointStatus"] == "InService"
        return name

    def restart(self, while_down: Callable[[], object] = lambda: None) -> None:
        """Stop this cloud, call ``while_down``, and start it again on its home and port,
        scaled as before (even when ``while_down`` fails)."""
        assert control.down(self.cloud.home)
        try:
            while_down()
        finally:
            self.cloud = _up(self.cloud.home, self.cloud.port, self.latency, self.settings)

    def wait(self, name: str, timeout: float = 60.0) -> dict:
        """DescribeEndpoint once the endpoint is no longer being created or updated."""
        sm = self.client("sagemaker")
        return poll(
            lambda: sm.describe_endpoint(EndpointName=name),
            until=lambda described: described["EndpointStatus"] not in IN_PROGRESS,
            timeout=timeout,
            interval=0.1,
            what=f"endpoint {name} to finish creating or updating",
        )


def variant_target(endpoint: str) -> dict[str, str]:
    """The scalable target of an endpoint's AllTraffic variant, as Application Auto Scaling
    names it."""
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }


def track_invocations(autoscaling, endpoint: str, max_capacity: int, target: float) -> dict:
    """Let automatic scaling keep the endpoint's AllTraffic variant (1 to ``max_capacity``
    instances) at ``target`` invocations per instance per minute, with the notebooks' cooldowns
    (60 s out, 120 s in); the scalable target's resource."""
    resource = variant_target(endpoint)
    autoscaling.register_scalable_target(**resource, MinCapacity=1, MaxCapacity=max_capacity)
    autoscaling.put_scaling_policy(
        PolicyName="invocations",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 120,
        },
        **resource,
    )
    return resource


def pressure_policy(autoscaling, resource: dict, name: str, target: float = 10) -> tuple[str, str]:
    """A target tracking policy ``name`` (put, or replaced) tracking ``target`` on a metric
    nobody puts, so its alarms keep the state SetAlarmState gives them; its high and low
    alarms."""
    autoscaling.put_scaling_policy(
        PolicyName=name,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target,
            "CustomizedMetricSpecification": {
                "MetricName": name, "Namespace": "CDLab/Tests", "Statistic": "Average"
            },
        },
        **resource,
    )  # fmt: skip
    return policy_alarms(autoscaling, resource, name)


def policy_alarms(autoscaling, resource: dict, name: str) -> tuple[str, str]:
    """Policy ``name``'s high and low alarms, once it has them."""
    [policy] = poll(
        lambda: [
            p
            for p in autoscaling.describe_scaling_policies(**resource)["ScalingPolicies"]
            if p["PolicyName"] == name
        ],
        until=lambda found: len(found) == 1 and len(found[0]["Alarms"]) == 2,
        what=f"policy {name}'s two alarms",
    )
    high, low = [a["AlarmName"] for a in policy["Alarms"]]
    return high, low


def faulty_model(seed: int, broken_features: list[int]) -> FMModel:
    """``small_model(seed)`` whose weights for ``broken_features`` are NaN: the container then
    answers 500 for every row that sets one of them, and correctly for the others."""
    model = small_model(seed, feature_dim=FEATURES)
    w = model.w.copy()
    w[broken_features] = np.nan
    return FMModel(model.w0, w, model.V, model.predictor_type)


def scaled_cloud(
    tmp_path_factory: pytest.TempPathFactory,
    latency: str = "fast",
    settings: Mapping[str, str] | None = None,
) -> Iterator[ScaledCloud]:
    """Run a scaled cloud for as long as the generator is open (the body of a fixture), with the
    ``latency`` profile (``CDLAB_LATENCY``) and the environment ``settings`` it starts with
    (``CDLAB_SAGEMAKER_QUOTAS`` ...)."""
    home: Path = tmp_path_factory.mktemp("cdlab-scaled")
    settings = dict(settings or {})
    running = _up(home, free_port(), latency, settings)
    try:
        env = control.client_environment(home, running.port)
        cloud = ScaledCloud(running, env, latency, settings=settings)
        cloud.client("s3").create_bucket(Bucket=BUCKET)
        yield cloud
    finally:
        control.down(home)


def _up(home: Path, port: int, latency: str, settings: Mapping[str, str]) -> control.Cloud:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDLAB_TIME_SCALE", TIME_SCALE)
        patch.setenv("CDLAB_LATENCY", latency)
        for key, value in settings.items():
            patch.setenv(key, value)
        return control.up(home, port, with_parent=True)

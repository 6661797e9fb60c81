"""Fixtures that run the real parts: a local cloud process, clients pointed at it, artifacts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import boto3
import botocore.session
import numpy as np
import pytest

from cdlab.fm.model import FMModel, artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.documents import CHANGING
from cdlab.localcloud.sagemaker.images import fm_image_uri
from cdlab.service_models import shared_loader
from tests.polling import poll
from tests.roles import make_execution_roles

AWS_CLI = str(Path(sys.executable).parent / "aws")


free_port = control.free_port
children_with_pids = control.children


def instance_pids(cloud_pid: int, endpoint: str) -> list[int]:
    """Pids of ``endpoint``'s instance processes: children of the cloud ``cloud_pid`` only."""
    return [
        pid
        for pid, cmdline in children_with_pids(cloud_pid)
        if endpoint.encode() in cmdline and b"cdlab.fm.serve_container" in cmdline
    ]


@pytest.fixture(scope="session", autouse=True)
def shared_service_models() -> Iterator[None]:
    """Every botocore session of a test process shares the service models parsed for its data
    path (``cdlab.service_models``). Each test gets a fresh default session and most make clients
    of their own; a fresh session would parse endpoints.json and each model again, which was
    half the CPU of the fast tier's test processes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared_loader)
        yield


@pytest.fixture(autouse=True)
def fresh_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's module-level boto3 calls (``boto3.client``) get a default session made from
    the environment the test runs in: a session caches the config file's profiles when first
    used, so one made by an earlier test (before the local cloud's profile was set, say) would
    refuse the profile later tests name (ProfileNotFound)."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[control.Cloud]:
    """One local cloud for the session, in its own state dir, always stopped at the end."""
    home = tmp_path_factory.mktemp("cdlab-home")
    running = control.up(home, free_port(), with_parent=True)
    try:
        yield running
    finally:
        control.down(home)


@pytest.fixture(scope="session")
def aws_env(cloud: control.Cloud) -> Iterator[dict[str, str]]:
    """The local target's environment, set for this test session as ``target.ready`` sets it
    for a notebook (so the kit's own code and boto3 waiters use it too)."""
    env = control.client_environment(cloud.home, cloud.port)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.setenv("CDLAB_TARGET", "local")
        # the SageMaker execution roles the suite names (role/me ...): SageMaker refuses a role
        # that does not exist or does not trust it, and acts as the role
        make_execution_roles(boto3.Session().client("iam"))
        yield env


@pytest.fixture(scope="session")
def client(aws_env: dict[str, str]) -> Callable[[str], object]:
    """``client("sagemaker")``: a boto3 client for the local cloud, made the way kit code makes
    one (from the environment alone)."""
    return lambda service: boto3.Session().client(service)


@pytest.fixture(scope="session")
def sm(client):
    return client("sagemaker")


@pytest.fixture(scope="session")
def runtime(client):
    return client("sagemaker-runtime")


@pytest.fixture(scope="session")
def s3(client):
    return client("s3")


@pytest.fixture(scope="session")
def cb(client):
    return client("codebuild")


@pytest.fixture(scope="session")
def logs(client):
    return client("logs")


@pytest.fixture(scope="session")
def aws(aws_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the AWS CLI against the local cloud: ``aws("sagemaker", "list-endpoints")``."""
    env = {**os.environ, **aws_env}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [AWS_CLI, *args], env=env, capture_output=True, text=True, timeout=300
        )
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed:\n{result.stderr}")
        return result

    return run


def small_model(seed: int, feature_dim: int = 20, num_factors: int = 4) -> FMModel:
    """A small factorization machine with weights drawn from ``seed`` (different seeds answer
    differently, so tests can tell which model served a request)."""
    rng = np.random.default_rng(seed)
    return FMModel(
        w0=float(rng.normal()),
        w=rng.normal(size=feature_dim).astype(np.float32),
        V=rng.normal(scale=0.5, size=(feature_dim, num_factors)).astype(np.float32),
        predictor_type="binary_classifier",
    )


@pytest.fixture(scope="session")
def bucket(s3) -> str:
    s3.create_bucket(Bucket="cdlab-test-models")
    return "cdlab-test-models"


@pytest.fixture(scope="session")
def upload_model(s3, bucket: str) -> Iterator[Callable[[int], str]]:
    """Upload ``small_model(seed)`` as model.tar.gz and return its S3 URL; the uploads are
    deleted at the end of the session."""
    keys: set[str] = set()

    def upload(seed: int) -> str:
        key = f"models/seed-{seed}/model.tar.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=artifact_bytes(small_model(seed)))
        keys.add(key)
        return f"s3://{bucket}/{key}"

    yield upload
    if keys:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in sorted(keys)]})


@pytest.fixture(scope="session")
def fm_image(aws_env: dict[str, str]) -> str:
    return fm_image_uri(aws_env["AWS_DEFAULT_REGION"])


@pytest.fixture(scope="session")
def deploy(sm, upload_model, fm_image: str) -> Iterator[Callable[..., str]]:
    """Create models, a config and an endpoint from ``{variant: (seed, weight, count)}``;
    wait until InService and return the endpoint name (names are unique per call). Keyword
    arguments go to CreateEndpointConfig (``DataCaptureConfig=...``), but ``variant_params``,
    which go to each of its production variants (``{"RoutingConfig": ...}``), and ``container``,
    to each model's PrimaryContainer (``{"Environment": ...}``).

    What it made is deleted at the end of the session (a test may have deleted an endpoint
    itself), endpoints first, so that their instances have stopped before the cloud does; one a
    test left being updated is deleted once the update ends (DeleteEndpoint refuses it before,
    as AWS does)."""
    counter = iter(range(1_000_000))
    endpoints: list[str] = []
    configs: list[str] = []
    models: list[str] = []

    def make_config(
        prefix: str,
        variants: dict[str, tuple[int, float, int]],
        role: str = "arn:aws:iam::123456789012:role/me",
        variant_params: dict[str, object] | None = None,
        container: dict[str, object] | None = None,
        **config_params: object,
    ) -> str:
        n = next(counter)
        production_variants = []
        for variant, (seed, weight, count) in variants.items():
            model = f"{prefix}-m{n}-{variant}"
            sm.create_model(
                ModelName=model,
                PrimaryContainer={
                    "Image": fm_image,
                    "ModelDataUrl": upload_model(seed),
                    **(container or {}),
                },
                ExecutionRoleArn=role,
            )
            models.append(model)
            production_variants.append(
                {
                    "VariantName": variant,
                    "ModelName": model,
                    "InitialInstanceCount": count,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": weight,
                    **(variant_params or {}),
                }
            )
        config = f"{prefix}-c{n}"
        sm.create_endpoint_config(
            EndpointConfigName=config, ProductionVariants=production_variants, **config_params
        )
        configs.append(config)
        return config

    def deploy_endpoint(
        prefix: str, variants: dict[str, tuple[int, float, int]], **config_params: object
    ) -> str:
        name = f"{prefix}-{next(counter)}"
        config = make_config(prefix, variants, **config_params)
        sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
        endpoints.append(name)
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name)
        return name

    deploy_endpoint.config = make_config  # type: ignore[attr-defined]
    yield deploy_endpoint

    pages = sm.get_paginator("list_endpoints").paginate()
    existing = {e["EndpointName"] for page in pages for e in page["Endpoints"]}
    live = [name for name in endpoints if name in existing]
    for name in live:
        poll(
            partial(sm.describe_endpoint, EndpointName=name),
            until=lambda described: described["EndpointStatus"] not in CHANGING,
            timeout=120,
            what=f"endpoint {name} to end its operation before it is deleted",
        )
        sm.delete_endpoint(EndpointName=name)
    for name in live:
        sm.get_waiter("endpoint_deleted").wait(EndpointName=name)
    for config in configs:
        sm.delete_endpoint_config(EndpointConfigName=config)
    for model in models:
        sm.delete_model(ModelName=model)

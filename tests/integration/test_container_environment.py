"""A model container's and a training job's Environment, set in the processes that serve and
train: read back from ``/proc/PID/environ`` of the real processes."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from cdlab.localcloud import control
from tests.conftest import instance_pids
from tests.integration.test_training_jobs import LONG, ROLE, finished, training_processes
from tests.polling import poll
from tests.unit.test_train_container import dataset, recordio

MARKER = {"CDLAB_TEST_MARKER": "x", "SAGEMAKER_PROGRAM": "serve.py"}
KEY_PATTERN = "[a-zA-Z_][a-zA-Z0-9_]*"


def environ(pid: int) -> dict[str, str]:
    """The environment process ``pid`` was started with."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.decode().split("=", 1) for entry in raw.split(b"\0") if entry)


def assert_environment_set(pids: list[int], cloud_pid: int) -> None:
    """Each process has MARKER, and the local cloud's own PATH and PYTHONPATH (whatever the
    request asked for those)."""
    own = environ(cloud_pid)
    for pid in pids:
        env = environ(pid)
        assert {k: env.get(k) for k in MARKER} == MARKER
        assert (env.get("PATH"), env.get("PYTHONPATH")) == (own["PATH"], own.get("PYTHONPATH"))


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


@pytest.mark.slow
def test_every_instance_of_an_endpoint_gets_its_models_environment(sm, deploy, cloud) -> None:
    requested = MARKER | {"PATH": "/nowhere", "PYTHONPATH": "/nowhere"}
    name = deploy("envvars", {"AllTraffic": (1, 1, 1)}, container={"Environment": requested})
    config = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    [variant] = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    described = sm.describe_model(ModelName=variant["ModelName"])
    assert described["PrimaryContainer"]["Environment"] == requested
    [first] = instance_pids(cloud.pid, name)
    assert_environment_set([first], cloud.pid)
    warning = f"instances of {name}/AllTraffic keep the local cloud's PATH, PYTHONPATH, not the"
    assert warning in control.log_file(cloud.home).read_text()

    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    )
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)
    assert len(instance_pids(cloud.pid, name)) == 2
    os.kill(first, signal.SIGKILL)  # an instance the local cloud started for this test
    pids = poll(
        lambda: set(instance_pids(cloud.pid, name)),
        until=lambda pids: len(pids) == 2 and first not in pids,
        what=f"a replacement of instance {first}",
    )
    assert_environment_set(sorted(pids), cloud.pid)  # the added one and the replacement


def test_environment_a_process_cannot_have_is_refused(
    sm, fm_image: str, upload_model, bucket: str
) -> None:
    container = {"Image": fm_image, "ModelDataUrl": upload_model(1)}
    code, message = error_of(
        sm.create_model,
        ModelName="env-bad-key",
        PrimaryContainer=container | {"Environment": {"OK": "1", "NOT-A-NAME": "1"}},
    )
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '{")
    assert message.endswith(
        "' at 'primaryContainer.environment' failed to satisfy constraint: Map keys must satisfy "
        f"constraint: [Member must satisfy regular expression pattern: {KEY_PATTERN}]"
    )
    code, message = error_of(
        sm.create_model,
        ModelName="env-nul",
        PrimaryContainer=container | {"Environment": {"A": "1", "B": "x\0y"}},
    )
    assert (code, message) == (
        "ValidationException",
        "Environment: the value of B holds a NUL character, which the local cloud cannot set "
        "in a process's environment.",
    )
    code, message = error_of(
        sm.create_training_job,
        TrainingJobName="env-nul",
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": fm_image, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/env-nul/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        Environment={"B": "\0"},
    )
    assert (code, message) == (
        "ValidationException",
        "Environment: the value of B holds a NUL character, which the local cloud cannot set "
        "in a process's environment.",
    )


@contextlib.contextmanager
def training(
    sm, s3, bucket: str, fm_image: str, name: str, environment: dict[str, str]
) -> Iterator[list[int]]:
    """A long training job ``name`` with ``environment`` as its Environment: yields its training
    processes' ids once it trains, and stops it after."""
    s3.put_object(Bucket=bucket, Key=f"{name}/part-0.rec", Body=recordio(*dataset(800, 1)))
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": fm_image, "TrainingInputMode": "File"},
        HyperParameters=LONG,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{name}/"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/{name}-output/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        Environment=environment,
    )
    try:
        yield poll(lambda: training_processes(name), what=f"{name}'s training process")
    finally:
        sm.stop_training_job(TrainingJobName=name)
        assert finished(sm, name)["TrainingJobStatus"] == "Stopped"


@pytest.mark.slow
def test_a_training_process_gets_its_jobs_environment(sm, s3, bucket, fm_image, cloud) -> None:
    requested = MARKER | {"PYTHONPATH": "/nowhere"}
    name = "env-training"
    with training(sm, s3, bucket, fm_image, name, requested) as pids:
        assert_environment_set(pids, cloud.pid)
        assert sm.describe_training_job(TrainingJobName=name)["Environment"] == requested
    warning = f"training job {name} keeps the local cloud's PYTHONPATH, not its Environment's"
    assert warning in control.log_file(cloud.home).read_text()


@pytest.mark.slow
def test_a_training_process_gets_its_jobs_name_and_arn_whatever_its_environment(
    sm, s3, bucket, fm_image
) -> None:
    requested = {"TRAINING_JOB_NAME": "another-job", "TRAINING_JOB_ARN": "arn:aws:nothing"}
    name = "env-job-name"
    with training(sm, s3, bucket, fm_image, name, requested) as pids:
        described = sm.describe_training_job(TrainingJobName=name)
        expected = {
            "TRAINING_JOB_NAME": described["TrainingJobName"],
            "TRAINING_JOB_ARN": described["TrainingJobArn"],
        }
        for pid in pids:
            assert {k: environ(pid).get(k) for k in expected} == expected
        assert described["Environment"] == requested


def test_a_models_environment_over_32_kb_combined_is_refused(sm, fm_image, upload_model) -> None:
    """Each key and value may hold 1024 bytes, all of them together no more than 32 KB
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html)."""
    container = {"Image": fm_image, "ModelDataUrl": upload_model(1)}
    full = {f"K{i:02d}": "v" * 1021 for i in range(32)}  # 32 * (3 + 1021) = 32768 bytes
    over = full | {"K00": "v" * 1022}
    wide = {f"K{i:02d}": "é" * 1000 for i in range(17)}  # 17,051 characters, 34,051 bytes
    sm.create_model(
        ModelName="env-32kb",
        PrimaryContainer=container | {"Environment": full},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/me",
    )
    try:
        assert sm.describe_model(ModelName="env-32kb")["PrimaryContainer"]["Environment"] == full
        for name, environment, size in (("env-over", over, 32769), ("env-wide", wide, 34051)):
            code, message = error_of(
                sm.create_model,
                ModelName=name,
                PrimaryContainer=container | {"Environment": environment},
                ExecutionRoleArn="arn:aws:iam::123456789012:role/me",
            )
            assert (code, message) == (
                "ValidationException",
                "The maximum length of all keys and values in the Environment maps of a model's "
                f"containers, combined, is 32 KB (32768 bytes); this model's is {size} bytes.",
            )
            assert error_of(sm.describe_model, ModelName=name)[0] == "ValidationException"
    finally:
        sm.delete_model(ModelName="env-32kb")

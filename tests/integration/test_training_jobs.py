"""SageMaker training jobs in the local cloud: the FM trainer as a process, through boto3 and the
AWS CLI, from S3 channels to a model.tar.gz that an endpoint serves."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, WaiterError

from cdlab import notebook
from cdlab.fm.model import FMModel
from cdlab.localcloud import control
from cdlab.localcloud.sagemaker import artifacts
from cdlab.localcloud.sagemaker.images import fm_image_uri
from tests.conftest import free_port
from tests.polling import poll
from tests.roles import make_execution_roles
from tests.unit.test_train_container import (
    HYPERPARAMETERS,
    corrupt_at_record,
    dataset,
    recordio,
)

ROLE = "arn:aws:iam::123456789012:role/cdlab-training"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
LONG = HYPERPARAMETERS | {"epochs": "1000000"}


def finished(sm, name: str) -> dict:
    """Wait until the job ends (the waiter raises on Failed, which some tests expect) and
    describe it."""
    with contextlib.suppress(WaiterError):
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name)
    return sm.describe_training_job(TrainingJobName=name)


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def training_processes(name: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"cdlab.fm.train_container" in cmdline and name.encode() in cmdline:
                pids.append(int(proc.name))
    return pids


@pytest.fixture(scope="module")
def channels(s3, bucket: str) -> dict[str, str]:
    """The S3 prefixes of a small generated data set's train and test channels."""
    for channel, (rows, seed) in {"train": (800, 1), "test": (200, 2)}.items():
        s3.put_object(
            Bucket=bucket, Key=f"training/{channel}/part-0.rec", Body=recordio(*dataset(rows, seed))
        )
    return {c: f"s3://{bucket}/training/{c}/" for c in ("train", "test")}


@pytest.fixture(scope="module")
def create(sm, fm_image: str, bucket: str, channels: dict[str, str]) -> Callable[..., str]:
    """Create a training job on the small data set; keyword arguments change the request."""

    def create_job(
        name: str,
        hyperparameters: dict[str, str] = HYPERPARAMETERS,
        data: dict[str, str] = channels,
        image: str = fm_image,
        max_runtime: int = 600,
    ) -> str:
        sm.create_training_job(
            TrainingJobName=name,
            RoleArn=ROLE,
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            HyperParameters=hyperparameters,
            InputDataConfig=[
                {
                    "ChannelName": channel,
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
                    "ContentType": "application/x-recordio-protobuf",
                }
                for channel, uri in data.items()
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/training-output/"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": max_runtime},
        )
        return name

    return create_job


@pytest.fixture(scope="module")
def completed(sm, create) -> dict:
    return finished(sm, create("fm-small"))


@pytest.fixture(scope="module")
def serving(deploy) -> str:
    """An endpoint that must keep answering whatever the training jobs do."""
    return deploy("train-serving", {"AllTraffic": (1, 1, 1)})


def assert_serves(runtime, endpoint: str) -> None:
    body = json.dumps({"instances": [{"features": [1.0] + [0.0] * 19}]})
    r = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json", Body=body)
    assert "predictions" in json.loads(r["Body"].read())


def test_a_small_job_completes_through_sagemakers_statuses(completed: dict, bucket: str) -> None:
    assert completed["TrainingJobStatus"] == "Completed"
    assert completed["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in completed["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"
    ]  # fmt: skip
    assert completed["TrainingJobArn"].endswith(":training-job/fm-small")
    assert completed["ModelArtifacts"]["S3ModelArtifacts"] == (
        f"s3://{bucket}/training-output/fm-small/output/model.tar.gz"
    )
    assert completed["CreationTime"] <= completed["TrainingStartTime"]
    assert completed["TrainingStartTime"] < completed["TrainingEndTime"]
    assert completed["BillableTimeInSeconds"] >= 1
    metrics = {m["MetricName"]: m["Value"] for m in completed["FinalMetricDataList"]}
    assert metrics["test:binary_classification_accuracy"] > 0.8
    assert {"test:binary_classification_cross_entropy", "test:binary_f_beta"} <= set(metrics)


def test_its_model_is_in_s3_and_an_endpoint_serves_it(
    completed: dict, s3, sm, runtime, fm_image: str, tmp_path: Path
) -> None:
    url = completed["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = artifacts.split_s3_url(url)
    (tmp_path / "model.tar.gz").write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    artifacts.unpack(tmp_path / "model.tar.gz", tmp_path / "model")
    model = FMModel.load(tmp_path / "model")

    sm.create_model(ModelName="fm-small", PrimaryContainer={"Image": fm_image, "ModelDataUrl": url})
    sm.create_endpoint_config(
        EndpointConfigName="fm-small",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "fm-small",
             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="fm-small", EndpointConfigName="fm-small")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="fm-small")
    X, _ = dataset(5, 3)
    body = json.dumps({"instances": [{"features": row.tolist()} for row in X.toarray()]})
    r = runtime.invoke_endpoint(EndpointName="fm-small", ContentType="application/json", Body=body)
    scores = [p["score"] for p in json.loads(r["Body"].read())["predictions"]]
    assert scores == pytest.approx([p["score"] for p in model.predict(X)], rel=1e-5)
    sm.delete_endpoint(EndpointName="fm-small")


def test_its_log_lines_are_in_cloudwatch_logs(completed: dict, client) -> None:
    logs = client("logs")
    [stream] = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix="fm-small/")[
        "logStreams"
    ]
    start = int(completed["TrainingStartTime"].timestamp())
    assert stream["logStreamName"] == f"fm-small/algo-1-{start}"
    events = logs.get_log_events(
        logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"], startFromHead=True
    )["events"]
    messages = [e["message"] for e in events]
    assert any("#quality_metric: host=algo-1, epoch=9, train" in m for m in messages)
    assert any("#test_score (algo-1) : ('binary_classification_accuracy'" in m for m in messages)
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)


@pytest.mark.slow
def test_a_manifest_file_channel_trains_too(
    sm, s3, bucket: str, fm_image: str, channels: dict[str, str]
) -> None:
    """SDK v2's ``record_set`` names its channels with a ManifestFile."""
    manifest = [{"prefix": channels["train"]}, "part-0.rec"]
    s3.put_object(Bucket=bucket, Key="manifests/train", Body=json.dumps(manifest))
    sm.create_training_job(
        TrainingJobName="fm-manifest",
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": fm_image, "TrainingInputMode": "File"},
        HyperParameters=HYPERPARAMETERS,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile",
                        "S3Uri": f"s3://{bucket}/manifests/train",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/training-output"},
    )
    assert finished(sm, "fm-manifest")["TrainingJobStatus"] == "Completed"


@pytest.mark.slow
def test_aws_cli_waits_for_a_training_job(create, aws) -> None:
    create("fm-cli")
    aws("sagemaker", "wait", "training-job-completed-or-stopped", "--training-job-name", "fm-cli")
    described = json.loads(
        aws("sagemaker", "describe-training-job", "--training-job-name", "fm-cli").stdout
    )
    assert described["TrainingJobStatus"] == "Completed"


BAD_HYPERPARAMETERS = {
    "num-factors-abc": (
        {"num_factors": "abc"},
        "ClientError: Unable to initialize the algorithm. Failed to validate hyperparameters: "
        "num_factors must be an integer; got 'abc'.",
    ),
    "no-feature-dim": (
        {k: v for k, v in HYPERPARAMETERS.items() if k != "feature_dim"},
        "missing required hyperparameter(s): feature_dim",
    ),
    "unknown-name": ({"learning_rate": "0.1"}, "unknown hyperparameter(s): learning_rate"),
}


@pytest.mark.parametrize("case", BAD_HYPERPARAMETERS)
@pytest.mark.slow
def test_bad_hyperparameters_fail_the_job_and_the_cloud_keeps_serving(
    sm, runtime, create, serving: str, case: str
) -> None:
    change, expected = BAD_HYPERPARAMETERS[case]
    hyperparameters = change if case == "no-feature-dim" else HYPERPARAMETERS | change
    described = finished(sm, create(f"bad-{case}", hyperparameters))
    assert described["TrainingJobStatus"] == "Failed"
    assert described["SecondaryStatus"] == "Failed"
    assert expected in described["FailureReason"]
    assert "ModelArtifacts" not in described
    assert_serves(runtime, serving)


@pytest.mark.slow
def test_a_missing_train_channel_fails_the_job(
    sm, runtime, create, channels: dict[str, str], serving: str
) -> None:
    described = finished(sm, create("no-train-channel", data={"test": channels["test"]}))
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        "ClientError: Unable to initialize the algorithm. Failed to validate input data "
        "configuration: channel train is required (channels given: test)."
    )
    assert_serves(runtime, serving)


@pytest.mark.slow
def test_a_corrupt_recordio_file_fails_the_job(
    sm, s3, runtime, create, bucket: str, serving: str
) -> None:
    X, y = dataset(50, 1)
    data, offset = corrupt_at_record(recordio(X, y), X, y, 3)
    s3.put_object(Bucket=bucket, Key="corrupt/train/part-0.rec", Body=data)
    described = finished(
        sm, create("corrupt-recordio", data={"train": f"s3://{bucket}/corrupt/train/"})
    )
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        f"ClientError: Unable to read data channel 'train': file part-0.rec: record 3 at offset "
        f"{offset}: bad magic"
    )
    assert_serves(runtime, serving)


def test_an_unknown_image_fails_the_job_clearly(sm, create) -> None:
    described = finished(sm, create("unknown-image", image="123.dkr.ecr.amazonaws.com/algo"))
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        "ClientError: The image '123.dkr.ecr.amazonaws.com/algo' is not available in the local "
        "cloud"
    )


def log_lines(logs, name: str, from_head: bool) -> list[str]:
    """The first (or last) hundred lines of a training job's log stream."""
    [stream] = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")[
        "logStreams"
    ]
    return [
        e["message"]
        for e in logs.get_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream["logStreamName"],
            startFromHead=from_head,
            limit=100,
        )["events"]
    ]


@pytest.mark.slow
def test_stop_training_job_ends_a_long_job_stopped(sm, create, client) -> None:
    name = create("long-stopped", LONG)
    poll(
        lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"],
        until=lambda status: status == "Training",
        what=f"{name} to start training",
    )
    logs = client("logs")
    poll(
        lambda: log_lines(logs, name, from_head=True),
        until=lambda lines: any("#quality_metric" in line for line in lines),
        what=f"{name} to log an epoch",
    )
    assert training_processes(name)
    sm.stop_training_job(TrainingJobName=name)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in (
        "Stopping", "Stopped"
    )  # fmt: skip
    described = finished(sm, name)
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "Stopping" in [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert "ModelArtifacts" not in described
    assert training_processes(name) == []
    assert "SIGTERM received" in log_lines(logs, name, from_head=False)[-1]
    code, message = error_of(sm.stop_training_job, TrainingJobName=name)
    assert code == "ValidationException"
    assert message == "The request was rejected because the training job is in status Stopped."


def cli_error(result) -> str:
    """The AWS CLI's error line for a call that failed."""
    assert result.returncode != 0, result.stdout
    return result.stderr.strip().splitlines()[-1]


def log_streams(logs, name: str) -> list[str]:
    return [
        s["logStreamName"]
        for s in logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")[
            "logStreams"
        ]
    ]


@pytest.mark.slow
def test_delete_training_job_through_the_aws_cli(sm, s3, create, aws, client, cloud) -> None:
    name, job_dir = "del-cli", cloud.home / "training" / "del-cli"
    args = ("--training-job-name", name)
    create(name, LONG)
    assert cli_error(aws("sagemaker", "delete-training-job", *args, check=False)) == (
        "An error occurred (ResourceInUse) when calling the DeleteTrainingJob operation: The "
        "request was rejected because the training job is in status InProgress. Only a training "
        "job in status Completed, Failed or Stopped can be deleted."
    )
    aws("sagemaker", "stop-training-job", *args)
    aws("sagemaker", "wait", "training-job-completed-or-stopped", *args)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped"
    assert job_dir.is_dir()
    aws("sagemaker", "delete-training-job", *args)
    assert cli_error(aws("sagemaker", "describe-training-job", *args, check=False)) == (
        "An error occurred (ValidationException) when calling the DescribeTrainingJob operation: "
        "Requested resource not found."
    )
    assert not job_dir.exists()

    create(name)  # the name is free again
    completed = finished(sm, name)
    assert completed["TrainingJobStatus"] == "Completed"
    assert "Stopping" not in [t["Status"] for t in completed["SecondaryStatusTransitions"]]
    logs = client("logs")
    streams = log_streams(logs, name)
    aws("sagemaker", "delete-training-job", "--training-job-name", name.upper())
    assert not job_dir.exists()
    assert sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"] == []
    artifact = artifacts.split_s3_url(completed["ModelArtifacts"]["S3ModelArtifacts"])
    assert s3.head_object(Bucket=artifact[0], Key=artifact[1])["ContentLength"] > 0  # stays
    assert streams and log_streams(logs, name) == streams  # the logs stay too
    assert cli_error(aws("sagemaker", "delete-training-job", *args, check=False)) == (
        "An error occurred (ValidationException) when calling the DeleteTrainingJob operation: "
        "Requested resource not found."
    )


@pytest.mark.slow
def test_the_notebooks_cleanup_stops_and_deletes_training_jobs(sm, create) -> None:
    done, running = create("cln-done"), create("cln-running", LONG)
    assert finished(sm, done)["TrainingJobStatus"] == "Completed"
    jobs = {notebook.Leftover("training-job", done), notebook.Leftover("training-job", running)}
    assert set(notebook.leftovers("cln-")) == jobs
    assert set(notebook.clean("cln-").itertuples(index=False, name=None)) == {
        (job.kind, job.name) for job in jobs
    }
    assert notebook.leftovers("cln-") == []


@pytest.mark.slow
def test_max_runtime_stops_the_job_as_sagemaker_does(sm, create) -> None:
    described = finished(sm, create("long-max-runtime", LONG, max_runtime=1))
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert described["TrainingTimeInSeconds"] <= 3


@pytest.mark.slow
def test_list_training_jobs_filters_sorts_and_pages(sm, create) -> None:
    good, bad = create("lst-good"), create("lst-bad", HYPERPARAMETERS | {"epochs": "0"})
    finished(sm, good), finished(sm, bad)

    def names(**params) -> list[str]:
        page = sm.list_training_jobs(NameContains="lst-", **params)
        return [s["TrainingJobName"] for s in page["TrainingJobSummaries"]]

    assert names(SortBy="Name", SortOrder="Ascending") == ["lst-bad", "lst-good"]
    assert names() == ["lst-bad", "lst-good"]  # newest first
    assert names(SortBy="Status", SortOrder="Ascending") == ["lst-good", "lst-bad"]
    assert names(StatusEquals="Completed") == ["lst-good"]
    assert names(StatusEquals="Failed") == ["lst-bad"]
    tomorrow = time.time() + 86_400
    assert names(LastModifiedTimeAfter=tomorrow) == []
    assert names(LastModifiedTimeBefore=tomorrow) == ["lst-bad", "lst-good"]
    assert names(WarmPoolStatusEquals="Available") == []  # no job keeps a warm pool here
    plan = "arn:aws:sagemaker:us-east-1:123456789012:training-plan/none"
    assert names(TrainingPlanArnEquals=plan) == []
    first = sm.list_training_jobs(NameContains="lst-", MaxResults=1)
    second = sm.list_training_jobs(NameContains="lst-", MaxResults=1, NextToken=first["NextToken"])
    assert [s["TrainingJobName"] for s in first["TrainingJobSummaries"]] == ["lst-bad"]
    assert [s["TrainingJobName"] for s in second["TrainingJobSummaries"]] == ["lst-good"]
    [summary] = second["TrainingJobSummaries"]
    assert summary["TrainingJobStatus"] == "Completed" and "TrainingEndTime" in summary


def test_invalid_requests_get_sagemakers_errors(sm, create, completed: dict, bucket: str) -> None:
    code, message = error_of(create, name="fm-small")
    assert code == "ResourceInUse"
    assert message == (
        "Training job names must be unique within an AWS account and region, and a training job "
        f"with this name already exists ({completed['TrainingJobArn']})"
    )
    for call in (sm.describe_training_job, sm.stop_training_job, sm.delete_training_job):
        assert error_of(call, TrainingJobName="no-such-job") == (
            "ValidationException",
            "Requested resource not found.",
        )
    code, message = error_of(create, name="no-data", data={"train": f"s3://{bucket}/nothing/"})
    assert code == "ValidationException"
    assert message.startswith(f'No S3 objects found under S3 URL "s3://{bucket}/nothing/"')
    code, message = error_of(create, name="elsewhere", image=fm_image_uri("us-west-2"))
    assert (code, message) == (
        "ValidationException",
        "Invalid DNS suffix 'amazonaws.com' for region 'us-west-2' in training image. Please "
        "provide the valid <region>.<dns-suffix>: 'us-east-1.amazonaws.com'",
    )
    code, message = error_of(sm.stop_training_job, TrainingJobName="fm-small")
    assert message == "The request was rejected because the training job is in status Completed."
    with pytest.raises(ClientError, match="Requested resource not found"):
        sm.describe_training_job(TrainingJobName="no-data")


@pytest.mark.slow
def test_a_job_in_progress_when_the_cloud_stops_comes_back_failed(tmp_path, monkeypatch) -> None:
    home, port = tmp_path / "home", free_port()
    control.up(home, port, with_parent=True)
    try:
        for key, value in control.client_environment(home, port).items():
            monkeypatch.setenv(key, value)
        session = boto3.Session()
        sm, s3 = session.client("sagemaker"), session.client("s3")
        make_execution_roles(session.client("iam"))
        s3.create_bucket(Bucket="restart-training")
        s3.put_object(Bucket="restart-training", Key="train/0.rec", Body=recordio(*dataset(50, 1)))
        sm.create_training_job(
            TrainingJobName="interrupted",
            RoleArn=ROLE,
            AlgorithmSpecification={
                "TrainingImage": fm_image_uri("us-east-1"),
                "TrainingInputMode": "File",
            },
            HyperParameters=LONG,
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "s3://restart-training/train/",
                        }
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": "s3://restart-training/output"},
        )
        poll(
            lambda: sm.describe_training_job(TrainingJobName="interrupted")["SecondaryStatus"],
            until=lambda status: status == "Training",
            what="interrupted to start training",
        )
        assert control.down(home)
        assert training_processes("interrupted") == []
        control.up(home, port, with_parent=True)
        described = (
            boto3.Session().client("sagemaker").describe_training_job(TrainingJobName="interrupted")
        )
        assert described["TrainingJobStatus"] == "Failed"
        assert "the local cloud restarted during training" in described["FailureReason"]
        assert not (home / "training" / "interrupted" / "input" / "data").exists()
    finally:
        control.down(home)


def test_the_copied_input_data_is_deleted_and_the_model_kept(completed: dict, cloud) -> None:
    job_dir = cloud.home / "training" / "fm-small"
    assert not (job_dir / "input" / "data").exists()
    assert FMModel.load(job_dir / "model").feature_dim == int(HYPERPARAMETERS["feature_dim"])

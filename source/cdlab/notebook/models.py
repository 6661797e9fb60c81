"""The data and models notebooks about serving need, made on demand or reused: the prepared
training and test channels and trained models."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from cdlab.fm.trainer import RECOMMENDED_HYPERPARAMETERS
from cdlab.notebook import clock
from cdlab.notebook.workspace import PREFIX, ensure_bucket, workdir
from cdlab.steps import prepare
from cdlab.steps.training import fm_image, job_request, wait

TRAINING_PREFIX = f"{PREFIX}-fm"
RESULT_KEY = "prepdata/prepdata_result.json"
GLUE_DATABASE = "cdlab_notebooks"


def channels(bucket: str) -> dict[str, Any]:
    """The training and test channels in ``bucket`` (``prepdata_result.json`` as a dict).

    Prepared once by the deck's ``predata`` step (generated MovieLens data offline, one-hot,
    recordio-protobuf) and reused while the result and both channels are still in S3.
    """
    ensure_bucket(bucket)
    s3 = boto3.client("s3")
    try:
        result = json.loads(s3.get_object(Bucket=bucket, Key=RESULT_KEY)["Body"].read())
        for uri in (result["train"], result["test"]):
            s3.head_object(Bucket=bucket, Key=uri.split("/", 3)[3])
        return result
    except ClientError:
        pass
    result = prepare.run(bucket, GLUE_DATABASE, None, workdir(), log=lambda line: None)
    s3.put_object(Bucket=bucket, Key=RESULT_KEY, Body=json.dumps(result).encode())
    return result


def _artifact_exists(uri: str) -> bool:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    try:
        boto3.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def trained_model(bucket: str, role: str, **hyperparameters: str) -> str:
    """The S3 URL of a Factorization Machines model trained with these hyperparameters.

    Runs a SageMaker training job (as notebook 02 shows), printing its statuses as they come, or
    reuses a completed one with the same hyperparameters whose artifact is still in ``bucket``
    (and says which). Notebooks that are about serving call this instead of repeating the
    training notebook.
    """
    sm = boto3.client("sagemaker")
    prepared = channels(bucket)
    hp = {
        **RECOMMENDED_HYPERPARAMETERS,
        **hyperparameters,
        "feature_dim": str(prepared["feature_dim"]),
    }
    jobs = sm.list_training_jobs(
        NameContains=TRAINING_PREFIX,
        StatusEquals="Completed",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=100,
    )["TrainingJobSummaries"]
    for summary in jobs:
        job = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        model_data = job["ModelArtifacts"]["S3ModelArtifacts"]
        same = job["HyperParameters"] == hp and model_data.startswith(f"s3://{bucket}/")
        if same and _artifact_exists(model_data):
            print(f"model of training job {summary['TrainingJobName']}: {model_data}")
            return model_data
    name = f"{TRAINING_PREFIX}-{time.time_ns() // 1_000_000}"
    image = fm_image()
    print(f"training job {name} (no earlier job with these hyperparameters):")
    sm.create_training_job(**job_request(name, role, bucket, prepared, hp, image))
    job = wait(sm, name, log=print, polls=clock.polls())
    print(f"  {job['TrainingJobStatus']}: {job.get('ModelArtifacts', {}).get('S3ModelArtifacts')}")
    if job["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"training job {name} ended {job['TrainingJobStatus']}: {job}")
    return job["ModelArtifacts"]["S3ModelArtifacts"]

"""train: a SageMaker training job of the built-in Factorization Machines, then the deploy inputs.

After the job completes, the CloudFormation configuration files are rewritten with what the
deploy stages need (CommitID, Timestamp, ModelData, ContainerImage), keeping every committed
value, and ``train_result.json`` records the job.

Hyperparameters: the built-in algorithm's recommended values, then ``source/hyperparameters.json``
when the commit has one (so a participant changes the model by committing a change, as in a real
CD pipeline), then the JSON object in ``$CDLAB_HYPERPARAMETERS`` (a build's environment override, as
``aws codebuild start-build --environment-variables-override`` gives one), then
``train.py -p NAME=VALUE``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3

from cdlab import cloud_clock, target
from cdlab.fm.trainer import RECOMMENDED_HYPERPARAMETERS
from cdlab.localcloud.sagemaker.images import fm_image_uri
from cdlab.steps.prepare import RESULT_FILE

CONFIG_FILES = ("configuration_qa.json", "configuration_prod.json")
HYPERPARAMETERS_FILE = Path("source") / "hyperparameters.json"
HYPERPARAMETERS_ENV = "CDLAB_HYPERPARAMETERS"
TRAIN_RESULT_FILE = "train_result.json"
MAX_NAME = 63
DONE = ("Completed", "Failed", "Stopped")
FIRST_POLL, MOST_POLL = 0.25, 10.0  # seconds between two polls of the job


class TrainingFailed(RuntimeError):
    pass


def parse_hyperparameter(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as a pair (for command lines)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _object(text: str, where: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where} is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must hold a JSON object of hyperparameters")
    return {str(k): str(v) for k, v in value.items()}


def configured_hyperparameters(workdir: Path) -> dict[str, tuple[str, str]]:
    """The committed file's and the environment's hyperparameters, as ``{name: (value, from)}``."""
    given = []
    if (workdir / HYPERPARAMETERS_FILE).exists():
        given.append((str(HYPERPARAMETERS_FILE), (workdir / HYPERPARAMETERS_FILE).read_text()))
    if os.environ.get(HYPERPARAMETERS_ENV):
        given.append((f"${HYPERPARAMETERS_ENV}", os.environ[HYPERPARAMETERS_ENV]))
    found: dict[str, tuple[str, str]] = {}
    for origin, text in given:
        found.update({k: (v, origin) for k, v in _object(text, origin).items()})
    return found


def short_commit(commit: str) -> str:
    """The commit as the templates' CommitID parameter takes it: lowercase alphanumerics, 8 max."""
    cleaned = re.sub(r"[^a-z0-9]", "", commit.lower())[:8]
    if not cleaned:
        raise ValueError(f"commit id {commit!r} has no letters or digits")
    return cleaned


def job_name(stack: str, commit: str, timestamp: str) -> str:
    suffix = f"-{commit}-{timestamp}"
    return stack[: MAX_NAME - len(suffix)].rstrip("-") + suffix


def channel(name: str, uri: str) -> dict[str, Any]:
    """An ``InputDataConfig`` entry: the S3 prefix of one recordio-protobuf channel."""
    prefix = uri.rsplit("/", 1)[0] + "/"
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": prefix,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
        "ContentType": "application/x-recordio-protobuf",
    }


def backoff() -> Iterator[float]:
    """Seconds between two polls: from a quarter of a second, backing off to 10 s of the
    target's time (on the local cloud at ``CDLAB_TIME_SCALE=60``, a quarter of a second still:
    the job's training is real work, and it ends then, not up to 10 s later)."""
    delay, most = FIRST_POLL, max(FIRST_POLL, MOST_POLL / cloud_clock.time_scale())
    while True:
        yield delay
        delay = min(delay * 1.5, most)


def wait(
    sm: Any, name: str, log: Callable[[str], None], polls: Iterator[float] | None = None
) -> dict[str, Any]:
    """Poll the job, printing each new secondary status, until it ends; ``polls``: the seconds
    to sleep between two polls (default :func:`backoff`)."""
    seen = 0
    polls = polls or backoff()
    while True:
        job = sm.describe_training_job(TrainingJobName=name)
        transitions = job.get("SecondaryStatusTransitions", [])
        for transition in transitions[seen:]:
            log(f"  {transition['Status']}: {transition.get('StatusMessage', '')}")
        seen = len(transitions)
        if job["TrainingJobStatus"] in DONE:
            return job
        time.sleep(next(polls))


def update_configurations(config_dir: Path, parameters: dict[str, str]) -> None:
    for name in CONFIG_FILES:
        path = config_dir / name
        document = json.loads(path.read_text())
        document.setdefault("Parameters", {}).update(parameters)
        path.write_text(json.dumps(document, indent=2) + "\n")


def fm_image() -> str:
    """The built-in Factorization Machines image of the region the SageMaker client calls
    (:func:`cdlab.target.region`, which ``aws configure`` alone may name): each region has its own
    (https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html),
    and the model made from the job must use one of its own region
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html)."""
    return fm_image_uri(target.region())


def job_request(
    name: str, role: str, bucket: str, prepared: dict[str, Any], hp: dict[str, str], image: str
) -> dict[str, Any]:
    """CreateTrainingJob's arguments for the FM image on the channels ``predata`` prepared."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": role,
        "InputDataConfig": [
            channel("train", prepared["train"]),
            channel("test", prepared["test"]),
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
        "ResourceConfig": {
            "InstanceType": "ml.c5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": hp,
    }


def run(
    role: str,
    bucket: str,
    stack: str,
    commit: str,
    workdir: Path,
    config_dir: Path,
    hyperparameters: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    prepared = json.loads((workdir / RESULT_FILE).read_text())
    timestamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    commit_id = short_commit(commit)
    name = job_name(stack, commit_id, timestamp)
    image = fm_image()
    configured = configured_hyperparameters(workdir)
    hp = {
        **RECOMMENDED_HYPERPARAMETERS,
        "feature_dim": str(prepared["feature_dim"]),
        **{k: value for k, (value, _) in configured.items()},
        **(hyperparameters or {}),
    }
    sm = boto3.client("sagemaker")
    log(f"starting training job {name} ({image})")
    for key, (value, origin) in sorted(configured.items()):
        log(f"hyperparameter {key}={value} from {origin}")
    log("hyperparameters: " + ", ".join(f"{k}={v}" for k, v in sorted(hp.items())))
    sm.create_training_job(**job_request(name, role, bucket, prepared, hp, image))
    job = wait(sm, name, log)
    if job["TrainingJobStatus"] != "Completed":
        raise TrainingFailed(
            f"training job {name} ended {job['TrainingJobStatus']}: "
            f"{job.get('FailureReason', 'no reason given')}"
        )
    metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
    for metric, value in sorted(metrics.items()):
        log(f"  {metric} = {value:.4f}")
    model_data = job["ModelArtifacts"]["S3ModelArtifacts"]
    parameters = {
        "CommitID": commit_id,
        "Timestamp": timestamp,
        "ModelData": model_data,
        "ContainerImage": image,
    }
    update_configurations(config_dir, parameters)
    result = {"TrainingJobName": name, **parameters, "Metrics": metrics}
    (workdir / TRAIN_RESULT_FILE).write_text(json.dumps(result, indent=2))
    log(f"model at {model_data}; deploy parameters written to {', '.join(CONFIG_FILES)}")
    return result

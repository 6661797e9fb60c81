"""Small helpers the notebooks share: data and models on demand, traffic, plots, cleanup.

Everything goes through boto3 from the environment that ``cdlab.target.ready`` set, so a notebook
that uses these helpers runs unchanged on the local cloud and on AWS. Names are the notebooks' own:
every resource a notebook creates has a name that contains its prefix (``cdlab-nb03`` ...), which
is how ``clean`` finds the leftovers of an earlier run, and how the cleanup notebook finds them all.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from botocore.exceptions import ClientError
from matplotlib.figure import Figure

from cdlab import config, data, target
from cdlab.fm.model import FMModel, artifact_bytes
from cdlab.fm.trainer import RECOMMENDED_HYPERPARAMETERS
from cdlab.localcloud.sagemaker.images import fm_image_uri
from cdlab.steps import prepare
from cdlab.steps.training import channel as channel  # notebooks show the request with it
from cdlab.steps.training import job_request, wait

PREFIX = "cdlab-nb"
TRAINING_PREFIX = f"{PREFIX}-fm"
RESULT_KEY = "prepdata/prepdata_result.json"
GLUE_DATABASE = "cdlab_notebooks"
ENDPOINT_LOGS = "/aws/sagemaker/Endpoints/"
TRAFFIC_LIMIT_SECONDS = 300.0


def repository() -> Path:
    """The kit's checkout (the folder holding ``cloudformation/``): found from the working
    directory up, else from this package's own location (an editable install)."""
    for folder in (Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents):
        if (folder / "cloudformation" / "endpoint.yml").is_file():
            return folder
    raise FileNotFoundError("no cloudformation/endpoint.yml above the working directory")


def workdir() -> Path:
    """Where notebooks keep local files (the MovieLens files, the prepared result)."""
    path = config.home() / "notebooks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_bucket(bucket: str) -> None:
    s3 = boto3.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        region = s3.meta.region_name
        where = {} if region == "us-east-1" else {"LocationConstraint": region}
        s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {}))


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

    Runs a SageMaker training job (as notebook 02 shows), or reuses a completed one with the same
    hyperparameters whose artifact is still in ``bucket``. Notebooks that are about serving call
    this instead of repeating the training notebook.
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
            return model_data
    name = f"{TRAINING_PREFIX}-{time.time_ns() // 1_000_000}"
    image = fm_image_uri(config.region())
    sm.create_training_job(**job_request(name, role, bucket, prepared, hp, image))
    job = wait(sm, name, log=lambda line: None)
    if job["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"training job {name} ended {job['TrainingJobStatus']}: {job}")
    return job["ModelArtifacts"]["S3ModelArtifacts"]


def held_out_request(rows: int, offset: int = 0) -> tuple[bytes, list[int]]:
    """A JSON request of ``rows`` held-out ratings (sparse one-hot) and their labels."""
    generated = data.prepare(None, workdir())
    ratings = data.load_ratings(generated, "ua.test")
    X = data.one_hot(ratings, data.N_USERS, data.N_ITEMS)[offset : offset + rows]
    instances = [
        {"data": {"features": {"keys": r.indices.tolist(), "shape": [X.shape[1]],
                               "values": r.data.tolist()}}}
        for r in X
    ]  # fmt: skip
    labels = ratings.labels()[offset : offset + rows].astype(int).tolist()
    return json.dumps({"instances": instances}).encode(), labels


def predict(endpoint: str, body: bytes, **extra: str) -> tuple[str, list[dict[str, float]]]:
    """Invoke ``endpoint``; returns the variant that answered and its predictions."""
    answer = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=body, **extra
    )
    return answer["InvokedProductionVariant"], json.loads(answer["Body"].read())["predictions"]


@dataclass(frozen=True)
class Answer:
    time: float
    variant: str
    score: float | None
    error: str | None


class Traffic:
    """Invokes an endpoint from background threads and records every answer.

    Each record is (seconds since start, variant, score of the first prediction, error). Use it as
    a context manager around what should happen under live traffic; ``frame()`` gives the records
    as a DataFrame. It stops by itself after ``limit`` seconds.
    """

    def __init__(
        self,
        endpoint: str,
        body: bytes,
        threads: int = 2,
        rate: float | None = None,
        limit: float = TRAFFIC_LIMIT_SECONDS,
    ) -> None:
        """``rate``: requests per second in all (paced, each thread its share); None: as fast
        as the endpoint answers."""
        self.endpoint, self.body, self.limit = endpoint, body, limit
        self.interval = threads / rate if rate else 0.0
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(threads)
        ]
        self.started = 0.0

    def _run(self, k: int) -> None:
        runtime = boto3.client("sagemaker-runtime")
        due = k * self.interval / len(self._threads)
        while not self._stop.is_set() and time.monotonic() - self.started < self.limit:
            sent = time.monotonic() - self.started
            try:
                answer = runtime.invoke_endpoint(
                    EndpointName=self.endpoint, ContentType="application/json", Body=self.body
                )
                score = json.loads(answer["Body"].read())["predictions"][0]["score"]
                record = Answer(sent, answer["InvokedProductionVariant"], score, None)
            except Exception as e:  # a failed request is data here, not a crash
                record = Answer(sent, "", None, f"{type(e).__name__}: {e}")
            with self._lock:
                self.answers.append(record)
            elapsed = time.monotonic() - self.started
            due = max(due + self.interval, elapsed)  # a slot missed while waiting is skipped
            self._stop.wait(due - elapsed)

    def start(self) -> Traffic:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def now(self) -> float:
        """Seconds since the traffic started: mark events with it."""
        return time.monotonic() - self.started

    def stop(self) -> pd.DataFrame:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return self.frame()

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def frame(self) -> pd.DataFrame:
        with self._lock:
            rows = list(self.answers)
        return pd.DataFrame(rows, columns=["time", "variant", "score", "error"])


def label_models(answers: pd.DataFrame, scores: dict[str, float]) -> pd.Series:
    """Which model gave each answer, by the score it gave the request (nearest known score);
    failed requests are labelled ``failed``."""
    names, known = list(scores), pd.Series(scores)

    def nearest(score: float | None) -> str:
        if score is None or pd.isna(score):
            return "failed"
        return names[int((known - score).abs().argmin())]

    return answers["score"].map(nearest)


def plot_over_time(
    answers: pd.DataFrame,
    by: pd.Series,
    title: str,
    events: dict[str, float] | None = None,
    bin_seconds: float = 0.5,
    share: bool = False,
) -> Figure:
    """Answers per group (model or variant) in time bins, stacked: counts, or shares when
    ``share``; vertical lines mark ``events`` (name -> seconds)."""
    bins = (answers["time"] // bin_seconds) * bin_seconds
    table = pd.crosstab(bins, by).sort_index()
    if share:
        table = table.div(table.sum(axis=1), axis=0)
    palette = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    colors = ["tab:red" if str(c).startswith("failed") else next(palette) for c in table.columns]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.stackplot(
        table.index, table.T.values, labels=table.columns, colors=colors, step="post", alpha=0.85
    )
    for name, at in (events or {}).items():
        ax.axvline(at, color="black", linestyle="--", linewidth=1)
        ax.annotate(name, (at, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize=8)  # fmt: skip
    ax.set_xlabel("seconds")
    ax.set_ylabel("share of answers" if share else f"answers per {bin_seconds:g} s")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def time_scale() -> float:
    """How many times faster than real time CloudWatch minutes, cooldowns and bake times pass on
    the target: 1 on AWS; on the local cloud the ``CDLAB_TIME_SCALE`` it was started with, as its
    health check reports it, else this kernel's own (``make lab`` sets both the same)."""
    if target.current() == "aws":
        return 1.0
    url = f"{os.environ['AWS_ENDPOINT_URL']}/_cdlab/health"
    with (
        contextlib.suppress(OSError, ValueError, KeyError),
        urllib.request.urlopen(url, timeout=2) as response,
    ):
        return float(json.load(response)["time_scale"])
    return config.time_scale()


def watch_endpoint(
    endpoint: str,
    since: float,
    until: Callable[[dict[str, Any]], bool],
    timeout: float,
    every: float = 0.2,
    alarm: str | None = None,
) -> pd.DataFrame:
    """Poll DescribeEndpoint (and ``alarm``'s state) until ``until(description)`` or ``timeout``
    seconds; one row per poll: seconds since ``since`` (a ``time.monotonic()``), status, config,
    instances of the first variant, alarm state, and the pending deployment's message."""
    sm, cloudwatch = boto3.client("sagemaker"), boto3.client("cloudwatch")
    rows = []
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=endpoint)
        pending = described.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
        messages = [v["VariantStatus"][0].get("StatusMessage", "") for v in pending
                    if v.get("VariantStatus")]  # fmt: skip
        state = None
        if alarm is not None:
            alarms = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
            state = alarms[0]["StateValue"] if alarms else None
        rows.append(
            {
                "time": time.monotonic() - since,
                "status": described["EndpointStatus"],
                "config": described["EndpointConfigName"],
                "instances": described["ProductionVariants"][0].get("CurrentInstanceCount"),
                "alarm": state,
                "message": "; ".join(m for m in messages if m),
            }
        )
        if until(described) or time.monotonic() > deadline:
            return pd.DataFrame(rows)
        time.sleep(every)


def corrupted_copy(model_data: str, features: list[int]) -> str:
    """A copy of a model artifact whose linear weights for ``features`` are NaN, next to it in S3:
    a corrupted model, which answers every row that sets one of them with an error (HTTP 500
    from the container, ``ModelError`` to the caller) and the other rows correctly."""
    bucket, key = model_data.removeprefix("s3://").split("/", 1)
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(fileobj=io.BytesIO(body)) as archive:
            archive.extractall(folder, filter="data")
        model = FMModel.load(Path(folder))
    w = model.w.copy()
    w[features] = np.nan
    corrupted = FMModel(model.w0, w, model.V, model.predictor_type)
    corrupted_key = f"{key.rsplit('/', 1)[0]}/corrupted/model.tar.gz"
    s3.put_object(Bucket=bucket, Key=corrupted_key, Body=artifact_bytes(corrupted))
    return f"s3://{bucket}/{corrupted_key}"


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str


def _contains(prefix: str, names: list[str]) -> list[str]:
    return [name for name in names if prefix in name]


def leftovers(prefix: str = PREFIX) -> list[Leftover]:
    """Everything whose name contains ``prefix``: stacks, scaling targets, alarms, endpoints,
    endpoint configs and models (in the order they must be deleted). Endpoint log groups are not
    in it: like SageMaker, the local cloud keeps an endpoint's logs after the endpoint is gone
    (see ``log_groups``)."""
    sm, cfn = boto3.client("sagemaker"), boto3.client("cloudformation")
    autoscaling, cloudwatch = boto3.client("application-autoscaling"), boto3.client("cloudwatch")
    stacks = [
        s["StackName"]
        for page in cfn.get_paginator("list_stacks").paginate()
        for s in page["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    targets = [
        t["ResourceId"]
        for t in autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")[
            "ScalableTargets"
        ]
    ]
    alarms = [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]]
    listed = {
        "endpoint": [
            e["EndpointName"]
            for page in sm.get_paginator("list_endpoints").paginate(NameContains=prefix)
            for e in page["Endpoints"]
        ],
        "endpoint-config": [
            c["EndpointConfigName"]
            for page in sm.get_paginator("list_endpoint_configs").paginate(NameContains=prefix)
            for c in page["EndpointConfigs"]
        ],
        "model": [
            m["ModelName"]
            for page in sm.get_paginator("list_models").paginate(NameContains=prefix)
            for m in page["Models"]
        ],
    }
    found = [Leftover("stack", n) for n in _contains(prefix, stacks)]
    found += [Leftover("scalable-target", n) for n in _contains(prefix, targets)]
    found += [Leftover("alarm", n) for n in _contains(prefix, alarms)]
    for kind, names in listed.items():
        found += [Leftover(kind, n) for n in names]
    return found


def log_groups(prefix: str = PREFIX) -> list[str]:
    """The CloudWatch Logs groups of endpoints whose names contain ``prefix``."""
    pages = boto3.client("logs").get_paginator("describe_log_groups")
    return [
        g["logGroupName"]
        for page in pages.paginate(logGroupNamePrefix=ENDPOINT_LOGS)
        for g in page["logGroups"]
        if prefix in g["logGroupName"]
    ]


def clean(prefix: str) -> pd.DataFrame:
    """Delete everything ``leftovers(prefix)`` finds and wait until it is gone; returns what was
    deleted. Safe to call when nothing is left."""
    sm, cfn = boto3.client("sagemaker"), boto3.client("cloudformation")
    autoscaling, cloudwatch = boto3.client("application-autoscaling"), boto3.client("cloudwatch")
    found = leftovers(prefix)
    stacks = [item.name for item in found if item.kind == "stack"]
    for stack in stacks:
        cfn.delete_stack(StackName=stack)
    for stack in stacks:
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack)
    rest = leftovers(prefix)
    endpoints = []
    for item in rest:
        if item.kind == "scalable-target":
            autoscaling.deregister_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=item.name,
                ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            )
        elif item.kind == "alarm":
            cloudwatch.delete_alarms(AlarmNames=[item.name])
        elif item.kind == "endpoint":
            sm.delete_endpoint(EndpointName=item.name)
            endpoints.append(item.name)
    for endpoint in endpoints:
        sm.get_waiter("endpoint_deleted").wait(EndpointName=endpoint)
    for item in rest:
        if item.kind == "endpoint-config":
            sm.delete_endpoint_config(EndpointConfigName=item.name)
        elif item.kind == "model":
            sm.delete_model(ModelName=item.name)
    deleted = found + [item for item in rest if item not in found]
    return pd.DataFrame(deleted, columns=["kind", "name"])


# ----------------------------------------------------------------------------- Lab 3: the pipeline
MATCH_RATE = re.compile(r"Match Rate: ([0-9.]+)|match rate\s+([0-9.]+)")
PIPELINE_DONE = ("Succeeded", "Failed", "Stopped", "Superseded")


@dataclass(frozen=True)
class PipelineRun:
    commit: str
    succeeded: bool
    match_rate: float | None
    output: str


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def lab_checkout(destination: Path) -> Path:
    """A fresh clone of the kit's checkout for the lab's commits, so the lab never commits to
    yours; an earlier run's clone is replaced."""
    shutil.rmtree(destination, ignore_errors=True)
    subprocess.run(
        ["git", "clone", "--quiet", str(repository()), str(destination)],
        check=True,
        capture_output=True,
    )
    _git(destination, "config", "user.name", "CD Lab participant")
    _git(destination, "config", "user.email", "participant@cdlab.invalid")
    return destination


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    """Write ``files`` (path -> text) into ``repo`` and commit them; returns the short commit."""
    for name, text in files.items():
        (repo / name).write_text(text)
        _git(repo, "add", name)
    _git(repo, "commit", "--quiet", "-m", message)
    return _git(repo, "rev-parse", "--short=8", "HEAD")


def run_pipeline(repo: Path, stack: str, approve: bool = True) -> PipelineRun:
    """Run the pipeline on ``repo``'s HEAD and wait for it to end.

    The one place where the target decides *who* runs the pipeline: on ``local`` the kit reads
    pipeline.yml and runs its stages (``cdlab pipeline run``); on ``aws`` CodePipeline does, started
    by uploading the commit's archive to the pipeline stack's source bucket.
    """
    head = _git(repo, "rev-parse", "--short=8", "HEAD")
    if target.current() == "aws":
        succeeded, output = _run_on_aws(repo, stack, approve)
    else:
        command = [sys.executable, "-m", "cdlab.cli", "pipeline", "run", "--stack-name", stack]
        result = subprocess.run(
            command + (["--approve"] if approve else []),
            cwd=repo,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        succeeded, output = result.returncode == 0, result.stdout + result.stderr
    rates = [float(a or b) for a, b in MATCH_RATE.findall(output)]
    return PipelineRun(head, succeeded, rates[-1] if rates else None, output)


def _run_on_aws(repo: Path, stack: str, approve: bool, timeout: float = 3600) -> tuple[bool, str]:
    stacks = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0]["Outputs"]}
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=zip", "HEAD"], capture_output=True, check=True
    ).stdout
    version = boto3.client("s3").put_object(
        Bucket=outputs["SourceBucket"], Key=outputs["SourceObjectKey"], Body=archive
    )["VersionId"]
    pipeline, codepipeline = outputs["PipelineName"], boto3.client("codepipeline")
    deadline = time.monotonic() + timeout
    execution = None
    while execution is None and time.monotonic() < deadline:
        for summary in codepipeline.list_pipeline_executions(pipelineName=pipeline)[
            "pipelineExecutionSummaries"
        ]:
            revisions = [r.get("revisionId") for r in summary.get("sourceRevisions", [])]
            if version in revisions:
                execution = summary["pipelineExecutionId"]
        time.sleep(5)
    status = "not started"
    while execution and time.monotonic() < deadline:
        status = codepipeline.get_pipeline_execution(
            pipelineName=pipeline, pipelineExecutionId=execution
        )["pipelineExecution"]["status"]
        if status in PIPELINE_DONE:
            break
        for stage in codepipeline.get_pipeline_state(name=pipeline)["stageStates"]:
            for action in stage.get("actionStates", []):
                latest = action.get("latestExecution", {})
                if approve and latest.get("status") == "InProgress" and "token" in latest:
                    codepipeline.put_approval_result(
                        pipelineName=pipeline,
                        stageName=stage["stageName"],
                        actionName=action["actionName"],
                        result={
                            "summary": "approved from the Lab 3 notebook",
                            "status": "Approved",
                        },
                        token=latest["token"],
                    )
        time.sleep(10)
    states = codepipeline.get_pipeline_state(name=pipeline)["stageStates"]
    lines = [f"{s['stageName']}: {s.get('latestExecution', {}).get('status', '-')}" for s in states]
    return (
        status == "Succeeded",
        f"pipeline {pipeline} execution {execution}: {status}\n" + "\n".join(lines),
    )

"""SageMaker training jobs: the algorithm an image names, run as a process in SageMaker's layout.

CreateTrainingJob copies each channel's S3 objects (moto's S3, in-process) into
``<home>/training/<job>/input/data/<channel>/``, writes ``input/config/*.json`` and runs the
image's trainer (:func:`images.training_module`) with that directory as its ``/opt/ml``. Every
line the trainer prints goes to CloudWatch Logs (group ``/aws/sagemaker/TrainingJobs``, stream
``<job>/algo-1-<epoch seconds>``; moto's, through :mod:`logarchive`, which keeps the lines across
restarts), and the algorithm's metric definitions (shown in
``AlgorithmSpecification.MetricDefinitions``, as SageMaker shows them for a built-in) turn those
lines into ``FinalMetricDataList``. The model dir is tarred to
``<S3OutputPath>/<job>/output/model.tar.gz`` and kept under the job dir; the copied input data is
deleted when the job ends.

Statuses follow SageMaker: InProgress (SecondaryStatus Starting, Downloading, Training, Uploading)
then Completed, or Failed with the trainer's ``output/failure`` file as FailureReason.
StopTrainingJob: Stopping, then Stopped. StoppingCondition.MaxRuntimeInSeconds (real seconds:
``CDLAB_TIME_SCALE`` compresses waiting, and training is work) ends the job as SageMaker does: the
trainer gets SIGTERM and the job ends Stopped with SecondaryStatus MaxRuntimeExceeded. Job records
live in the Store; a job still in progress when the local cloud stopped comes back Failed.

A missing job is ``ValidationException: Requested resource not found.``, which is what SageMaker
answers, although botocore's model lists ResourceNotFound (aws/aws-sdk#165).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cdlab import config
from cdlab.localcloud.protocols.errors import ResourceInUse, ValidationException
from cdlab.localcloud.sagemaker import artifacts, images
from cdlab.localcloud.sagemaker.controlplane import arn, paginate
from cdlab.localcloud.state.logarchive import LogArchive
from cdlab.localcloud.state.store import Store

log = logging.getLogger("cdlab.training")


TRAINING_JOB = "training-job"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
HOST = "algo-1"
NOT_FOUND = "Requested resource not found."
DEFAULT_MAX_RUNTIME_SECONDS = 86_400
STOP_GRACE_SECONDS = 10.0  # SageMaker allows 120 s; the kit's trainer stops at once
LOG_FLUSH_SECONDS = 0.25
READ_CHUNK_BYTES = 65_536
MAX_FAILURE_CHARS = 1024
SUPPORTED_DATA_TYPES = ("S3Prefix", "ManifestFile")
FINISHED = ("Completed", "Failed", "Stopped")

_QUALITY = r"#quality_metric: host=\S+, test {} <{}>=(\S+)"
BUILTIN_METRICS: dict[str, list[dict[str, str]]] = {
    "factorization-machines": [
        {
            "Name": "test:binary_classification_accuracy",
            "Regex": _QUALITY.format("binary_classification_accuracy", "score"),
        },
        {
            "Name": "test:binary_classification_cross_entropy",
            "Regex": _QUALITY.format("binary_classification_cross_entropy", "loss"),
        },
        {"Name": "test:binary_f_beta", "Regex": _QUALITY.format(r"binary_f_\S+", "score")},
        {"Name": "test:rmse", "Regex": _QUALITY.format("rmse", "loss")},
        {
            "Name": "train:throughput",
            "Regex": r"#throughput_metric: host=\S+, train throughput=(\S+) records/second",
        },
    ]
}

STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped: it ran longer than MaxRuntimeInSeconds",
}


class JobFailed(Exception):
    """The job ends Failed; the message is its FailureReason."""


@dataclass(eq=False)
class _Run:
    """A job being run: its task, and whether (and why) it is to stop."""

    task: asyncio.Task[None] | None = None
    stop: str | None = None  # the SecondaryStatus it ends in: Stopped or MaxRuntimeExceeded
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


class _LogStream:
    """A job's CloudWatch Logs stream, written in batches.

    The puts are queued on moto's thread (see :mod:`logarchive`), in order, and the event loop
    does not wait for them.
    """

    def __init__(self, name: str, logs: LogArchive) -> None:
        self.name = name
        self.logs = logs
        self.pending: list[dict[str, Any]] = []
        self.last_line = ""
        logs.put(LOG_GROUP, name, [])  # the stream exists from the start, as in SageMaker

    def add(self, line: str) -> None:
        if line.strip():  # CloudWatch refuses empty messages
            self.pending.append({"timestamp": int(time.time() * 1000), "message": line})
            self.last_line = line

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.logs.put(LOG_GROUP, self.name, batch)

    async def flush_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.flush()


class _Metrics:
    """The last value of each metric definition's regex in the log lines, as SageMaker reports."""

    def __init__(self, definitions: list[dict[str, str]]) -> None:
        self.patterns = []
        for d in definitions:
            with contextlib.suppress(re.error):  # a Java-only construct: that metric is not seen
                self.patterns.append((d["Name"], re.compile(d["Regex"])))
        self.final: dict[str, dict[str, Any]] = {}

    def feed(self, line: str) -> None:
        for name, pattern in self.patterns:
            match = pattern.search(line)
            if match and match.groups():
                with contextlib.suppress(ValueError):
                    value = float(match.group(1))
                    if math.isfinite(value):
                        self.final[name] = {
                            "MetricName": name,
                            "Value": value,
                            "Timestamp": time.time(),
                        }

    def final_list(self) -> list[dict[str, Any]]:
        return list(self.final.values())


def _channel_objects(s3: artifacts.S3Objects, source: dict[str, Any]) -> list[tuple[str, str]]:
    """(S3 URL, path in the channel dir) of every object an S3DataSource names.

    S3Prefix: the objects under the prefix, named relative to the prefix's last ``/`` (as
    SageMaker places them); ManifestFile: ``[{"prefix": "s3://..."}, "key", ...]``.
    """
    uri = source["S3Uri"]
    if source["S3DataType"] == "ManifestFile":
        data = s3.read(uri)
        try:
            entries = json.loads(data) if data is not None else None
            prefix = entries[0]["prefix"]
            artifacts.split_s3_url(prefix, key_required=False)
            names = [str(name) for name in entries[1:]]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise ValidationException(
                f"The manifest file {uri} is missing or is not a JSON list of a "
                '{"prefix": "s3://bucket/prefix/"} object followed by relative keys.'
            ) from None
        return [(prefix + name, name) for name in names]
    bucket, prefix = artifacts.split_s3_url(uri, key_required=False)
    base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    return [
        (f"s3://{bucket}/{key}", key[len(base) :])
        for key in s3.keys(uri) or []
        if not key.endswith("/")
    ]


def _prepare(s3: artifacts.S3Objects, doc: dict[str, Any], job_dir: Path) -> None:
    """Lay out ``job_dir`` as SageMaker lays out ``/opt/ml``: config files and channel data."""
    shutil.rmtree(job_dir, ignore_errors=True)
    config_dir = job_dir / "input" / "config"
    config_dir.mkdir(parents=True)
    channels = doc.get("InputDataConfig", [])
    mode = doc["AlgorithmSpecification"]["TrainingInputMode"]
    input_config = {
        c["ChannelName"]: {
            **({"ContentType": c["ContentType"]} if c.get("ContentType") else {}),
            "TrainingInputMode": c.get("InputMode", mode),
            "S3DistributionType": c["DataSource"]["S3DataSource"].get(
                "S3DataDistributionType", "FullyReplicated"
            ),
            "RecordWrapperType": c.get("RecordWrapperType", "None"),
        }
        for c in channels
    }
    files = {
        "hyperparameters.json": doc.get("HyperParameters", {}),
        "inputdataconfig.json": input_config,
        "resourceconfig.json": {"current_host": HOST, "hosts": [HOST]},
    }
    for name, content in files.items():
        (config_dir / name).write_text(json.dumps(content))
    for channel in channels:
        target = job_dir / "input" / "data" / channel["ChannelName"]
        target.mkdir(parents=True)
        try:
            objects = _channel_objects(s3, channel["DataSource"]["S3DataSource"])
        except ValidationException as e:
            raise JobFailed(f"ClientError: Data download failed: {e.message}") from e
        for url, relative in objects:
            parts = PurePosixPath(relative).parts
            if not parts or relative.startswith("/") or ".." in parts:
                raise JobFailed(
                    f"ClientError: Data download failed: the object {url} cannot be placed in "
                    f"channel {channel['ChannelName']} (its name leaves the channel directory)."
                )
            data = s3.read(url)
            if data is None:
                raise JobFailed(f"ClientError: Data download failed: {url} does not exist.")
            path = target.joinpath(*parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def _upload(s3: artifacts.S3Objects, model_dir: Path, url: str) -> None:
    """Tar the model dir to ``url`` in S3 (a model.tar.gz with the dir's files at its top)."""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file()) if model_dir.is_dir() else []
    if not files:
        raise JobFailed(
            "AlgorithmError: the training process exited successfully but wrote no model to "
            "/opt/ml/model."
        )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in files:
            tar.add(path, arcname=str(path.relative_to(model_dir)))
    try:
        s3.write(url, buffer.getvalue())
    except artifacts.ArtifactError as e:
        raise JobFailed(f"ClientError: Unable to upload the model artifact: {e}") from e


def _failure_reason(job_dir: Path, returncode: int, last_line: str) -> str:
    try:
        reason = (job_dir / "output" / "failure").read_text(errors="replace").strip()
    except OSError:
        reason = ""
    if not reason:
        reason = (
            f"AlgorithmError: the training process exited with code {returncode}: "
            f"{last_line or '(no output)'}"
        )
    return reason[:MAX_FAILURE_CHARS]


async def _terminate(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, as SageMaker stops a job; SIGKILL if the process outlives the grace period."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class Training:
    """The training-job operations, named after the API (``create_training_job`` ...)."""

    def __init__(self, store: Store, home: Path, logs: LogArchive, s3: artifacts.S3Objects) -> None:
        self.store = store
        self.root = home / "training"
        self.logs = logs
        self.s3 = s3
        self.runs: dict[str, _Run] = {}

    # ---- records -------------------------------------------------------------------------

    def _get(self, name: str) -> dict[str, Any]:
        doc = self.store.get(TRAINING_JOB, name)
        if doc is None:
            raise ValidationException(NOT_FOUND)
        return doc

    def _absent(self, name: str) -> None:
        if self.store.get(TRAINING_JOB, name) is not None:
            raise ResourceInUse(
                "Training job names must be unique within an AWS account and region, and a "
                f"training job with this name already exists ({arn('training-job', name)})"
            )

    def _update(
        self, name: str, secondary: str | None = None, message: str | None = None, **changes: Any
    ) -> None:
        """Change the stored record, read afresh (StopTrainingJob may have changed it meanwhile),
        and record a SecondaryStatus transition if ``secondary`` is given."""
        doc = self._get(name)
        now = time.time()
        if secondary is not None:
            transitions = doc["SecondaryStatusTransitions"]
            transitions[-1].setdefault("EndTime", now)
            transitions.append(
                {
                    "Status": secondary,
                    "StartTime": now,
                    "StatusMessage": message or STATUS_MESSAGES[secondary],
                }
            )
            if changes.get("TrainingJobStatus") in FINISHED:
                transitions[-1]["EndTime"] = now
            doc["SecondaryStatus"] = secondary
        doc.update(changes)
        doc["LastModifiedTime"] = now
        self.store.put(TRAINING_JOB, name, doc)

    def _finish(self, name: str, status: str, secondary: str, **changes: Any) -> None:
        """End the job in ``status``, with SageMaker's end time and billable seconds."""
        doc = self._get(name)
        end = time.time()
        if "TrainingStartTime" in doc:
            seconds = max(1, round(end - doc["TrainingStartTime"]))
            changes |= {"TrainingTimeInSeconds": seconds, "BillableTimeInSeconds": seconds}
        message = changes.get("FailureReason") if status == "Failed" else None
        self._update(
            name, secondary, message, TrainingJobStatus=status, TrainingEndTime=end, **changes
        )
        log.info("training job %s is %s", name, status)

    # ---- operations ----------------------------------------------------------------------

    async def create_training_job(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["TrainingJobName"]
        self._absent(name)
        spec = dict(p.get("AlgorithmSpecification") or {})
        image = spec.get("TrainingImage")
        if not image:
            raise ValidationException(
                "The local cloud trains built-in algorithm images: give "
                "AlgorithmSpecification.TrainingImage (for Factorization Machines, "
                "sagemaker.core.image_uris.retrieve('factorization-machines', region))."
            )
        try:
            artifacts.split_s3_url(p["OutputDataConfig"]["S3OutputPath"], key_required=False)
        except artifacts.ArtifactError as e:
            raise ValidationException(f"OutputDataConfig.S3OutputPath: {e}") from None
        channels = p.get("InputDataConfig") or []
        self._check_channels(channels)
        loop = asyncio.get_running_loop()
        for channel in channels:
            source = channel["DataSource"]["S3DataSource"]
            if not await loop.run_in_executor(None, _channel_objects, self.s3, source):
                bucket, _ = artifacts.split_s3_url(source["S3Uri"], key_required=False)
                raise ValidationException(
                    f'No S3 objects found under S3 URL "{source["S3Uri"]}" given in input data '
                    f"source. Please ensure that the bucket exists in the selected region "
                    f"({config.region()}), that objects exist under that S3 prefix, and that the "
                    f'role "{p["RoleArn"]}" has "s3:ListBucket" permissions on bucket "{bucket}".'
                )
        self._absent(name)  # again: another request may have taken the name meanwhile
        algorithm = images.algorithm_of(image)
        if not spec.get("MetricDefinitions") and algorithm in BUILTIN_METRICS:
            spec["MetricDefinitions"] = BUILTIN_METRICS[algorithm]
        now = time.time()
        doc = {
            "TrainingJobName": name,
            "TrainingJobArn": arn("training-job", name),
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Starting",
            "CreationTime": now,
            "LastModifiedTime": now,
            "SecondaryStatusTransitions": [
                {
                    "Status": "Starting",
                    "StartTime": now,
                    "StatusMessage": STATUS_MESSAGES["Starting"],
                }
            ],
            "HyperParameters": {},
            "StoppingCondition": {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_SECONDS},
            "EnableNetworkIsolation": False,
            "EnableInterContainerTrafficEncryption": False,
            "EnableManagedSpotTraining": False,
            **{k: v for k, v in p.items() if k not in ("TrainingJobName", "Tags")},
            "AlgorithmSpecification": spec,
        }
        self.store.put(TRAINING_JOB, name, doc)
        run = _Run()
        self.runs[name.lower()] = run
        run.task = asyncio.create_task(self._run(name, run))
        return {"TrainingJobArn": doc["TrainingJobArn"]}

    @staticmethod
    def _check_channels(channels: list[dict[str, Any]]) -> None:
        names = [c["ChannelName"] for c in channels]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValidationException(
                f"Channel names must be unique; {', '.join(duplicated)} is given more than once."
            )
        for channel in channels:
            name = channel["ChannelName"]
            if name in (".", ".."):
                raise ValidationException(f"Channel name {name} is not a valid directory name.")
            source = channel["DataSource"].get("S3DataSource")
            if source is None:
                raise ValidationException(
                    f"Channel {name}: the local cloud reads channels from S3; give "
                    "DataSource.S3DataSource."
                )
            if source["S3DataType"] not in SUPPORTED_DATA_TYPES:
                raise ValidationException(
                    f"Channel {name}: S3DataType {source['S3DataType']} is not available in the "
                    f"local cloud; use {' or '.join(SUPPORTED_DATA_TYPES)}."
                )
            try:
                artifacts.split_s3_url(source["S3Uri"], key_required=False)
            except artifacts.ArtifactError as e:
                raise ValidationException(f"Channel {name}: {e}") from None

    def describe_training_job(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._get(p["TrainingJobName"])

    def list_training_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "TrainingJobName",
            "TrainingJobArn",
            "CreationTime",
            "TrainingEndTime",
            "LastModifiedTime",
            "TrainingJobStatus",
            "SecondaryStatus",
        )
        summaries = [{k: d[k] for k in keys if k in d} for d in self.store.all(TRAINING_JOB)]
        return paginate(
            summaries, p, "TrainingJobSummaries", "TrainingJobName", "TrainingJobStatus"
        )

    def stop_training_job(self, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._get(p["TrainingJobName"])
        name = doc["TrainingJobName"]
        if doc["TrainingJobStatus"] != "InProgress":
            raise ValidationException(
                "The request was rejected because the training job is in status "
                f"{doc['TrainingJobStatus']}."
            )
        self._request_stop(name, "Stopped")
        return {}

    def _request_stop(self, name: str, why: str) -> None:
        self._update(name, "Stopping", TrainingJobStatus="Stopping")
        run = self.runs.get(name.lower())
        if run is not None and run.stop is None:
            run.stop = why
            run.stopping.set()

    # ---- running a job -------------------------------------------------------------------

    async def _run(self, name: str, run: _Run) -> None:
        doc = self._get(name)
        job_dir = self.root / name
        loop = asyncio.get_running_loop()
        try:
            try:
                module = images.training_module(doc["AlgorithmSpecification"]["TrainingImage"])
            except images.UnknownImage as e:
                raise JobFailed(f"ClientError: {e}") from e
            start = time.time()
            self._update(name, "Downloading", TrainingStartTime=start)
            await loop.run_in_executor(None, _prepare, self.s3, doc, job_dir)
            metrics = _Metrics(doc["AlgorithmSpecification"].get("MetricDefinitions", []))
            returncode = None
            if run.stop is None:
                self._update(name, "Training")
                stream = _LogStream(f"{name}/{HOST}-{int(start)}", self.logs)
                deadline = start + doc["StoppingCondition"].get(
                    "MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS
                )
                returncode = await self._train(
                    name, module, job_dir, run, stream, metrics, deadline
                )
                if returncode != 0 and run.stop is None:
                    raise JobFailed(_failure_reason(job_dir, returncode, stream.last_line))
            await self._end(name, run, job_dir, returncode, metrics)
        except JobFailed as e:
            self._finish(name, "Failed", "Failed", FailureReason=str(e))
            log.warning("training job %s failed: %s", name, e)
        except Exception as e:
            log.exception("training job %s failed in the local cloud", name)
            self._finish(
                name,
                "Failed",
                "Failed",
                FailureReason=f"InternalServerError: the local cloud failed to run the job: {e}",
            )
        finally:
            shutil.rmtree(job_dir / "input" / "data", ignore_errors=True)
            if self.runs.get(name.lower()) is run:
                del self.runs[name.lower()]

    async def _end(
        self, name: str, run: _Run, job_dir: Path, returncode: int | None, metrics: _Metrics
    ) -> None:
        """Upload the model (if there is one) and end the job Completed or Stopped."""
        doc = self._get(name)
        changes: dict[str, Any] = {}
        if metrics.final:
            changes["FinalMetricDataList"] = metrics.final_list()
        if returncode == 0:
            output = doc["OutputDataConfig"]["S3OutputPath"].rstrip("/")
            url = f"{output}/{doc['TrainingJobName']}/output/model.tar.gz"
            if run.stop is None:
                self._update(name, "Uploading")
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, _upload, self.s3, job_dir / "model", url)
                changes["ModelArtifacts"] = {"S3ModelArtifacts": url}
            except JobFailed:
                if run.stop is None:
                    raise
        if run.stop is None:
            self._finish(name, "Completed", "Completed", **changes)
        else:
            self._finish(name, "Stopped", run.stop, **changes)

    async def _train(
        self,
        name: str,
        module: str,
        job_dir: Path,
        run: _Run,
        stream: _LogStream,
        metrics: _Metrics,
        deadline: float,
    ) -> int:
        """Run the trainer until it exits, is stopped, or runs past ``deadline``."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            "--job",
            name,
            "--root",
            str(job_dir),
            "--parent-pid",
            str(os.getpid()),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        pump = asyncio.create_task(self._pump(process.stdout, stream, metrics))
        flusher = asyncio.create_task(stream.flush_every(LOG_FLUSH_SECONDS))
        exited = asyncio.create_task(process.wait())
        stop = asyncio.create_task(run.stopping.wait())
        try:
            await asyncio.wait(
                (exited, stop),
                timeout=max(0.0, deadline - time.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not exited.done():
                if run.stop is None:
                    self._request_stop(name, "MaxRuntimeExceeded")
                await _terminate(process)
            await pump
        finally:
            for task in (stop, flusher, pump):
                task.cancel()
            if process.returncode is None:  # cancelled: the local cloud is stopping
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            await asyncio.gather(stop, flusher, pump, exited, return_exceptions=True)
            stream.flush()
        assert process.returncode is not None
        return process.returncode

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, stream: _LogStream, metrics: _Metrics) -> None:
        """Read the trainer's output line by line (however long a line is) into the log stream."""
        buffered = b""
        while chunk := await reader.read(READ_CHUNK_BYTES):
            *lines, buffered = (buffered + chunk).split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                stream.add(line)
                metrics.feed(line)
        if buffered:
            line = buffered.decode("utf-8", "replace")
            stream.add(line)
            metrics.feed(line)

    # ---- restart -------------------------------------------------------------------------

    def resume(self) -> None:
        """End the jobs whose process died with the last local cloud, as SageMaker would."""
        for doc in self.store.all(TRAINING_JOB):
            name = doc["TrainingJobName"]
            if doc["TrainingJobStatus"] not in ("InProgress", "Stopping"):
                continue
            shutil.rmtree(self.root / name / "input" / "data", ignore_errors=True)
            if doc["TrainingJobStatus"] == "Stopping":
                self._finish(name, "Stopped", "Stopped")
            else:
                self._finish(
                    name,
                    "Failed",
                    "Failed",
                    FailureReason=(
                        "InternalServerError: the local cloud restarted during training, which "
                        "ended the training process; create the job again under a new name."
                    ),
                )

    async def shutdown(self) -> None:
        """Stop every training process; the jobs stay InProgress until ``resume`` ends them."""
        tasks = [run.task for run in self.runs.values() if run.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

"""The trainer process of each training job: started, read, stopped, and accounted for.

A job runs as a task: Downloading (staging), Training (the image's trainer with the job dir as
its ``/opt/ml``, the job's Environment and the job's name and ARN in its environment
(:mod:`cdlab.localcloud.sagemaker.containerenv`), its output pumped into the log stream and the
metrics), Uploading, then the end.
Under ``CDLAB_LATENCY=aws`` Starting, Downloading and Uploading also take AWS's time
(:mod:`cdlab.localcloud.latency`).
A trainer that exits non-zero fails the job with its ``output/failure`` file as FailureReason.
StopTrainingJob and StoppingCondition.MaxRuntimeInSeconds (real seconds: ``CDLAB_TIME_SCALE``
compresses waiting, and training is work) end the job as SageMaker does: the trainer gets SIGTERM
and the job ends Stopped, with SecondaryStatus Stopped or MaxRuntimeExceeded. A job still in
progress when the local cloud stopped comes back Failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdlab.localcloud import latency
from cdlab.localcloud.iam.service_roles import SAGEMAKER_SESSION, ServiceRoles
from cdlab.localcloud.sagemaker import artifacts, containerenv, images
from cdlab.localcloud.sagemaker.role_s3 import RoleObjects
from cdlab.localcloud.sagemaker.training import staging
from cdlab.localcloud.sagemaker.training.logs import FinalMetrics, LogStream
from cdlab.localcloud.sagemaker.training.records import (
    DEFAULT_MAX_RUNTIME_SECONDS,
    JobFailed,
    JobRecords,
)
from cdlab.localcloud.state.logarchive import LogArchive

log = logging.getLogger("cdlab.training")

STOP_GRACE_SECONDS = 10.0  # SageMaker allows 120 s; the kit's trainer stops at once
LOG_FLUSH_SECONDS = 0.25
READ_CHUNK_BYTES = 65_536
MAX_FAILURE_CHARS = 1024
RESTARTED = (
    "InternalServerError: the local cloud restarted during training, which ended the training "
    "process; create the job again under a new name."
)


@dataclass(eq=False)
class Run:
    """A job being run: its task, and whether (and why) it is to stop."""

    task: asyncio.Task[None] | None = None
    stop: str | None = None  # the SecondaryStatus it ends in: Stopped or MaxRuntimeExceeded
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    """Runs the jobs' trainers and ends their records accordingly."""

    def __init__(
        self,
        records: JobRecords,
        root: Path,
        logs: LogArchive,
        s3: artifacts.S3Objects,
        roles: ServiceRoles,
    ) -> None:
        self.records = records
        self.root = root
        self.logs = logs
        self.s3 = s3
        self.roles = roles
        self.runs: dict[str, Run] = {}

    def as_role(self, role_arn: str, region: str) -> RoleObjects:
        """S3 as a SageMaker session of the job's role sees it (for worker threads)."""
        loop = asyncio.get_running_loop()
        decide = self.roles.blocking(role_arn, SAGEMAKER_SESSION, region, loop)
        return RoleObjects(self.s3, decide)

    def start(self, name: str) -> None:
        """Run the stored job ``name`` in the background."""
        run = Run()
        self.runs[name.lower()] = run
        run.task = asyncio.create_task(self._run(name, run))

    def request_stop(self, name: str, why: str) -> None:
        """Mark the job Stopping and have its trainer stopped; it ends with SecondaryStatus
        ``why``."""
        self.records.update(name, "Stopping", TrainingJobStatus="Stopping")
        run = self.runs.get(name.lower())
        if run is not None and run.stop is None:
            run.stop = why
            run.stopping.set()

    def remove_files(self, name: str) -> None:
        """Delete the job dir of an ended job (DeleteTrainingJob): its config, model and output."""
        shutil.rmtree(self.root / name, ignore_errors=True)

    def resume(self) -> None:
        """End the jobs whose process died with the last local cloud, as SageMaker would."""
        for doc in self.records.all():
            name = doc["TrainingJobName"]
            if doc["TrainingJobStatus"] not in ("InProgress", "Stopping"):
                continue
            shutil.rmtree(self.root / name / "input" / "data", ignore_errors=True)
            if doc["TrainingJobStatus"] == "Stopping":
                self.records.finish(name, "Stopped", "Stopped")
            else:
                self.records.finish(name, "Failed", "Failed", FailureReason=RESTARTED)

    async def shutdown(self) -> None:
        """Stop every training process; the jobs stay InProgress until ``resume`` ends them."""
        tasks = [run.task for run in self.runs.values() if run.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, name: str, run: Run) -> None:
        job_dir = self.root / name
        try:
            metrics, returncode = await self._stage_and_train(name, run, job_dir)
            await self._end(name, run, job_dir, returncode, metrics)
        except JobFailed as e:
            self.records.finish(name, "Failed", "Failed", FailureReason=str(e))
            log.warning("training job %s failed: %s", name, e)
        except Exception as e:
            log.exception("training job %s failed in the local cloud", name)
            self.records.finish(
                name,
                "Failed",
                "Failed",
                FailureReason=f"InternalServerError: the local cloud failed to run the job: {e}",
            )
        finally:
            shutil.rmtree(job_dir / "input" / "data", ignore_errors=True)
            if self.runs.get(name.lower()) is run:
                del self.runs[name.lower()]

    async def _stage_and_train(
        self, name: str, run: Run, job_dir: Path
    ) -> tuple[FinalMetrics, int | None]:
        """Download the channels and run the trainer (unless stopped meanwhile): the metrics
        seen and the trainer's exit code (None if it did not run)."""
        doc = self.records.get(name)
        try:
            module = images.training_module(doc["AlgorithmSpecification"]["TrainingImage"])
        except images.UnknownImage as e:
            raise JobFailed(f"ClientError: {e}") from e
        times = latency.current()
        await latency.pause(times.training_starting, run.stopping)
        start = time.time()
        self.records.update(name, "Downloading", TrainingStartTime=start)
        s3 = self.as_role(doc["RoleArn"], _region(doc))
        await asyncio.get_running_loop().run_in_executor(None, staging.stage, s3, doc, job_dir)
        await latency.pause(times.training_downloading, run.stopping)
        metrics = FinalMetrics(doc["AlgorithmSpecification"].get("MetricDefinitions", []))
        if run.stop is not None:
            return metrics, None
        self.records.update(name, "Training")
        stream = LogStream(f"{name}/{staging.HOST}-{int(start)}", self.logs)
        deadline = start + doc["StoppingCondition"].get(
            "MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS
        )
        if kept := containerenv.not_applied(doc.get("Environment")):
            log.warning(
                "training job %s keeps the local cloud's %s, not its Environment's",
                name,
                ", ".join(kept),
            )
        env = containerenv.training_environment(
            doc.get("Environment"), doc["TrainingJobName"], doc["TrainingJobArn"]
        )
        returncode = await self._train(name, module, job_dir, run, stream, metrics, deadline, env)
        if returncode != 0 and run.stop is None:
            raise JobFailed(failure_reason(job_dir, returncode, stream.last_line))
        return metrics, returncode

    async def _end(
        self, name: str, run: Run, job_dir: Path, returncode: int | None, metrics: FinalMetrics
    ) -> None:
        """Upload the model (if there is one) and end the job Completed or Stopped."""
        doc = self.records.get(name)
        changes: dict[str, Any] = {}
        if metrics.final:
            changes["FinalMetricDataList"] = metrics.final_list()
        if returncode == 0:
            output = doc["OutputDataConfig"]["S3OutputPath"].rstrip("/")
            url = f"{output}/{doc['TrainingJobName']}/output/model.tar.gz"
            if run.stop is None:
                self.records.update(name, "Uploading")
                await latency.pause(latency.current().training_uploading, run.stopping)
            loop = asyncio.get_running_loop()
            try:
                s3 = self.as_role(doc["RoleArn"], _region(doc))
                await loop.run_in_executor(None, staging.upload_model, s3, job_dir / "model", url)
                changes["ModelArtifacts"] = {"S3ModelArtifacts": url}
            except JobFailed:
                if run.stop is None:
                    raise
        if run.stop is None:
            self.records.finish(name, "Completed", "Completed", **changes)
        else:
            self.records.finish(name, "Stopped", run.stop, **changes)

    async def _train(
        self,
        name: str,
        module: str,
        job_dir: Path,
        run: Run,
        stream: LogStream,
        metrics: FinalMetrics,
        deadline: float,
        env: dict[str, str],
    ) -> int:
        """Run the trainer, with ``env`` as its environment (the job's Environment in it), until
        it exits, is stopped, or runs past ``deadline``."""
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
            env=env,
        )
        assert process.stdout is not None
        reading = asyncio.create_task(pump(process.stdout, stream, metrics))
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
                    self.request_stop(name, "MaxRuntimeExceeded")
                await terminate(process)
            await reading
        finally:
            for task in (stop, flusher, reading):
                task.cancel()
            if process.returncode is None:  # cancelled: the local cloud is stopping
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            await asyncio.gather(stop, flusher, reading, exited, return_exceptions=True)
            stream.flush()
        assert process.returncode is not None
        return process.returncode


async def pump(reader: asyncio.StreamReader, stream: LogStream, metrics: FinalMetrics) -> None:
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


async def terminate(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, as SageMaker stops a job; SIGKILL if the process outlives the grace period."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def failure_reason(job_dir: Path, returncode: int, last_line: str) -> str:
    """The trainer's ``output/failure`` file, or its exit code and last line, cut to SageMaker's
    length."""
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


def _region(doc: dict[str, Any]) -> str:
    """The region of a job, from its ARN."""
    return doc["TrainingJobArn"].split(":")[3]

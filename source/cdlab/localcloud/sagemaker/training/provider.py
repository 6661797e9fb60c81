"""The training-job API: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs,
StopTrainingJob and DeleteTrainingJob, with the checks SageMaker makes of a request before a job
exists.

The local cloud trains the built-in algorithm images (:mod:`images`) from S3 channels
(S3Prefix or ManifestFile); each job then runs in the background under :mod:`supervisor`. A job
that would take the account over its training instance quota is refused (:mod:`..quotas`).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.protocols.errors import ResourceInUse, ValidationException
from cdlab.localcloud.sagemaker import artifacts, containerenv, images, quotas
from cdlab.localcloud.sagemaker.documents import arn, paginate
from cdlab.localcloud.sagemaker.role_s3 import AccessDenied
from cdlab.localcloud.sagemaker.training import records, staging
from cdlab.localcloud.sagemaker.training.logs import BUILTIN_METRICS
from cdlab.localcloud.sagemaker.training.records import JobRecords
from cdlab.localcloud.sagemaker.training.supervisor import Supervisor
from cdlab.localcloud.state.logarchive import LogArchive
from cdlab.localcloud.state.store import Store

SUPPORTED_DATA_TYPES = ("S3Prefix", "ManifestFile")
SUMMARY_KEYS = (
    "TrainingJobName",
    "TrainingJobArn",
    "CreationTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "TrainingJobStatus",
    "SecondaryStatus",
)


class Training:
    """The training-job operations, named after the API (``create_training_job`` ...)."""

    def __init__(
        self,
        store: Store,
        home: Path,
        logs: LogArchive,
        s3: artifacts.S3Objects,
        roles: ServiceRoles,
        limits: quotas.Quotas | None = None,
    ) -> None:
        self.records = JobRecords(store)
        self.limits = limits or quotas.Quotas()  # none unless CDLAB_SAGEMAKER_QUOTAS names some
        self.supervisor = Supervisor(self.records, home / "training", logs, s3, roles)

    async def create_training_job(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        name = p["TrainingJobName"]
        self._absent(ctx, name)
        spec = dict(p.get("AlgorithmSpecification") or {})
        image = spec.get("TrainingImage")
        if not image:
            raise ValidationException(
                "The local cloud trains built-in algorithm images: give "
                "AlgorithmSpecification.TrainingImage (for Factorization Machines, "
                "sagemaker.core.image_uris.retrieve('factorization-machines', region))."
            )
        refused = images.training_region_refusal(image, ctx.region)
        if refused is not None:
            raise ValidationException(refused)
        try:
            artifacts.split_s3_url(p["OutputDataConfig"]["S3OutputPath"], key_required=False)
        except artifacts.ArtifactError as e:
            raise ValidationException(f"OutputDataConfig.S3OutputPath: {e}") from None
        containerenv.check_settable(p.get("Environment"), "Environment")
        channels = p.get("InputDataConfig") or []
        _check_channels(channels)
        s3 = self.supervisor.as_role(p["RoleArn"], ctx.region)
        for channel in channels:
            await _check_channel_has_objects(ctx, s3, channel, p["RoleArn"])
        self._absent(ctx, name)  # again: another request may have taken the name meanwhile
        self._within_quotas(p)  # no await from here to the put: no other job comes between
        algorithm = images.algorithm_of(image)
        if not spec.get("MetricDefinitions") and algorithm in BUILTIN_METRICS:
            spec["MetricDefinitions"] = BUILTIN_METRICS[algorithm]
        job_arn = arn(records.TRAINING_JOB, name, ctx)
        doc = records.new_document(name, job_arn, {**p, "AlgorithmSpecification": spec})
        self.records.put(doc)
        self.supervisor.start(name)
        return {"TrainingJobArn": job_arn}

    def _within_quotas(self, p: dict[str, Any]) -> None:
        """Refuse (``ResourceLimitExceeded``) a job whose instances would take the account over
        its training job usage quota (spot training job usage, for a managed spot job)."""
        use = quotas.training_use(p)
        in_use = quotas.training_in_use(self.records.all(), use)
        self.limits.check(use, in_use, quotas.training_instances(p.get("ResourceConfig") or {}))

    def _absent(self, ctx: RequestContext, name: str) -> None:
        if self.records.find(name) is not None:
            job_arn = arn(records.TRAINING_JOB, name, ctx)
            raise ResourceInUse(
                "Training job names must be unique within an AWS account and region, and a "
                f"training job with this name already exists ({job_arn})"
            )

    def describe_training_job(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self.records.get(p["TrainingJobName"])

    def list_training_jobs(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """With the filters every List shares, and those of training jobs alone: a job's warm
        pool's status (the local cloud keeps none, so that filter matches no job) and its
        training plan (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobs.html)."""
        docs = self.records.all()
        if p.get("WarmPoolStatusEquals"):
            docs = [d for d in docs if _warm_pool(d) == p["WarmPoolStatusEquals"]]
        if p.get("TrainingPlanArnEquals"):
            docs = [d for d in docs if _plan(d) == p["TrainingPlanArnEquals"]]
        summaries = [{k: d[k] for k in SUMMARY_KEYS if k in d} for d in docs]
        return paginate(
            summaries, p, "TrainingJobSummaries", "TrainingJobName", "TrainingJobStatus"
        )

    def stop_training_job(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self.records.get(p["TrainingJobName"])
        if doc["TrainingJobStatus"] != "InProgress":
            raise ValidationException(
                "The request was rejected because the training job is in status "
                f"{doc['TrainingJobStatus']}."
            )
        self.supervisor.request_stop(doc["TrainingJobName"], "Stopped")
        return {}

    def delete_training_job(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Forget an ended job, as SageMaker does: its name is free again; its model artifact in
        S3 and its log stream stay. Only a Completed, Failed or Stopped job can be deleted (the
        API reference lists ResourceInUse for the others:
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteTrainingJob.html)."""
        doc = self.records.get(p["TrainingJobName"])
        status = doc["TrainingJobStatus"]
        if status not in records.FINISHED:
            raise ResourceInUse(
                f"The request was rejected because the training job is in status {status}. "
                "Only a training job in status Completed, Failed or Stopped can be deleted."
            )
        self.records.delete(doc["TrainingJobName"])
        self.supervisor.remove_files(doc["TrainingJobName"])
        return {}

    def resume(self) -> None:
        """End the jobs a restart cut short (see :meth:`Supervisor.resume`)."""
        self.supervisor.resume()

    async def shutdown(self) -> None:
        await self.supervisor.shutdown()


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


async def _check_channel_has_objects(
    ctx: RequestContext, s3: artifacts.S3Objects, channel: dict[str, Any], role_arn: str
) -> None:
    """SageMaker's refusal of a channel that names no S3 object the job's role can list, or
    whose bucket is in another region than the job's ("Your input bucket must be in the same AWS
    region as your training job",
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html): the
    refusal asks to "ensure that the bucket exists in the selected region"."""
    source = channel["DataSource"]["S3DataSource"]
    bucket, _ = artifacts.split_s3_url(source["S3Uri"], key_required=False)
    loop = asyncio.get_running_loop()
    found: list[tuple[str, str]] = []
    if await s3.moto.run(s3.moto.s3_bucket_region, bucket) in (None, ctx.region):
        with contextlib.suppress(AccessDenied):
            found = await loop.run_in_executor(None, staging.channel_objects, s3, source)
    if not found:
        raise ValidationException(
            f'No S3 objects found under S3 URL "{source["S3Uri"]}" given in input data '
            f"source. Please ensure that the bucket exists in the selected region "
            f"({ctx.region}), that objects exist under that S3 prefix, and that the "
            f'role "{role_arn}" has "s3:ListBucket" permissions on bucket "{bucket}".'
        )


def _warm_pool(doc: dict[str, Any]) -> str | None:
    return doc.get("WarmPoolStatus", {}).get("Status")


def _plan(doc: dict[str, Any]) -> str | None:
    return doc.get("ResourceConfig", {}).get("TrainingPlanArn")

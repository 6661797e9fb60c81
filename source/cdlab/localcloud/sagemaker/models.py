"""CreateModel, DescribeModel, ListModels and DeleteModel.

A model with a ModelDataUrl keeps its artifact in the local cloud's artifact store (by digest) at
creation, so an endpoint serves what the model named then, whatever S3 holds later. Its
container's Environment is set in its instances' processes (:mod:`.containerenv`).

CreateModel refuses model data SageMaker could not read as the model's ExecutionRoleArn: a role
without s3:GetObject on it ("the only Amazon S3 action that the CreateModel API requires",
https://repost.aws/knowledge-center/sagemaker-s3-accessdenied-training), judged as endpoints'
instances judge it (:func:`.role_s3.read_denial`, so not with ``CDLAB_IAM=off``), or a bucket of
another region ("The model artifacts must be in an S3 bucket that is in the same region as the
model or endpoint you are creating",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html), in
SageMaker's words (:data:`CANNOT_ACCESS`).
"""

from __future__ import annotations

import time
from typing import Any

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker import artifacts, containerenv, images
from cdlab.localcloud.sagemaker.documents import MODEL, Documents, arn, paginate, public
from cdlab.localcloud.sagemaker.role_s3 import read_denial

CANNOT_ACCESS = (
    'Could not access model data at {url}. Please ensure that the role "{role}" exists and that '
    'its trust relationship policy allows the action "sts:AssumeRole" for the service principal '
    '"sagemaker.amazonaws.com". Also ensure that the role has "s3:GetObject" permissions and '
    "that the object is located in {region}. If your Model uses multiple models or uncompressed "
    'models, please ensure that the role has "s3:ListBucket" permission.'
)
"""SageMaker's CreateModel refusal of model data it cannot read (quoted, for a model.tar.gz, in
https://github.com/philschmid/llm-sagemaker-sample/issues/2 and in
ronamosa/ronamosa.github.io website/docs/engineer/AI/DeployLLMToSageMaker.md)."""


class Models:
    def __init__(
        self,
        docs: Documents,
        artifact_store: artifacts.ArtifactStore,
        moto: MotoState,
        roles: ServiceRoles,
    ) -> None:
        self.docs = docs
        self.artifacts = artifact_store
        self.moto = moto
        self.roles = roles

    async def create_model(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """CreateModel; the artifact is read from S3 on moto's thread and kept (hashed and
        copied) in a worker thread, never on the event loop."""
        name = p["ModelName"]
        self.docs.absent(ctx, MODEL, name)
        containers = p.get("Containers") or (
            [p["PrimaryContainer"]] if "PrimaryContainer" in p else []
        )
        if not containers:
            raise ValidationException("Either PrimaryContainer or Containers must be specified.")
        containerenv.check_model_size(containers)
        if len(containers) > 1:
            raise ValidationException(
                "The local cloud serves single-container models; give one PrimaryContainer."
            )
        container = containers[0]
        if not container.get("Image"):
            raise ValidationException("The container must specify an Image.")
        containerenv.check_settable(container.get("Environment"), "Environment")
        refused = images.model_region_refusal(container["Image"], ctx.region)
        if refused is not None:
            raise ValidationException(refused)
        url = container.get("ModelDataUrl")
        if not url:
            return self._store_model(ctx, p, container, None)
        bucket, key = await self._readable(ctx, url, p.get("ExecutionRoleArn"))
        data = await self.moto.run(self.moto.s3_get, bucket, key)
        if data is None:
            raise ValidationException(f"Could not find model data at {url}.")
        async with self.artifacts.kept(data) as digest:
            return self._store_model(ctx, p, container, digest)

    async def _readable(self, ctx: RequestContext, url: str, role: str | None) -> tuple[str, str]:
        """The bucket and key of model data ``url`` SageMaker could read as ``role`` (the
        :data:`CANNOT_ACCESS` refusal otherwise); whether the object exists is asked after, so
        a role that may not read it is told so, even of a missing object."""
        try:
            bucket, key = artifacts.split_s3_url(url)
        except artifacts.ArtifactError as e:
            raise ValidationException(str(e)) from None
        region = await self.moto.run(self.moto.s3_bucket_region, bucket)
        elsewhere = region is not None and region != ctx.region
        if elsewhere or await read_denial(self.roles, role, url, ctx.region) is not None:
            raise ValidationException(
                CANNOT_ACCESS.format(url=url, role=role or "", region=ctx.region)
            )
        return bucket, key

    def _store_model(
        self,
        ctx: RequestContext,
        p: dict[str, Any],
        container: dict[str, Any],
        digest: str | None,
    ) -> dict[str, Any]:
        name = p["ModelName"]
        self.docs.absent(ctx, MODEL, name)  # again: another request may have taken the name
        now = time.time()
        doc = {
            "ModelName": name,
            "ModelArn": arn(MODEL, name, ctx),
            "CreationTime": now,
            **{k: v for k, v in p.items() if k not in ("ModelName", "Tags")},
            "_ArtifactDigest": digest,
        }
        if "PrimaryContainer" not in doc:
            doc["PrimaryContainer"] = container
        self.docs.store.put(MODEL, name, doc)
        return {"ModelArn": doc["ModelArn"]}

    def describe_model(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return public(self.docs.get(ctx, MODEL, p["ModelName"]))

    def list_models(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        summaries = [
            {k: d[k] for k in ("ModelName", "ModelArn", "CreationTime")}
            for d in self.docs.store.all(MODEL)
        ]
        return paginate(summaries, p, "Models", "ModelName")

    def delete_model(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        self.docs.get(ctx, MODEL, p["ModelName"])
        self.docs.store.delete(MODEL, p["ModelName"])
        self.docs.forget_unused_artifacts()
        return {}

"""CreateModel, DescribeModel, ListModels and DeleteModel.

A model with a ModelDataUrl keeps its artifact in the local cloud's artifact store (by digest) at
creation, so an endpoint serves what the model named then, whatever S3 holds later. Its
container's Environment is set in its instances' processes (:mod:`.containerenv`).
"""

from __future__ import annotations

import time
from typing import Any

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker import artifacts, containerenv, images
from cdlab.localcloud.sagemaker.documents import MODEL, Documents, arn, paginate, public


class Models:
    def __init__(
        self, docs: Documents, artifact_store: artifacts.ArtifactStore, moto: MotoState
    ) -> None:
        self.docs = docs
        self.artifacts = artifact_store
        self.moto = moto

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
        try:
            bucket, key = artifacts.split_s3_url(url)
        except artifacts.ArtifactError as e:
            raise ValidationException(str(e)) from None
        data = await self.moto.run(self.moto.s3_get, bucket, key)
        if data is None:
            raise ValidationException(f"Could not find model data at {url}.")
        async with self.artifacts.kept(data) as digest:
            return self._store_model(ctx, p, container, digest)

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

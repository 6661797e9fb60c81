"""CreateEndpointConfig, DescribeEndpointConfig, ListEndpointConfigs and DeleteEndpointConfig.

A config's DataCaptureConfig is kept as given; endpoints made from it capture what they serve
(:mod:`.datacapture`). A variant's RoutingConfig decides how its requests spread over its
instances (:mod:`.router`). Serverless variants, shadow variants, asynchronous inference and
explainers are refused: the local cloud serves real-time variants only."""

from __future__ import annotations

import time
from typing import Any

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker import datacapture
from cdlab.localcloud.sagemaker.documents import CONFIG, MODEL, Documents, arn, paginate, public

# kinds of inference the local cloud does not run: a config asking for one is refused, rather
# than kept and never honoured (no shadow traffic, no InvokeEndpointAsync, no explanations)
NOT_RUN = ("ShadowProductionVariants", "AsyncInferenceConfig", "ExplainerConfig")


class EndpointConfigs:
    def __init__(self, docs: Documents) -> None:
        self.docs = docs

    def create_endpoint_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        name = p["EndpointConfigName"]
        self.docs.absent(ctx, CONFIG, name)
        seen: set[str] = set()
        for variant in p["ProductionVariants"]:
            if variant["VariantName"] in seen:
                raise ValidationException(
                    f"The variant name {variant['VariantName']} is used more than once in "
                    f"endpoint configuration {name}; variant names must be unique."
                )
            seen.add(variant["VariantName"])
            if variant.get("ServerlessConfig"):
                raise ValidationException(
                    "Serverless variants are not available in the local cloud; give "
                    "InitialInstanceCount and InstanceType."
                )
            if not variant.get("InitialInstanceCount") or not variant.get("InstanceType"):
                raise ValidationException(
                    f"Variant {variant['VariantName']} must specify InitialInstanceCount and "
                    "InstanceType."
                )
            self.docs.get(ctx, MODEL, variant["ModelName"])
        for member in NOT_RUN:
            if p.get(member):
                raise ValidationException(
                    f"{member} is not available in the local cloud, which serves real-time "
                    "production variants only; leave it out."
                )
        refused = datacapture.refusal(p.get("DataCaptureConfig"))
        if refused is not None:
            raise refused
        doc = {
            "EndpointConfigName": name,
            "EndpointConfigArn": arn(CONFIG, name, ctx),
            "CreationTime": time.time(),
            **{k: v for k, v in p.items() if k not in ("EndpointConfigName", "Tags")},
        }
        for variant in doc["ProductionVariants"]:
            variant.setdefault("InitialVariantWeight", 1.0)
        self.docs.store.put(CONFIG, name, doc)
        return {"EndpointConfigArn": doc["EndpointConfigArn"]}

    def describe_endpoint_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return public(self.docs.get(ctx, CONFIG, p["EndpointConfigName"]))

    def list_endpoint_configs(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        summaries = [
            {k: d[k] for k in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")}
            for d in self.docs.store.all(CONFIG)
        ]
        return paginate(summaries, p, "EndpointConfigs", "EndpointConfigName")

    def delete_endpoint_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        self.docs.get(ctx, CONFIG, p["EndpointConfigName"])
        self.docs.store.delete(CONFIG, p["EndpointConfigName"])
        return {}

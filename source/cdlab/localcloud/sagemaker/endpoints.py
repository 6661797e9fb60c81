"""The endpoint operations: CreateEndpoint, DescribeEndpoint, ListEndpoints, UpdateEndpoint,
UpdateEndpointWeightsAndCapacities and DeleteEndpoint.

Each checks the request, records the endpoint's new status and what it is to serve, and leaves
the work to the endpoint's lifecycle (an update to its own EndpointUpdate), in the background.
DeleteEndpoint deregisters the variants' scalable targets (:mod:`.scaledvariants`), once the
endpoint is saved Deleting, so a crash never leaves one without the other.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker import datacapture, quotas, scaledvariants
from cdlab.localcloud.sagemaker.documents import (
    CHANGING,
    CONFIG,
    ENDPOINT,
    IN_PROGRESS,
    MODEL,
    STARTUP_TIMEOUT,
    Documents,
    Snapshot,
    arn,
    paginate,
    public,
)
from cdlab.localcloud.sagemaker.lifecycle import Lifecycle
from cdlab.localcloud.sagemaker.quotas import Quotas
from cdlab.localcloud.sagemaker.update import EndpointUpdate, alarm_names, validate
from cdlab.localcloud.state.journal import Journal


class Endpoints:
    def __init__(
        self, docs: Documents, lifecycle: Lifecycle, moto: MotoState, limits: Quotas | None = None
    ) -> None:
        self.docs = docs
        self.lifecycle = lifecycle
        self.moto = moto
        self.limits = limits or Quotas()  # none unless CDLAB_SAGEMAKER_QUOTAS names some
        self.journal = Journal(docs.store)  # the variants' deregistrations, kept across a restart
        lifecycle.on_delete = self._deregister_left

    def _snapshot(self, ctx: RequestContext, config_doc: dict[str, Any]) -> Snapshot:
        """What each variant of a config serves, resolved now (models may be deleted later)."""
        snapshot = []
        for variant in config_doc["ProductionVariants"]:
            model = self.docs.get(ctx, MODEL, variant["ModelName"])
            if not model.get("_ArtifactDigest"):
                raise ValidationException(
                    f"Model {model['ModelName']} has no ModelDataUrl; the local cloud needs a "
                    "model artifact to serve."
                )
            snapshot.append(
                {
                    "VariantName": variant["VariantName"],
                    "ModelName": model["ModelName"],
                    "Image": model["PrimaryContainer"]["Image"],
                    "ArtifactDigest": model["_ArtifactDigest"],
                    "ModelDataUrl": model["PrimaryContainer"].get("ModelDataUrl"),
                    "Environment": model["PrimaryContainer"].get("Environment", {}),
                    "ExecutionRoleArn": model.get("ExecutionRoleArn"),
                    "InstanceType": variant["InstanceType"],
                    "Weight": float(variant["InitialVariantWeight"]),
                    "Count": int(variant["InitialInstanceCount"]),
                    "DataCaptureConfig": config_doc.get("DataCaptureConfig"),
                    "RoutingConfig": variant.get("RoutingConfig"),
                    STARTUP_TIMEOUT: variant.get(STARTUP_TIMEOUT),
                }
            )
        return snapshot

    async def create_endpoint(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """CreateEndpoint; the rollback alarms its DeploymentConfig may name are read from moto
        first, so the endpoint itself is made in one go."""
        names = alarm_names(p.get("DeploymentConfig") or {})
        alarms = await self.moto.run(self.moto.alarm_states, names)
        return self._create_endpoint(ctx, p, alarms)

    def _create_endpoint(
        self, ctx: RequestContext, p: dict[str, Any], alarms: dict[str, str]
    ) -> dict[str, Any]:
        """The DeploymentConfig does not change how the endpoint is created: it is checked as an
        update's would be and kept as the endpoint's LastDeploymentConfig, which an
        UpdateEndpoint with RetainDeploymentConfig deploys with
        (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html)."""
        name = p["EndpointName"]
        self.docs.absent(ctx, ENDPOINT, name)
        config_doc = self.docs.get(ctx, CONFIG, p["EndpointConfigName"])
        snapshot = self._snapshot(ctx, config_doc)
        deployment = p.get("DeploymentConfig")
        validate(deployment or {}, None, alarms)
        self._within_quotas(quotas.fleet(snapshot))
        now = time.time()
        doc = {
            "EndpointName": name,
            "EndpointArn": arn(ENDPOINT, name, ctx),
            "EndpointConfigName": config_doc["EndpointConfigName"],
            "EndpointStatus": "Creating",
            "CreationTime": now,
            "LastModifiedTime": now,
            "_Pending": snapshot,
        }
        if deployment is not None:
            doc["LastDeploymentConfig"] = deployment
        self.docs.store.put(ENDPOINT, name, doc)
        self.lifecycle.create(name)
        return {"EndpointArn": doc["EndpointArn"]}

    def describe_endpoint(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self.docs.get(ctx, ENDPOINT, p["EndpointName"])
        return public(doc) | datacapture.described(doc)

    def list_endpoints(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        keys = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
        summaries = [{k: d[k] for k in keys} for d in self.docs.store.all(ENDPOINT)]
        return paginate(summaries, p, "Endpoints", "EndpointName", "EndpointStatus")

    def _updatable(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        doc = self.docs.get(ctx, ENDPOINT, name)
        if doc["EndpointStatus"] in IN_PROGRESS:
            raise ValidationException(f'Cannot update in-progress endpoint "{doc["EndpointArn"]}".')
        if doc["EndpointStatus"] != "InService":
            raise ValidationException(
                f'Cannot update endpoint "{doc["EndpointArn"]}" in status '
                f"{doc['EndpointStatus']}; delete it and create it again."
            )
        return doc

    def _within_quotas(self, delta: Counter[str]) -> None:
        """Refuse (``ResourceLimitExceeded``) a call asking for ``delta`` more instances, by
        type, that would take the account over an endpoint usage quota (:mod:`.quotas`,
        ``CDLAB_SAGEMAKER_QUOTAS``). CreateEndpoint, UpdateEndpoint and
        UpdateEndpointWeightsAndCapacities call it after their other checks (but an update's
        DeploymentConfig, checked as it begins) and save what they change with no await
        between, so nothing is changed when it refuses, and two calls cannot both take the last
        instances."""
        in_use = quotas.endpoints_in_use(self.docs.store.all(ENDPOINT))
        self.limits.check(quotas.ENDPOINTS, in_use, delta)

    async def update_endpoint(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """UpdateEndpoint; the rollback alarms it may name (given, or retained from the last
        deployment) and the variants registered for automatic scaling (which it may not remove
        or give a new instance type) are read from moto first, so the update itself happens in
        one go."""
        stored = self.docs.endpoint(p["EndpointName"]) or {}
        names = alarm_names(p.get("DeploymentConfig") or {})
        names += alarm_names(stored.get("LastDeploymentConfig") or {})
        alarms = await self.moto.run(self.moto.alarm_states, names)
        name = stored.get("EndpointName", p["EndpointName"])  # as created (found in any case)
        targets = await scaledvariants.variant_targets(self.moto, name)
        prefix = f"endpoint/{name}/variant/"
        scaled = {resource_id.removeprefix(prefix) for _, resource_id, _ in targets}
        return self._update_endpoint(ctx, p, alarms, scaled)

    def _update_endpoint(
        self, ctx: RequestContext, p: dict[str, Any], alarms: dict[str, str], scaled: set[str]
    ) -> dict[str, Any]:
        doc = self._updatable(ctx, p["EndpointName"])
        config_doc = self.docs.get(ctx, CONFIG, p["EndpointConfigName"])
        snapshot = self._snapshot(ctx, config_doc)
        _refuse_new_instance_type(doc, snapshot, scaled)
        _refuse_removing_scaled(doc, snapshot, scaled)
        if p.get("RetainAllVariantProperties"):
            _retain_variant_properties(p, doc["_Deployed"], snapshot)
        deployment = p.get("DeploymentConfig")
        if deployment is None and p.get("RetainDeploymentConfig"):
            deployment = doc.get("LastDeploymentConfig")
        self._within_quotas(quotas.fleet(snapshot))  # a new fleet, beside the one in service
        update = EndpointUpdate(
            self.docs, self.lifecycle, self.moto, doc["EndpointName"], deployment
        )
        update.begin(doc, config_doc["EndpointConfigName"], snapshot, alarms)
        self.lifecycle.spawn(doc["EndpointName"], update.run())
        return {"EndpointArn": doc["EndpointArn"]}

    def update_endpoint_weights_and_capacities(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> dict[str, Any]:
        doc = self._updatable(ctx, p["EndpointName"])
        current = {s["VariantName"]: s for s in doc["_Deployed"]}
        missing = [
            d["VariantName"]
            for d in p["DesiredWeightsAndCapacities"]
            if d["VariantName"] not in current
        ]
        if missing:
            raise ValidationException(
                f'The variant(s) "[{", ".join(missing)}]" is/are not present in the endpoint '
                f'"{doc["EndpointArn"]}". Its variants are: {", ".join(current)}.'
            )
        _refuse_zero_instances(doc, p["DesiredWeightsAndCapacities"])
        snapshot = [dict(s) for s in doc["_Deployed"]]
        by_name = {s["VariantName"]: s for s in snapshot}
        for desired in p["DesiredWeightsAndCapacities"]:
            target = by_name[desired["VariantName"]]
            if desired.get("DesiredWeight") is not None:
                target["Weight"] = float(desired["DesiredWeight"])
            if desired.get("DesiredInstanceCount") is not None:
                target["Count"] = int(desired["DesiredInstanceCount"])
        self._within_quotas(quotas.added(doc["_Deployed"], snapshot))
        for summary in doc.get("ProductionVariants", []):
            desired = by_name.get(summary["VariantName"])
            if desired is not None:
                summary["DesiredWeight"] = desired["Weight"]
                summary["DesiredInstanceCount"] = desired["Count"]
        self.docs.save_endpoint(doc, EndpointStatus="Updating", _Pending=snapshot)
        self.lifecycle.resize(doc["EndpointName"])
        return {"EndpointArn": doc["EndpointArn"]}

    async def delete_endpoint(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteEndpoint; the variants' scalable targets are deregistered as the caller. One it may
        not deregister refuses the deletion before anything changes. Then, as on AWS, an endpoint
        Creating, Updating, SystemUpdating or RollingBack is refused (:func:`_refuse_changing`),
        nothing changed; one already Deleting is left to the deletion under way, or, when its
        deletion failed (nothing under way), deleted again. The endpoint is saved Deleting before
        any target is deregistered: a crash in between leaves it Deleting, and the restart's
        deletion deregisters what is left (:meth:`_deregister_left`); the other way round, it came
        back InService without its targets. The status is read, checked and saved with no await
        between, so a step started meanwhile (an autoscaler's resize) either came first and the
        deletion is refused, or comes after and is refused itself. A step still under way (the tail
        of one that has put the endpoint InService: its old instances draining) is cancelled in the
        same go as that save (:meth:`Lifecycle.begin_delete`), so no step saves the endpoint over
        Deleting, and the deletion stops the instances it left. From that save on the endpoint stays
        Deleting until its deletion forgets it."""
        name = self.docs.get(ctx, ENDPOINT, p["EndpointName"])["EndpointName"]
        targets = await scaledvariants.variant_targets(self.moto, name)
        await scaledvariants.refuse_denied(ctx, targets, self.lifecycle.roles)
        doc = self.docs.get(ctx, ENDPOINT, name)  # as it is now
        if doc["EndpointStatus"] == "Deleting":  # a second DeleteEndpoint
            if not self.lifecycle.in_hand(name):  # the deletion failed: start it again
                self.lifecycle.delete(name, None)
            return {}
        _refuse_changing(doc)
        self.docs.save_endpoint(doc, EndpointStatus="Deleting")
        cancelled = self.lifecycle.begin_delete(name)
        try:
            await scaledvariants.deregister(self.moto, self.journal, targets)
        finally:  # Deleting: the deletion goes on, deregistering what this did not
            self.lifecycle.delete(name, cancelled)
        return {}

    async def _deregister_left(self, name: str) -> None:
        """The lifecycle's last step of a deletion, before it forgets the endpoint: deregister
        the variants' targets still registered (all of them when a restart finds the endpoint
        Deleting: the crash came before DeleteEndpoint deregistered them), so no target
        outlives its endpoint."""
        targets = await scaledvariants.variant_targets(self.moto, name)
        await scaledvariants.deregister(self.moto, self.journal, targets)


def _refuse_changing(doc: dict[str, Any]) -> None:
    """DeleteEndpoint refuses an endpoint in a transitional status other than Deleting, in
    SageMaker's words: ``ValidationException: Cannot update in-progress endpoint "<arn>".``
    (the message public code quotes for DeleteEndpoint, e.g. the SageMaker operator for
    Kubernetes, aws/amazon-sagemaker-operator-for-k8s, controllers/sdkutil/clientwrapper; an
    endpoint SystemUpdating "cannot be updated or deleted or re-scaled until it has
    completed", https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html).
    The caller waits for it to leave that status, then deletes it."""
    if doc["EndpointStatus"] in CHANGING:
        raise ValidationException(f'Cannot update in-progress endpoint "{doc["EndpointArn"]}".')


def _refuse_new_instance_type(doc: dict[str, Any], snapshot: Snapshot, scaled: set[str]) -> None:
    """As on AWS, an update may not change the instance type of a variant registered for
    automatic scaling (a new model is fine): deregister it, update, register it again."""
    current = {s["VariantName"]: s["InstanceType"] for s in doc["_Deployed"]}
    changed = [
        s["VariantName"]
        for s in snapshot
        if s["VariantName"] in scaled
        and current.get(s["VariantName"], s["InstanceType"]) != s["InstanceType"]
    ]
    if changed:
        raise ValidationException(
            f'Cannot update endpoint "{doc["EndpointArn"]}": the instance type of variant(s) '
            f"{', '.join(changed)} would change while registered for automatic scaling. "
            "Deregister the scalable target (DeregisterScalableTarget), update the endpoint, "
            "then register it again."
        )


def _refuse_removing_scaled(doc: dict[str, Any], snapshot: Snapshot, scaled: set[str]) -> None:
    """As on AWS, an update may not remove a variant registered for automatic scaling: the
    guide's steps (deregister the target, update, register again) "are required only if you are
    updating an endpoint with the following changes: ... Removing a production variant that has
    auto scaling configured", and otherwise "If you are trying to update the endpoint by calling
    the UpdateEndpoint API, the call fails"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html). Without it
    the target (``endpoint/<endpoint>/variant/<variant>``) outlived its variant. AWS does not
    document its words for this refusal: these are the kit's. A target registered for a variant
    the endpoint does not have yet is no bar."""
    kept = {s["VariantName"] for s in snapshot}
    removed = [
        s["VariantName"]
        for s in doc["_Deployed"]
        if s["VariantName"] in scaled and s["VariantName"] not in kept
    ]
    if removed:
        raise ValidationException(
            f'Cannot update endpoint "{doc["EndpointArn"]}": variant(s) {", ".join(removed)} '
            "would be removed while registered for automatic scaling. Deregister the scalable "
            "target (DeregisterScalableTarget) first, then update the endpoint."
        )


def _refuse_zero_instances(doc: dict[str, Any], desired: list[dict[str, Any]]) -> None:
    """A DesiredInstanceCount of 0 is refused: "An endpoint can scale to and from zero instances
    only if it hosts inference components"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html),
    and the local cloud hosts none, so every endpoint it has runs its variants on instances.
    botocore's model lets 0 through (DesiredWeightAndCapacity's DesiredInstanceCount, a
    TaskCount, has min 0), so the shape check does not refuse it; before this the endpoint came
    back InService with no instance. AWS does not document its words for this refusal: these
    are the kit's."""
    zero = [d["VariantName"] for d in desired if d.get("DesiredInstanceCount") == 0]
    if zero:
        raise ValidationException(
            f'Cannot update endpoint "{doc["EndpointArn"]}": DesiredInstanceCount 0 for '
            f"variant(s) {', '.join(zero)}. Only an endpoint that hosts inference components "
            "can scale to zero instances; give each variant at least 1."
        )


def _retain_variant_properties(p: dict[str, Any], deployed: Snapshot, snapshot: Snapshot) -> None:
    """RetainAllVariantProperties: variants the endpoint already has keep their weight and
    instance count, unless ExcludeRetainedVariantProperties names them."""
    excluded = {e["VariantPropertyType"] for e in p.get("ExcludeRetainedVariantProperties", [])}
    current = {s["VariantName"]: s for s in deployed}
    for s in snapshot:
        if s["VariantName"] in current:
            if "DesiredWeight" not in excluded:
                s["Weight"] = current[s["VariantName"]]["Weight"]
            if "DesiredInstanceCount" not in excluded:
                s["Count"] = current[s["VariantName"]]["Count"]

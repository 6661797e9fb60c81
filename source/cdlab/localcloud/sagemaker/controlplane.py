"""The SageMaker control plane: models, endpoint configs and endpoints, with SageMaker's lifecycle.

Operations are methods named after the API (``create_endpoint`` for CreateEndpoint) taking the
request's members and returning the response's. Endpoint documents keep a *snapshot* of what each
variant serves (image and artifact digest), so an endpoint outlives the model and config it was
made from, as on SageMaker, and comes back after a restart exactly as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import Any

from cdlab import config
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker import artifacts, deployments
from cdlab.localcloud.sagemaker.fleet import Fleet, Instance, InstanceFailed
from cdlab.localcloud.sagemaker.images import UnknownImage
from cdlab.localcloud.sagemaker.router import EndpointRoute, Router, VariantRoute
from cdlab.localcloud.state.store import Store

log = logging.getLogger("cdlab.sagemaker")

MODEL, CONFIG, ENDPOINT = "model", "endpoint-config", "endpoint"
KIND_LABEL = {MODEL: "model", CONFIG: "endpoint configuration", ENDPOINT: "endpoint"}
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
CAPACITY_POLL_SECONDS = 0.05


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{config.region()}:{config.ACCOUNT_ID}:{kind}/{name.lower()}"


def paginate(
    items: list[dict[str, Any]],
    params: dict[str, Any],
    key: str,
    name: str,
    status: str | None = None,
) -> dict[str, Any]:
    """SageMaker's List* conventions over summaries whose name and status fields are ``name``
    and ``status``: NameContains, the CreationTime and LastModifiedTime filters, StatusEquals,
    SortBy (Name, CreationTime, Status), SortOrder, MaxResults and NextToken; the page's list
    is under ``key``."""
    if params.get("NameContains"):
        needle = params["NameContains"].lower()
        items = [i for i in items if needle in i[name].lower()]
    for field, test in (
        ("CreationTimeBefore", lambda i, t: i["CreationTime"] < t),
        ("CreationTimeAfter", lambda i, t: i["CreationTime"] > t),
        ("LastModifiedTimeBefore", lambda i, t: i.get("LastModifiedTime", i["CreationTime"]) < t),
        ("LastModifiedTimeAfter", lambda i, t: i.get("LastModifiedTime", i["CreationTime"]) > t),
        ("StatusEquals", lambda i, s: status is not None and i.get(status) == s),
    ):
        if params.get(field) is not None:
            items = [i for i in items if test(i, params[field])]
    sort_by = params.get("SortBy", "CreationTime")
    sort_field = {"Name": name, "Status": status}.get(sort_by, sort_by)
    items = sorted(
        items, key=lambda i: i.get(sort_field, ""), reverse=params.get("SortOrder") != "Ascending"
    )
    token = params.get("NextToken") or "0"
    if not (token.isascii() and token.isdigit()):
        raise ValidationException(f"Invalid pagination token {token!r}.")
    start = int(token)
    size = params.get("MaxResults") or 100
    page = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return page


class SageMaker:
    def __init__(
        self,
        store: Store,
        artifact_store: artifacts.ArtifactStore,
        fleet: Fleet,
        router: Router,
        moto: MotoState,
    ) -> None:
        self.store = store
        self.artifacts = artifact_store
        self.moto = moto
        self.fleet = fleet
        self.router = router
        self.fleets: dict[str, dict[str, list[Instance]]] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        fleet.on_unexpected_exit = self._replace_instance

    # ---- helpers -------------------------------------------------------------------------

    def _get(self, kind: str, name: str) -> dict[str, Any]:
        doc = self.store.get(kind, name)
        if doc is None:
            raise ValidationException(f'Could not find {KIND_LABEL[kind]} "{arn(kind, name)}".')
        return doc

    def _absent(self, kind: str, name: str) -> None:
        if self.store.get(kind, name) is not None:
            raise ValidationException(
                f'Cannot create already existing {KIND_LABEL[kind]} "{arn(kind, name)}".'
            )

    @staticmethod
    def _public(doc: dict[str, Any]) -> dict[str, Any]:
        """A stored document without the kit's own bookkeeping (keys starting with ``_``)."""
        return {k: v for k, v in doc.items() if not k.startswith("_")}

    # ---- models --------------------------------------------------------------------------

    async def create_model(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["ModelName"]
        self._absent(MODEL, name)
        containers = p.get("Containers") or (
            [p["PrimaryContainer"]] if "PrimaryContainer" in p else []
        )
        if not containers:
            raise ValidationException("Either PrimaryContainer or Containers must be specified.")
        if len(containers) > 1:
            raise ValidationException(
                "The local cloud serves single-container models; give one PrimaryContainer."
            )
        container = containers[0]
        if not container.get("Image"):
            raise ValidationException("The container must specify an Image.")
        url = container.get("ModelDataUrl")
        if not url:
            return self._store_model(p, container, None)
        try:
            bucket, key = artifacts.split_s3_url(url)
        except artifacts.ArtifactError as e:
            raise ValidationException(str(e)) from None
        data = await self.moto.run(self.moto.s3_get, bucket, key)
        if data is None:
            raise ValidationException(f"Could not find model data at {url}.")
        async with self.artifacts.kept(data) as digest:
            return self._store_model(p, container, digest)

    def _store_model(
        self, p: dict[str, Any], container: dict[str, Any], digest: str | None
    ) -> dict[str, Any]:
        name = p["ModelName"]
        self._absent(MODEL, name)  # again: another request may have taken the name meanwhile
        now = time.time()
        doc = {
            "ModelName": name,
            "ModelArn": arn("model", name),
            "CreationTime": now,
            **{k: v for k, v in p.items() if k not in ("ModelName", "Tags")},
            "_ArtifactDigest": digest,
        }
        if "PrimaryContainer" not in doc:
            doc["PrimaryContainer"] = container
        self.store.put(MODEL, name, doc)
        return {"ModelArn": doc["ModelArn"]}

    def describe_model(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._public(self._get(MODEL, p["ModelName"]))

    def list_models(self, p: dict[str, Any]) -> dict[str, Any]:
        summaries = [
            {k: d[k] for k in ("ModelName", "ModelArn", "CreationTime")}
            for d in self.store.all(MODEL)
        ]
        return paginate(summaries, p, "Models", "ModelName")

    def delete_model(self, p: dict[str, Any]) -> dict[str, Any]:
        self._get(MODEL, p["ModelName"])
        self.store.delete(MODEL, p["ModelName"])
        self._forget_unused_artifacts()
        return {}

    def _forget_unused_artifacts(self) -> None:
        in_use = {d["_ArtifactDigest"] for d in self.store.all(MODEL) if d.get("_ArtifactDigest")}
        for endpoint in self.store.all(ENDPOINT):
            for snapshot in (endpoint.get("_Deployed") or []) + (endpoint.get("_Pending") or []):
                in_use.add(snapshot["ArtifactDigest"])
        self.artifacts.forget_unused(in_use)

    # ---- endpoint configs ----------------------------------------------------------------

    def create_endpoint_config(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["EndpointConfigName"]
        self._absent(CONFIG, name)
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
            self._get(MODEL, variant["ModelName"])
        doc = {
            "EndpointConfigName": name,
            "EndpointConfigArn": arn("endpoint-config", name),
            "CreationTime": time.time(),
            **{k: v for k, v in p.items() if k not in ("EndpointConfigName", "Tags")},
        }
        for variant in doc["ProductionVariants"]:
            variant.setdefault("InitialVariantWeight", 1.0)
        self.store.put(CONFIG, name, doc)
        return {"EndpointConfigArn": doc["EndpointConfigArn"]}

    def describe_endpoint_config(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._public(self._get(CONFIG, p["EndpointConfigName"]))

    def list_endpoint_configs(self, p: dict[str, Any]) -> dict[str, Any]:
        summaries = [
            {k: d[k] for k in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")}
            for d in self.store.all(CONFIG)
        ]
        return paginate(summaries, p, "EndpointConfigs", "EndpointConfigName")

    def delete_endpoint_config(self, p: dict[str, Any]) -> dict[str, Any]:
        self._get(CONFIG, p["EndpointConfigName"])
        self.store.delete(CONFIG, p["EndpointConfigName"])
        return {}

    # ---- endpoints -----------------------------------------------------------------------

    def _snapshot(self, config_doc: dict[str, Any]) -> list[dict[str, Any]]:
        """What each variant of a config serves, resolved now (models may be deleted later)."""
        snapshot = []
        for variant in config_doc["ProductionVariants"]:
            model = self._get(MODEL, variant["ModelName"])
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
                    "InstanceType": variant["InstanceType"],
                    "Weight": float(variant["InitialVariantWeight"]),
                    "Count": int(variant["InitialInstanceCount"]),
                }
            )
        return snapshot

    @staticmethod
    def _variant_summaries(snapshot: list[dict[str, Any]], resolved_at: float) -> list[Any]:
        return [
            {
                "VariantName": s["VariantName"],
                "DeployedImages": [
                    {
                        "SpecifiedImage": s["Image"],
                        "ResolvedImage": f"{s['Image'].split(':')[0]}@sha256:{s['ArtifactDigest']}",
                        "ResolutionTime": resolved_at,
                    }
                ],
                "CurrentWeight": s["Weight"],
                "DesiredWeight": s["Weight"],
                "CurrentInstanceCount": s["Count"],
                "DesiredInstanceCount": s["Count"],
            }
            for s in snapshot
        ]

    def _save_endpoint(self, doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
        doc.update(changes)
        for key in [k for k, v in changes.items() if v is None]:
            del doc[key]
        doc["LastModifiedTime"] = time.time()
        self.store.put(ENDPOINT, doc["EndpointName"], doc)
        return doc

    def _spawn(self, name: str, coro: Any) -> None:
        """Run an endpoint's lifecycle step in the background, one at a time per endpoint."""
        key = name.lower()
        task = asyncio.create_task(coro)
        self.tasks[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self.tasks.get(key) is done:
                del self.tasks[key]

        task.add_done_callback(forget)

    def create_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["EndpointName"]
        self._absent(ENDPOINT, name)
        config_doc = self._get(CONFIG, p["EndpointConfigName"])
        snapshot = self._snapshot(config_doc)
        now = time.time()
        doc = {
            "EndpointName": name,
            "EndpointArn": arn("endpoint", name),
            "EndpointConfigName": config_doc["EndpointConfigName"],
            "EndpointStatus": "Creating",
            "CreationTime": now,
            "LastModifiedTime": now,
            "_Pending": snapshot,
        }
        self.store.put(ENDPOINT, name, doc)
        self._spawn(name, self._create(name))
        return {"EndpointArn": doc["EndpointArn"]}

    async def _start_fleet(
        self, name: str, snapshot: list[dict[str, Any]]
    ) -> dict[str, list[Instance]]:
        """Start every variant's instances, all or none."""
        tasks = [
            asyncio.create_task(
                self.fleet.start(
                    name, s["VariantName"], s["Image"], s["ArtifactDigest"], s["Count"]
                )
            )
            for s in snapshot
        ]
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await self.fleet.stop([i for r in results if isinstance(r, list) for i in r], 0)
            raise
        started = [r for r in results if isinstance(r, list)]
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.fleet.stop([i for group in started for i in group], drain_seconds=0)
            raise failures[0]
        return {s["VariantName"]: group for s, group in zip(snapshot, started, strict=True)}

    @staticmethod
    def _endpoint_route(
        name: str, snapshot: list[dict[str, Any]], fleet: dict[str, list[Instance]]
    ) -> EndpointRoute:
        return EndpointRoute(
            name,
            tuple(
                VariantRoute(s["VariantName"], s["Weight"], tuple(fleet[s["VariantName"]]))
                for s in snapshot
            ),
        )

    def _route(
        self, name: str, snapshot: list[dict[str, Any]], fleet: dict[str, list[Instance]]
    ) -> None:
        self.fleets[name.lower()] = fleet
        self.router.set_route(self._endpoint_route(name, snapshot, fleet))

    async def _create(self, name: str) -> None:
        doc = self.store.get(ENDPOINT, name)
        assert doc is not None
        snapshot = doc["_Pending"]
        try:
            fleet = await self._start_fleet(name, snapshot)
        except (InstanceFailed, UnknownImage) as e:
            self._save_endpoint(doc, EndpointStatus="Failed", FailureReason=str(e), _Pending=None)
            log.warning("endpoint %s failed: %s", name, e)
            return
        self._route(name, snapshot, fleet)
        self._save_endpoint(
            doc,
            EndpointStatus="InService",
            ProductionVariants=self._variant_summaries(snapshot, time.time()),
            _Deployed=snapshot,
            _Pending=None,
        )
        log.info("endpoint %s is InService", name)

    def describe_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._public(self._get(ENDPOINT, p["EndpointName"]))

    def list_endpoints(self, p: dict[str, Any]) -> dict[str, Any]:
        keys = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
        summaries = [{k: d[k] for k in keys} for d in self.store.all(ENDPOINT)]
        return paginate(summaries, p, "Endpoints", "EndpointName", "EndpointStatus")

    def _updatable(self, name: str) -> dict[str, Any]:
        doc = self._get(ENDPOINT, name)
        if doc["EndpointStatus"] in IN_PROGRESS:
            raise ValidationException(f'Cannot update in-progress endpoint "{doc["EndpointArn"]}".')
        if doc["EndpointStatus"] != "InService":
            raise ValidationException(
                f'Cannot update endpoint "{doc["EndpointArn"]}" in status '
                f"{doc['EndpointStatus']}; delete it and create it again."
            )
        return doc

    async def update_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        """UpdateEndpoint; the rollback alarms it may name (given, or retained from the last
        deployment) are read from moto first, so the update itself happens in one go."""
        stored = self.store.get(ENDPOINT, p["EndpointName"]) or {}
        names = deployments.alarm_names(p.get("DeploymentConfig") or {})
        names += deployments.alarm_names(stored.get("LastDeploymentConfig") or {})
        alarms = await self.moto.run(self.moto.alarm_states, names)
        return self._update_endpoint(p, alarms)

    def _update_endpoint(self, p: dict[str, Any], alarms: dict[str, str]) -> dict[str, Any]:
        doc = self._updatable(p["EndpointName"])
        config_doc = self._get(CONFIG, p["EndpointConfigName"])
        snapshot = self._snapshot(config_doc)
        if p.get("RetainAllVariantProperties"):
            excluded = {
                e["VariantPropertyType"] for e in p.get("ExcludeRetainedVariantProperties", [])
            }
            current = {s["VariantName"]: s for s in doc["_Deployed"]}
            for s in snapshot:
                if s["VariantName"] in current:
                    if "DesiredWeight" not in excluded:
                        s["Weight"] = current[s["VariantName"]]["Weight"]
                    if "DesiredInstanceCount" not in excluded:
                        s["Count"] = current[s["VariantName"]]["Count"]
        deployment = p.get("DeploymentConfig")
        if deployment is None and p.get("RetainDeploymentConfig"):
            deployment = doc.get("LastDeploymentConfig")
        deployments.validate(deployment or {}, sum(s["Count"] for s in snapshot), alarms)
        self._save_endpoint(
            doc,
            EndpointStatus="Updating",
            FailureReason=None,
            _Pending=snapshot,
            _PendingConfigName=config_doc["EndpointConfigName"],
            PendingDeploymentSummary={
                "EndpointConfigName": config_doc["EndpointConfigName"],
                "ProductionVariants": [
                    {
                        "VariantName": s["VariantName"],
                        "DesiredWeight": s["Weight"],
                        "DesiredInstanceCount": s["Count"],
                        "VariantStatus": [{"Status": "Creating", "StartTime": time.time()}],
                    }
                    for s in snapshot
                ],
                "StartTime": time.time(),
            },
            LastDeploymentConfig=deployment,
        )
        self._spawn(doc["EndpointName"], self._blue_green(doc["EndpointName"], deployment or {}))
        return {"EndpointArn": doc["EndpointArn"]}

    async def _blue_green(self, name: str, deployment: dict[str, Any]) -> None:
        """Start the new fleet, shift traffic to it step by step while it bakes, then switch
        and drain the old one. A failed start or an alarm in ALARM rolls back to the old fleet,
        which served throughout."""
        doc = self.store.get(ENDPOINT, name)
        assert doc is not None
        snapshot = doc["_Pending"]
        until = deployments.deadline(deployment)
        try:
            fleet = await self._start_fleet(name, snapshot)
        except (InstanceFailed, UnknownImage) as e:
            self._roll_back(doc, str(e))
            return
        new_instances = [i for group in fleet.values() for i in group]
        old = self.fleets.get(name.lower(), {})
        blue = self._endpoint_route(name, doc["_Deployed"], old)
        green = self._endpoint_route(name, snapshot, fleet)
        alarm_names = deployments.alarm_names(deployment)
        try:
            for share in deployments.traffic_steps(deployment, len(new_instances)):
                self._variant_status(
                    doc, "Baking", f"{share:.0%} of the traffic is on the new fleet"
                )
                self.router.set_route(dataclasses.replace(blue, green=green, green_share=share))
                reason = await deployments.bake(
                    self.moto, deployments.bake_seconds(deployment), alarm_names, until
                )
                if reason is not None:
                    self.router.set_route(blue)
                    self._save_endpoint(doc, EndpointStatus="RollingBack")
                    log.warning("update of endpoint %s rolling back: %s", name, reason)
                    await self.fleet.stop(new_instances)
                    self._roll_back(doc, reason)
                    return
        except asyncio.CancelledError:
            await self.fleet.stop(new_instances, drain_seconds=0)
            raise
        self._route(name, snapshot, fleet)
        self._save_endpoint(
            doc,
            EndpointStatus="InService",
            EndpointConfigName=doc["_PendingConfigName"],
            ProductionVariants=self._variant_summaries(snapshot, time.time()),
            PendingDeploymentSummary=None,
            _Deployed=snapshot,
            _Pending=None,
            _PendingConfigName=None,
        )
        self._forget_unused_artifacts()
        log.info("endpoint %s switched to %s", name, doc["EndpointConfigName"])
        wait = deployment.get("BlueGreenUpdatePolicy", {}).get("TerminationWaitInSeconds", 0)
        await asyncio.sleep(wait / config.time_scale())
        await self.fleet.stop([i for group in old.values() for i in group])

    def _variant_status(self, doc: dict[str, Any], status: str, message: str) -> None:
        """Show a deployment step in DescribeEndpoint's PendingDeploymentSummary."""
        summary = doc["PendingDeploymentSummary"]
        for variant in summary["ProductionVariants"]:
            variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"]
            variant["VariantStatus"] = [
                {"Status": status, "StatusMessage": message, "StartTime": time.time()}
            ]
        self._save_endpoint(doc, PendingDeploymentSummary=summary)

    def _roll_back(self, doc: dict[str, Any], reason: str) -> None:
        self._save_endpoint(
            doc,
            EndpointStatus="InService",
            FailureReason=f"The update failed and the endpoint was rolled back: {reason}",
            PendingDeploymentSummary=None,
            _Pending=None,
            _PendingConfigName=None,
        )
        log.warning("update of endpoint %s rolled back: %s", doc["EndpointName"], reason)

    def update_endpoint_weights_and_capacities(self, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._updatable(p["EndpointName"])
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
        snapshot = [dict(s) for s in doc["_Deployed"]]
        by_name = {s["VariantName"]: s for s in snapshot}
        for desired in p["DesiredWeightsAndCapacities"]:
            target = by_name[desired["VariantName"]]
            if desired.get("DesiredWeight") is not None:
                target["Weight"] = float(desired["DesiredWeight"])
            if desired.get("DesiredInstanceCount") is not None:
                target["Count"] = int(desired["DesiredInstanceCount"])
        for summary in doc.get("ProductionVariants", []):
            desired = by_name.get(summary["VariantName"])
            if desired is not None:
                summary["DesiredWeight"] = desired["Weight"]
                summary["DesiredInstanceCount"] = desired["Count"]
        self._save_endpoint(doc, EndpointStatus="Updating", _Pending=snapshot)
        self._spawn(doc["EndpointName"], self._resize(doc["EndpointName"]))
        return {"EndpointArn": doc["EndpointArn"]}

    def variant_capacity(self, endpoint: str, variant: str) -> int | None:
        """The instance count of an in-service endpoint's variant (None otherwise)."""
        doc = self.store.get(ENDPOINT, endpoint)
        if doc is None or doc["EndpointStatus"] != "InService":
            return None
        counts = {s["VariantName"]: s["Count"] for s in doc.get("_Deployed") or []}
        return counts.get(variant)

    def failure_reason(self, endpoint: str) -> str:
        doc = self.store.get(ENDPOINT, endpoint)
        return (doc or {}).get("FailureReason", "")

    async def set_capacity(self, endpoint: str, variant: str, count: int) -> None:
        """Change a variant's instance count (as automatic scaling does); returns once the
        endpoint is InService on it."""
        self.update_endpoint_weights_and_capacities(
            {
                "EndpointName": endpoint,
                "DesiredWeightsAndCapacities": [
                    {"VariantName": variant, "DesiredInstanceCount": count}
                ],
            }
        )
        task = self.tasks.get(endpoint.lower())
        while task is not None and not task.done():  # InService again: removed ones may drain
            doc = self.store.get(ENDPOINT, endpoint)
            if doc is None or doc["EndpointStatus"] != "Updating":
                return
            await asyncio.sleep(CAPACITY_POLL_SECONDS)

    async def _resize(self, name: str) -> None:
        """Apply new weights at once; add instances before routing to them, drain removed ones."""
        doc = self.store.get(ENDPOINT, name)
        assert doc is not None
        snapshot = doc["_Pending"]
        fleet = {v: list(group) for v, group in self.fleets[name.lower()].items()}
        retired: list[Instance] = []
        try:
            for s in snapshot:
                group = fleet[s["VariantName"]]
                if s["Count"] > len(group):
                    group += await self.fleet.start(
                        name,
                        s["VariantName"],
                        s["Image"],
                        s["ArtifactDigest"],
                        s["Count"] - len(group),
                    )
                elif s["Count"] < len(group):
                    retired += group[s["Count"] :]
                    del group[s["Count"] :]
        except (InstanceFailed, UnknownImage) as e:
            added = [
                i for v, g in fleet.items() for i in g if i not in self.fleets[name.lower()][v]
            ]
            await self.fleet.stop(added, drain_seconds=0)
            self._save_endpoint(
                doc, EndpointStatus="InService", FailureReason=str(e), _Pending=None
            )
            return
        self._route(name, snapshot, fleet)
        self._save_endpoint(
            doc,
            EndpointStatus="InService",
            ProductionVariants=self._variant_summaries(snapshot, time.time()),
            _Deployed=snapshot,
            _Pending=None,
        )
        await self.fleet.stop(retired)

    def delete_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._get(ENDPOINT, p["EndpointName"])
        name = doc["EndpointName"]
        self.router.drop_route(name)
        task = self.tasks.pop(name.lower(), None)
        if task is not None:
            task.cancel()
        self._save_endpoint(doc, EndpointStatus="Deleting")
        self._spawn(name, self._delete(name, task))
        return {}

    async def _delete(self, name: str, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        fleet = self.fleets.pop(name.lower(), {})
        await self.fleet.stop([i for group in fleet.values() for i in group], drain_seconds=5)
        self.store.delete(ENDPOINT, name)
        self._forget_unused_artifacts()
        log.info("endpoint %s deleted", name)

    # ---- crash recovery and restart ------------------------------------------------------

    async def _replace_instance(self, instance: Instance) -> None:
        """An instance died on its own: start a replacement and route to it."""
        name = instance.endpoint
        fleet = self.fleets.get(name.lower())
        doc = self.store.get(ENDPOINT, name)
        if fleet is None or doc is None or instance not in fleet.get(instance.variant, []):
            return
        log.warning(
            "instance %s of %s/%s exited (%s); replacing it",
            instance.instance_id,
            name,
            instance.variant,
            Fleet.last_log_line(instance),
        )
        snapshot = {s["VariantName"]: s for s in doc["_Deployed"]}[instance.variant]
        try:
            [replacement] = await self.fleet.start(
                name, instance.variant, snapshot["Image"], snapshot["ArtifactDigest"], 1
            )
        except (InstanceFailed, UnknownImage) as e:
            log.error("could not replace instance of %s/%s: %s", name, instance.variant, e)
            return
        current = self.fleets.get(name.lower())
        if current is not fleet or instance not in current.get(instance.variant, []):
            await self.fleet.stop([replacement], drain_seconds=0)
            return
        group = current[instance.variant]
        group[group.index(instance)] = replacement
        self._route(name, doc["_Deployed"], current)

    async def resume(self) -> None:
        """Bring every endpoint back after a start: each on one consistent configuration."""
        for doc in self.store.all(ENDPOINT):
            name, status = doc["EndpointName"], doc["EndpointStatus"]
            if status == "Deleting":
                self._spawn(name, self._delete(name, None))
            elif status == "Creating":
                self._spawn(name, self._create(name))
            elif doc.get("_Deployed") and status != "Failed":
                reason = doc.get("FailureReason")
                if status == "Updating":
                    reason = (
                        "The local cloud restarted during an update; the endpoint is back on "
                        "its previous configuration."
                    )
                self._save_endpoint(
                    doc,
                    EndpointStatus="SystemUpdating",
                    FailureReason=reason,
                    PendingDeploymentSummary=None,
                    _Pending=doc["_Deployed"],
                    _PendingConfigName=None,
                )
                self._spawn(name, self._create(name))

    async def shutdown(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.fleet.stop_all()

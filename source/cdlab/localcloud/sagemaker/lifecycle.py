"""Endpoints' instances through their lives: create, resize, replace a dead instance, delete,
resume after a restart, shut down.

Each endpoint runs its lifecycle steps in the background, one at a time. ``in_service`` holds the
fleet each endpoint serves from, by lower-cased name; an update's new fleet joins it only at the
switch. Instances fetch their model as the model's ExecutionRoleArn: a role that may not read
the ModelDataUrl fails the endpoint as SageMaker does ("Failed to download model data ...").
Under ``CDLAB_LATENCY=aws`` starting a fleet, changing an instance count and deleting first take
AWS's time (:mod:`cdlab.localcloud.latency`). At shutdown, once the instances have stopped, the
data capture still buffered is written (:mod:`.datacapture`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from cdlab.localcloud import latency
from cdlab.localcloud.iam.service_roles import SAGEMAKER_SESSION, ServiceRoles
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.sagemaker.artifacts import ArtifactError
from cdlab.localcloud.sagemaker.documents import (
    ENDPOINT,
    STARTUP_TIMEOUT,
    Documents,
    Snapshot,
    endpoint_region,
    variant_summaries,
)
from cdlab.localcloud.sagemaker.fleet import Fleet, all_instances, endpoint_route
from cdlab.localcloud.sagemaker.images import UnknownImage
from cdlab.localcloud.sagemaker.instances import Instance, InstanceFailed, InstanceLauncher
from cdlab.localcloud.sagemaker.role_s3 import read_denial
from cdlab.localcloud.sagemaker.router import EndpointRoute, Router

log = logging.getLogger("cdlab.sagemaker")

DELETE_DRAIN_SECONDS = 5
REPLACE_RETRY_SECONDS = (5.0, 60.0)  # first and longest wait between tries at a replacement
DOWNLOAD_FAILED = (
    'Failed to download model data for container "container_1" from URL: "{url}". Please '
    "ensure that there is an object located at the URL and that the role passed to "
    "CreateModel has permissions to download the object."
)
EXTRACT_FAILED = (
    'Failed to extract model data archive for container "container_1" from URL "{url}". Please '
    "ensure that the object located at the URL is a valid tar.gz archive."
)


class Lifecycle:
    def __init__(
        self, docs: Documents, launcher: InstanceLauncher, router: Router, roles: ServiceRoles
    ) -> None:
        self.docs = docs
        self.launcher = launcher
        self.router = router
        self.roles = roles
        self.in_service: dict[str, Fleet] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.replacing: set[asyncio.Task[Any]] = set()  # replacements waiting to try again
        self.deleting: set[str] = set()  # deletions in hand: begin_delete to _delete's end
        self.on_delete: Callable[[str], Awaitable[None]] | None = None  # see _delete
        launcher.on_unexpected_exit = self._replace_instance

    def spawn(self, name: str, step: Coroutine[Any, Any, None]) -> None:
        """Run an endpoint's lifecycle step in the background, one at a time per endpoint."""
        key = name.lower()
        task = asyncio.create_task(self._settled(name, step))
        self.tasks[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self.tasks.get(key) is done:
                del self.tasks[key]

        task.add_done_callback(forget)

    async def _settled(self, name: str, step: Coroutine[Any, Any, None]) -> None:
        """Run ``step``; if it fails in a way its own handling does not foresee (a fault of the
        local cloud's, or state it cannot read), the endpoint still leaves its transitional
        status, as SageMaker's does, rather than stay Creating or Updating for good."""
        try:
            await step
        except Exception as e:
            log.exception("a lifecycle step of endpoint %s failed", name)
            await self._settle(name, f"The local cloud failed on this endpoint ({e!r}); its log, "
                               "logs/cloud.log in the cloud's home, says where.")  # fmt: skip

    async def _settle(self, name: str, reason: str) -> None:
        """After a failed step: an endpoint being updated with a fleet in service goes back to
        serving its deployed configuration, InService; one being created (or with no fleet
        left) fails. Any other status stays: the step had settled it before failing."""
        doc = self.docs.endpoint(name)
        status = doc["EndpointStatus"] if doc is not None else None
        fleet = self.in_service.get(name.lower())
        if doc is None or status not in ("Creating", "SystemUpdating", "Updating", "RollingBack"):
            return
        if status in ("Updating", "RollingBack") and fleet is not None:
            self.serve(name, doc["_Deployed"], fleet)
            self.docs.back_in_service(doc, reason)
            return
        self.router.drop_route(name)
        await self.stop(all_instances(self.in_service.pop(name.lower(), {})), drain_seconds=0)
        self.docs.save_endpoint(doc, EndpointStatus="Failed", FailureReason=reason, _Pending=None)

    def task(self, name: str) -> asyncio.Task[None] | None:
        """The endpoint's lifecycle step under way, if any."""
        return self.tasks.get(name.lower())

    # ---- what an update uses (update.Fleets) ---------------------------------------------

    def current(self, name: str) -> Fleet:
        return self.in_service.get(name.lower(), {})

    async def start(self, name: str, snapshot: Snapshot) -> Fleet:
        """Start every variant's instances, all or none (after the profile's provisioning time)."""
        await self._check_model_access(name, snapshot)
        await latency.pause(latency.current().endpoint_instances)
        tasks = [asyncio.create_task(self._launch(name, s, s["Count"])) for s in snapshot]
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await self.stop([i for r in results if isinstance(r, list) for i in r], 0)
            raise
        started = [r for r in results if isinstance(r, list)]
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.stop([i for group in started for i in group], drain_seconds=0)
            raise failures[0]
        return {s["VariantName"]: group for s, group in zip(snapshot, started, strict=True)}

    async def _launch(self, name: str, variant: dict[str, Any], count: int) -> list[Instance]:
        """Start ``count`` instances of a snapshot's ``variant``, each given its
        ContainerStartupHealthCheckTimeoutInSeconds (the launcher's own in a variant without one,
        or in a snapshot made before the kit kept it) to pass the ping health check. A model
        archive that cannot be unpacked fails them as SageMaker words it, then the kit's why."""
        timeout = variant.get(STARTUP_TIMEOUT)
        try:
            return await self.launcher.start(
                name,
                variant["VariantName"],
                variant["Image"],
                variant["ArtifactDigest"],
                count,
                variant.get("Environment"),
                None if timeout is None else float(timeout),
            )
        except ArtifactError as e:
            url = variant.get("ModelDataUrl")  # absent from snapshots made before it was kept
            reason = f"{EXTRACT_FAILED.format(url=url)} {e}" if url else str(e)
            raise InstanceFailed(reason) from e

    async def _check_model_access(self, name: str, snapshot: Snapshot) -> None:
        """Each variant's model role may read its model data (an older snapshot, made before
        snapshots named them, is not checked): CreateModel checked it, but the role's policies
        or the bucket's may have changed since."""
        doc = self.docs.endpoint(name)
        region = endpoint_region(doc) if doc else None
        for s in snapshot:
            url = s.get("ModelDataUrl")
            if not url or region is None:
                continue
            if await read_denial(self.roles, s.get("ExecutionRoleArn"), url, region) is not None:
                raise InstanceFailed(DOWNLOAD_FAILED.format(url=url))

    async def unwatchable(self, name: str, snapshot: Snapshot, alarms: list[str]) -> str | None:
        """Why a variant's execution role may not read the rollback ``alarms``, or None: SageMaker
        watches them as the role ("Ensure that your IAM execution role has permission to perform
        the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify",
        https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html)."""
        doc = self.docs.endpoint(name)
        if not alarms or doc is None:
            return None
        call = Call("cloudwatch", "DescribeAlarms", {"AlarmNames": alarms})
        for role in sorted({s["ExecutionRoleArn"] for s in snapshot if s.get("ExecutionRoleArn")}):
            denial = await self.roles.denial(role, SAGEMAKER_SESSION, call, endpoint_region(doc))
            if denial is not None:
                return (
                    f"the execution role {role} cannot watch the auto-rollback alarms: "
                    f"{denial.message()}"
                )
        return None

    async def stop(self, instances: list[Instance], drain_seconds: float = 60.0) -> None:
        await self.launcher.stop(instances, drain_seconds)

    def route(self, route: EndpointRoute) -> None:
        self.router.set_route(route)

    def serve(self, name: str, snapshot: Snapshot, fleet: Fleet) -> None:
        doc = self.docs.endpoint(name)
        assert doc is not None
        self.in_service[name.lower()] = fleet
        self.router.set_route(endpoint_route(name, snapshot, fleet, endpoint_region(doc)))

    # ---- lifecycle steps -----------------------------------------------------------------

    def create(self, name: str) -> None:
        """Start the endpoint's pending snapshot; InService on it, or Failed."""
        self.spawn(name, self._create(name))

    async def _create(self, name: str) -> None:
        doc = self.docs.endpoint(name)
        assert doc is not None
        snapshot = doc["_Pending"]
        try:
            fleet = await self.start(name, snapshot)
        except (InstanceFailed, UnknownImage) as e:
            self.docs.save_endpoint(
                doc, EndpointStatus="Failed", FailureReason=str(e), _Pending=None
            )
            log.warning("endpoint %s failed: %s", name, e)
            return
        self._put_in_service(doc, snapshot, fleet)
        log.info("endpoint %s is InService", name)

    def resize(self, name: str) -> None:
        """Apply the pending snapshot's weights and instance counts to the fleet in service."""
        self.spawn(name, self._resize(name))

    async def _resize(self, name: str) -> None:
        """New weights apply at once; instances are added before they are routed to, and
        removed ones drain. The new fleet is made of the fleet in service as it is once the
        added instances run: one of its instances that died meanwhile has been replaced in it."""
        doc = self.docs.endpoint(name)
        assert doc is not None
        snapshot = doc["_Pending"]
        live = self.in_service[name.lower()]
        added: dict[str, list[Instance]] = {}
        try:
            for s in snapshot:
                count = len(live[s["VariantName"]])
                if s["Count"] != count:
                    await latency.pause(latency.current().capacity_change)
                if s["Count"] > count:
                    added[s["VariantName"]] = await self._launch(name, s, s["Count"] - count)
        except Exception as e:
            await self.stop([i for group in added.values() for i in group], drain_seconds=0)
            if not isinstance(e, InstanceFailed | UnknownImage):
                raise
            self.docs.save_endpoint(
                doc, EndpointStatus="InService", FailureReason=str(e), _Pending=None
            )
            return
        fleet: Fleet = {}
        retired: list[Instance] = []
        for s in snapshot:
            group = [*live[s["VariantName"]], *added.get(s["VariantName"], [])]
            fleet[s["VariantName"]] = group[: s["Count"]]
            retired += group[s["Count"] :]
        self._put_in_service(doc, snapshot, fleet)
        await self.stop(retired)

    def _put_in_service(self, doc: dict[str, Any], snapshot: Snapshot, fleet: Fleet) -> None:
        """Serve ``fleet`` with all the traffic and record it as the endpoint's deployment."""
        self.serve(doc["EndpointName"], snapshot, fleet)
        self.docs.save_endpoint(
            doc,
            EndpointStatus="InService",
            ProductionVariants=variant_summaries(snapshot, time.time()),
            _Deployed=snapshot,
            _Pending=None,
        )

    def begin_delete(self, name: str) -> asyncio.Task[None] | None:
        """Called as the endpoint is saved Deleting, before anything awaits: stop routing to it
        and cancel its step under way, so that no step saves it again (a cancelled step saves
        nothing): none puts a Deleting endpoint back InService. DeleteEndpoint refuses an
        endpoint Creating, Updating, SystemUpdating or RollingBack, so the step is one that has
        put it InService and is retiring old instances (a resize's drain, an update's
        termination wait); no step starts once it is Deleting. Returns the cancelled step, for
        :meth:`delete`."""
        self.deleting.add(name.lower())
        self.router.drop_route(name)
        previous = self.tasks.pop(name.lower(), None)
        if previous is not None:
            previous.cancel()
        return previous

    def delete(self, name: str, cancelled: asyncio.Task[None] | None) -> None:
        """Once its step under way is ``cancelled`` (:meth:`begin_delete`), stop the endpoint's
        instances and forget it. Until that step ends the deletion is :meth:`in_hand`."""
        key = name.lower()
        self.deleting.add(key)
        self.spawn(name, self._delete(name, cancelled))
        self.tasks[key].add_done_callback(lambda _: self.deleting.discard(key))

    def in_hand(self, name: str) -> bool:
        """Whether a deletion of the endpoint is under way: begun by DeleteEndpoint (which may
        still be deregistering the targets) or running; not once it has failed, which leaves the
        endpoint Deleting with no step (a second DeleteEndpoint starts it again)."""
        return name.lower() in self.deleting

    async def _delete(self, name: str, previous: asyncio.Task[None] | None) -> None:
        """The deletion of an endpoint saved Deleting, by DeleteEndpoint or before a restart.
        Every instance of the endpoint is stopped: its fleet in service, and those the cancelled
        step was retiring (an update's old fleet, a resize's removed instances), which are in no
        fleet any more. ``on_delete`` (the variants' scalable targets, :class:`Endpoints`) is
        done before the endpoint is forgotten, so a crash before leaves it Deleting, and the
        restart's deletion does it; one that fails leaves it Deleting too (``_settled`` logs
        why, and ``_settle`` leaves a Deleting endpoint alone), with no deletion :meth:`in_hand`:
        a second DeleteEndpoint, or a restart, starts it again."""
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        await latency.pause(latency.current().endpoint_deleting)
        fleet = all_instances(self.in_service.pop(name.lower(), {}))
        retiring = [i for i in self.launcher.instances_of(name) if i not in fleet]
        await self.stop(fleet + retiring, drain_seconds=DELETE_DRAIN_SECONDS)
        if self.on_delete is not None:
            await self.on_delete(name)
        self.docs.store.delete(ENDPOINT, name)
        self.docs.forget_unused_artifacts()
        log.info("endpoint %s deleted", name)

    async def _replace_instance(self, instance: Instance) -> None:
        """An instance died on its own: start a replacement and route to it. A replacement that
        cannot start is tried again, at waits doubling within ``REPLACE_RETRY_SECONDS``, for as
        long as the endpoint serves from the dead instance's fleet, as SageMaker goes on
        replacing an unhealthy instance; the endpoint stays InService on its other instances
        meanwhile (the router skips a dead one). A failure nobody foresaw is logged by the
        launcher's watcher (``InstanceLauncher._watch``) and not retried: it would fail again."""
        if not self._serving(instance):
            return
        log.warning(
            "instance %s of %s/%s exited (%s); replacing it",
            instance.instance_id,
            instance.endpoint,
            instance.variant,
            InstanceLauncher.last_log_line(instance),
        )
        retrying = asyncio.current_task()
        assert retrying is not None
        self.replacing.add(retrying)
        wait, longest = REPLACE_RETRY_SECONDS
        try:
            while not await self._replaced(instance, wait):
                await asyncio.sleep(wait)
                if not self._serving(instance):
                    return
                wait = min(2 * wait, longest)
        finally:
            self.replacing.discard(retrying)

    def _serving(self, instance: Instance) -> bool:
        """Whether ``instance`` is still in its endpoint's fleet in service."""
        fleet = self.in_service.get(instance.endpoint.lower())
        doc = self.docs.endpoint(instance.endpoint)
        return fleet is not None and doc is not None and instance in fleet.get(instance.variant, [])

    async def _replaced(self, instance: Instance, retry_wait: float) -> bool:
        """One try at replacing ``instance``: False if the replacement could not start (then
        tried again in ``retry_wait`` s)."""
        name = instance.endpoint
        doc = self.docs.endpoint(name)
        assert doc is not None
        snapshot = {s["VariantName"]: s for s in doc["_Deployed"]}[instance.variant]
        try:
            [replacement] = await self._launch(name, snapshot, 1)
        except (InstanceFailed, UnknownImage) as e:
            log.error(
                "could not replace instance %s of %s/%s: %s; trying again in %g s",
                instance.instance_id,
                name,
                instance.variant,
                e,
                retry_wait,
            )
            return False
        # the fleet in service now: a resize may have put a new one in service meanwhile, with
        # the dead instance in it (a blue/green deployment's new fleet has not)
        group = self.in_service.get(name.lower(), {}).get(instance.variant, [])
        if instance not in group:
            await self.stop([replacement], drain_seconds=0)
            return True
        group[group.index(instance)] = replacement
        self.router.swap_instance(name, instance, replacement)
        return True

    async def resume(self) -> None:
        """Bring every endpoint back after a start: each on one consistent configuration."""
        for doc in self.docs.store.all(ENDPOINT):
            name, status = doc["EndpointName"], doc["EndpointStatus"]
            if status == "Deleting":
                self.delete(name, None)
            elif status == "Creating":
                self.create(name)
            elif doc.get("_Deployed") and status != "Failed":
                reason = doc.get("FailureReason")
                if status == "Updating":
                    reason = (
                        "The local cloud restarted during an update; the endpoint is back on "
                        "its previous configuration."
                    )
                self.docs.save_endpoint(
                    doc,
                    EndpointStatus="SystemUpdating",
                    FailureReason=reason,
                    PendingDeploymentSummary=None,
                    _Pending=doc["_Deployed"],
                    _PendingConfigName=None,
                )
                self.create(name)

    async def shutdown(self) -> None:
        tasks = [*self.tasks.values(), *self.replacing]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.launcher.stop_all()
        await self.router.capture.close()

"""DeleteEndpoint of an endpoint whose variants are registered for automatic scaling, killed
before each of the writes it (and the deletion it starts) makes, then restarted: the restart
brings back either the endpoint as it was, targets and policies all, or neither; never the
endpoint without its targets, nor targets without their endpoint. Also with a lifecycle step
still in flight on the endpoint InService (a resize the autoscaler asked for, draining the
instance it removed), which DeleteEndpoint accepts as AWS does: the step is cancelled as the
endpoint is saved Deleting, so it never saves it again, and the deletion stops the instance it
was draining. A resize asked for while DeleteEndpoint makes its checks refuses the deletion
instead (the endpoint is Updating then, and DeleteEndpoint refuses an endpoint in progress):
nothing of the deletion is written.

No cloud: the state store and the journal are driven directly, a crash being the store refusing
every write from the n-th on (as SIGKILL: each write the store acknowledged is on disk, nothing
after is), and a restart a new store on the same file, a new moto (an account of its own: moto's
backends outlive a test) the journal is replayed into, and the lifecycle's resume."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.iam.enforcer import Denial
from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.moto.bridge import MotoBridge
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationException
from cdlab.localcloud.sagemaker.artifacts import ArtifactStore
from cdlab.localcloud.sagemaker.capacity import EndpointCapacity
from cdlab.localcloud.sagemaker.documents import ENDPOINT, Documents
from cdlab.localcloud.sagemaker.endpoints import Endpoints
from cdlab.localcloud.sagemaker.lifecycle import DELETE_DRAIN_SECONDS, Lifecycle
from cdlab.localcloud.sagemaker.scaledvariants import AccessDeniedException
from cdlab.localcloud.state.journal import Journal
from cdlab.localcloud.state.store import Store

NAME = "scaled"
VARIANTS = ("A", "B")
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
REGION = "us-east-1"
KEPT = {v: ("tracked",) for v in VARIANTS}  # each variant's target and its policy
Held = tuple[str | None, dict[str, tuple[str, ...]]]  # the endpoint's status, its targets


class Crash(BaseException):
    """The process killed: no handler of the kit's catches it, and the store refuses every write
    after it, so what still runs (a ``finally``) keeps nothing, as after a SIGKILL."""


class CrashingStore(Store):
    """A store whose writes from the ``crash_at``-th on (counted from when it is armed) are
    refused, the process having died before them."""

    crash_at: int | None = None
    kept = 0  # writes made since armed
    crashed = False
    statuses: list[str] | None = None  # the endpoint's status in each of its saves since armed

    def put(self, kind: str, name: str, doc: dict[str, Any], last: bool = False) -> None:
        super().put(kind, name, doc, last)
        if kind == ENDPOINT and self.statuses is not None:
            self.statuses.append(doc["EndpointStatus"])

    def _write(self, kind: str, sql: str, args: tuple[str, ...]) -> None:
        if self.crash_at is not None:
            if self.kept >= self.crash_at:
                self.crashed = True
                raise Crash
            self.kept += 1
        super()._write(kind, sql, args)


class FakeLauncher:
    """Instances that are plain names, ``running`` until stopped; nothing runs. With a
    ``gate``, instances start, and a stop that drains (a resize's removed instances) ends, once
    it opens."""

    on_unexpected_exit = None
    gate: asyncio.Event | None = None

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.numbers = itertools.count()

    async def start(
        self, endpoint: str, variant: str, image: str, digest: str, count: int, *_: Any
    ) -> list[str]:
        if self.gate is not None:
            await self.gate.wait()
        started = [f"{endpoint}-{variant}-{next(self.numbers)}" for _ in range(count)]
        self.running.update(started)
        return started

    async def stop(self, instances: list[str], drain_seconds: float) -> None:
        if self.gate is not None and drain_seconds > DELETE_DRAIN_SECONDS:
            await self.gate.wait()
        self.running.difference_update(instances)

    def instances_of(self, endpoint: str) -> list[str]:
        return sorted(i for i in self.running if i.startswith(f"{endpoint}-"))


class FakeRouter:
    def set_route(self, route: Any) -> None:
        pass

    def drop_route(self, name: str) -> None:
        pass


class DenyingRoles(ServiceRoles):
    """IAM denying the caller application-autoscaling:DeregisterScalableTarget."""

    def __init__(self) -> None:
        super().__init__(None)

    async def denial_as(self, principal: Any, call: Any, region: str) -> Denial | None:
        return Denial(principal.arn, f"{call.service}:{call.operation}")


class OpeningJournal(Journal):
    """The endpoints' journal with a step in flight: its first change (DeleteEndpoint's first
    deregistration) opens the launcher's gate and lets the step run to its end (or to its
    cancellation) before it goes on: a step not cancelled would save the endpoint again."""

    def __init__(self, store: Store, gate: asyncio.Event, step: asyncio.Task[None]) -> None:
        super().__init__(store)
        self.gate, self.step = gate, step

    async def change(self, *args: Any, **kwargs: Any) -> Any:
        if not self.gate.is_set():
            self.gate.set()
            await asyncio.gather(self.step, return_exceptions=True)
        return await super().change(*args, **kwargs)


@dataclass
class Cloud:
    """What a start of the local cloud makes of its state file, the endpoint's side of it."""

    store: CrashingStore
    moto: MotoState
    lifecycle: Lifecycle
    endpoints: Endpoints
    journal: Journal

    @classmethod
    def start(cls, home: Path, roles: ServiceRoles | None = None) -> Cloud:
        """A start on ``home``: the journal replayed into a moto of a new account, as a
        restart's empty moto."""
        store = CrashingStore(home / "state.db")
        moto = MotoState(f"{uuid.uuid4().int % 10**12:012d}", REGION)
        journal = Journal(store)
        journal.replay(MotoBridge(moto))
        docs = Documents(store, ArtifactStore(home / "artifacts"))
        lifecycle = Lifecycle(docs, FakeLauncher(), FakeRouter(), roles or ServiceRoles(None))
        return cls(store, moto, lifecycle, Endpoints(docs, lifecycle, moto), journal)

    async def start_draining(self) -> None:
        """A step still under way on the endpoint InService: the autoscaler's resize of A from
        2 instances to 1, the endpoint InService on 1 and the removed instance draining until
        DeleteEndpoint deregisters its first target."""
        doc = self.lifecycle.docs.endpoint(NAME)
        assert doc is not None
        deployed = [snapshot(v) | {"Count": 2 if v == "A" else 1} for v in VARIANTS]
        self.lifecycle.docs.save_endpoint(doc, _Deployed=deployed)
        self.lifecycle.in_service[NAME]["A"] += await self.lifecycle.launcher.start(
            NAME, "A", "", "", 1
        )
        gate = self.lifecycle.launcher.gate = asyncio.Event()
        await capacity(self).set_capacity(NAME, "A", 1)
        step = self.lifecycle.task(NAME)
        assert step is not None and self.store.get(ENDPOINT, NAME)["EndpointStatus"] == "InService"
        self.endpoints.journal = OpeningJournal(self.store, gate, step)

    def stop(self) -> None:
        self.moto.shutdown()
        self.store.close()

    async def settled(self) -> None:
        """Every lifecycle step run to its end (or to the crash)."""
        while self.lifecycle.tasks:
            await asyncio.gather(*self.lifecycle.tasks.values(), return_exceptions=True)

    def held(self) -> Held:
        """The endpoint's status (None: gone) and each scaled variant's policies."""
        doc = self.store.get(ENDPOINT, NAME)
        targets, policies = self.moto.target_tracking(DIMENSION)
        prefix = f"endpoint/{NAME}/variant/"
        scaled = {
            t.resource_id.removeprefix(prefix): tuple(
                p.policy_name for p in policies if p.resource_id == t.resource_id
            )
            for t in targets
            if t.resource_id.startswith(prefix)
        }
        return (doc["EndpointStatus"] if doc else None), scaled


def snapshot(variant: str) -> dict[str, Any]:
    return {
        "VariantName": variant,
        "ModelName": "m",
        "Image": "fm:latest",
        "ArtifactDigest": "0" * 64,
        "InstanceType": "ml.m5.large",
        "Weight": 1.0,
        "Count": 1,
    }


async def scale(cloud: Cloud) -> None:
    """An endpoint InService whose two variants are registered, each with a target tracking
    policy, journaled as a client's would be."""
    deployed = [snapshot(v) for v in VARIANTS]
    cloud.store.put(
        ENDPOINT,
        NAME,
        {
            "EndpointName": NAME,
            "EndpointArn": endpoint_arn(cloud),
            "EndpointConfigName": NAME,
            "EndpointStatus": "InService",
            "CreationTime": 0.0,
            "LastModifiedTime": 0.0,
            "_Deployed": deployed,
        },
    )
    tracking = {
        "TargetValue": 10.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
    }
    for variant in VARIANTS:
        namespace, resource_id = "sagemaker", f"endpoint/{NAME}/variant/{variant}"
        await cloud.journal.change(
            cloud.moto,
            MotoState.register_scalable_target,
            namespace,
            resource_id,
            DIMENSION,
            min_capacity=1,
            max_capacity=2,
            role_arn=None,
            suspended_state=None,
        )
        await cloud.journal.change(
            cloud.moto,
            MotoState.put_scaling_policy,
            policy_name="tracked",
            service_namespace=namespace,
            resource_id=resource_id,
            scalable_dimension=DIMENSION,
            policy_type="TargetTrackingScaling",
            policy_body=tracking,
        )
    launcher = cloud.lifecycle.launcher
    cloud.lifecycle.in_service[NAME] = {
        v: await launcher.start(NAME, v, "", "", 1) for v in VARIANTS
    }


def capacity(cloud: Cloud) -> EndpointCapacity:
    """What the autoscaler changes an instance count through."""
    return EndpointCapacity(cloud.lifecycle.docs, cloud.endpoints, cloud.lifecycle)


@dataclass
class Run:
    held: Held  # what the restart holds once its resumed steps are done
    crashed: bool  # whether the kill came before the deletion's last write
    returned: str | None  # the endpoint's status as DeleteEndpoint returned (None: it crashed)
    statuses: list[str]  # the endpoint's status in each of its saves from DeleteEndpoint's on
    running: set[str]  # the instances still running once the deletion's step is done


def run_until_crash(home: Path, crash_at: int, draining: bool = False) -> Run:
    """Scale, start a resize that is ``draining`` a removed instance (or not), delete killed
    before write ``crash_at``, restart."""
    cloud = Cloud.start(home)
    try:
        asyncio.run(scale(cloud))
        assert cloud.held() == ("InService", KEPT)
        returned = asyncio.run(_delete(cloud, crash_at, draining))
    finally:
        cloud.stop()
    restarted = Cloud.start(home)
    try:
        asyncio.run(_resume(restarted))
        statuses = cloud.store.statuses or []
        running = cloud.lifecycle.launcher.running
        return Run(restarted.held(), cloud.store.crashed, returned, statuses, running)
    finally:
        restarted.stop()


async def _delete(cloud: Cloud, crash_at: int, draining: bool) -> str | None:
    """DeleteEndpoint and the deletion's step, the process killed before write ``crash_at``
    (in the request, or in the step, whose task it ends); the endpoint's status as
    DeleteEndpoint returned."""
    if draining:
        await cloud.start_draining()
    cloud.store.crash_at, cloud.store.statuses = crash_at, []
    returned = None
    with contextlib.suppress(Crash):
        await cloud.endpoints.delete_endpoint(RequestContext.internal(), {"EndpointName": NAME})
        returned = (cloud.store.get(ENDPOINT, NAME) or {}).get("EndpointStatus")
    if cloud.lifecycle.launcher.gate is not None:
        cloud.lifecycle.launcher.gate.set()  # killed before it opened: the step goes on, unsaved
    await cloud.settled()
    return returned


async def _resume(cloud: Cloud) -> None:
    await cloud.lifecycle.resume()
    await cloud.settled()


@pytest.mark.parametrize("draining", [False, True], ids=["settled", "draining"])
def test_a_crash_anywhere_in_a_delete_endpoint_leaves_the_endpoint_and_its_targets_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, draining: bool
) -> None:
    """Killed before its 0th, 1st, ... write, until one run makes all its writes: each restart
    holds the endpoint InService with both variants' targets and policies, or none of them. The
    run not killed saves the endpoint Deleting and nothing else: a step in flight (a resize
    draining the instance it removed) never saves it again, DeleteEndpoint returns with it
    Deleting, and the deletion stops every instance, the drained one too."""
    monkeypatch.delenv("CDLAB_LATENCY", raising=False)
    runs = [run_until_crash(tmp_path / "crash-0", 0, draining)]
    while runs[-1].crashed:
        assert len(runs) < 20, "the deletion keeps writing"
        runs.append(run_until_crash(tmp_path / f"crash-{len(runs)}", len(runs), draining))
    held = [r.held for r in runs]
    as_it_was, deleted = ("InService", KEPT), (None, {})
    assert [h for h in held if h not in (as_it_was, deleted)] == []
    assert held[0] == as_it_was and held[-1] == deleted
    assert (runs[-1].returned, runs[-1].statuses) == ("Deleting", ["Deleting"])
    assert runs[-1].running == set()


def test_a_resize_asked_for_during_delete_endpoints_checks_refuses_the_deletion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The autoscaler changes A's instance count while DeleteEndpoint reads the variants'
    targets: the endpoint is Updating when DeleteEndpoint would save it Deleting, so it is
    refused as in progress, and nothing of the deletion is written; the resize goes on to
    InService, targets and policies kept."""
    monkeypatch.delenv("CDLAB_LATENCY", raising=False)
    cloud = Cloud.start(tmp_path)
    try:
        asyncio.run(scale(cloud))
        refused = asyncio.run(_race(cloud))
        assert refused == f'Cannot update in-progress endpoint "{endpoint_arn(cloud)}".'
        assert cloud.store.statuses == ["Updating", "InService"]
        assert cloud.held() == ("InService", KEPT)
        assert {v: len(i) for v, i in cloud.lifecycle.in_service[NAME].items()} == {"A": 2, "B": 1}
    finally:
        cloud.stop()


async def _race(cloud: Cloud) -> str:
    """DeleteEndpoint, the autoscaler's resize asked for once it waits for moto, its instance
    starting once DeleteEndpoint has answered; the refusal's message."""
    cloud.store.statuses = []
    ctx = RequestContext.internal()
    gate = cloud.lifecycle.launcher.gate = asyncio.Event()
    deleting = asyncio.create_task(cloud.endpoints.delete_endpoint(ctx, {"EndpointName": NAME}))
    await asyncio.sleep(0)  # DeleteEndpoint has found the endpoint and reads its targets
    resizing = asyncio.create_task(capacity(cloud).set_capacity(NAME, "A", 2))
    with pytest.raises(ValidationException) as refused:
        await deleting
    gate.set()
    await resizing
    await cloud.settled()
    return refused.value.message


def endpoint_arn(cloud: Cloud) -> str:
    return f"arn:aws:sagemaker:{REGION}:{cloud.moto.account}:endpoint/{NAME}"


@pytest.mark.parametrize("status", ["InService", "Creating"])
def test_a_refused_delete_endpoint_writes_nothing(tmp_path: Path, status: str) -> None:
    """The refusal is decided before the endpoint is saved Deleting: nothing is written. A
    caller who may not deregister the targets is refused that first, whatever the endpoint's
    status (AWS decides authorization before validation)."""
    cloud = Cloud.start(tmp_path, DenyingRoles())
    try:
        asyncio.run(scale(cloud))
        in_status(cloud, status)
        cloud.store.crash_at = 0  # any write would be refused with Crash
        with pytest.raises(AccessDeniedException):
            asyncio.run(delete_endpoint(cloud))
        assert cloud.held() == (status, KEPT)
    finally:
        cloud.stop()


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack"])
def test_delete_endpoint_refuses_an_endpoint_in_progress_and_writes_nothing(
    tmp_path: Path, status: str
) -> None:
    """As on AWS: ValidationException, 'Cannot update in-progress endpoint "<arn>".', the
    endpoint's ARN in its own account and region; nothing written, no step started."""
    cloud = Cloud.start(tmp_path)
    try:
        asyncio.run(scale(cloud))
        in_status(cloud, status)
        cloud.store.crash_at = 0
        with pytest.raises(ValidationException) as refused:
            asyncio.run(delete_endpoint(cloud))
        assert (refused.value.code, refused.value.message) == (
            "ValidationException",
            f'Cannot update in-progress endpoint "{endpoint_arn(cloud)}".',
        )
        assert cloud.held() == (status, KEPT) and cloud.lifecycle.tasks == {}
    finally:
        cloud.stop()


def test_a_second_delete_endpoint_leaves_the_deletion_under_way_alone(tmp_path: Path) -> None:
    """An endpoint already Deleting, its deletion under way: accepted (AWS's answer is not
    documented; the kit keeps accepting it), nothing written, and the deletion under way is not
    cancelled and started again (a deletion cut while it stopped the instances left them
    running); it goes on to delete the endpoint and its targets, once."""
    cloud = Cloud.start(tmp_path)
    try:
        asyncio.run(scale(cloud))
        deregistered = asyncio.run(_delete_twice_while_under_way(cloud))
        assert deregistered == [NAME] and cloud.held() == (None, {})
    finally:
        cloud.stop()


async def _delete_twice_while_under_way(cloud: Cloud) -> list[str]:
    """DeleteEndpoint, then another while the deletion's last step (the targets) waits; the
    endpoints that step was run for."""
    gate, ran = asyncio.Event(), []
    deregister_left = cloud.lifecycle.on_delete
    assert deregister_left is not None

    async def held_until_open(name: str) -> None:
        await gate.wait()
        ran.append(name)
        await deregister_left(name)

    cloud.lifecycle.on_delete = held_until_open
    await delete_endpoint(cloud)
    under_way = cloud.lifecycle.task(NAME)
    cloud.store.statuses = []
    assert await delete_endpoint(cloud) == {}
    assert cloud.lifecycle.task(NAME) is under_way and cloud.store.statuses == []
    gate.set()
    await cloud.settled()
    return ran


def test_a_second_delete_endpoint_deletes_an_endpoint_whose_deletion_failed(
    tmp_path: Path,
) -> None:
    """The deletion fails (its last step, after DeleteEndpoint deregistered the targets, raising
    once): the endpoint stays Deleting with nothing under way, as a failed deletion leaves it. A
    second DeleteEndpoint starts the deletion again, and the endpoint is gone, its instances
    stopped."""
    cloud = Cloud.start(tmp_path)
    try:
        asyncio.run(scale(cloud))
        asyncio.run(_delete_failing_once(cloud))
        assert cloud.held() == ("Deleting", {}) and cloud.lifecycle.tasks == {}
        assert asyncio.run(_delete_settled(cloud)) == {}
        assert cloud.held() == (None, {}) and cloud.lifecycle.launcher.running == set()
    finally:
        cloud.stop()


async def _delete_failing_once(cloud: Cloud) -> None:
    """DeleteEndpoint, its deletion's last step raising the first time it runs."""
    deregister_left = cloud.lifecycle.on_delete
    assert deregister_left is not None
    failed: list[str] = []

    async def failing_once(name: str) -> None:
        if not failed:
            failed.append(name)
            raise RuntimeError("the targets could not be read")
        await deregister_left(name)

    cloud.lifecycle.on_delete = failing_once
    await _delete_settled(cloud)


async def _delete_settled(cloud: Cloud) -> dict[str, Any]:
    answer = await delete_endpoint(cloud)
    await cloud.settled()
    return answer


def in_status(cloud: Cloud, status: str) -> None:
    """The endpoint saved in ``status``, as its lifecycle would (no step runs)."""
    doc = cloud.store.get(ENDPOINT, NAME)
    assert doc is not None
    cloud.store.put(ENDPOINT, NAME, doc | {"EndpointStatus": status})


async def delete_endpoint(cloud: Cloud) -> dict[str, Any]:
    return await cloud.endpoints.delete_endpoint(RequestContext.internal(), {"EndpointName": NAME})

"""DeleteEndpoint of an endpoint whose variants are registered for automatic scaling, killed
before each of the writes it (and the deletion it starts) makes, then restarted: the restart
brings back either the endpoint as it was, targets and policies all, or neither; never the
endpoint without its targets, nor targets without their endpoint. Also with a lifecycle step in
flight (a resize, the restart's re-creation) that would finish during DeleteEndpoint's
deregistration: it is cancelled as the endpoint is saved Deleting, so it never puts it back
InService.

No cloud: the state store and the journal are driven directly, a crash being the store refusing
every write from the n-th on (as SIGKILL: each write the store acknowledged is on disk, nothing
after is), and a restart a new store on the same file, a new moto (an account of its own: moto's
backends outlive a test) the journal is replayed into, and the lifecycle's resume."""

from __future__ import annotations

import asyncio
import contextlib
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
from cdlab.localcloud.sagemaker.artifacts import ArtifactStore
from cdlab.localcloud.sagemaker.documents import ENDPOINT, Documents
from cdlab.localcloud.sagemaker.endpoints import Endpoints
from cdlab.localcloud.sagemaker.lifecycle import Lifecycle
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
    """Instances that are plain names; nothing runs. With a ``gate``, they start once it
    opens."""

    on_unexpected_exit = None
    gate: asyncio.Event | None = None

    async def start(
        self, endpoint: str, variant: str, image: str, digest: str, count: int, *_: Any
    ) -> list[str]:
        if self.gate is not None:
            await self.gate.wait()
        return [f"{endpoint}-{variant}-{n}" for n in range(count)]

    async def stop(self, instances: list[str], drain_seconds: float) -> None:
        pass


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
    cancellation) before it goes on."""

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

    def start_step(self, status: str) -> None:
        """A lifecycle step under way: a resize adding an instance to A (``Updating``) or the
        restart's re-creation (``SystemUpdating``), its instances starting once DeleteEndpoint
        deregisters its first target."""
        doc = self.lifecycle.docs.endpoint(NAME)
        assert doc is not None
        pending = [snapshot(v) | {"Count": 2 if v == "A" else 1} for v in VARIANTS]
        self.lifecycle.docs.save_endpoint(doc, EndpointStatus=status, _Pending=pending)
        gate = self.lifecycle.launcher.gate = asyncio.Event()
        (self.lifecycle.resize if status == "Updating" else self.lifecycle.create)(NAME)
        step = self.lifecycle.task(NAME)
        assert step is not None
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
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:{cloud.moto.account}:endpoint/{NAME}",
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
    cloud.lifecycle.in_service[NAME] = {v: [f"{NAME}-{v}-0"] for v in VARIANTS}


@dataclass
class Run:
    held: Held  # what the restart holds once its resumed steps are done
    crashed: bool  # whether the kill came before the deletion's last write
    returned: str | None  # the endpoint's status as DeleteEndpoint returned (None: it crashed)
    statuses: list[str]  # the endpoint's status in each of its saves from DeleteEndpoint's on


def run_until_crash(home: Path, crash_at: int, in_flight: str | None = None) -> Run:
    """Scale, start a step (``in_flight``: the endpoint's status for it), delete killed before
    write ``crash_at``, restart."""
    cloud = Cloud.start(home)
    try:
        asyncio.run(scale(cloud))
        assert cloud.held() == ("InService", KEPT)
        returned = asyncio.run(_delete(cloud, crash_at, in_flight))
    finally:
        cloud.stop()
    restarted = Cloud.start(home)
    try:
        asyncio.run(_resume(restarted))
        statuses = cloud.store.statuses or []
        return Run(restarted.held(), cloud.store.crashed, returned, statuses)
    finally:
        restarted.stop()


async def _delete(cloud: Cloud, crash_at: int, in_flight: str | None) -> str | None:
    """DeleteEndpoint and the deletion's step, the process killed before write ``crash_at``
    (in the request, or in the step, whose task it ends); the endpoint's status as
    DeleteEndpoint returned."""
    if in_flight is not None:
        cloud.start_step(in_flight)
        await asyncio.sleep(0)  # the step waits for its instances
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


@pytest.mark.parametrize("in_flight", [None, "Updating", "SystemUpdating"])
def test_a_crash_anywhere_in_a_delete_endpoint_leaves_the_endpoint_and_its_targets_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_flight: str | None
) -> None:
    """Killed before its 0th, 1st, ... write, until one run makes all its writes: each restart
    holds the endpoint InService with both variants' targets and policies (a step in flight
    done again by the restart), or none of them. The run not killed saves the endpoint Deleting
    and nothing else: a step in flight never puts it back InService, and DeleteEndpoint
    returns with it Deleting."""
    monkeypatch.delenv("CDLAB_LATENCY", raising=False)
    runs = [run_until_crash(tmp_path / "crash-0", 0, in_flight)]
    while runs[-1].crashed:
        assert len(runs) < 20, "the deletion keeps writing"
        runs.append(run_until_crash(tmp_path / f"crash-{len(runs)}", len(runs), in_flight))
    held = [r.held for r in runs]
    as_it_was, deleted = ("InService", KEPT), (None, {})
    assert [h for h in held if h not in (as_it_was, deleted)] == []
    assert held[0] == as_it_was and held[-1] == deleted
    assert (runs[-1].returned, runs[-1].statuses) == ("Deleting", ["Deleting"])


def test_a_refused_delete_endpoint_writes_nothing(tmp_path: Path) -> None:
    """The refusal is decided before the endpoint is saved Deleting: nothing is written."""
    cloud = Cloud.start(tmp_path, DenyingRoles())
    try:
        asyncio.run(scale(cloud))
        cloud.store.crash_at = 0  # any write would be refused with Crash
        with pytest.raises(AccessDeniedException):
            asyncio.run(
                cloud.endpoints.delete_endpoint(RequestContext.internal(), {"EndpointName": NAME})
            )
        assert cloud.held() == ("InService", KEPT)
    finally:
        cloud.stop()

"""A journal an older kit wrote, holding Application Auto Scaling changes that the corrections
of ``scalingrules`` now refuse, still replays: each refused change is skipped (and logged), the
others come back, and nothing stops the start."""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path

from cdlab.localcloud.moto.bridge import MotoBridge, MotoRequest
from cdlab.localcloud.moto.replayable import name_of
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.journal import KIND, Journal
from cdlab.localcloud.state.store import Store

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
ACCOUNT = "123456789012"  # moto's, which a request signed with a key it does not know acts in


def variant(endpoint: str) -> tuple[str, str, str]:
    return "sagemaker", f"endpoint/{endpoint}/variant/AllTraffic", DIMENSION


def policy_call(namespace: str, resource_id: str, dimension: str) -> dict:
    """MotoState.put_scaling_policy's journaled arguments: target tracking policy ``tracked``."""
    return {
        "policy_name": "tracked",
        "service_namespace": namespace,
        "resource_id": resource_id,
        "scalable_dimension": dimension,
        "policy_type": "TargetTrackingScaling",
        "policy_body": {"TargetValue": 10.0, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}},
    }  # fmt: skip


def registration_request(namespace: str, resource_id: str, dimension: str) -> MotoRequest:
    """A client's RegisterScalableTarget without MinCapacity and MaxCapacity, as the gateway
    journals it."""
    body = {
        "ServiceNamespace": namespace,
        "ResourceId": resource_id,
        "ScalableDimension": dimension,
    }
    headers = (
        ("Host", "127.0.0.1:4566"),
        ("X-Amz-Target", "AnyScaleFrontendService.RegisterScalableTarget"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/"
         "us-east-1/application-autoscaling/aws4_request, SignedHeaders=host, Signature=0"),
    )  # fmt: skip
    return MotoRequest("POST", "/", headers, json.dumps(body).encode())


def test_changes_an_older_kit_journaled_that_are_now_refused_are_skipped(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    journal, moto = Journal(store), MotoState(ACCOUNT, "us-east-1")
    suffix = uuid.uuid4().hex[:8]
    unregistered, bare, kept = (variant(f"{name}-{suffix}") for name in ("gone", "bare", "kept"))
    capacity = {"min_capacity": 1, "max_capacity": 2, "role_arn": None, "suspended_state": None}
    older = [  # what an older kit accepted and journaled, in order
        {"call": name_of(MotoState.put_scaling_policy), "args": [],
         "kwargs": policy_call(*unregistered)},
        registration_request(*bare).to_doc(),
        {"call": name_of(MotoState.register_scalable_target), "args": list(kept),
         "kwargs": capacity},
        {"call": name_of(MotoState.put_scaling_policy), "args": [], "kwargs": policy_call(*kept)},
    ]  # fmt: skip
    for n, doc in enumerate(older):
        store.put(KIND, f"{n:04d}", {**doc, "seed": n + 1})
    backend = moto.autoscaling_backend()
    try:
        assert journal.replay(MotoBridge(moto)) == 2
        targets = moto.call(lambda: {t.resource_id for t in backend.targets[DIMENSION].values()})
        policies = moto.call(lambda: {p.resource_id for p in backend.policies.values()})
        assert kept[1] in targets and {unregistered[1], bare[1]}.isdisjoint(targets)
        assert kept[1] in policies and unregistered[1] not in policies
    finally:
        moto.call(_forget, backend, kept)
        moto.shutdown()
        store.close()


def _forget(backend, target: tuple[str, str, str]) -> None:
    """On moto's thread: the target the test registered (moto's backends outlive it)."""
    with contextlib.suppress(Exception):
        backend.deregister_scalable_target(*target)

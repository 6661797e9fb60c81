"""An endpoint's fleet: each variant's running instances, and the route that serves from it."""

from __future__ import annotations

from typing import Any

from cdlab.localcloud.sagemaker.datacapture import capture_settings
from cdlab.localcloud.sagemaker.documents import Snapshot
from cdlab.localcloud.sagemaker.instances import Instance
from cdlab.localcloud.sagemaker.router import EndpointRoute, VariantRoute

LEAST_OUTSTANDING = "LEAST_OUTSTANDING_REQUESTS"
Fleet = dict[str, list[Instance]]
"""Variant name -> its running instances, for one endpoint."""


def all_instances(fleet: Fleet) -> list[Instance]:
    """Every instance of the fleet, all variants together."""
    return [i for group in fleet.values() for i in group]


def routing_strategy(variant: dict[str, Any]) -> str:
    """How a variant routes among its instances: its RoutingConfig's strategy, else RANDOM,
    SageMaker's default (a snapshot made before the kit kept RoutingConfig has none)."""
    return (variant.get("RoutingConfig") or {}).get("RoutingStrategy", "RANDOM")


def endpoint_route(name: str, snapshot: Snapshot, fleet: Fleet, region: str) -> EndpointRoute:
    """The route sending endpoint ``name``'s traffic to ``fleet`` by the snapshot's weights,
    each variant capturing what it serves as the snapshot says (as its model's role, in the
    endpoint's ``region``)."""
    return EndpointRoute(
        name,
        tuple(
            VariantRoute(
                s["VariantName"],
                s["Weight"],
                tuple(fleet[s["VariantName"]]),
                capture_settings(name, s, region),
                routing_strategy(s) == LEAST_OUTSTANDING,
            )
            for s in snapshot
        ),
    )

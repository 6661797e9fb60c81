"""How a variant spreads its requests over its instances: at random, SageMaker's default, or to
the one with the fewest requests in flight when its RoutingConfig says
LEAST_OUTSTANDING_REQUESTS (docs/aws-compatibility.md, "SageMaker runtime")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cdlab.localcloud.sagemaker.fleet import routing_strategy
from cdlab.localcloud.sagemaker.router import VariantRoute


@dataclass(eq=False)
class Serving:
    """What the router reads of an instance: whether it is alive, and its requests in flight."""

    instance_id: str
    inflight: int
    alive: bool = True


def picks(route: VariantRoute, exclude: set[Serving] | None = None, n: int = 400) -> Counter[str]:
    return Counter(route.pick(exclude or set()).instance_id for _ in range(n))  # type: ignore[union-attr]


def test_by_default_requests_go_to_any_live_instance_busy_or_not() -> None:
    busy, idle, dead = Serving("busy", 5), Serving("idle", 0), Serving("dead", 0, alive=False)
    counts = picks(VariantRoute("v", 1.0, (busy, idle, dead)))  # type: ignore[arg-type]
    assert set(counts) == {"busy", "idle"}  # each missed with odds 2^-400
    assert 100 < counts["busy"] < 300


def test_least_outstanding_requests_goes_to_the_fewest_in_flight_ties_at_random() -> None:
    busy, idle, other = Serving("busy", 5), Serving("idle", 0), Serving("other", 0)
    route = VariantRoute("v", 1.0, (busy, idle, other), least_outstanding=True)  # type: ignore[arg-type]
    assert set(picks(route)) == {"idle", "other"}
    assert set(picks(route, exclude={idle, other})) == {"busy"}  # tried already: the busy one


def test_the_strategy_is_the_variants_routing_config_else_random() -> None:
    least = {"RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}}
    assert routing_strategy(least) == "LEAST_OUTSTANDING_REQUESTS"
    assert routing_strategy({"RoutingConfig": None}) == "RANDOM"  # a config without one
    assert routing_strategy({}) == "RANDOM"  # a snapshot saved before RoutingConfig was kept

"""The runtime's hot path: InvokeEndpoint routed to a variant by weight, then to an instance.

A request goes to the new fleet's share during a blue/green deployment, to the variant
``X-Amzn-SageMaker-Target-Variant`` names (or one picked by weight), then to a live instance
of it: one at random, SageMaker's default, or the one with the fewest requests in flight when
the variant's ``RoutingConfig`` asks for ``LEAST_OUTSTANDING_REQUESTS``; if that instance goes
away mid-request it is retried on another. Only Content-Type, Accept and the custom
attributes are passed on. Each answer is counted in the endpoint metrics. A missing endpoint or
variant is a ValidationError, no live instance ServiceUnavailable, and an instance that does not
answer within the invocation timeout a ModelError.

Each endpoint's routing table is an immutable snapshot swapped in one assignment, so a request
sees either the old fleet or the new one, never a half-switched endpoint. A variant's route
carries its data capture settings (None if it captures nothing), and the router the buffer its
captures go to (:mod:`.datacapture`), so that :mod:`.invocations` captures an answer in one check.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import accumulate

from cdlab import config
from cdlab.localcloud.cloudwatch.metrics import Metrics
from cdlab.localcloud.protocols.errors import ModelError, ServiceUnavailable, ValidationError
from cdlab.localcloud.sagemaker.datacapture import CaptureSettings, DataCapture
from cdlab.localcloud.sagemaker.instances import Instance
from cdlab.localcloud.sagemaker.upstream import UpstreamClosed, UpstreamResponse

MAX_PAYLOAD_BYTES = 6_291_456
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
INVOKED_VARIANT = "x-Amzn-Invoked-Production-Variant"
TARGET_VARIANT = "X-Amzn-SageMaker-Target-Variant"
PASSED_HEADERS = ("Content-Type", "Accept", CUSTOM_ATTRIBUTES)


@dataclass(frozen=True)
class VariantRoute:
    name: str
    weight: float
    instances: tuple[Instance, ...]
    capture: CaptureSettings | None = None
    least_outstanding: bool = False  # RoutingStrategy LEAST_OUTSTANDING_REQUESTS, else RANDOM

    def pick(self, exclude: set[Instance]) -> Instance | None:
        """A live instance at random (SageMaker's default routing) or, routing by least
        outstanding requests, the one with the fewest requests in flight (ties at random)."""
        live = [i for i in self.instances if i.alive and i not in exclude]
        if len(live) < 2:
            return live[0] if live else None
        if self.least_outstanding:
            fewest = min(i.inflight for i in live)
            live = [i for i in live if i.inflight == fewest]
        return random.choice(live)


Answered = Callable[[tuple[VariantRoute, UpstreamResponse] | BaseException], None]


@dataclass(frozen=True)
class EndpointRoute:
    """Where an endpoint's requests go, by variant; during a blue/green deployment ``green`` (the
    route to the new fleet) takes ``green_share`` of the requests and this one the rest."""

    name: str
    variants: tuple[VariantRoute, ...]
    green: EndpointRoute | None = None
    green_share: float = 0.0

    def choose(self, target_variant: str | None) -> VariantRoute:
        if target_variant is not None:
            for variant in self.variants:
                if variant.name == target_variant:
                    return variant
            raise ValidationError(
                f"The variant {target_variant} does not exist for endpoint {self.name}. "
                f"Its variants are: {', '.join(v.name for v in self.variants)}."
            )
        cumulative = self.cumulative_weights
        if not cumulative or cumulative[-1] <= 0:
            raise ValidationError(
                f"Endpoint {self.name} has no variant with a positive weight; "
                "set one with update-endpoint-weights-and-capacities or use TargetVariant."
            )
        if len(cumulative) == 1:
            return self.variants[0]
        return random.choices(self.variants, cum_weights=cumulative)[0]

    @functools.cached_property
    def cumulative_weights(self) -> list[float]:
        """The variants' weights added up in order (worked out once per routing snapshot)."""
        return list(accumulate(v.weight for v in self.variants))


class Router:
    def __init__(
        self, metrics: Metrics, capture: DataCapture, timeout_seconds: float | None = None
    ) -> None:
        self.routes: dict[str, EndpointRoute] = {}
        self.timeout = timeout_seconds or config.invocation_timeout()
        self.metrics = metrics
        self.capture = capture

    def set_route(self, route: EndpointRoute) -> None:
        self.routes[route.name.lower()] = route

    def drop_route(self, name: str) -> None:
        self.routes.pop(name.lower(), None)

    def swap_instance(self, name: str, old: Instance, new: Instance) -> None:
        """Route to ``new`` where endpoint ``name`` routed to ``old`` (an instance replaced), in
        the route as it stands: during a blue/green deployment its traffic split stays."""
        route = self.routes.get(name.lower())
        if route is not None:
            self.set_route(_swapped(route, old, new))

    def instance_counts(self) -> dict[tuple[str, str], int]:
        """Instances serving each (endpoint, variant), both fleets during a deployment."""
        counts: dict[tuple[str, str], int] = {}
        for route in list(self.routes.values()):
            for served in (route, route.green):
                for variant in served.variants if served is not None else ():
                    key = (route.name, variant.name)
                    counts[key] = counts.get(key, 0) + len(variant.instances)
        return counts

    def send(self, name: str, body: bytes, headers: Mapping[str, str], done: Answered) -> None:
        """Send the request to one instance; ``done`` gets the variant's route and the instance's
        answer, or the error (ValidationError, ServiceUnavailable, ModelError)."""
        started = time.perf_counter()
        route = self.routes.get(name.lower())
        try:
            if route is None:
                raise ValidationError(f"Endpoint {name} of account {config.ACCOUNT_ID} not found.")
            if route.green is not None and random.random() < route.green_share:
                route = route.green
            variant = route.choose(headers.get(TARGET_VARIANT))
        except ValidationError as err:
            done(err)
            return
        forwarded = {h: value for h in PASSED_HEADERS if (value := headers.get(h)) is not None}
        _Invocation(self, route, variant, body, forwarded, done, started).send()


class _Invocation:
    """One request on its way to an instance of its variant, driven by callbacks: no task of
    its own, so that the runtime's fast path serves it without one."""

    def __init__(
        self,
        router: Router,
        route: EndpointRoute,
        variant: VariantRoute,
        body: bytes,
        headers: dict[str, str],
        done: Answered,
        started: float,
    ) -> None:
        self.router, self.route, self.variant = router, route, variant
        self.body, self.headers, self.done, self.started = body, headers, done, started
        self.tried: set[Instance] = set()
        self.instance: Instance | None = None

    def send(self) -> None:
        """To the live instance with the fewest requests in flight, of those not yet tried."""
        instance = self.instance = self.variant.pick(exclude=self.tried)
        if instance is None:
            self.done(
                ServiceUnavailable(
                    f"No instance of variant {self.variant.name} of endpoint {self.route.name} "
                    "is available; try again shortly."
                )
            )
            return
        self.tried.add(instance)
        instance.inflight += 1
        upstream = instance.upstream
        request = upstream.request("/invocations", self.body, self.headers)
        upstream.send(request, self.router.timeout, self.answered)

    def answered(self, response: UpstreamResponse | BaseException) -> None:
        instance = self.instance
        assert instance is not None
        instance.inflight -= 1
        if isinstance(response, UpstreamClosed):
            self.send()  # the instance went away: inference is safe to retry on another one
        elif isinstance(response, TimeoutError):
            self.done(
                ModelError(
                    f"Received a timeout from the model container of {instance.instance_id}: "
                    f"no answer within {self.router.timeout:g} seconds.",
                    OriginalStatusCode=408,
                    OriginalMessage="timeout",
                )
            )
        elif isinstance(response, BaseException):
            self.done(response)
        else:
            total = time.perf_counter() - self.started
            self.router.metrics.record(
                self.route.name, self.variant.name, response.status, response.elapsed, total
            )
            self.done((self.variant, response))


def _swapped(route: EndpointRoute, old: Instance, new: Instance) -> EndpointRoute:
    variants = tuple(
        dataclasses.replace(v, instances=tuple(new if i is old else i for i in v.instances))
        for v in route.variants
    )
    green = _swapped(route.green, old, new) if route.green is not None else None
    return dataclasses.replace(route, variants=variants, green=green)

"""The local cloud's clock for CloudWatch: one background task, off the hot path.

Every (scaled) minute it samples the instances' CPU and memory, flushes the period's metrics and
then runs the listeners (alarm evaluation, target tracking) on the fresh datapoints; at least
every second it ships new instance log lines to CloudWatch Logs. File and ``/proc`` reads run in
a worker thread so the event loop never waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from cdlab.localcloud.cloudwatch.metrics import Metrics, period_seconds
from cdlab.localcloud.sagemaker.endpointlogs import LogShipper
from cdlab.localcloud.sagemaker.instances import Instance, InstanceLauncher
from cdlab.localcloud.sagemaker.router import Router
from cdlab.localcloud.sagemaker.usage import UsageSampler
from cdlab.localcloud.state.logarchive import LogArchive

log = logging.getLogger("cdlab.telemetry")

LOG_SHIP_SECONDS = 1.0

Usage = dict[tuple[str, str], list[tuple[float, float]]]


class Telemetry:
    def __init__(
        self,
        metrics: Metrics,
        router: Router,
        launcher: InstanceLauncher,
        listeners: list[Callable[[], Awaitable[None]]],
        logs: LogArchive,
    ) -> None:
        self.metrics = metrics
        self.router = router
        self.launcher = launcher
        self.listeners = listeners
        self.sampler = UsageSampler()
        self.shipper = LogShipper(logs)

    def _usage(self, instances: list[Instance]) -> Usage:
        samples = self.sampler.sample([i.process.pid for i in instances if i.alive])
        usage: Usage = {}
        for instance in instances:
            sample = samples.get(instance.process.pid)
            if sample is not None:
                usage.setdefault((instance.endpoint, instance.variant), []).append(sample)
        return usage

    def _collect(self, instances: list[Instance], sample: bool) -> Usage:
        self.shipper.ship(instances)
        return self._usage(instances) if sample else {}

    async def run(self) -> None:
        period = period_seconds()
        tick = min(period, LOG_SHIP_SECONDS)
        started = time.time()  # the current period's start, on a grid of real seconds
        self.sampler.sample([i.process.pid for i in self.launcher.running])
        while True:
            now = time.time()
            await asyncio.sleep(max(0.0, min(started + period, now + tick) - now))
            due = time.time() >= started + period
            try:
                instances = [*self.launcher.running, *self.launcher.take_ended()]
                usage = await asyncio.to_thread(self._collect, instances, due)
                if not due:
                    continue
                await self.metrics.flush(started, self.router.instance_counts(), usage)
                started += period
                for listener in self.listeners:
                    await listener()
            except Exception:
                log.exception("telemetry failed; trying again next period")
                started = max(started, time.time() - period)

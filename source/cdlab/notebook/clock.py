"""Cloud time: the notebooks' waits, traffic durations and timeouts, written in the target's own
time and sized from what AWS typically takes (:mod:`cdlab.localcloud.latency`'s ``AWS``).

On AWS a cloud second is a real second. On the local cloud it lasts ``1 / CDLAB_TIME_SCALE``
real seconds, whichever latency profile the cloud runs: a wait sized for AWS then holds locally
under ``CDLAB_LATENCY=aws`` too, and the fast profile only ends it sooner. Polling starts brisk
and backs off, never more often than once a real second against AWS (its control-plane APIs
throttle).
"""

from __future__ import annotations

from collections.abc import Iterator

from cdlab import cloud_clock, target
from cdlab.localcloud.latency import AWS

MINUTE = 60.0
FIRST_POLL, MOST_POLL, BACKOFF = 2.0, 30.0, 1.5  # cloud seconds; the waiters poll every 30 s
AWS_MIN_POLL = 1.0  # real seconds between two polls of AWS at least
LOCAL_MIN_POLL = 0.05  # real seconds: no busy loop against the local cloud either
LOW_DATAPOINTS = 15  # target tracking's scale-in alarm: 15 one-minute datapoints under target
ALARM_LAG = 3 * MINUTE  # a minute's datapoint reaches its alarm a minute or more after it ends
MARGIN = 1.5  # AWS varies: every sized wait allows half as much again


scale = cloud_clock.time_scale  # how many times faster than real time the target's time passes


def real(cloud_seconds: float) -> float:
    """Real seconds that ``cloud_seconds`` of the target's time last."""
    return cloud_seconds / scale()


def polls() -> Iterator[float]:
    """Real seconds to sleep between polls: brisk at first, backing off to the waiters' 30 s."""
    floor = AWS_MIN_POLL if target.current() == "aws" else LOCAL_MIN_POLL
    factor, cloud = scale(), FIRST_POLL
    while True:
        yield max(floor, cloud / factor)
        cloud = min(MOST_POLL, cloud * BACKOFF)


def deployment(bake_seconds: float = 0.0) -> float:
    """Cloud seconds an UpdateEndpoint may take: the new fleet's provisioning, its bake times
    (all steps together), and the margin."""
    return MARGIN * (AWS.endpoint_instances + bake_seconds + ALARM_LAG)


def scale_out() -> float:
    """Cloud seconds a target-tracking scale-out may take: 3 datapoints over target, the alarm's
    lag, the new instances."""
    return MARGIN * (3 * MINUTE + ALARM_LAG + AWS.capacity_change)


def scale_in(cooldown_seconds: float) -> float:
    """Cloud seconds a target-tracking scale-in may take once the load stops: 15 datapoints
    under target, the alarm's lag, the scale-in cooldown, the instances removed."""
    return MARGIN * (LOW_DATAPOINTS * MINUTE + ALARM_LAG + cooldown_seconds + AWS.capacity_change)


TRAFFIC_LIMIT = 60 * MINUTE
"""Cloud seconds of traffic at most, a safety net for traffic left running: longer than any wait
a notebook makes under traffic (a deployment whose canary bakes 10 minutes may take
``deployment(10 * MINUTE)``, some 29 minutes; a scale-out ``scale_out()``, some 15)."""

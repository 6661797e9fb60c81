"""Waits in cloud time, sized for AWS: what the notebook helpers allow against AWS itself (a cloud
second is a real second there) covers what AWS typically takes, by the AWS-like profile's figures
(``cdlab.localcloud.latency.AWS``), and polls no more than once a second."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from cdlab import notebook
from cdlab.localcloud import latency
from cdlab.localcloud.latency import AWS
from cdlab.notebook import clock

MINUTE = 60.0


@pytest.fixture
def on_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helpers as a notebook runs them with ``target = "aws"`` (no call leaves the process)."""
    monkeypatch.setenv("CDLAB_TARGET", "aws")


def test_traffic_outlasts_a_blue_green_update_on_aws(on_aws) -> None:
    """Notebook 04: 2 s of traffic, an update whose new fleet takes minutes, 2 s more."""
    traffic = notebook.Traffic("an-endpoint", b"{}")
    assert traffic.limit >= 2 + AWS.endpoint_instances + 2 * clock.MOST_POLL + 2


def test_traffic_runs_until_a_canary_can_trip_its_alarm_on_aws(on_aws) -> None:
    """Notebook 07: a minute of traffic, the canary's fleet, then a minute of its errors and the
    alarm's lag before the rollback, and a minute after."""
    traffic = notebook.Traffic("an-endpoint", b"{}")
    needed = MINUTE + AWS.endpoint_instances + MINUTE + clock.ALARM_LAG + MINUTE
    assert traffic.limit >= needed


def test_traffic_holds_through_a_scale_out_on_aws(on_aws) -> None:
    """Notebook 06: the load runs until the scale-out ends, then 4 minutes more."""
    traffic = notebook.Traffic("an-endpoint", b"{}")
    assert traffic.limit >= 3 * MINUTE + clock.ALARM_LAG + AWS.capacity_change + 4 * MINUTE
    assert traffic.limit >= clock.scale_out() + 4 * MINUTE


def test_polling_aws_waits_a_second_at_least_and_backs_off(on_aws) -> None:
    intervals = list(itertools.islice(clock.polls(), 12))
    assert min(intervals) >= clock.AWS_MIN_POLL
    assert intervals == sorted(intervals) and intervals[-1] == clock.MOST_POLL > intervals[0]


def test_the_scale_in_wait_covers_fifteen_low_minutes_and_more() -> None:
    """Notebook 06: 15 datapoints under target, the alarm's lag, the cooldown and the instances
    removed, with AWS's variance on top; 30 minutes did not leave it."""
    needed = 15 * MINUTE + clock.ALARM_LAG + 120 + AWS.capacity_change
    assert clock.scale_in(cooldown_seconds=120) >= clock.MARGIN * needed > 30 * MINUTE


def test_a_linear_deployment_wait_covers_the_new_fleet_and_each_bake() -> None:
    """Notebook 07: two steps of 3 minutes after the new fleet starts: 4 x 3 minutes did not."""
    needed = AWS.endpoint_instances + 2 * 3 * MINUTE
    assert clock.deployment(2 * 3 * MINUTE) > needed >= 4 * 3 * MINUTE


def test_the_profile_is_fast_unless_aws_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDLAB_LATENCY", raising=False)
    assert latency.current() == latency.FAST and latency.profile() == "fast"
    monkeypatch.setenv("CDLAB_LATENCY", "aws")
    assert latency.current() == AWS
    monkeypatch.setenv("CDLAB_LATENCY", "slow")
    with pytest.raises(ValueError, match="CDLAB_LATENCY must be one of fast, aws"):
        latency.profile()


def test_a_pause_is_compressed_by_the_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", "600")
    started = time.monotonic()
    asyncio.run(latency.pause(60))  # a cloud minute: 0.1 s
    assert 0.09 <= time.monotonic() - started < 60  # not a real minute


def test_a_pause_ends_when_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDLAB_TIME_SCALE", "1")

    async def interrupted() -> float:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, stop.set)
        started = time.monotonic()
        await latency.pause(3600, stop)
        return time.monotonic() - started

    assert asyncio.run(interrupted()) < 1.0

"""A variant's ContainerStartupHealthCheckTimeoutInSeconds decides how long its instances may take
to pass the ping health check: when creating the endpoint, when adding instances, when replacing
a dead one.

An instance that never gets healthy is a real one stopped (SIGSTOP, by its pid) before it can
answer a ping; its cloud, which sends the pings, is itself stopped while the test looks for it,
so none passes meanwhile. The timeout is in real seconds (it is not scaled), so the test of it
takes a minute and more.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from cdlab.localcloud import control
from tests.integration.private_cloud import PrivateCloud, alive
from tests.integration.test_endpoints import error_of
from tests.polling import poll

LONGER = 75  # seconds: past the 60 the local cloud allows a variant that gives none
TIMEOUT = "ContainerStartupHealthCheckTimeoutInSeconds"
WAITS = 2 * LONGER  # how long the test polls for what each timeout decides


@contextlib.contextmanager
def continued_at_the_end() -> Iterator[list[int]]:
    """A list of pids the test knows (the instances it stops among them), each continued at the
    end if still alive (their cloud has killed those it stopped, unless the test failed first)."""
    known: list[int] = []
    try:
        yield known
    finally:
        for pid in known:
            if alive(pid):
                os.kill(pid, signal.SIGCONT)


def freeze_new_instance(cloud: PrivateCloud, endpoint: str, known: list[int]) -> None:
    """Stop the first instance of ``endpoint`` not in ``known`` before it passes its ping, and
    add it there: each look happens with the cloud stopped, so it cannot ping one the look
    then misses."""

    def look() -> list[int]:
        os.kill(cloud.pid, signal.SIGSTOP)
        try:
            new = [p for p in cloud.instance_pids(endpoint) if p not in known]
            for pid in new:
                os.kill(pid, signal.SIGSTOP)
        finally:
            os.kill(cloud.pid, signal.SIGCONT)
        return new

    known.extend(poll(look, interval=0.02, what=f"a new instance of {endpoint}"))


def status(cloud: PrivateCloud, endpoint: str) -> dict:
    return cloud.client("sagemaker").describe_endpoint(EndpointName=endpoint)


def test_the_timeouts_given_are_kept_and_their_range_checked(sm, deploy) -> None:
    download = "ModelDataDownloadTimeoutInSeconds"
    given = {TIMEOUT: 600, download: 120}
    config = deploy.config("kept", {"AllTraffic": (1, 1, 1)}, variant_params=given)
    [variant] = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    assert {k: variant[k] for k in given} == given
    unchecked = boto3.Session().client("sagemaker", config=Config(parameter_validation=False))
    for member, value, limit in (
        (TIMEOUT, 59, "greater than or equal to 60"),
        (TIMEOUT, 3601, "less than or equal to 3600"),
        (download, 3601, "less than or equal to 3600"),
    ):
        code, message = error_of(
            unchecked.create_endpoint_config,
            EndpointConfigName="out-of-range",
            ProductionVariants=[{**variant, member: value}],
        )
        assert code == "ValidationException"
        path = f"productionVariants.1.member.{member[0].lower()}{member[1:]}"
        assert (
            f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have value "
            f"{limit}"
        ) in message


@pytest.mark.slow
def test_an_instance_that_never_gets_healthy_fails_after_its_variants_timeout(
    private: PrivateCloud,
) -> None:
    """Four endpoints at once: one without a timeout and one with a longer one being created,
    one scaling up and one replacing a killed instance (those two with the longer one). The
    first fails while the others still wait; each then fails after its own timeout."""
    private.up()
    longer = {TIMEOUT: LONGER}
    for name in ("scaling", "replacing"):
        private.deploy(name, count=1, variant_params=longer)
    [killed] = private.instance_pids("replacing")
    sm = private.client("sagemaker")
    with continued_at_the_end() as known:
        known.extend([*private.instance_pids("scaling"), killed])
        private.deploy("default-wait", count=1, wait=False)
        freeze_new_instance(private, "default-wait", known)
        private.deploy("long-wait", count=1, variant_params=longer, wait=False)
        freeze_new_instance(private, "long-wait", known)
        sm.update_endpoint_weights_and_capacities(
            EndpointName="scaling",
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
        )
        freeze_new_instance(private, "scaling", known)
        os.kill(killed, signal.SIGKILL)
        freeze_new_instance(private, "replacing", known)
        assert_each_timeout_decides(private)


def assert_each_timeout_decides(cloud: PrivateCloud) -> None:
    """The endpoint without a timeout fails first, the others after the longer one."""
    default = poll(
        lambda: status(cloud, "default-wait"),
        until=lambda d: d["EndpointStatus"] == "Failed",
        timeout=WAITS,
        what="the endpoint without a timeout to fail",
    )
    assert status(cloud, "long-wait")["EndpointStatus"] == "Creating"
    assert status(cloud, "scaling")["EndpointStatus"] == "Updating"
    within = "did not pass the ping health check within {} seconds."
    assert default["FailureReason"].startswith(
        "The primary container for production variant AllTraffic did not pass the ping health "
        "check. Please check CloudWatch logs for this endpoint. Instance i-"
    )
    assert default["FailureReason"].endswith(within.format(60))
    within_longer = within.format(LONGER)
    longer = poll(
        lambda: status(cloud, "long-wait"),
        until=lambda d: d["EndpointStatus"] == "Failed",
        timeout=WAITS,
        what="the endpoint with the longer timeout to fail",
    )
    assert longer["FailureReason"].endswith(within_longer)
    scaled = poll(
        lambda: status(cloud, "scaling"),
        until=lambda d: d["EndpointStatus"] == "InService",
        timeout=WAITS,
        what="the scaled endpoint to give up the instance it added",
    )
    assert scaled["FailureReason"].endswith(within_longer)
    assert scaled["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    log = control.log_file(cloud.home)
    poll(
        lambda: [line for line in log.read_text().splitlines() if "could not replace" in line],
        until=lambda lines: any(within_longer.rstrip(".") in line for line in lines),
        timeout=WAITS,
        what="the replacement to fail after the longer timeout",
    )

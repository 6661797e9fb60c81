"""How long the local cloud's slow operations take: at once (``CDLAB_LATENCY=fast``, the default,
for live demos) or as long as AWS typically takes (``CDLAB_LATENCY=aws``), so that what a notebook
assumes about time is exercised offline.

Every figure is in the cloud's time and passes ``CDLAB_TIME_SCALE`` times faster, like CloudWatch
minutes and bake times: at scale 60 an endpoint that takes six minutes on AWS is InService in six
seconds. The figures are typical, not worst cases; where AWS documents no number the source is a
published measurement, named beside the figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass

from cdlab import config

PROFILES = ("fast", "aws")


@dataclass(frozen=True)
class Latency:
    """Seconds of cloud time each slow operation takes (before the work itself)."""

    endpoint_instances: float
    """Launching an endpoint's instances and loading the model: CreateEndpoint, and the new
    fleet of a blue/green UpdateEndpoint. AWS says CreateEndpoint "can take a few minutes"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-create-endpoint.html);
    the ``endpoint_in_service`` waiter polls every 30 s for up to an hour
    (https://docs.aws.amazon.com/cli/latest/reference/sagemaker/wait/endpoint-in-service.html);
    5 to 8 minutes is what an ml.m5.large with a built-in algorithm's container typically takes."""

    capacity_change: float
    """A variant in service given more or fewer instances (automatic scaling, or
    UpdateEndpointWeightsAndCapacities): the endpoint is Updating until its
    CurrentInstanceCount changes. A published guide to endpoint auto scaling puts a scale-up at
    3 to 5 minutes (https://theneuralbase.com/aws-sagemaker/learn/advanced/endpoint-auto-scaling-for-cost/)."""

    endpoint_deleting: float
    """DeleteEndpoint: the endpoint stays Deleting while its instances are released; the
    ``endpoint_deleted`` waiter polls every 30 s
    (https://docs.aws.amazon.com/cli/latest/reference/sagemaker/wait/endpoint-deleted.html)."""

    training_starting: float
    """A training job's Starting phase ("Launching requested ML instances", "Preparing the
    instances for training"): a cold start, which warm pools exist to shorten
    (https://docs.aws.amazon.com/sagemaker/latest/dg/train-warm-pools.html;
    phases: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_SecondaryStatusTransition.html)."""

    training_downloading: float
    """Downloading: the input channels copied to the instance's volume (File mode), then the
    training image pulled ("Downloading the training image", same pages)."""

    training_uploading: float
    """Uploading: model.tar.gz written to S3OutputPath, then the instance released."""

    stack_resource: float
    """One CloudFormation resource created or replaced (a SageMaker endpoint also waits for its
    InService): the stack's events show seconds apart for models, configurations, roles and
    buckets (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-describing-stacks.html)."""

    eventbridge_enabling: float
    """S3 sending a bucket's events to EventBridge once it is enabled: "After you enable
    EventBridge, it takes around five minutes for the changes to take effect"
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-event-notifications-eventbridge.html).
    A write before then sends no event (AWS does not say whether such an event is lost or late:
    the kit takes the cautious reading, lost)."""


FAST = Latency(0, 0, 0, 0, 0, 0, 0, 0)
AWS = Latency(
    endpoint_instances=6 * 60,
    capacity_change=4 * 60,
    endpoint_deleting=60,
    training_starting=2 * 60,
    training_downloading=60,
    training_uploading=15,
    stack_resource=10,
    eventbridge_enabling=5 * 60,
)
BY_PROFILE = {"fast": FAST, "aws": AWS}


def profile() -> str:
    """The profile ``CDLAB_LATENCY`` names (``fast`` when unset)."""
    name = os.environ.get("CDLAB_LATENCY") or "fast"
    if name not in PROFILES:
        raise ValueError(f"CDLAB_LATENCY must be one of {', '.join(PROFILES)}, got {name!r}")
    return name


def current() -> Latency:
    return BY_PROFILE[profile()]


def real_seconds(cloud_seconds: float) -> float:
    """How long ``cloud_seconds`` of the cloud's time last here."""
    return cloud_seconds / config.time_scale()


async def pause(cloud_seconds: float, interrupt: asyncio.Event | None = None) -> None:
    """Take ``cloud_seconds`` of the cloud's time (scaled); ``interrupt`` cuts it short."""
    seconds = real_seconds(cloud_seconds)
    if seconds <= 0:
        return
    if interrupt is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(interrupt.wait(), seconds)

"""SageMaker's per-account instance quotas, opt-in: ``CDLAB_SAGEMAKER_QUOTAS``.

On AWS each account has, per instance type and use, a quota in Service Quotas ("ml.m5.large for
endpoint usage", "ml.c5.xlarge for training job usage",
https://docs.aws.amazon.com/sagemaker/latest/dg/regions-quotas.html), and a call that would take
the account over one is refused: botocore's model names ``ResourceLimitExceeded`` as the one
error of CreateEndpoint, UpdateEndpoint and UpdateEndpointWeightsAndCapacities, and one of
CreateTrainingJob's. The local cloud has no limit unless ``CDLAB_SAGEMAKER_QUOTAS`` names some
when it starts, comma-separated, each as ``QUOTA NAME=INSTANCES``::

    CDLAB_SAGEMAKER_QUOTAS="ml.m5.large for endpoint usage=4,ml.c5.xlarge for training job usage=1"

A quota not named has no limit. What counts against an endpoint quota is every endpoint's
instances of the type, as the endpoint documents say (:func:`endpoint_instances`): a fleet in
service, one being created, and during a blue/green UpdateEndpoint both fleets, the old one and
the new one it provisions ("Deploys the EndpointConfig specified in the request to a new fleet of
instances ... then deletes the old instances",
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html); a Deleting
endpoint's until it is gone. Once an update has switched to its new fleet, the old one's draining
(TerminationWaitInSeconds) is not counted: AWS does not say whether it is. Unconfirmed either
way: the wait is "after the completion of an endpoint deployment", yet a deployment's
MaximumExecutionTimeoutInSeconds "should be larger than the total waiting time specified in
TerminationWaitInSeconds and WaitIntervalInSeconds"
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html), which
suggests the wait is part of the deployment and the old fleet may still count. What a call asks for
(its *request delta*) is the whole new fleet for CreateEndpoint and UpdateEndpoint, and the
instances added for UpdateEndpointWeightsAndCapacities (a scale-in asks for none, so is never
refused); a training job asks for its InstanceCount, against the training jobs in progress.

The refusal is AWS's, in its words: "The account-level service limit 'ml.m5.large for endpoint
usage' is 0 Instances, with current utilization of 0 Instances and a request delta of 1
Instances. Please use AWS Service Quotas to request an increase for this quota. If AWS Service
Quotas is not available, contact AWS support to request an increase for this quota." (the
sentence as SageMaker words its limits since Service Quotas holds them, aws/amazon-sagemaker-
feedback#157; the same limit for endpoint usage in aws/amazon-sagemaker-examples#307 and
aws-samples/sagemaker-custom-project-templates#51). An automatic scale-out over the quota is a
failed scaling activity, "Failed to set desired instance count to 40. Reason: The account-level
service limit ..." (aws/aws-cdk#29082), the endpoint left as it was.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cdlab.config import ConfigError
from cdlab.localcloud.protocols.errors import ResourceLimitExceeded

log = logging.getLogger("cdlab.sagemaker")

VARIABLE = "CDLAB_SAGEMAKER_QUOTAS"
ENDPOINTS, TRAINING, SPOT_TRAINING = (
    "endpoint usage",
    "training job usage",
    "spot training job usage",
)
USES = (ENDPOINTS, TRAINING, SPOT_TRAINING)
TRAINING_IN_PROGRESS = ("InProgress", "Stopping")
LIMIT_MESSAGE = (
    "The account-level service limit '{quota}' is {limit} Instances, with current utilization "
    "of {used} Instances and a request delta of {delta} Instances. Please use AWS Service Quotas "
    "to request an increase for this quota. If AWS Service Quotas is not available, contact AWS "
    "support to request an increase for this quota."
)


def parse(text: str) -> dict[str, int]:
    """The quotas ``CDLAB_SAGEMAKER_QUOTAS`` names, by quota name; a ConfigError (a ValueError),
    naming the variable and the entry, for one that is not ``<instance type> for
    <use>=<instances>`` (the instances in decimal digits) or names a quota named before."""
    limits: dict[str, int] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        name, _, value = entry.rpartition("=")
        name, value = " ".join(name.split()), value.strip()
        instance_type, _, use = name.partition(" for ")
        if not instance_type.startswith("ml.") or use not in USES:
            raise ConfigError(
                f"{VARIABLE}: {entry!r} names no quota the local cloud enforces; name one as "
                f"'<instance type> for <use>=<instances>', the use one of {', '.join(USES)} "
                "(e.g. 'ml.m5.large for endpoint usage=4')."
            )
        if not (value.isascii() and value.isdigit()):  # not "²", which int() refuses
            raise ConfigError(f"{VARIABLE}: {entry!r}: the limit must be a number of instances.")
        if name in limits:
            raise ConfigError(f"{VARIABLE}: {entry!r}: the quota {name!r} is named twice.")
        limits[name] = int(value)
    return limits


def setting(limits: Mapping[str, int]) -> str:
    """``limits`` as ``CDLAB_SAGEMAKER_QUOTAS`` names them, in one spelling (by name), or
    ``none``: what a running cloud enforces and what a client asks for compare as these."""
    return ",".join(f"{name}={limits[name]}" for name in sorted(limits)) or "none"


@dataclass(frozen=True)
class Quotas:
    """The account's instance quotas, by quota name; one not named has no limit."""

    limits: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> Quotas:
        """The quotas ``CDLAB_SAGEMAKER_QUOTAS`` names, said in the cloud's log."""
        limits = parse(os.environ.get(VARIABLE, ""))
        log.info("SageMaker instance quotas: %s", limits or f"none ({VARIABLE} names none)")
        return cls(limits)

    def check(self, use: str, used: Counter[str], delta: Counter[str]) -> None:
        """Refuse, as AWS does, a request for ``delta`` more instances (by type) for ``use``
        while ``used`` are in use, if it would take a type over its quota."""
        for instance_type, more in delta.items():
            quota = f"{instance_type} for {use}"
            limit = self.limits.get(quota)
            if more > 0 and limit is not None and used[instance_type] + more > limit:
                raise ResourceLimitExceeded(
                    LIMIT_MESSAGE.format(
                        quota=quota, limit=limit, used=used[instance_type], delta=more
                    )
                )


def fleet(snapshot: Iterable[dict[str, Any]]) -> Counter[str]:
    """A snapshot's instances by type (its variants' counts)."""
    counts: Counter[str] = Counter()
    for variant in snapshot:
        counts[variant["InstanceType"]] += int(variant["Count"])
    return counts


def added(deployed: Iterable[dict[str, Any]], snapshot: Iterable[dict[str, Any]]) -> Counter[str]:
    """The instances a resize to ``snapshot`` adds to the ``deployed`` variants, by type."""
    before = {s["VariantName"]: int(s["Count"]) for s in deployed}
    counts: Counter[str] = Counter()
    for variant in snapshot:
        more = int(variant["Count"]) - before.get(variant["VariantName"], 0)
        counts[variant["InstanceType"]] += max(0, more)
    return counts


def endpoint_instances(doc: dict[str, Any]) -> Counter[str]:
    """The instances an endpoint document holds, by type: none if it Failed; the fleet in
    service and the new one beside it during a blue/green update (``_PendingConfigName`` set,
    rolling back included); otherwise, during a creation or a resize (where instances are added
    before removed ones go), the larger count of each variant."""
    if doc["EndpointStatus"] == "Failed":
        return Counter()
    deployed, pending = doc.get("_Deployed") or [], doc.get("_Pending") or []
    if doc.get("_PendingConfigName"):
        return fleet(deployed) + fleet(pending)
    return fleet(deployed) + added(deployed, pending)


def endpoints_in_use(docs: Iterable[dict[str, Any]]) -> Counter[str]:
    """Every endpoint's instances, by type."""
    total: Counter[str] = Counter()
    for doc in docs:
        total += endpoint_instances(doc)
    return total


def training_instances(config: dict[str, Any]) -> Counter[str]:
    """A training job's instances by type, from its ResourceConfig (its InstanceGroups', for a
    heterogeneous cluster)."""
    groups = config.get("InstanceGroups") or [config]
    return fleet(
        {"InstanceType": g["InstanceType"], "Count": g.get("InstanceCount", 1)}
        for g in groups
        if g.get("InstanceType")
    )


def training_use(job: dict[str, Any]) -> str:
    """The quota a training job counts against: spot training for a managed spot job."""
    return SPOT_TRAINING if job.get("EnableManagedSpotTraining") else TRAINING


def training_in_use(jobs: Iterable[dict[str, Any]], use: str) -> Counter[str]:
    """The instances of the training jobs in progress that count against ``use``, by type."""
    total: Counter[str] = Counter()
    for job in jobs:
        if job.get("TrainingJobStatus") in TRAINING_IN_PROGRESS and training_use(job) == use:
            total += training_instances(job.get("ResourceConfig") or {})
    return total

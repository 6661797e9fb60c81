"""What could still cost money after the notebooks, by kind, from the same list calls as
``leftovers`` plus the training jobs still running."""

from __future__ import annotations

import boto3

from cdlab.notebook.cleanup import leftovers
from cdlab.notebook.workspace import PREFIX

KINDS = ("stack", "scalable-target", "alarm", "endpoint", "endpoint-config", "model")


def billable(prefix: str = PREFIX) -> dict[str, list[str]]:
    """Names containing ``prefix``, by kind: stacks (they own endpoints), scalable targets (they
    can add instances), alarms (billed by the month), endpoints (their instances bill by the
    second), endpoint configs and models (free, but an endpoint is one call away), and training
    jobs in progress (their instances bill). An ended training job costs nothing."""
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for item in leftovers(prefix):
        if item.kind in found:
            found[item.kind].append(item.name)
    pages = boto3.client("sagemaker").get_paginator("list_training_jobs")
    found["training-job in progress"] = [
        job["TrainingJobName"]
        for page in pages.paginate(NameContains=prefix, StatusEquals="InProgress")
        for job in page["TrainingJobSummaries"]
    ]
    return found

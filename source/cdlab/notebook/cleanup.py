"""Finding and deleting what notebooks leave behind: everything whose name contains a prefix."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError, WaiterError

from cdlab.notebook import clock
from cdlab.notebook.workspace import PREFIX

ENDPOINT_LOGS = "/aws/sagemaker/Endpoints/"
CODEBUILD_LOGS = "/aws/codebuild/"
RUNNING = ("InProgress", "Stopping")
DELETE_REFUSED = "cannot be deleted while in status"
STACK_WAIT = clock.deployment(30 * clock.MINUTE)
"""Cloud seconds ``clean`` waits for a stack's update to end before it can delete the stack: an
update of a deploy stack (cloudformation/endpoint.yml) whose blue/green bake is as long as its
BakeTimeInSeconds allows, 30 minutes."""
ENDPOINT_BUSY = "Cannot update in-progress endpoint"
ENDPOINT_CHANGING = ("Creating", "Updating", "SystemUpdating", "RollingBack")
"""The statuses DeleteEndpoint refuses an endpoint in (``ENDPOINT_BUSY``)."""
ENDPOINT_GONE = "Could not find endpoint"
ENDPOINT_WAIT = STACK_WAIT
"""Cloud seconds ``clean`` waits for an endpoint to leave Creating, Updating, SystemUpdating or
RollingBack before it can delete it: the longest a notebook's endpoint is in progress is the
deploy stack's update (``STACK_WAIT``); a new endpoint's start and a change of capacity take
less."""


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str


def _contains(prefix: str, names: list[str]) -> list[str]:
    return [name for name in names if prefix in name]


def leftovers(prefix: str = PREFIX) -> list[Leftover]:
    """Everything whose name contains ``prefix``: stacks, scaling targets, alarms, endpoints,
    endpoint configs, models (in the order they must be deleted) and training jobs. Every
    listing is read to its last page: in a busy account the first is not all
    (DescribeScalableTargets answers 50 targets at a time,
    https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalableTargets.html;
    DescribeAlarms pages too,
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html). Log
    groups are not in it: like SageMaker, the local cloud keeps an endpoint's logs after the
    endpoint is gone (see ``log_groups``), and a training job's after the job is deleted."""
    sm, cfn = boto3.client("sagemaker"), boto3.client("cloudformation")
    autoscaling, cloudwatch = boto3.client("application-autoscaling"), boto3.client("cloudwatch")
    stacks = [
        s["StackName"]
        for page in cfn.get_paginator("list_stacks").paginate()
        for s in page["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    targets = [
        t["ResourceId"]
        for page in autoscaling.get_paginator("describe_scalable_targets").paginate(
            ServiceNamespace="sagemaker"
        )
        for t in page["ScalableTargets"]
    ]
    alarms = [
        a["AlarmName"]
        for page in cloudwatch.get_paginator("describe_alarms").paginate()
        for a in page["MetricAlarms"]
    ]
    listed = {
        "endpoint": [
            e["EndpointName"]
            for page in sm.get_paginator("list_endpoints").paginate(NameContains=prefix)
            for e in page["Endpoints"]
        ],
        "endpoint-config": [
            c["EndpointConfigName"]
            for page in sm.get_paginator("list_endpoint_configs").paginate(NameContains=prefix)
            for c in page["EndpointConfigs"]
        ],
        "model": [
            m["ModelName"]
            for page in sm.get_paginator("list_models").paginate(NameContains=prefix)
            for m in page["Models"]
        ],
        "training-job": [
            j["TrainingJobName"]
            for page in sm.get_paginator("list_training_jobs").paginate(NameContains=prefix)
            for j in page["TrainingJobSummaries"]
        ],
    }
    found = [Leftover("stack", n) for n in _contains(prefix, stacks)]
    found += [Leftover("scalable-target", n) for n in _contains(prefix, targets)]
    found += [Leftover("alarm", n) for n in _contains(prefix, alarms)]
    for kind, names in listed.items():
        found += [Leftover(kind, n) for n in names]
    return found


def _groups(start: str) -> list[str]:
    """The names of the log groups that start with ``start``, every page of them."""
    pages = boto3.client("logs").get_paginator("describe_log_groups")
    return [
        g["logGroupName"]
        for page in pages.paginate(logGroupNamePrefix=start)
        for g in page["logGroups"]
    ]


def log_groups(prefix: str = PREFIX) -> list[str]:
    """The CloudWatch Logs groups of endpoints whose names contain ``prefix``."""
    return [group for group in _groups(ENDPOINT_LOGS) if prefix in group]


def lab_log_groups(stack: str) -> list[str]:
    """Lab 3's CloudWatch Logs groups, sorted: its two build projects' (pipeline.yml's LogsConfig,
    ``/aws/codebuild/<stack>-build`` and ``-test``) and its endpoints' (endpoint.yml's names:
    ``qa-<stack>-<commit>-<time>``, ``prod-<stack>``). They outlive the endpoints and the builds
    and, without a retention, are kept (and billed) until deleted. Only the lab stack ``stack``'s:
    not those of a stack whose name starts with it (``cdlab-lab30``, ``cdlab-lab3-x``), which
    another participant sharing the account for the lab may run."""
    builds = {f"{CODEBUILD_LOGS}{stack}-build", f"{CODEBUILD_LOGS}{stack}-test"}
    qa = re.compile(rf"{re.escape(ENDPOINT_LOGS)}qa-{re.escape(stack)}-[a-z0-9]{{1,8}}-[0-9]{{14}}")
    prod = f"{ENDPOINT_LOGS}prod-{stack}"
    found = [*_groups(f"{CODEBUILD_LOGS}{stack}-"), *_groups(prod)]
    found += _groups(f"{ENDPOINT_LOGS}qa-{stack}-")
    return sorted(g for g in found if g in builds or g == prod or qa.fullmatch(g))


def clean(prefix: str) -> pd.DataFrame:
    """Delete everything ``leftovers(prefix)`` finds and wait until it is gone; returns what was
    deleted. Safe to call when nothing is left. A stack in the middle of an update (a pipeline's
    deploy stack baking its blue/green update) is deleted once the update ends
    (:func:`_delete_stack`)."""
    sm, cfn = boto3.client("sagemaker"), boto3.client("cloudformation")
    autoscaling, cloudwatch = boto3.client("application-autoscaling"), boto3.client("cloudwatch")
    found = leftovers(prefix)
    stacks = [item.name for item in found if item.kind == "stack"]
    deadline = time.monotonic() + clock.real(STACK_WAIT)
    for stack in stacks:
        _delete_stack(cfn, stack, deadline)
    for stack in stacks:
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack)
    rest = leftovers(prefix)
    endpoints = []
    deadline = time.monotonic() + clock.real(ENDPOINT_WAIT)
    for item in rest:
        if item.kind == "scalable-target":
            autoscaling.deregister_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=item.name,
                ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            )
        elif item.kind == "alarm":
            cloudwatch.delete_alarms(AlarmNames=[item.name])
        elif item.kind == "endpoint":
            _delete_endpoint(sm, item.name, deadline)
            endpoints.append(item.name)
    for endpoint in endpoints:
        sm.get_waiter("endpoint_deleted").wait(EndpointName=endpoint)
    for item in rest:
        if item.kind == "endpoint-config":
            sm.delete_endpoint_config(EndpointConfigName=item.name)
        elif item.kind == "model":
            sm.delete_model(ModelName=item.name)
    _delete_training_jobs(sm, [item.name for item in rest if item.kind == "training-job"])
    deleted = found + [item for item in rest if item not in found]
    return pd.DataFrame(deleted, columns=["kind", "name"])


def _delete_stack(cfn: Any, stack: str, deadline: float) -> None:
    """Delete the stack, waiting until ``deadline`` (a ``time.monotonic()``) for an update to end
    first: AWS refuses DeleteStack while a stack is UPDATE_IN_PROGRESS, or in the update's
    cleanup or rollback, with "Stack [<id>] cannot be deleted while in status <status>"
    (https://github.com/aws-solutions-library-samples/guidance-for-clickstream-analytics-on-aws/issues/573,
    https://github.com/serverless/serverless/issues/6089), and so does the local cloud. Asked
    again at :func:`clock.polls` intervals, with a line each time the status changes."""
    _delete_when_done(
        f"stack {stack}",
        lambda: cfn.delete_stack(StackName=stack),
        DELETE_REFUSED,
        lambda message: message.rsplit(" ", 1)[-1],
        deadline,
    )


def _delete_endpoint(sm: Any, endpoint: str, deadline: float) -> None:
    """Delete the endpoint, waiting until ``deadline`` (a ``time.monotonic()``) for it to leave
    Creating, Updating, SystemUpdating or RollingBack first: AWS refuses DeleteEndpoint then, with
    'ValidationException: Cannot update in-progress endpoint "<arn>".' (an endpoint
    SystemUpdating "cannot be updated or deleted",
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html; one stuck
    Creating cannot be deleted, https://github.com/aws/amazon-sagemaker-examples/issues/3432),
    and so does the local cloud. Asked again at :func:`clock.polls` intervals, with a line each
    time its status (DescribeEndpoint's: the refusal does not say it) changes; at once if the
    endpoint has left those statuses since the refusal. One gone by then counts as deleted."""

    def status(_: str) -> str | None:
        try:
            return sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        except ClientError as e:
            if ENDPOINT_GONE in e.response["Error"]["Message"]:
                return None
            raise

    _delete_when_done(
        f"endpoint {endpoint}",
        lambda: sm.delete_endpoint(EndpointName=endpoint),
        ENDPOINT_BUSY,
        status,
        deadline,
        busy=ENDPOINT_CHANGING,
    )


def _delete_when_done(
    what: str,
    delete: Callable[[], object],
    refused: str,
    status_of: Callable[[str], str | None],
    deadline: float,
    busy: Collection[str] | None = None,
) -> None:
    """``delete`` until it is accepted, at :func:`clock.polls` intervals while its refusal's
    message says ``refused`` (``what`` is in the middle of an operation; ``status_of`` the
    message is its status, None once ``what`` is gone, which ends it), with a line each time the
    status changes; ``TimeoutError`` once ``deadline`` (a ``time.monotonic()``) has passed. A
    status not in ``busy`` (None: any status is) is asked again at once: the operation ended
    between the refusal and the look."""
    intervals, seen = clock.polls(), None
    while True:
        try:
            delete()
            return
        except ClientError as e:
            message = e.response["Error"]["Message"]
            if refused not in message:
                raise
        status = status_of(message)
        if status is None:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} is still {status}: {message}")
        if busy is not None and status not in busy:
            continue
        if status != seen:
            minutes = (deadline - time.monotonic()) * clock.scale() / clock.MINUTE
            print(
                f"{what} is {status}: waiting for its operation to end before deleting it "
                f"(up to {minutes:.0f} more minutes)",
                flush=True,
            )
            seen = status
        time.sleep(min(next(intervals), max(0.0, deadline - time.monotonic())))


def _delete_training_jobs(sm: Any, names: list[str]) -> None:
    """Delete the training jobs. SageMaker deletes only ended ones, so a job still running is
    stopped and waited for first (the waiter gives up on a job that ended Failed meanwhile, which
    is ended all the same; delete_training_job refuses one that has not ended)."""
    status = {n: sm.describe_training_job(TrainingJobName=n)["TrainingJobStatus"] for n in names}
    running = [name for name in names if status[name] in RUNNING]
    for name in running:
        if status[name] == "InProgress":
            sm.stop_training_job(TrainingJobName=name)
    for name in running:
        with contextlib.suppress(WaiterError):
            sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name)
    for name in names:
        sm.delete_training_job(TrainingJobName=name)

"""Finding and deleting what notebooks leave behind: everything whose name contains a prefix."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import pandas as pd

from cdlab.notebook.workspace import PREFIX

ENDPOINT_LOGS = "/aws/sagemaker/Endpoints/"


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str


def _contains(prefix: str, names: list[str]) -> list[str]:
    return [name for name in names if prefix in name]


def leftovers(prefix: str = PREFIX) -> list[Leftover]:
    """Everything whose name contains ``prefix``: stacks, scaling targets, alarms, endpoints,
    endpoint configs and models (in the order they must be deleted). Endpoint log groups are not
    in it: like SageMaker, the local cloud keeps an endpoint's logs after the endpoint is gone
    (see ``log_groups``)."""
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
        for t in autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")[
            "ScalableTargets"
        ]
    ]
    alarms = [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]]
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
    }
    found = [Leftover("stack", n) for n in _contains(prefix, stacks)]
    found += [Leftover("scalable-target", n) for n in _contains(prefix, targets)]
    found += [Leftover("alarm", n) for n in _contains(prefix, alarms)]
    for kind, names in listed.items():
        found += [Leftover(kind, n) for n in names]
    return found


def log_groups(prefix: str = PREFIX) -> list[str]:
    """The CloudWatch Logs groups of endpoints whose names contain ``prefix``."""
    pages = boto3.client("logs").get_paginator("describe_log_groups")
    return [
        g["logGroupName"]
        for page in pages.paginate(logGroupNamePrefix=ENDPOINT_LOGS)
        for g in page["logGroups"]
        if prefix in g["logGroupName"]
    ]


def clean(prefix: str) -> pd.DataFrame:
    """Delete everything ``leftovers(prefix)`` finds and wait until it is gone; returns what was
    deleted. Safe to call when nothing is left."""
    sm, cfn = boto3.client("sagemaker"), boto3.client("cloudformation")
    autoscaling, cloudwatch = boto3.client("application-autoscaling"), boto3.client("cloudwatch")
    found = leftovers(prefix)
    stacks = [item.name for item in found if item.kind == "stack"]
    for stack in stacks:
        cfn.delete_stack(StackName=stack)
    for stack in stacks:
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack)
    rest = leftovers(prefix)
    endpoints = []
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
            sm.delete_endpoint(EndpointName=item.name)
            endpoints.append(item.name)
    for endpoint in endpoints:
        sm.get_waiter("endpoint_deleted").wait(EndpointName=endpoint)
    for item in rest:
        if item.kind == "endpoint-config":
            sm.delete_endpoint_config(EndpointConfigName=item.name)
        elif item.kind == "model":
            sm.delete_model(ModelName=item.name)
    deleted = found + [item for item in rest if item not in found]
    return pd.DataFrame(deleted, columns=["kind", "name"])

"""What the console shows, read the way the APIs read it: the read operations of the kit's own
table (DescribeEndpoint, DescribeScalingActivities, DescribeTrainingJob, DescribeStacks,
DescribeStackEvents) as the account's administrator, the alarms moto keeps, and, for what no API
shows, the router's routes: which fleet serves which share of the traffic, on which instances.

Nothing here changes state: the handlers called are read operations only (``READS``).
"""

from __future__ import annotations

import inspect
from typing import Any

from cdlab.localcloud import operations
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.sagemaker.instances import Instance
from cdlab.localcloud.sagemaker.router import EndpointRoute, Router

READS = {
    "sagemaker": ("ListEndpoints", "DescribeEndpoint", "ListTrainingJobs", "DescribeTrainingJob"),
    "application-autoscaling": ("DescribeScalingActivities",),
    "cloudformation": ("DescribeStacks", "DescribeStackEvents"),
}
SHOWN = 20  # newest training jobs, scaling activities and stack events shown
TRAINING_KEYS = (
    "TrainingJobName",
    "TrainingJobStatus",
    "SecondaryStatus",
    "CreationTime",
    "TrainingEndTime",
    "FailureReason",
    "FinalMetricDataList",
)


def health(instance: Instance) -> str:
    if instance.stopping:
        return "Draining"
    return "Healthy" if instance.alive else "Unhealthy"


def serving(route: EndpointRoute | None) -> list[dict[str, Any]]:
    """Each variant taking traffic now: its fleet (blue, or green during a deployment), its
    share of the requests and its instances with their health."""
    if route is None:
        return []
    fleets = [("blue", route, 1.0 - route.green_share)]
    if route.green is not None:
        fleets.append(("green", route.green, route.green_share))
    shown = []
    for fleet, served, share in fleets:
        total = sum(v.weight for v in served.variants) or 1.0
        for variant in served.variants:
            shown.append(
                {
                    "Fleet": fleet,
                    "VariantName": variant.name,
                    "TrafficShare": share * variant.weight / total,
                    "Instances": [
                        {"Id": i.instance_id, "Health": health(i), "InFlight": i.inflight}
                        for i in variant.instances
                    ],
                }
            )
    return shown


class Views:
    def __init__(self, table: operations.Table, router: Router, moto: MotoState) -> None:
        self.reads = {
            (service, name): table[service][name]
            for service, names in READS.items()
            for name in names
        }
        self.router = router
        self.moto = moto
        self.ctx = RequestContext.internal()

    async def _read(self, service: str, name: str, **params: Any) -> dict[str, Any]:
        result = self.reads[(service, name)](self.ctx, params)
        return await result if inspect.isawaitable(result) else result

    async def endpoints(self) -> list[dict[str, Any]]:
        listed = await self._read("sagemaker", "ListEndpoints", MaxResults=100)
        shown = []
        for summary in listed["Endpoints"]:
            name = summary["EndpointName"]
            described = await self._read("sagemaker", "DescribeEndpoint", EndpointName=name)
            described["Serving"] = serving(self.router.routes.get(name.lower()))
            shown.append(described)
        return shown

    async def training_jobs(self) -> list[dict[str, Any]]:
        listed = await self._read(
            "sagemaker",
            "ListTrainingJobs",
            MaxResults=SHOWN,
            SortBy="CreationTime",
            SortOrder="Descending",
        )
        jobs = []
        for summary in listed["TrainingJobSummaries"]:
            name = summary["TrainingJobName"]
            job = await self._read("sagemaker", "DescribeTrainingJob", TrainingJobName=name)
            jobs.append({k: job[k] for k in TRAINING_KEYS if k in job})
        return jobs

    async def scaling_activities(self) -> list[dict[str, Any]]:
        page = await self._read(
            "application-autoscaling",
            "DescribeScalingActivities",
            ServiceNamespace="sagemaker",
            MaxResults=SHOWN,
        )
        return page["ScalingActivities"]

    async def stacks(self) -> list[dict[str, Any]]:
        described = await self._read("cloudformation", "DescribeStacks")
        stacks = []
        for stack in described["Stacks"]:
            events = await self._read(
                "cloudformation", "DescribeStackEvents", StackName=stack["StackId"]
            )
            stacks.append({**stack, "StackEvents": events["StackEvents"][:SHOWN]})
        return stacks

    async def alarms(self) -> list[dict[str, Any]]:
        alarms = await self.moto.run(self.moto.metric_alarms)
        return [
            {"AlarmName": a.name, "MetricName": a.metric_name, "StateValue": a.state}
            for a in alarms
        ]

"""What a target tracking policy tracks, and the two alarms target tracking makes on it.

A predefined metric type tracks the metric it names for the policy's variant, in ``AWS/SageMaker``
with dimensions EndpointName and VariantName: ``SageMakerVariantInvocationsPerInstance`` the
variant's InvocationsPerInstance (Sum per minute), a series the local cloud emits;
``SageMakerVariantConcurrentRequestsPerModelHighResolution`` its ConcurrentRequestsPerModel, "the
number of concurrent requests being received by a model container", which SageMaker emits
every 10 seconds
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-code-define.html).
The local cloud does not emit that one (its metrics are per minute), so the policy's alarms see
no data and it never scales, as "a target tracking scaling policy does not perform scaling when
the specified metric has insufficient data" (Application Auto Scaling for an ECS service,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-autoscaling-targettracking.html);
logged when the policy is put. Its statistic here (Maximum), namespace and dimensions (those of
the variant's other invocation metrics) are the kit's: the pages read do not give them. The
other types are refused when put (:mod:`cdlab.localcloud.moto.metrictypes`); one that is not
known here tracks nothing.

A ``CustomizedMetricSpecification`` names any
series by Namespace, MetricName, Dimensions, Statistic and Unit: one the local cloud emits (a
variant's CPUUtilization, say) or one a client puts with PutMetricData (a queue's backlog). The
policy's alarms and its desired capacity both read it through ``Metrics.series_windows``, so a
client's datapoints scale a variant as on AWS
(https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html,
https://docs.aws.amazon.com/autoscaling/application/APIReference/API_CustomizedMetricSpecification.html).
The metric math form (``Metrics``) is read when it is one query that returns a ``MetricStat``,
the same series said otherwise; a policy with an ``Expression`` (metric math) is kept but tracks
nothing: the local cloud does not evaluate metric math, so it makes no alarms for it and the
policy never scales (logged when the policy is put). A configuration that names no metric at
all tracks nothing either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from cdlab.localcloud.cloudwatch.metrics import (
    MINUTE,
    SAGEMAKER,
    SeriesKey,
    series_key,
    variant_dimensions,
)
from cdlab.localcloud.moto.records import ScalingPolicy

HIGH_PERIODS, LOW_PERIODS, LOW_FRACTION = 3, 15, 0.9
# a variant's predefined metric types (metrictypes.SAGEMAKER's, a unit test holds): the metric
# each tracks, its statistic
VARIANT_METRICS = {
    "SageMakerVariantInvocationsPerInstance": ("InvocationsPerInstance", "Sum"),
    "SageMakerVariantConcurrentRequestsPerModelHighResolution": (
        "ConcurrentRequestsPerModel",
        "Maximum",
    ),
}
NOT_EMITTED = frozenset({"ConcurrentRequestsPerModel"})  # of those, in AWS/SageMaker


@dataclass(frozen=True)
class TrackedMetric:
    """A policy's metric: its series, the statistic tracked and the Unit asked for, if any."""

    key: SeriesKey
    statistic: str
    unit: str | None = None

    @property
    def label(self) -> str:
        """The metric's name, as the autoscaler's log names it."""
        return self.key[1]


def policy_metric(configuration: dict[str, Any], resource_id: str) -> TrackedMetric | None:
    """The metric a target tracking policy's configuration tracks for its variant; None for
    metric math, which the local cloud does not evaluate, or for no metric it knows."""
    spec = configuration.get("CustomizedMetricSpecification")
    if spec and "Metrics" in spec:
        return _metric_stat(spec["Metrics"])
    if spec:
        dims = {d["Name"]: d["Value"] for d in spec.get("Dimensions", [])}
        key = series_key(spec["Namespace"], spec["MetricName"], dims)
        return TrackedMetric(key, spec.get("Statistic", "Average"), spec.get("Unit"))
    predefined = configuration.get("PredefinedMetricSpecification") or {}
    named = VARIANT_METRICS.get(predefined.get("PredefinedMetricType", ""))
    if named is None:
        return None
    name, statistic = named
    _, endpoint, _, variant = resource_id.split("/", 3)
    return TrackedMetric(
        series_key(SAGEMAKER, name, variant_dimensions(endpoint, variant)), statistic
    )


def caveat(configuration: dict[str, Any], resource_id: str) -> str | None:
    """What the autoscaler logs when the policy is put, if it tracks what never scales it here:
    metric math, no metric, or a metric the local cloud does not emit."""
    metric = policy_metric(configuration, resource_id)
    if metric is None:
        spec = configuration.get("CustomizedMetricSpecification")
        what = (
            "tracks metric math, which the local cloud does not evaluate"
            if spec and "Metrics" in spec
            else "names no metric the local cloud tracks"
        )
        return f"{what}: it makes no alarms for it, and the policy never scales"
    if metric.key[0] == SAGEMAKER and metric.label in NOT_EMITTED:
        return (
            f"tracks {metric.label}, which the local cloud does not emit: its alarms see no data, "
            "and the policy never scales"
        )
    return None


def _metric_stat(queries: list[dict[str, Any]]) -> TrackedMetric | None:
    """The series of a math-form specification that is a single MetricStat query; None for
    any other (an Expression, several queries)."""
    if len(queries) != 1 or "MetricStat" not in queries[0]:
        return None
    stat = queries[0]["MetricStat"]
    metric = stat["Metric"]
    dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
    key = series_key(metric["Namespace"], metric["MetricName"], dims)
    return TrackedMetric(key, stat["Stat"], stat.get("Unit"))


def alarm_specs(policy: ScalingPolicy, goal: float) -> list[dict[str, Any]]:
    """PutMetricAlarm's parameters (moto's names) of the policy's high alarm (the last
    HIGH_PERIODS one-minute datapoints above ``goal``) and low alarm (the last LOW_PERIODS
    below LOW_FRACTION of it), named and described as target tracking names them; none for a
    policy that tracks nothing here (:func:`policy_metric` None: metric math, no metric, or a
    predefined type not known here)."""
    metric = policy_metric(policy.configuration, policy.resource_id)
    if metric is None:
        return []
    namespace, name, dims = metric.key
    return [
        {
            "name": f"TargetTracking-{policy.resource_id}-{side}-{uuid.uuid4()}",
            "namespace": namespace,
            "metric_name": name,
            "comparison_operator": comparison,
            "evaluation_periods": periods,
            "period": int(MINUTE),
            "threshold": threshold,
            "statistic": metric.statistic,
            "unit": metric.unit,
            "description": (
                f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy.policy_arn}."
            ),
            "dimensions": [{"Name": n, "Value": v} for n, v in sorted(dims)],
            "alarm_actions": [policy.policy_arn],
        }
        for side, comparison, periods, threshold in (
            ("AlarmHigh", "GreaterThanThreshold", HIGH_PERIODS, goal),
            ("AlarmLow", "LessThanThreshold", LOW_PERIODS, LOW_FRACTION * goal),
        )
    ]

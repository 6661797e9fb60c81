"""What CloudWatch refuses in PutMetricAlarm and PutMetricData beyond botocore's model, which moto
accepts.

The model's shapes, ranges and enums are checked before moto sees a request
(:mod:`..protocols.modelcheck`); these are the rules between parameters that CloudWatch applies
and moto does not. Moto kept an alarm without Period or Threshold, and the local evaluation then
failed on it every period, for every alarm, until it was deleted.

PutMetricAlarm
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html):
an alarm on one metric (no ``Metrics``) names its MetricName, exactly one of Statistic and
ExtendedStatistic, and a Period ("Period is required for alarms based on static thresholds");
an alarm on metric math (``Metrics``) names none of Namespace, MetricName, Dimensions, Period,
Unit, Statistic or ExtendedStatistic; Threshold "is required for alarms based on static
thresholds" and goes with no ThresholdMetricId (an anomaly detection band); a Period is 10, 20,
30 or a multiple of 60, and Period times EvaluationPeriods is at most 604,800 seconds, 86,400 for
a Period under 3,600; DatapointsToAlarm is at most EvaluationPeriods. CloudWatch refuses each
with ``ValidationError``. Its words, as its users quote them, where known: "MetricName must not
be null" (hashicorp/terraform-provider-aws#11105), "Period must not be null"
(hashicorp/terraform-provider-aws#32227), "Statistic should not be set if list of Metrics is
set." and "Unit should not be set ..." (aws-cloudformation/cfn-lint#766 and #1306, the same
words here for the other five), "Threshold and ThresholdMetricId cannot both be set" (cfn-lint
#1306), "Period must be 10, 30 or a multiple of 60" (awsdocs/aws-cloudformation-user-guide#777,
before 20 was allowed: 20 is added here), "DatapointsToAlarm must be less than or equal to
EvaluationPeriods" (hashicorp/terraform#24070). The rest are the kit's wording: a missing
Threshold, EvaluationPeriods or ComparisonOperator in the form of the missing Period; both
statistics in the form CloudWatch words two parameters that exclude each other in PutMetricAlarm
("The parameters MetricDataQuery Expression and MetricStat are mutually exclusive and you have
specified both.", boto/boto3#3856); neither statistic; and the evaluation range, in the API
reference's words.

PutMetricData
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html): a
StorageResolution is 1 or 60, and a value (``Value``, each of ``Values``, each of
``StatisticValues``) lies within -2^360 to 2^360. CloudWatch refuses them with
``InvalidParameterValue``, "The parameter MetricData.member.1.StorageResolution must be a value
in the set [ 1, 60 ]." (boto/botocore#1671) and "The value V for parameter
MetricData.member.13.StatisticValues.Maximum is invalid."
(awslabs/amazon-kinesis-producer#188), as here (the value written as Python writes it).

Every alarm and datapoint the kit keeps ends in moto's ``CloudWatchBackend`` (the API through
moto's server app, a journal's replay, CloudFormation's ``AWS::CloudWatch::Alarm``, a target
tracking policy's alarms, the kit's own metrics), so :func:`install` wraps its two methods
(:mod:`wrapping`): an old journal's alarm without Period is refused at its replay, and logged.

A client's PutMetricData into a namespace that begins with ``AWS/``: "You cannot specify a
namespace that begins with "AWS/". Namespaces that begin with "AWS/" are reserved for use by
Amazon Web Services products"
(https://docs.aws.amazon.com/sdk-for-java/latest/developer-guide/examples-cloudwatch-publish-custom-metrics.html;
the API reference: "you should not specify a namespace that begins with AWS/",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
CloudWatch refuses it with ``InvalidParameterValue``, "The value AWS/ for parameter Namespace is
invalid." (boto/boto3#1847 quotes the answer; Eucalyptus's CloudWatch test suite,
eucalyptus/eutester's cloudwatchbasics.py, expects the same words for ``AWS/AnyName``). The kit's
own metrics are in ``AWS/SageMaker`` and reach the backend's method directly
(``MotoState.put_metric_data``), so this rule wraps moto's response to the API instead, which only
a client's request reaches (PutMetricData is not journaled, so no replay does either).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from moto.cloudwatch.exceptions import InvalidParameterValue, ValidationError
from moto.cloudwatch.models import Alarm, CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse

from cdlab.localcloud.moto.wrapping import wrap_once

SINGLE_METRIC = {  # moto's name of each parameter an alarm on metric math does not take
    "Namespace": "namespace",
    "MetricName": "metric_name",
    "Dimensions": "dimensions",
    "Period": "period",
    "Unit": "unit",
    "Statistic": "statistic",
    "ExtendedStatistic": "extended_statistic",
}
REQUIRED = {"EvaluationPeriods": "evaluation_periods", "ComparisonOperator": "comparison_operator"}
SUB_MINUTE_PERIODS = (10, 20, 30)
DAY, WEEK, HOUR = 86_400, 604_800, 3_600
STORAGE_RESOLUTIONS = (1, 60)
LIMIT = 2.0**360  # a value's magnitude at most
STATISTIC_VALUES = ("SampleCount", "Sum", "Minimum", "Maximum")
RESERVED = "AWS/"  # the namespaces of AWS's own services
RESERVED_NAMESPACE = f"The value {RESERVED} for parameter Namespace is invalid."


def install() -> None:
    """Wrap moto's PutMetricAlarm and PutMetricData so that they refuse what CloudWatch does
    (PutMetricData's namespace as a client gives it, the rest wherever it comes from)."""
    wrap_once(CloudWatchBackend, "put_metric_alarm", _checking_alarms)
    wrap_once(CloudWatchBackend, "put_metric_data", _checking_data)
    wrap_once(CloudWatchResponse, "put_metric_data", _refusing_reserved_namespaces)


def alarm_refusal(params: Mapping[str, Any]) -> str | None:
    """Why CloudWatch refuses a metric alarm of ``params`` (PutMetricAlarm's, moto's names), in
    its words; None if it does not."""
    if params.get("metric_data_queries"):
        for name, key in SINGLE_METRIC.items():
            if params.get(key) not in (None, []):
                return f"{name} should not be set if list of Metrics is set."
    else:
        missing = _single_metric_refusal(params)
        if missing is not None:
            return missing
    if params.get("threshold_metric_id") is not None and params.get("threshold") is not None:
        return "Threshold and ThresholdMetricId cannot both be set"
    if params.get("threshold_metric_id") is None and params.get("threshold") is None:
        return "Threshold must not be null"
    for name, key in REQUIRED.items():
        if params.get(key) is None:
            return f"{name} must not be null"
    periods = int(params["evaluation_periods"])
    if params.get("period") is not None:
        wrong = _period_refusal(int(params["period"]), periods)
        if wrong is not None:
            return wrong
    to_alarm = params.get("datapoints_to_alarm")
    if to_alarm is not None and int(to_alarm) > periods:
        return "DatapointsToAlarm must be less than or equal to EvaluationPeriods"
    return None


def _single_metric_refusal(params: Mapping[str, Any]) -> str | None:
    """What an alarm on one metric lacks: its MetricName, one statistic, its Period."""
    if params.get("metric_name") is None:
        return "MetricName must not be null"
    statistics = [params.get("statistic"), params.get("extended_statistic")]
    if None not in statistics:
        return (
            "The parameters Statistic and ExtendedStatistic are mutually exclusive and you "
            "have specified both."
        )
    if statistics == [None, None]:
        return "Exactly one of Statistic or ExtendedStatistic must be set"
    if params.get("period") is None:
        return "Period must not be null"
    return None


def _period_refusal(period: int, evaluation_periods: int) -> str | None:
    if period not in SUB_MINUTE_PERIODS and (period < 60 or period % 60):
        return "Period must be 10, 20, 30 or a multiple of 60"
    if period * evaluation_periods > WEEK:
        return (
            "Period multiplied by EvaluationPeriods can't be more than 604,800 seconds (seven days)"
        )
    if period < HOUR and period * evaluation_periods > DAY:
        return (
            "Period multiplied by EvaluationPeriods can't be more than 86,400 seconds (one "
            "day) for an alarm with a period of less than one hour (3,600 seconds)"
        )
    return None


def datum_refusal(number: int, datum: Mapping[str, Any]) -> str | None:
    """Why CloudWatch refuses PutMetricData's ``number``-th (from 1) MetricDatum (moto's form),
    in its words; None if it does not."""
    member = f"MetricData.member.{number}"
    resolution = datum.get("StorageResolution")
    if resolution is not None and int(resolution) not in STORAGE_RESOLUTIONS:
        return f"The parameter {member}.StorageResolution must be a value in the set [ 1, 60 ]."
    for parameter, value in _values(datum):
        if not -LIMIT <= float(value) <= LIMIT:  # NaN is not within either
            return f"The value {float(value)} for parameter {member}.{parameter} is invalid."
    return None


def _values(datum: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each value a datum puts, with the parameter that holds it."""
    if datum.get("Value") is not None:
        yield "Value", datum["Value"]
    for index, value in enumerate(datum.get("Values") or [], start=1):
        yield f"Values.member.{index}", value
    statistics = datum.get("StatisticValues") or {}
    for name in STATISTIC_VALUES:
        if statistics.get(name) is not None:
            yield f"StatisticValues.{name}", statistics[name]


def _checking_alarms(put: Callable[..., Alarm]) -> Callable[..., Alarm]:
    signature = inspect.signature(put)  # moto's, through the wrappers inside

    def put_metric_alarm(backend: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
        params = signature.bind(backend, *args, **kwargs).arguments
        refused = None if params.get("rule") else alarm_refusal(params)  # a composite alarm's
        if refused is not None:
            raise ValidationError(refused)
        return put(backend, *args, **kwargs)

    return put_metric_alarm


def _checking_data(put: Callable[..., None]) -> Callable[..., None]:
    def put_metric_data(
        backend: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]
    ) -> None:
        for number, datum in enumerate(metric_data, start=1):
            refused = datum_refusal(number, datum)
            if refused is not None:
                raise InvalidParameterValue(refused)
        put(backend, namespace, metric_data)

    return put_metric_data


def _refusing_reserved_namespaces(put: Callable[..., Any]) -> Callable[..., Any]:
    def put_metric_data(response: CloudWatchResponse) -> Any:
        namespace = response._get_param("Namespace")
        if isinstance(namespace, str) and namespace.startswith(RESERVED):
            raise InvalidParameterValue(RESERVED_NAMESPACE)
        return put(response)

    return put_metric_data

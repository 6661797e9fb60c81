"""What CloudWatch refuses in PutMetricAlarm and PutMetricData beyond botocore's model (a
client's datapoints in a namespace reserved for AWS included), refused by the local cloud too,
over each protocol a botocore client speaks to CloudWatch, whichever way the alarm comes (a
client, a stack, a journal an older kit wrote)
(:mod:`cdlab.localcloud.moto.metricrules`). Moto kept an alarm without Period or Threshold, and
then the local evaluation failed on it every period, for every alarm, and nothing autoscaled."""

from __future__ import annotations

import functools
import io
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError, WaiterError

from cdlab.localcloud import control
from cdlab.localcloud.moto.bridge import MotoRequest
from cdlab.localcloud.state.journal import Journal
from cdlab.localcloud.state.store import Store
from tests import protocols
from tests.aws_errors import refused
from tests.integration.private_cloud import PrivateCloud
from tests.integration.test_cloudformation import delete_stacks, story
from tests.polling import poll

PROTOCOLS = ["json", "query", "smithy-rpc-v2-cbor"]
ALARM = {
    "Namespace": "CDLab/Rules", "MetricName": "MatchRate", "Statistic": "Average",
    "Period": 60, "EvaluationPeriods": 2, "Threshold": 0.8,
    "ComparisonOperator": "LessThanThreshold",
}  # fmt: skip
MATH = [
    {
        "Id": "m1",
        "MetricStat": {
            "Metric": {"Namespace": "CDLab/Rules", "MetricName": "MatchRate"},
            "Period": 60,
            "Stat": "Average",
        },
        "ReturnData": True,
    }
]
NO = None  # a parameter left out
SINGLE = ("Namespace", "MetricName", "Statistic", "Period")  # ALARM's, not metric math's
ALARM_REFUSALS = [  # (changes to ALARM, CloudWatch's message)
    ({"Threshold": NO}, "Threshold must not be null"),
    ({"Period": NO}, "Period must not be null"),
    ({"EvaluationPeriods": NO}, "EvaluationPeriods must not be null"),
    ({"ComparisonOperator": NO}, "ComparisonOperator must not be null"),
    ({"MetricName": NO}, "MetricName must not be null"),
    (
        {"ExtendedStatistic": "p90"},
        "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have "
        "specified both.",
    ),
    ({"Statistic": NO}, "Exactly one of Statistic or ExtendedStatistic must be set"),
    ({"Period": 45}, "Period must be 10, 20, 30 or a multiple of 60"),
    ({"Period": 90}, "Period must be 10, 20, 30 or a multiple of 60"),
    (
        {"Period": 600, "EvaluationPeriods": 145},  # 87,000 s, with a period under an hour
        "Period multiplied by EvaluationPeriods can't be more than 86,400 seconds (one day) for "
        "an alarm with a period of less than one hour (3,600 seconds)",
    ),
    (
        {"Period": 3600, "EvaluationPeriods": 169},  # 608,400 s
        "Period multiplied by EvaluationPeriods can't be more than 604,800 seconds (seven days)",
    ),
    ({"DatapointsToAlarm": 3}, "DatapointsToAlarm must be less than or equal to EvaluationPeriods"),
    ({"ThresholdMetricId": "m1"}, "Threshold and ThresholdMetricId cannot both be set"),
    (
        {"Metrics": MATH, "Namespace": NO, "MetricName": NO, "Statistic": NO, "Period": NO},
        NO,  # metric math, with none of the single metric's parameters: kept
    ),
    *(
        (
            {"Metrics": MATH, **dict.fromkeys(SINGLE, NO), **one},
            f"{next(iter(one))} should not be set if list of Metrics is set.",
        )
        for one in (
            {"Namespace": "CDLab/Rules"},
            {"MetricName": "MatchRate"},
            {"Dimensions": [{"Name": "EndpointName", "Value": "shop"}]},
            {"Unit": "Count"},
            {"Statistic": "Average"},
            {"ExtendedStatistic": "p90"},
        )
    ),
    (
        {"Metrics": MATH, "Namespace": NO, "MetricName": NO, "Statistic": NO},
        "Period should not be set if list of Metrics is set.",
    ),
    ({"Period": 20, "EvaluationPeriods": 4320}, NO),  # sub-minute, one day exactly: kept
    ({"Period": 3600, "EvaluationPeriods": 168, "DatapointsToAlarm": 168}, NO),  # seven days
]


@pytest.fixture(scope="module")
def speaking(tmp_path_factory: pytest.TempPathFactory, aws_env) -> Callable[..., Any]:
    """``speaking(protocol)``: a CloudWatch client of the local cloud that speaks ``protocol``."""
    root = tmp_path_factory.mktemp("models")
    return lambda protocol: protocols.speaking("cloudwatch", protocol, root / protocol)


def outcome(cloudwatch: Any, changes: dict[str, Any]) -> tuple[str, str, int] | None:
    """CloudWatch's (error code, message, status) refusing ALARM with ``changes``, under a name
    of its own, which it then does not list; None if it keeps the alarm (deleted again)."""
    name = f"cdlab-rules-{uuid.uuid4().hex[:8]}"
    params = {k: v for k, v in {**ALARM, **changes, "AlarmName": name}.items() if v is not NO}
    try:
        cloudwatch.put_metric_alarm(**params)
    except ClientError as e:
        kept = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        assert kept == [], f"{name} was kept, refused"
        error = e.response["Error"]
        return error["Code"], error["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    kept = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert [a["AlarmName"] for a in kept] == [name]
    cloudwatch.delete_alarms(AlarmNames=[name])
    return None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_put_metric_alarm_is_refused_where_cloudwatch_refuses_it(speaking, protocol: str) -> None:
    """The rules of https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html,
    refused with ValidationError in every protocol (the query protocol's code, which the SDKs
    report over awsJson and CBOR too, as CloudWatch's awsQueryCompatible trait has it)."""
    cloudwatch = speaking(protocol)
    seen = [outcome(cloudwatch, changes) for changes, _ in ALARM_REFUSALS]
    expected = [
        None if message is NO else ("ValidationError", message, 400)
        for _, message in ALARM_REFUSALS
    ]
    assert seen == expected


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_put_metric_data_is_refused_where_cloudwatch_refuses_it(speaking, protocol: str) -> None:
    """A StorageResolution is 1 or 60, a value within -2^360 to 2^360
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html);
    CloudWatch refuses them with InvalidParameterValue. A refused request keeps none of its
    datapoints, the good ones before the bad one included."""
    cloudwatch = speaking(protocol)
    metric = f"cdlab-rules-{uuid.uuid4().hex[:8]}"
    good = {"MetricName": metric, "Value": 1.0}
    statistics = {"SampleCount": 1.0, "Sum": 1.0, "Minimum": 1.0, "Maximum": 2.0**370}
    bad = [  # (the second datum, CloudWatch's message)
        (
            {**good, "StorageResolution": 30},
            "The parameter MetricData.member.2.StorageResolution must be a value in the set "
            "[ 1, 60 ].",
        ),
        (
            {**good, "Value": 2.0**361},
            f"The value {2.0**361} for parameter MetricData.member.2.Value is invalid.",
        ),
        (
            {"MetricName": metric, "Values": [1.0, -(2.0**362)]},
            f"The value {-(2.0**362)} for parameter MetricData.member.2.Values.member.2 is "
            "invalid.",
        ),
        (
            {"MetricName": metric, "StatisticValues": statistics},
            f"The value {2.0**370} for parameter MetricData.member.2.StatisticValues.Maximum is "
            "invalid.",
        ),
    ]
    seen = [
        refused(cloudwatch.put_metric_data, Namespace="CDLab/Rules", MetricData=[good, datum])
        for datum, _ in bad
    ]
    assert seen == [("InvalidParameterValue", message, 400) for _, message in bad]
    assert cloudwatch.list_metrics(Namespace="CDLab/Rules", MetricName=metric)["Metrics"] == []
    edge = [{**good, "StorageResolution": 1, "Value": 2.0**360}, {**good, "Value": -(2.0**360)}]
    cloudwatch.put_metric_data(Namespace="CDLab/Rules", MetricData=edge)  # within: kept
    listed = cloudwatch.list_metrics(Namespace="CDLab/Rules", MetricName=metric)["Metrics"]
    assert {m["MetricName"] for m in listed} == {metric}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_put_metric_data_into_an_aws_namespace_is_refused(speaking, protocol: str) -> None:
    """Namespaces that begin with AWS/ are AWS's services' own
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html);
    CloudWatch refuses a client's datapoints in one with InvalidParameterValue, in the words
    boto/boto3#1847 quotes. Moto kept them, beside the metrics the local cloud emits there."""
    cloudwatch = speaking(protocol)
    metric = f"cdlab-rules-{uuid.uuid4().hex[:8]}"
    for namespace in ("AWS/SageMaker", "AWS/CDLab"):
        assert refused(
            cloudwatch.put_metric_data,
            Namespace=namespace,
            MetricData=[{"MetricName": metric, "Value": 1.0}],
        ) == ("InvalidParameterValue", "The value AWS/ for parameter Namespace is invalid.", 400)
    assert cloudwatch.list_metrics(MetricName=metric)["Metrics"] == []


STACK_ALARM = """
Resources:
  Quality:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: CDLab/Rules
      MetricName: MatchRate
      Statistic: Average
      Period: 60
      EvaluationPeriods: 1
      ComparisonOperator: LessThanThreshold
"""


def test_a_stacks_alarm_without_a_threshold_fails_and_rolls_back(client) -> None:
    """AWS::CloudWatch::Alarm ends in the same PutMetricAlarm: CloudWatch's refusal is the
    resource's failure, and nothing is kept."""
    cfn = client("cloudformation")
    stack = f"cwrules-{uuid.uuid4().hex[:8]}"
    try:
        cfn.create_stack(StackName=stack, TemplateBody=STACK_ALARM)
        with pytest.raises(WaiterError, match="ROLLBACK_COMPLETE"):
            cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
        failed = [e for e in story(cfn, stack) if e[:2] == ("Quality", "CREATE_FAILED")]
        assert failed == [
            (
                "Quality",
                "CREATE_FAILED",
                'Resource handler returned message: "Threshold must not be null" '
                "(HandlerErrorCode: InvalidRequest)",
            )
        ]
        alarms = client("cloudwatch").describe_alarms(AlarmNamePrefix=stack)["MetricAlarms"]
        assert alarms == []
    finally:
        delete_stacks(cfn, stack)


def _journaled_by_an_older_kit(home, port: int, alarm: dict[str, Any]) -> None:
    """Journal PutMetricAlarm ``alarm`` in ``home``'s state as a kit that did not check it
    journaled it: the client's request, as sent (botocore's, awsJson), before the cloud starts."""
    env = control.client_environment(home, port)
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    cloudwatch = session.client("cloudwatch", endpoint_url=env["AWS_ENDPOINT_URL"])
    journal = Journal(Store(home / "state.db"))
    cloudwatch.meta.events.register("before-send", functools.partial(_journal, journal))
    cloudwatch.put_metric_alarm(**alarm)


def _journal(journal: Journal, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
    """Journal the request as the gateway did (its headers, the Host too), and answer it as
    moto did, without sending it."""
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
    host = ("Host", urlsplit(request.url).netloc)
    journal.record(MotoRequest(request.method, "/", (*headers, host), body))
    return AWSResponse(request.url, 200, {}, _Body(b"{}"))


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def test_an_old_journals_alarm_without_period_or_threshold_leaves_the_others_evaluated(
    private: PrivateCloud,
) -> None:
    """A journal an older kit wrote may hold an alarm it kept without Period or Threshold; the
    replay now refuses it (the log says so), and the other alarms are evaluated, where every
    evaluation failed on it before, each period."""
    private.patch.setenv("CDLAB_TIME_SCALE", "60")
    broken = {k: v for k, v in ALARM.items() if k not in ("Period", "Threshold")}
    _journaled_by_an_older_kit(private.home, private.port, {**broken, "AlarmName": "broken"})
    private.up()
    cloudwatch = private.client("cloudwatch")
    cloudwatch.put_metric_alarm(**ALARM, AlarmName="quality", DatapointsToAlarm=1)
    cloudwatch.put_metric_data(
        Namespace="CDLab/Rules", MetricData=[{"MetricName": "MatchRate", "Value": 0.5}]
    )
    poll(
        lambda: cloudwatch.describe_alarms(AlarmNames=["quality"])["MetricAlarms"][0],
        until=lambda alarm: alarm["StateValue"] == "ALARM",
        timeout=30,
        what="the good alarm to be evaluated to ALARM",
    )
    assert cloudwatch.describe_alarms(AlarmNames=["broken"])["MetricAlarms"] == []
    log = control.log_file(private.home).read_text()
    assert "replaying PutMetricAlarm: moto answered 400" in log
    assert "Period must not be null" in log  # the first rule it breaks
    assert "telemetry failed" not in log

"""DescribeAlarms, DescribeScalableTargets and DescribeScalingPolicies page (and filter) as AWS
does, though moto answers each in one page (:mod:`cdlab.localcloud.moto.listings`).
DescribeAlarms over every protocol the local cloud speaks for CloudWatch (awsJson, which boto3
sends; the query protocol of older clients; RPC v2 CBOR), each from a botocore client of that
protocol (:mod:`tests.protocols`): a page holds 50 alarms unless MaxRecords says otherwise, the
pages list every alarm once in name order, an out-of-range MaxRecords and a token the listing did
not give are refused in AWS's words, and AlarmTypes chooses the kinds of alarm; a role session is
held to its policy as before. Scaling policies: 10 a page, filtered by name, resource and
dimension."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests import protocols
from tests.aws_errors import refused
from tests.integration.test_iam_enforcement import Session, not_allowed, role_session

SUFFIX = uuid.uuid4().hex[:8]
PREFIX = f"cdlab-pages-{SUFFIX}-"
ALARMS = [f"{PREFIX}{i:03d}" for i in range(105)]
TARGETS = [f"endpoint/{PREFIX}{i:03d}/variant/v" for i in range(120)]
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PROTOCOLS = ["json", "query", "smithy-rpc-v2-cbor"]
READER = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def speaking(tmp_path_factory: pytest.TempPathFactory, aws_env) -> Callable[..., Any]:
    """``speaking(protocol)``: a CloudWatch client of the local cloud that speaks ``protocol``."""
    root = tmp_path_factory.mktemp("models")
    return lambda protocol, **config: protocols.speaking(
        "cloudwatch", protocol, root / protocol, **config
    )


@pytest.fixture(scope="module")
def alarms(client) -> Iterator[list[str]]:
    """105 metric alarms of this module, put in no order; their names, in order."""
    cloudwatch = client("cloudwatch")
    for name in random.Random(SUFFIX).sample(ALARMS, len(ALARMS)):
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace="cdlab/pages", MetricName="m", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    yield ALARMS
    for start in range(0, len(ALARMS), 100):
        cloudwatch.delete_alarms(AlarmNames=ALARMS[start : start + 100])


def alarm_names(page: dict[str, Any]) -> list[str]:
    return [alarm["AlarmName"] for alarm in page["MetricAlarms"]]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_page_holds_50_alarms_unless_max_records_says_otherwise(
    speaking, alarms: list[str], protocol: str
) -> None:
    cloudwatch = speaking(protocol)
    first = cloudwatch.describe_alarms(AlarmNamePrefix=PREFIX)
    assert alarm_names(first) == alarms[:50] and first["NextToken"]
    most = cloudwatch.describe_alarms(AlarmNamePrefix=PREFIX, MaxRecords=100)
    assert alarm_names(most) == alarms[:100]
    rest = cloudwatch.describe_alarms(
        AlarmNamePrefix=PREFIX, MaxRecords=100, NextToken=most["NextToken"]
    )
    assert alarm_names(rest) == alarms[100:] and "NextToken" not in rest


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_paginator_lists_every_alarm_once_in_name_order(
    speaking, alarms: list[str], protocol: str
) -> None:
    pages = list(
        speaking(protocol)
        .get_paginator("describe_alarms")
        .paginate(AlarmNamePrefix=PREFIX, PaginationConfig={"PageSize": 7})
    )
    assert [len(alarm_names(page)) for page in pages] == [7] * 15
    assert [name for page in pages for name in alarm_names(page)] == alarms


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_max_records_out_of_range_is_refused_in_awss_words(speaking, protocol: str) -> None:
    unchecked = speaking(protocol, parameter_validation=False)  # botocore checks only the min
    for records, bound in ((101, "less than or equal to 100"), (0, "greater than or equal to 1")):
        assert refused(unchecked.describe_alarms, MaxRecords=records) == (
            "ValidationError",
            f"1 validation error detected: Value '{records}' at 'maxRecords' failed to "
            f"satisfy constraint: Member must have value {bound}",
            400,
        )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_token_the_listing_did_not_give_is_refused(speaking, protocol: str) -> None:
    assert refused(speaking(protocol).describe_alarms, NextToken="100") == (
        "InvalidNextToken",
        "The next token specified is invalid.",
        400,
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_alarm_types_choose_the_kinds_of_alarm(speaking, alarms: list[str], protocol: str) -> None:
    cloudwatch = speaking(protocol)
    composite = cloudwatch.describe_alarms(AlarmNamePrefix=PREFIX, AlarmTypes=["CompositeAlarm"])
    assert (composite["MetricAlarms"], composite["CompositeAlarms"]) == ([], [])
    assert "NextToken" not in composite
    both = cloudwatch.describe_alarms(
        AlarmNamePrefix=PREFIX, AlarmTypes=["CompositeAlarm", "MetricAlarm"]
    )
    assert alarm_names(both) == alarms[:50]


@pytest.fixture(scope="module")
def reader(client, aws_env) -> Iterator[Session]:
    with role_session(client, aws_env, f"cdlab-pages-reader-{SUFFIX}", READER) as session:
        yield session


def test_a_role_session_pages_as_its_policy_allows(
    reader: Session, client, aws_env, alarms: list[str]
) -> None:
    pages = reader.client("cloudwatch").get_paginator("describe_alarms")
    listed = [n for page in pages.paginate(AlarmNamePrefix=PREFIX) for n in alarm_names(page)]
    assert listed == alarms
    with role_session(client, aws_env, f"cdlab-pages-nobody-{SUFFIX}", None) as nobody:
        code, message, status = refused(nobody.client("cloudwatch").describe_alarms)
    assert (code, message, status) == (
        "AccessDenied",  # CloudWatch's x-amzn-query-error code, which boto3 reports
        not_allowed(nobody.arn, "cloudwatch:DescribeAlarms"),
        400,
    )


@pytest.fixture(scope="module")
def targets(client) -> Iterator[list[str]]:
    """120 scalable targets of this module (variants of endpoints that need not exist, as
    Application Auto Scaling allows), registered in no order; their resource ids, in order."""
    autoscaling = client("application-autoscaling")
    for resource in random.Random(SUFFIX).sample(TARGETS, len(TARGETS)):
        autoscaling.register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION,
            MinCapacity=1, MaxCapacity=2,
        )  # fmt: skip
    yield TARGETS
    for resource in TARGETS:
        autoscaling.deregister_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION
        )


def test_scalable_target_pages_list_every_target_once(client, targets: list[str]) -> None:
    pages = list(
        client("application-autoscaling")
        .get_paginator("describe_scalable_targets")
        .paginate(ServiceNamespace="sagemaker")
    )
    listed = [t["ResourceId"] for page in pages for t in page["ScalableTargets"]]
    assert all(len(page["ScalableTargets"]) <= 50 for page in pages)
    assert len(listed) == len(set(listed))
    assert [resource for resource in listed if resource.startswith(f"endpoint/{PREFIX}")] == targets


@pytest.mark.parametrize("operation", ["describe_scalable_targets", "describe_scaling_activities"])
def test_autoscaling_max_results_out_of_range_is_refused(client, operation: str) -> None:
    """1 to 50: the operations' API reference pages (botocore's model leaves the bounds out)."""
    listing = getattr(client("application-autoscaling"), operation)
    for results, bound in ((51, "less than or equal to 50"), (0, "greater than or equal to 1")):
        assert refused(listing, ServiceNamespace="sagemaker", MaxResults=results) == (
            "ValidationException",
            f"1 validation error detected: Value '{results}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value {bound}",
            400,
        )


@pytest.fixture(scope="module")
def policies(client, targets: list[str]) -> Iterator[list[str]]:
    """12 target tracking policies on the first target, put in no order; their names, in order."""
    autoscaling = client("application-autoscaling")
    names = [f"{PREFIX}policy-{i:02d}" for i in range(12)]
    target = {"ServiceNamespace": "sagemaker", "ResourceId": targets[0]}
    for name in random.Random(SUFFIX).sample(names, len(names)):
        autoscaling.put_scaling_policy(
            PolicyName=name, **target, ScalableDimension=DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 100.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
            },
        )  # fmt: skip
    yield names
    for name in names:
        autoscaling.delete_scaling_policy(PolicyName=name, **target, ScalableDimension=DIMENSION)


def test_scaling_policy_pages_hold_10_and_list_every_policy_once(
    client, targets: list[str], policies: list[str]
) -> None:
    pages = list(
        client("application-autoscaling")
        .get_paginator("describe_scaling_policies")
        .paginate(ServiceNamespace="sagemaker", ResourceId=targets[0])
    )
    assert [len(page["ScalingPolicies"]) for page in pages] == [10, 2]
    assert [p["PolicyName"] for page in pages for p in page["ScalingPolicies"]] == policies


def test_scaling_policies_are_those_the_filters_name(
    client, targets: list[str], policies: list[str]
) -> None:
    def named(**filters: Any) -> list[str]:
        answer = client("application-autoscaling").describe_scaling_policies(
            ServiceNamespace="sagemaker", **filters
        )
        return [p["PolicyName"] for p in answer["ScalingPolicies"]]

    assert named(PolicyNames=[policies[7], policies[2], "no-such-policy"]) == [
        policies[2],
        policies[7],
    ]
    assert named(ResourceId=targets[1]) == []
    assert named(ResourceId=targets[0], ScalableDimension=DIMENSION, MaxResults=3) == policies[:3]


def test_scaling_policies_max_results_out_of_range_is_refused(client) -> None:
    """1 to 10: DescribeScalingPolicies' API reference page."""
    listing = client("application-autoscaling").describe_scaling_policies
    for results, bound in ((11, "less than or equal to 10"), (0, "greater than or equal to 1")):
        assert refused(listing, ServiceNamespace="sagemaker", MaxResults=results) == (
            "ValidationException",
            f"1 validation error detected: Value '{results}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value {bound}",
            400,
        )
